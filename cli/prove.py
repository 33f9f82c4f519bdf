"""``zkagg prove``."""

from __future__ import annotations


def prove() -> None:
    """Not yet implemented."""
    raise SystemExit("not yet implemented")
