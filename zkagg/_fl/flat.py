"""The digits model as one flat vector, without torch: its layout, the numpy forward pass, accuracy.

``param_count(hidden) = 75 * hidden + 10`` (1,210 at hidden 16); :mod:`zkagg._fl.model` documents the
order. Kept apart from the torch code so that the protocol, the quality circuit and its builder
(:mod:`zkagg.circuits.shard_model`) can size, evaluate and check models without importing torch.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from zkagg._errors import InvalidArgument
from zkagg._fl.data import DIGITS_CLASSES, DIGITS_FEATURES

__all__ = ["accuracy", "check_hidden", "forward_numpy", "param_count", "param_layout"]


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


def forward_numpy(flat: npt.ArrayLike, hidden: int, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Reference logits ``[n, 10]`` of the flat parameters on features ``x`` (float64 numpy).

    The same computation as :class:`DigitsMLP` and as the ONNX graph of
    :mod:`zkagg.circuits.shard_model`, kept apart from both so that each can be checked against it.
    """
    vec = np.asarray(flat, dtype=np.float64)
    layout = param_layout(hidden)
    if vec.shape != (layout[-1][3],):
        raise InvalidArgument(
            f"flat must be a vector of {layout[-1][3]} parameters (hidden {hidden}), not shape {vec.shape}"
        )
    w1, b1, w2, b2 = (vec[start:stop].reshape(shape) for _, shape, start, stop in layout)
    features = np.asarray(x, dtype=np.float64).reshape(-1, DIGITS_FEATURES)
    return np.maximum(features @ w1.T + b1, 0.0) @ w2.T + b2


def accuracy(flat: npt.ArrayLike, hidden: int, x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Share of samples whose largest logit is at their label (numpy, float64)."""
    labels = np.asarray(y)
    if labels.size == 0:
        raise InvalidArgument("y must hold at least one label")
    return float((forward_numpy(flat, hidden, x).argmax(axis=1) == labels).mean())
