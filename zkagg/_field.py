"""The BN254 scalar field and fixed-point quantization, vectorized with numpy.

A float ``x`` at scale ``s`` becomes the integer ``q = round(x * 2**s)``, rounding half away from
zero (Rust's ``f64::round``, which ``ezkl.float_to_felt`` uses), and ``q`` becomes the field element
``q mod p``: negative values wrap to ``p - |q|``. This module reproduces ``ezkl.float_to_felt`` and
``ezkl.felt_to_float`` (ezkl 23.0.5) exactly for every value it accepts, and differs on purpose in
two places:

* NaN and infinities are refused (``ezkl.float_to_felt`` maps NaN to 0 silently);
* quantized magnitudes must fit a signed 64-bit integer (``|q| < 2**63``), and, when the caller
  declares how many values may be added up (``n_terms``: clients times their integer weights), the
  worst-case sum must stay inside the signed range of the field, ``n_terms * |q| <= (p - 1) / 2``,
  so that every sum decodes to the right signed integer.

Field elements are carried as Python ``int`` in ``[0, p)`` or as ezkl's 64-character little-endian
hex strings.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from zkagg._errors import InvalidArgument, QuantizationError

# py_ecc raises the interpreter's recursion limit to 100000 on import, which lets deeply nested
# input (JSON in the DA server, for one) overflow the C stack of a thread instead of raising
# RecursionError. zkagg's use of py_ecc needs no deep recursion, so the limit is put back.
_RECURSION_LIMIT = sys.getrecursionlimit()
from py_ecc.optimized_bn128.optimized_curve import curve_order as _PY_ECC_CURVE_ORDER  # noqa: E402

sys.setrecursionlimit(_RECURSION_LIMIT)

__all__ = [
    "IntArray",
    "FIELD_MODULUS",
    "MAX_SCALE",
    "dequantize",
    "felt_to_hex",
    "felt_to_signed",
    "felts_to_hex",
    "hex_to_felt",
    "quantize",
    "signed_to_felt",
]

#: An integer vector or matrix: quantized values, exact sums, integer model updates.
IntArray = npt.NDArray[np.int64]

#: The BN254 (alt_bn128) scalar field modulus r, the field ezkl's circuits work in.
FIELD_MODULUS = 21888242871839275222246405745257275088548364400416034343698204186575808495617

# Checked at import: the scalar field is py_ecc's ``curve_order``, not ``field_modulus`` (the base
# field, ...208583). Mixing them up gives commitments and sums that silently disagree with ezkl.
if _PY_ECC_CURVE_ORDER != FIELD_MODULUS:  # pragma: no cover - guards against a broken py_ecc
    raise ImportError("py_ecc's BN254 curve_order is not the scalar field modulus ezkl uses")

_HALF = (FIELD_MODULUS - 1) // 2
_INT64_LIMIT = 2**63
#: The largest scale accepted: 2**62 already leaves no room for an integer part.
MAX_SCALE = 62


def _check_scale(scale: int) -> int:
    if isinstance(scale, bool) or not isinstance(scale, int | np.integer):
        raise InvalidArgument(f"scale must be an integer in [0, {MAX_SCALE}], not {scale!r}")
    if not 0 <= int(scale) <= MAX_SCALE:
        raise InvalidArgument(f"scale must be an integer in [0, {MAX_SCALE}], not {scale}")
    return int(scale)


def _check_n_terms(n_terms: int) -> int:
    if isinstance(n_terms, bool) or not isinstance(n_terms, int | np.integer) or int(n_terms) < 1:
        raise InvalidArgument(f"n_terms must be a positive integer, not {n_terms!r}")
    return int(n_terms)


def quantize(values: npt.ArrayLike, scale: int, *, n_terms: int = 1) -> npt.NDArray[np.int64]:
    """Quantize floats to signed fixed-point integers, exactly as ``ezkl.float_to_felt`` does.

    Parameters
    ----------
    values
        Any array-like of real numbers (floats or integers).
    scale
        Fixed-point scale: ``q = round(x * 2**scale)``, half away from zero.
    n_terms
        How many quantized values may later be added up (for a weighted sum, the sum of the
        weights). Values whose worst-case sum could leave the field's signed range are refused.

    Returns
    -------
    numpy.ndarray
        ``int64`` array of the same shape.

    Raises
    ------
    QuantizationError
        On NaN or infinity, on a magnitude that does not fit in int64 after scaling, or on one
        whose ``n_terms``-fold sum could overflow the field. The message names the first offending
        index and value.
    """
    s = _check_scale(scale)
    n = _check_n_terms(n_terms)
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise QuantizationError(f"values must be real numbers, not {type(values).__name__}") from exc
    finite = np.isfinite(x)
    if not finite.all():
        idx = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise QuantizationError(
            f"values must be finite, but values[{', '.join(map(str, idx))}] is {x[idx]!r}"
        )
    scaled = x * float(2**s)  # multiplying by a power of two is exact unless it overflows
    truncated = np.trunc(scaled)
    frac = scaled - truncated  # exact for floats
    rounded = truncated + np.where(np.abs(frac) >= 0.5, np.sign(scaled), 0.0)
    bound = min(_INT64_LIMIT - 1, _HALF // n)
    too_big = np.abs(rounded) > float(bound)
    if too_big.any():
        idx = tuple(int(i) for i in np.argwhere(too_big)[0])
        limit = bound / 2**s
        why = (
            "the int64 range of quantized values"
            if bound == _INT64_LIMIT - 1
            else (f"the field for sums of {n} terms")
        )
        raise QuantizationError(
            f"values[{', '.join(map(str, idx))}] = {x[idx]!r} at scale {s} overflows {why}: "
            f"|value| must be at most {limit:.6g}"
        )
    # float -> int64 is exact here: |rounded| <= 2**63 - 1 and rounded is an integer-valued float.
    return rounded.astype(np.int64)


def dequantize(q: npt.ArrayLike, scale: int) -> npt.NDArray[np.float64]:
    """Turn fixed-point integers back into floats: ``q / 2**scale`` (``ezkl.felt_to_float``)."""
    s = _check_scale(scale)
    arr = np.asarray(q)
    if arr.dtype == object:
        return np.array([float(v) / 2**s for v in arr.ravel()], dtype=np.float64).reshape(arr.shape)
    return arr.astype(np.float64) / float(2**s)


def signed_to_felt(value: int) -> int:
    """Map a signed integer in the field's signed range to its element in ``[0, p)``."""
    v = int(value)
    if not -_HALF <= v <= _HALF:
        raise QuantizationError(f"value {v} is outside the field's signed range [-(p-1)/2, (p-1)/2]")
    return v % FIELD_MODULUS


