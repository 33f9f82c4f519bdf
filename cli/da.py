"""``zkagg da ...``: serve the embedded node, mint tokens, submit and fetch blobs, read the head.

The DA modules (aiohttp, httpx, sqlite) are imported inside the commands so that ``zkagg --help``
stays fast.
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from zkagg._errors import InvalidArgument
from zkagg.cli._common import emit_json, handle_errors

if TYPE_CHECKING:
    from zkagg.da._client import CelestiaClient

app = typer.Typer(
    help="Celestia-compatible data availability: serve, auth, submit, get, head, commit.",
    no_args_is_help=True,
)

DEFAULT_URL = "http://127.0.0.1:26658"

HomeOpt = Annotated[
    Path | None,
    typer.Option(
        "--home", help="Node folder (default: $ZKAGG_HOME/da-node; ZKAGG_HOME defaults to ~/.cache/zkagg)."
    ),
]
UrlOpt = Annotated[str, typer.Option("--url", envvar="ZKAGG_DA_URL", help="The node's JSON-RPC address.")]
TokenOpt = Annotated[
    str | None,
    typer.Option("--token", envvar="CELESTIA_NODE_AUTH_TOKEN", help="JWT for the node.", show_envvar=True),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output (one JSON object).")]


def default_home(home: Path | None = None) -> Path:
    """Return ``home``, or ``$ZKAGG_HOME/da-node`` (``ZKAGG_HOME`` defaults to ``~/.cache/zkagg``)."""
    if home is not None:
        return home.expanduser()
    base = os.environ.get("ZKAGG_HOME") or str(Path("~/.cache/zkagg").expanduser())
    return Path(base).expanduser() / "da-node"


def parse_commitment(text: str) -> bytes:
    """Read a commitment typed as 64 hex digits (optionally ``0x``) or standard base64.

    Raises
    ------
    InvalidArgument
        If ``text`` is neither form of 32 bytes.
    """
    raw = text.strip()
    hex_text = raw[2:] if raw.lower().startswith("0x") else raw
    if len(hex_text) == 64:
        try:
            return bytes.fromhex(hex_text)
        except ValueError:
            pass
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) == 32:
        return decoded
    raise InvalidArgument(f"commitment must be 32 bytes as 64 hex digits or base64, not {text!r}")


def _client(url: str, token: str | None) -> CelestiaClient:
    from zkagg.da._client import CelestiaClient

    return CelestiaClient(url, token)


@app.command()
@handle_errors
def serve(
    home: HomeOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 26658,
    block_time: Annotated[
        float, typer.Option("--block-time", help="Seconds between blocks (celestia-app v8: 6).", min=0.01)
    ] = 6.0,
    instant: Annotated[
        bool, typer.Option("--instant", help="A block as soon as submissions wait (tests).")
    ] = False,
    skip_auth: Annotated[bool, typer.Option("--skip-auth", help="Serve without JWT authentication.")] = False,
    read_header_timeout: Annotated[
        float,
        typer.Option("--read-header-timeout", help="Seconds for a request's headers (celestia-node: 2)."),
    ] = 2.0,
    read_timeout: Annotated[
        float, typer.Option("--read-timeout", help="Seconds for a whole request, body included (30).")
    ] = 30.0,
    idle_timeout: Annotated[
        float, typer.Option("--idle-timeout", help="Seconds an idle keep-alive connection stays open (120).")
    ] = 120.0,
    max_connections: Annotated[
        int, typer.Option("--max-connections", help="Connections served at once; more wait (500).")
    ] = 500,
    json_output: JsonOpt = False,
) -> None:
    """Run the embedded DA node and its celestia-node JSON-RPC server (HTTP and WebSocket)."""
    from zkagg.da._limits import ServerLimits
    from zkagg.da._runner import serve as run

    limits = ServerLimits(
        read_header_timeout=read_header_timeout,
        read_timeout=read_timeout,
        idle_timeout=idle_timeout,
        max_connections=max_connections,
    )

    path = default_home(home)

    def ready(url: str) -> None:
        if json_output:
            emit_json({"ok": True, "url": url, "home": str(path), "instant": instant, "skip_auth": skip_auth})
        else:
            mode = "instant blocks" if instant else f"a block every {block_time:g} s"
            sys.stdout.write(f"zkagg DA node listening on {url} ({mode}), home {path}\n")
        sys.stdout.flush()

    run(
        path,
        host=host,
        port=port,
        block_time=None if instant else block_time,
        skip_auth=skip_auth,
        limits=limits,
        on_ready=ready,
    )


@app.command()
@handle_errors
def auth(
    level: Annotated[str, typer.Argument(help="Permission level: read, write or admin (or public).")],
    home: HomeOpt = None,
    ttl: Annotated[float | None, typer.Option("--ttl", help="Lifetime in seconds (default: none).")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Print a token for the node in HOME (as ``celestia light auth <level>``)."""
    from zkagg.da._auth import load_or_create_secret, new_token

    token = new_token(load_or_create_secret(default_home(home)), level, ttl)
    if json_output:
        emit_json({"ok": True, "level": level, "token": token})
    else:
        sys.stdout.write(token + "\n")


