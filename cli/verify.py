"""``zkagg verify``."""

from __future__ import annotations


def verify() -> None:
    """Not yet implemented."""
    raise SystemExit("not yet implemented")
