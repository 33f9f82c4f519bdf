"""The digits model's flat parameter layout, without torch (DESIGN.md: one flat vector per model).

``param_count(hidden) = 75 * hidden + 10`` (1,210 at hidden 16); :mod:`zkagg._fl.model` documents the
order. Kept apart from the torch code so that the protocol and the quality circuit can size vectors
without importing torch.
"""

from __future__ import annotations

import numpy as np

from zkagg._errors import InvalidArgument
from zkagg._fl.data import DIGITS_CLASSES, DIGITS_FEATURES

__all__ = ["check_hidden", "param_count", "param_layout"]


def param_layout(hidden: int) -> list[tuple[str, tuple[int, ...], int, int]]:
    """``(name, shape, start, stop)`` of each tensor in the flat vector, in order."""
    h = check_hidden(hidden)
    shapes: list[tuple[str, tuple[int, ...]]] = [
        ("W1", (h, DIGITS_FEATURES)),
        ("b1", (h,)),
        ("W2", (DIGITS_CLASSES, h)),
        ("b2", (DIGITS_CLASSES,)),
    ]
    out = []
    start = 0
    for name, shape in shapes:
        stop = start + int(np.prod(shape))
        out.append((name, shape, start, stop))
        start = stop
    return out


def param_count(hidden: int) -> int:
    """Length of the flat parameter vector: ``75 * hidden + 10``."""
    return param_layout(hidden)[-1][3]


def check_hidden(hidden: object) -> int:
    """``hidden`` as an int, or :class:`~zkagg.InvalidArgument` unless it is in ``[1, 1024]``."""
    if isinstance(hidden, bool) or not isinstance(hidden, int | np.integer) or not 1 <= int(hidden) <= 1024:
        raise InvalidArgument(f"hidden must be an integer in [1, 1024], not {hidden!r}")
    return int(hidden)