def felt_to_signed(felt: int) -> int:
    """Map a field element in ``[0, p)`` to the signed integer it encodes, in ``[-(p-1)/2, (p-1)/2]``."""
    f = int(felt)
    if not 0 <= f < FIELD_MODULUS:
        raise InvalidArgument(f"felt must be in [0, p), not {f}")
    return f - FIELD_MODULUS if f > _HALF else f


def felt_to_hex(felt: int) -> str:
    """Encode a field element as ezkl does: 32 bytes little-endian, lowercase hex, no prefix."""
    f = int(felt)
    if not 0 <= f < FIELD_MODULUS:
        raise InvalidArgument(f"felt must be in [0, p), not {f}")
    return f.to_bytes(32, "little").hex()


def hex_to_felt(text: str) -> int:
    """Decode ezkl's little-endian hex field element (with or without ``0x``)."""
    if not isinstance(text, str):
        raise InvalidArgument(f"a field element must be a hex string, not {type(text).__name__}")
    body = text[2:] if text.startswith(("0x", "0X")) else text
    if len(body) != 64:
        raise InvalidArgument(f"a field element must be 64 hex digits, not {len(body)}: {text!r}")
    try:
        value = int.from_bytes(bytes.fromhex(body), "little")
    except ValueError as exc:
        raise InvalidArgument(f"a field element must be hex, not {text!r}") from exc
    if value >= FIELD_MODULUS:
        raise InvalidArgument(f"field element {text!r} is not reduced modulo p")
    return value


def felts_to_hex(values: Iterable[Any] | npt.ArrayLike) -> list[str]:
    """Encode signed integers (for example from :func:`quantize`) as ezkl hex field elements."""
    flat: Sequence[Any] = np.asarray(values).ravel().tolist()
    return [felt_to_hex(signed_to_felt(int(v))) for v in flat]
