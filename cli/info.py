"""``zkagg info``."""

from __future__ import annotations


def info() -> None:
    """Not yet implemented."""
    raise SystemExit("not yet implemented")
