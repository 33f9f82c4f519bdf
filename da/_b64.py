"""Standard base64 with padding, as Go's ``encoding/json`` writes ``[]byte`` fields (celestia-node's JSON)."""

from __future__ import annotations

import base64
import binascii

from zkagg._errors import InvalidArgument

__all__ = ["b64", "unb64"]


def b64(raw: bytes) -> str:
    """Encode bytes as standard base64 with padding."""
    return base64.b64encode(raw).decode("ascii")


def unb64(value: object, what: str) -> bytes:
    """Decode strict standard base64; ``what`` names the field in the error."""
    if not isinstance(value, str):
        raise InvalidArgument(f"{what} must be a base64 string, not {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidArgument(f"{what} must be standard base64, not {value[:40]!r}") from exc
