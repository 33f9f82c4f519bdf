"""Standard base64 with padding, as Go's ``encoding/json`` writes ``[]byte`` fields (celestia-node's JSON).

:func:`b64decode_strict` is the one decoder: it accepts what Go's ``base64.StdEncoding`` accepts
(whole 4-character quanta, the last one padded with ``=`` where needed; newlines aside, which the
callers handle) and nothing more. Python's ``base64.b64decode(..., validate=True)`` is laxer: it
takes padding after a complete quantum (``"AAAA="``). :func:`unb64` and the server's
:func:`~zkagg.da._params.go_b64decode` call it and word its failure each in their own way.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

from zkagg._errors import InvalidArgument

__all__ = ["b64", "b64decode_strict", "unb64"]

_STRICT: Final = re.compile(rb"\A(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z")


def b64(raw: bytes) -> str:
    """Encode bytes as standard base64 with padding."""
    return base64.b64encode(raw).decode("ascii")


def b64decode_strict(raw: bytes) -> bytes:
    """Decode standard base64 with canonical padding, as strictly as Go's ``base64.StdEncoding``.

    Raises
    ------
    ValueError
        ``raw`` holds a character outside the standard alphabet, or its length or padding is wrong.
    """
    if _STRICT.match(raw) is None:
        raise ValueError("not standard base64 with padding")
    return binascii.a2b_base64(raw)


def unb64(value: object, what: str) -> bytes:
    """Decode strict standard base64; ``what`` names the field in the error."""
    if not isinstance(value, str):
        raise InvalidArgument(f"{what} must be a base64 string, not {type(value).__name__}")
    try:
        return b64decode_strict(value.encode("utf-8", "surrogatepass"))
    except ValueError as exc:
        raise InvalidArgument(f"{what} must be standard base64, not {value[:40]!r}") from exc
