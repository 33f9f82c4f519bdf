"""Reference aggregation rules: plain numpy on floats, and the same rules in exact integer maths.

No plumbing here (no ezkl, no commitments): these functions are the specification that circuits,
homomorphic checks and benchmarks are compared against.

Rules
-----
``fedavg``
    Weighted mean with integer weights (sample counts): McMahan et al., "Communication-Efficient
    Learning of Deep Networks from Decentralized Data", AISTATS 2017.
``median``
    Coordinate-wise median: Yin, Chen, Ramchandran and Bartlett, "Byzantine-Robust Distributed
    Learning: Towards Optimal Statistical Rates", ICML 2018.
``trimmed_mean``
    Coordinate-wise ``beta``-trimmed mean: remove the ``floor(beta * N)`` largest and smallest
    values of every coordinate and average the rest (Yin et al. 2018, same paper).
``clipped_fedavg``
    Weighted mean of updates clipped to L2 norm at most ``C``: ``x * min(1, C / ||x||_2)``
    (McMahan, Ramage, Talwar and Zhang, "Learning Differentially Private Recurrent Language
    Models", ICLR 2018; as a backdoor defence, Sun et al., "Can You Really Backdoor Federated
    Learning?", 2019).

Integer versions take the quantized updates ``q = round(x * 2**scale)`` (int64 from
:func:`zkagg.quantize`) and compute with Python integers, so nothing rounds before the final,
documented rescale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from zkagg._errors import InvalidArgument
from zkagg._field import FIELD_MODULUS, IntArray

__all__ = [
    "byzantine_updates",
    "clipped_fedavg",
    "clipped_fedavg_int",
    "fedavg",
    "fedavg_rescale",
    "fedavg_sum_field",
    "fedavg_sum_int",
    "median",
    "median_int",
    "trim_count",
    "trimmed_mean",
    "trimmed_mean_int",
]

FloatArray = npt.NDArray[np.float64]


def _stack(updates: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(updates, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InvalidArgument(f"updates must be a non-empty 2-D array (clients x values), not {arr.shape}")
    return arr


def _weights(weights: Sequence[int] | None, n: int) -> list[int]:
    if weights is None:
        return [1] * n
    w = [int(v) for v in weights]
    if len(w) != n:
        raise InvalidArgument(f"weights must have one entry per client ({n}), not {len(w)}")
    if any(v < 1 for v in w) or any(int(v) != v for v in weights):
        raise InvalidArgument(f"weights must be positive integers, not {list(weights)!r}")
    return w


def trim_count(n_clients: int, beta: float) -> int:
    """Values removed at EACH end of a coordinate by the ``beta``-trimmed mean: ``floor(beta * N)``."""
    if not 0 <= beta < 0.5:
        raise InvalidArgument(f"beta must be in [0, 0.5), not {beta!r}")
    return math.floor(beta * n_clients)


# -- float rules ---------------------------------------------------------------------------------


def fedavg(updates: npt.ArrayLike, weights: Sequence[int] | None = None) -> FloatArray:
    """Weighted mean ``sum_i n_i x_i / sum_i n_i`` (McMahan et al. 2017)."""
    x = _stack(updates)
    w = np.asarray(_weights(weights, x.shape[0]), dtype=np.float64)
    return np.asarray((w @ x) / w.sum(), dtype=np.float64)


def median(updates: npt.ArrayLike) -> FloatArray:
    """Coordinate-wise median (Yin et al. 2018); for even N the mean of the two middle values."""
    return np.asarray(np.median(_stack(updates), axis=0), dtype=np.float64)


def trimmed_mean(updates: npt.ArrayLike, beta: float) -> FloatArray:
    """Coordinate-wise ``beta``-trimmed mean (Yin et al. 2018, Definition 2)."""
    x = _stack(updates)
    k = trim_count(x.shape[0], beta)
    s = np.sort(x, axis=0)
    return np.asarray(s[k : x.shape[0] - k].mean(axis=0), dtype=np.float64)


def clipped_fedavg(
    updates: npt.ArrayLike, clip_norm: float, weights: Sequence[int] | None = None
) -> FloatArray:
    """Weighted mean of per-client L2-clipped updates ``x * min(1, C / ||x||)`` (McMahan et al. 2018)."""
    if not clip_norm > 0:
        raise InvalidArgument(f"clip_norm must be positive, not {clip_norm!r}")
    x = _stack(updates)
    norms = np.linalg.norm(x, axis=1)
    factor = np.ones_like(norms)
    over = norms > clip_norm
    factor[over] = clip_norm / norms[over]
    return fedavg(x * factor[:, None], weights)


# -- exact integer / field rules -----------------------------------------------------------------


def _int_stack(quantized: npt.ArrayLike) -> IntArray:
    q = np.asarray(quantized)
    if q.ndim != 2 or q.shape[0] < 1 or q.shape[1] < 1 or q.dtype.kind not in "iu":
        raise InvalidArgument(
            f"quantized updates must be a non-empty 2-D integer array, not {q.dtype} of shape {q.shape}"
        )
    return q.astype(np.int64, copy=False)


def fedavg_sum_int(quantized: npt.ArrayLike, weights: Sequence[int] | None = None) -> list[int]:
    """The exact weighted sum ``S = sum_i n_i q_i`` as Python integers (no overflow, no rounding)."""
    q = _int_stack(quantized)
    w = _weights(weights, q.shape[0])
    bound = int(np.abs(q).max()) * sum(w)
    if bound < 2**62:
        total = np.asarray(w, dtype=np.int64) @ q
        return [int(v) for v in total.tolist()]
    out = [0] * q.shape[1]
    for wi, row in zip(w, q.tolist(), strict=True):
        out = [a + wi * b for a, b in zip(out, row, strict=True)]
    return out


def fedavg_sum_field(felts: Sequence[Sequence[int]], weights: Sequence[int] | None = None) -> list[int]:
    """``S = sum_i n_i f_i mod p`` over field elements (what the commitment check sees)."""
    w = _weights(weights, len(felts))
    width = len(felts[0])
    out = [0] * width
    for wi, row in zip(w, felts, strict=True):
        if len(row) != width:
            raise InvalidArgument(f"every client must have {width} field elements, not {len(row)}")
        out = [(a + wi * int(b)) % FIELD_MODULUS for a, b in zip(out, row, strict=True)]
    return out


def fedavg_rescale(sums: Sequence[int] | IntArray, total_weight: int, scale: int) -> FloatArray:
    """The documented rescale of an exact sum: the float nearest to ``S / (sum_i n_i * 2**scale)``.

    Python's ``int / int`` is correctly rounded, so the result is deterministic and the same on every
    machine; when every ``|S|`` and the divisor are below ``2**53`` the numpy path gives identical
    floats (one IEEE division of exact operands).
    """
    if total_weight < 1:
        raise InvalidArgument(f"total_weight must be positive, not {total_weight}")
    divisor = total_weight << scale
    if isinstance(sums, np.ndarray) and sums.dtype == np.int64:
        small = sums.size == 0 or int(np.abs(sums).max()) < 2**53
        if divisor < 2**53 and small:
            return sums.astype(np.float64) / float(divisor)
        sums = [int(v) for v in sums.tolist()]
    if divisor < 2**53 and all(-(2**53) < s < 2**53 for s in sums):
        return np.asarray(sums, dtype=np.float64) / float(divisor)
    return np.array([s / divisor for s in sums], dtype=np.float64)


def median_int(quantized: npt.ArrayLike) -> IntArray:
    """Coordinate-wise median of quantized values.

    The middle value for odd N; for even N the mean of the two middle values rounded toward minus
    infinity (``(a + b) // 2``).
    """
    q = _int_stack(quantized)
    s = np.sort(q, axis=0)
    n = q.shape[0]
    if n % 2:
        return np.asarray(s[n // 2], dtype=np.int64)
    return np.asarray((s[n // 2 - 1] + s[n // 2]) // 2, dtype=np.int64)


def trimmed_mean_int(quantized: npt.ArrayLike, beta: float) -> tuple[list[int], int]:
    """Exact ``beta``-trimmed sums per coordinate and the count they divide by (``N - 2k``).

    The trimmed mean at scale ``s`` is ``sum / (count * 2**s)`` (:func:`fedavg_rescale` with
    ``total_weight = count``).
    """
    q = _int_stack(quantized)
    n = q.shape[0]
    k = trim_count(n, beta)
    s = np.sort(q, axis=0)[k : n - k]
    return [int(v) for v in s.astype(object).sum(axis=0).tolist()], n - 2 * k


def clipped_fedavg_int(
    quantized: npt.ArrayLike, clip_norm: float, scale: int, weights: Sequence[int] | None = None
) -> list[int]:
    """Exact weighted sum of clipped quantized updates.

    A client with ``||q||^2 <= (C 2^s)^2`` is kept as is; otherwise every value becomes
    ``round(q * C_q / sqrt(||q||^2))`` with ``C_q = round(C * 2**s)`` and the integer square root
    ``isqrt(||q||^2)`` (rounded half away from zero), an integer approximation of the float rule
    within one quantum per value. Divide by ``sum_i n_i * 2**s`` for the mean.
    """
    q = _int_stack(quantized)
    w = _weights(weights, q.shape[0])
    cq = round(clip_norm * 2**scale)
    rows: list[list[int]] = []
    for row in q.tolist():
        norm2 = sum(v * v for v in row)
        if norm2 <= cq * cq:
            rows.append(row)
            continue
        root = math.isqrt(norm2)
        rows.append([_round_div(v * cq, root) for v in row])
    out = [0] * q.shape[1]
    for wi, row in zip(w, rows, strict=True):
        out = [a + wi * b for a, b in zip(out, row, strict=True)]
    return out


def _round_div(a: int, b: int) -> int:
    """``a / b`` rounded half away from zero, exactly (``b > 0``)."""
    quotient, remainder = divmod(abs(a), b)
    if 2 * remainder >= b:
        quotient += 1
    return quotient if a >= 0 else -quotient


# -- synthetic Byzantine clients -----------------------------------------------------------------


def byzantine_updates(
    honest: npt.ArrayLike, fraction: float, *, factor: float = -10.0, seed: int = 0
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Replace ``round(fraction * N)`` randomly chosen clients by ``factor`` times their update.

    The default ``factor = -10`` is the sign-flipping, 10x-scaling attack of the issue. Returns the
    attacked updates and the mask of Byzantine clients.
    """
    x = _stack(honest).copy()
    n = x.shape[0]
    bad = np.zeros(n, dtype=bool)
    idx = np.random.default_rng(seed).choice(n, size=round(fraction * n), replace=False)
    bad[idx] = True
    x[bad] *= factor
    return x, bad