@app.command()
@handle_errors
def submit(
    file: Annotated[Path, typer.Argument(help="File whose bytes become the blob's data.")],
    namespace: Annotated[
        str, typer.Option("--namespace", help="Namespace: user ID (hex, 0x-hex, name) or b64.")
    ],
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Submit FILE as one blob; print the inclusion height and the commitment."""
    from zkagg.da._blob import Blob
    from zkagg.da._namespace import Namespace

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InvalidArgument(f"FILE must be a readable file, not {str(file)!r}: {exc.strerror}") from exc
    blob = Blob.new(Namespace.parse(namespace), data)
    with _client(url, token) as client:
        height = client.submit([blob])
    b64 = base64.b64encode(blob.commitment).decode()
    if json_output:
        emit_json(
            {
                "ok": True,
                "height": height,
                "namespace": base64.b64encode(blob.namespace.to_bytes()).decode(),
                "commitment": b64,
                "commitment_hex": blob.commitment.hex(),
                "size": len(data),
            }
        )
    else:
        sys.stdout.write(f"height {height}\ncommitment {b64} (hex {blob.commitment.hex()})\n")


@app.command()
@handle_errors
def get(
    height: Annotated[str, typer.Argument(help="Block height.")],
    namespace: Annotated[str, typer.Argument(help="Namespace: user ID (hex, 0x-hex, name) or base64.")],
    commitment: Annotated[str, typer.Argument(help="Commitment: 64 hex digits or base64.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the data here instead of stdout.")] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Fetch a blob, check it against its commitment, and write its data."""
    from zkagg.da._backend import parse_height
    from zkagg.da._namespace import Namespace

    h = parse_height(height)
    ns = Namespace.parse(namespace)
    wanted = parse_commitment(commitment)
    with _client(url, token) as client:
        blob = client.get(h, ns, wanted)
    if out is not None:
        out.write_bytes(blob.data)
    if json_output:
        payload: dict[str, object] = {"ok": True, "height": h, "index": blob.index, "size": len(blob.data)}
        payload["commitment"] = base64.b64encode(blob.commitment).decode()
        if out is None:
            payload["data"] = base64.b64encode(blob.data).decode()
        else:
            payload["out"] = str(out)
        emit_json(payload)
    elif out is None:
        sys.stdout.buffer.write(blob.data)
        sys.stdout.flush()
    else:
        sys.stdout.write(f"wrote {len(blob.data)} bytes to {out}\n")


@app.command()
@handle_errors
def head(url: UrlOpt = DEFAULT_URL, token: TokenOpt = None, json_output: JsonOpt = False) -> None:
    """Print the node's local head: height, time, hash and data root."""
    with _client(url, token) as client:
        header = client.local_head()
    if json_output:
        emit_json(
            {
                "ok": True,
                "height": header.height,
                "time": header.time,
                "hash": header.hash,
                "data_hash": header.data_hash,
                "chain_id": header.chain_id,
            }
        )
    else:
        sys.stdout.write(
            f"height {header.height}\ntime {header.time}\nhash {header.hash}\ndata_hash {header.data_hash}\n"
        )


# DA-core's ``zkagg da commit`` (pure computation, no node needed), once its module exists.
if importlib.util.find_spec("zkagg.cli.da_commit") is not None:
    from zkagg.cli import da_commit

    app.command(name="commit")(da_commit.commit)
