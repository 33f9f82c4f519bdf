"""Shared CLI plumbing: one place that turns zkagg errors into one line and an exit code."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from zkagg._errors import ZkaggError

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
