"""Shared CLI plumbing: one place that turns zkagg errors into one line and an exit code."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer

from zkagg._errors import ZkaggError

if TYPE_CHECKING:
    from zkagg._protocol.deployment import Deployment

P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str, exit_code: int, *, as_json: bool = False, kind: str = "error") -> typer.Exit:
    """Print a one-line error (or a JSON object with ``--json``) and return the ``typer.Exit``."""
    if as_json:
        sys.stdout.write(json.dumps({"ok": False, "error": kind, "message": message}) + "\n")
    else:
        sys.stderr.write(f"error: {message}\n")
    return typer.Exit(code=exit_code)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Run a command, mapping :class:`~zkagg.ZkaggError` to one line on stderr and its exit code.

    The command's ``json_output`` keyword, when present, switches the error to a JSON object on
    stdout so that scripts reading ``--json`` output always get JSON.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ZkaggError as exc:
            as_json = bool(kwargs.get("json_output", False))
            message = " ".join(str(exc).split()) or type(exc).__name__
            raise fail(message, exc.exit_code, as_json=as_json, kind=type(exc).__name__) from exc

    return wrapper


def emit_json(payload: dict[str, Any]) -> None:
    """Write one JSON object to stdout."""
    sys.stdout.write(json.dumps(payload, sort_keys=True) + "\n")


#: ``--home``: the cache root, shared by every command that touches the cache.
HomeOption = Annotated[Path | None, typer.Option(help="Cache root (default $ZKAGG_HOME or ~/.cache/zkagg).")]
#: ``--json``: one JSON object on stdout instead of text (errors too).
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
#: ``--srs``: ceremony SRS files, one per logrows (repeat the option).
SrsOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--srs",
        help="Ceremony SRS file the deployment pins (one per logrows; repeat for several). Checked against "
        "the pinned SHA-256 and registered by hash; without it, pinned files are looked up by hash among "
        "those registered before. Nothing is downloaded.",
    ),
]


def use_deployment_srs(deployment: Deployment, files: list[Path] | None, home: Path | None) -> None:
    """Make the deployment's SRS available before a role or the audit commits, proves or verifies.

    A deployment that pins its SRS gets every pinned file from ``--srs`` (each must have its pinned
    hash) or from the local registry, or the command stops here naming the missing logrows. A
    deployment without pins runs on this machine's INSECURE dev SRS: ``--srs`` is refused, and the
    warning is printed once on stderr.
    """
    from zkagg._errors import InvalidArgument
    from zkagg._prover.srs import pinned_srs, warn_insecure

    if deployment.srs_sha256 is None:
        if files:
            raise InvalidArgument(
                f"--srs: deployment {deployment.deployment_id.hex()[:16]}... pins no SRS (its parties use "
                "their own dev SRS); pin ceremony SRS files with zkagg init --srs"
            )
        warn_insecure()
        return
    pinned_srs(deployment.srs_sha256, files or (), home=home)


def no_model_reason(accepted: int) -> str:
    """Why a round published no global model: no shard accepted, or too few shards available.

    A model needs at least one accepted shard and ``quorum`` available ones
    (:func:`zkagg._protocol.sharding.has_quorum`); shards that were available but all below the
    quality threshold are "none accepted", not a missed quorum.
    """
    return "none accepted" if accepted == 0 else "no quorum"
