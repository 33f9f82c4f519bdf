"""``zkagg da commit``: the Celestia share commitment of a file, computed locally.

No node is needed: the commitment is go-square's ``inclusion.CreateCommitment`` as
:func:`zkagg.da._commitment.blob_commitment` implements it, so it equals the commitment a
celestia-node reports for the same blob.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Annotated

import typer

from zkagg._errors import InvalidArgument
from zkagg.cli._common import emit_json, handle_errors


def _read_file(file: Path) -> bytes:
    if not file.exists():
        raise InvalidArgument(f"file must exist, but {str(file)!r} does not")
    if not file.is_file():
        raise InvalidArgument(f"file must be a regular file, but {str(file)!r} is not")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InvalidArgument(f"file {str(file)!r} cannot be read: {exc.strerror}") from exc
    if not data:
        raise InvalidArgument(f"file {str(file)!r} is empty: data can not be empty")
    return data


def _parse_signer(text: str | None) -> bytes | None:
    if text is None:
        return None
    body = text[2:] if text[:2] in ("0x", "0X") else text
    try:
        raw = bytes.fromhex(body)
    except ValueError:
        raw = b""
    if len(raw) != 20:
        raise InvalidArgument(f"--signer must be the 20-byte signer address in hex, not {text!r}")
    return raw


@handle_errors
def commit(
    file: Annotated[Path, typer.Argument(help="The blob's data.", show_default=False)],
    namespace: Annotated[
        str,
        typer.Option(
            "--namespace",
            "-n",
            help="0x-hex or hex user ID (<= 10 bytes) or full namespace (29 bytes), base64 of 29 bytes, "
            "or an ASCII name of <= 10 characters.",
            show_default=False,
        ),
    ],
    share_version: Annotated[
        int, typer.Option("--share-version", help="0, or 1 with --signer (CIP-21).")
    ] = 0,
    signer: Annotated[
        str | None, typer.Option("--signer", help="Raw 20-byte signer address in hex (share version 1).")
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Machine-readable output (one JSON object).")
    ] = False,
) -> None:
    """Print the Celestia share commitment of FILE as a blob in NAMESPACE (base64 and hex)."""
    from zkagg.da._blob import Blob
    from zkagg.da._namespace import Namespace

    ns = Namespace.parse(namespace)
    signer_bytes = _parse_signer(signer)
    data = _read_file(file)
    blob = Blob.new(ns, data, share_version, signer_bytes)
    commitment_b64 = base64.b64encode(blob.commitment).decode("ascii")
    if json_output:
        emit_json(
            {
                "ok": True,
                "file": str(file),
                "namespace": ns.hex(),
                "namespace_base64": base64.b64encode(ns.to_bytes()).decode("ascii"),
                "share_version": share_version,
                "size": len(data),
                "shares": blob.share_count,
                "commitment_base64": commitment_b64,
                "commitment_hex": blob.commitment.hex(),
            }
        )
    else:
        sys.stdout.write(
            f"commitment (base64) {commitment_b64}\ncommitment (hex)    {blob.commitment.hex()}\n"
        )
