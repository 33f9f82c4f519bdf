"""The commitment engine: KZG commitments and BN254 G1 arithmetic at native speed, or through ezkl.

Every commitment zkagg computes and every combination of commitments goes through this module.
Two backends give byte-identical results:

* ``mcl`` (the default when the ``mclbn256`` wheel imports): herumi's mcl 1.61 through the
  ``mclbn256`` 1.3.5 bindings, initialised with curve id 4 (BN_SNARK1, the alt_bn128 curve of
  Ethereum and halo2; the wheel starts on another BN254 curve). A commitment is halo2's
  ``commit_lagrange`` as ``ezkl.kzg_commit`` computes it (DESIGN.md §3): the multi-scalar
  multiplication of the message with the SRS's Lagrange-basis points, plus ``B``, the sum of the
  last :data:`BLINDING_POINTS` Lagrange points (the rows ezkl fills with one). The Lagrange points
  are read from the SRS file once per SRS per process: halo2 writes them as affine ``x | y`` in
  Montgomery form (32-byte little-endian each), which is exactly mcl's in-memory layout of a G1
  point with ``z = 1`` in Montgomery form, so loading is a copy. The MSM is signed-magnitude: a
  negative value multiplies the negated base point by ``|x|`` instead of a base point by
  ``r - |x|``, so that quantized values stay small scalars (mcl's MSM costs grow with the longest
  scalar); the few values that do not fit 64 bits (salts, full field elements) go to a second MSM.
  Scalars reach mcl in Montgomery form too, built with numpy from per-16-bit-digit tables.
* ``ezkl`` (the fallback): ``ezkl.kzg_commit`` through the domain's reference circuit, and the
  plain-integer projective arithmetic of :mod:`zkagg._kzg.g1`. Chosen when ``mclbn256`` cannot be
  imported (said once on stderr) or when ``$ZKAGG_COMMIT_BACKEND=ezkl``; ``mcl`` there makes a
  missing wheel an error. The test suite runs the oracle tests under both.

No point from outside is trusted: :func:`msm` decodes every point with canonical coordinates and the
curve equation checked (:func:`zkagg._kzg.points.decode_point`) before any arithmetic, on both
backends.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import functools
import hashlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar, cast

import numpy as np
import numpy.typing as npt
from py_ecc.optimized_bn128.optimized_curve import field_modulus as _BASE_MODULUS

from zkagg._errors import ArtifactError, InvalidArgument
from zkagg._field import FIELD_MODULUS
from zkagg._kzg.g1 import RAW_IDENTITY, RawPoint, add_raw, msm_raw
from zkagg._kzg.points import POINT_SIZE, checked_coordinates

__all__ = [
    "BACKEND_ENV",
    "BLINDING_POINTS",
    "RESERVED_ROWS",
    "LagrangeBasis",
    "Message",
    "accounted",
    "backend",
    "cached_basis",
    "commit_message",
    "commit_messages",
    "commitment_seconds",
    "forced_backend",
    "message_values",
    "lagrange_basis",
    "msm",
    "msm_nested",
    "timed",
]

#: Environment variable choosing the backend: ``auto`` (default), ``mcl`` or ``ezkl``.
BACKEND_ENV: Final = "ZKAGG_COMMIT_BACKEND"
#: Lagrange points ezkl 23.0.5 adds with weight one to every commitment (its blinding rows),
#: measured against ``ezkl.kzg_commit`` at logrows 15-17 (tests/kzg/test_engine.py).
BLINDING_POINTS: Final = 6
#: Rows of a column that ezkl 23.0.5 keeps from values: the blinding rows and one more. A column
#: holds ``2**logrows - RESERVED_ROWS`` values; a longer message spills into a second point.
RESERVED_ROWS: Final = BLINDING_POINTS + 1

_P: Final = int(_BASE_MODULUS)
_R: Final = FIELD_MODULUS
_MONT_P: Final = pow(2, 256, _P)
_MONT_P_INV: Final = pow(_MONT_P, -1, _P)
_MONT_R: Final = pow(2, 256, _R)
_CURVE_SNARK1: Final = 4
_MCLBN_COMPILED_TIME_VAR: Final = 44  # MCLBN_FP_UNIT_SIZE + 10 * MCLBN_FR_UNIT_SIZE (4 limbs each)
_LIMBS: Final = 4
_G1_WORDS: Final = 3 * _LIMBS
_DIGIT_BITS: Final = 16
_MASK64: Final = (1 << 64) - 1
_R_LIMBS: Final = np.array([(_R >> (64 * i)) & _MASK64 for i in range(_LIMBS)], dtype=np.uint64)

_LOCK = threading.Lock()

#: One mcl G1 point in memory: x, y, z (Montgomery form, four 64-bit limbs each).
_G1Words = ctypes.c_uint64 * _G1_WORDS


# -- backend selection ---------------------------------------------------------------------------


_VP = ctypes.c_void_p


@dataclass(frozen=True)
class _Native:
    """mcl's functions with their C signatures (own prototypes: the wheel's are left untouched)."""

    mul_vec: Callable[[object, object, object, int], None]
    add: Callable[[object, object, object], None]
    normalize: Callable[[object, object], None]
    is_zero: Callable[[object], int]
    is_valid: Callable[[object], int]
    set_str: Callable[[object, bytes, int, int], int]

    @classmethod
    def bind(cls, lib: ctypes.CDLL) -> _Native:
        def fn(name: str, restype: type | None, *argtypes: type) -> Any:
            address = ctypes.cast(getattr(lib, name), _VP).value
            if address is None:
                raise ArtifactError(f"mcl has no function {name}")
            return ctypes.CFUNCTYPE(restype, *argtypes)(address)

        return cls(
            mul_vec=fn("mclBnG1_mulVec", None, _VP, _VP, _VP, ctypes.c_size_t),
            add=fn("mclBnG1_add", None, _VP, _VP, _VP),
            normalize=fn("mclBnG1_normalize", None, _VP, _VP),
            is_zero=fn("mclBnG1_isZero", ctypes.c_int, _VP),
            is_valid=fn("mclBnG1_isValid", ctypes.c_int, _VP),
            set_str=fn("mclBnG1_setStr", ctypes.c_int, _VP, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int),
        )


_STATE: dict[str, _Native | None] = {}


def _load_native() -> _Native | None:
    """The mcl backend on curve id 4, or None (said once on stderr) when the wheel is unavailable."""
    if "native" in _STATE:  # decided already: no lock on the hot path (chunks commit on threads)
        return _STATE["native"]
    with _LOCK:
        if "native" in _STATE:
            return _STATE["native"]
        choice = os.environ.get(BACKEND_ENV, "auto").strip().lower() or "auto"
        if choice not in ("auto", "mcl", "ezkl"):
            raise InvalidArgument(f"${BACKEND_ENV} must be auto, mcl or ezkl, not {choice!r}")
        native: _Native | None = None
        if choice != "ezkl":
            try:
                native = _open_mcl()
            except (ImportError, OSError, ArtifactError) as exc:
                if choice == "mcl":
                    raise ArtifactError(f"${BACKEND_ENV}=mcl but mclbn256 cannot be used: {exc}") from exc
                print(
                    f"zkagg: the native commitment backend is unavailable ({type(exc).__name__}: {exc}); "
                    "commitments go through ezkl.kzg_commit, about 30-100x slower",
                    file=sys.stderr,
                )
        _STATE["native"] = native
        return native


def _open_mcl() -> _Native:
    """Import the wheel, initialise curve 4 and check the memory layout this engine relies on."""
    # Optional native backend: imported on first use, so that a missing or broken wheel falls back
    # to ezkl instead of failing the import of zkagg (and the 0.15 s import is paid only when used).
    from mclbn256 import mclbn256 as module  # type: ignore[import-untyped]

    lib: ctypes.CDLL = module.lib
    if lib.mclBn_init(_CURVE_SNARK1, _MCLBN_COMPILED_TIME_VAR) != 0:
        raise ArtifactError("mcl refused to initialise the alt_bn128 curve (id 4)")
    native = _Native.bind(lib)
    _check_layout(native)
    return native


def _check_layout(native: _Native) -> None:
    """The generator (1, 2) through mcl's text form must sit in memory as Montgomery limbs with z = 1."""
    point = _G1Words()
    text = b"1 1 2"
    if native.set_str(ctypes.addressof(point), text, len(text), 10) != 0:
        raise ArtifactError("mcl does not accept the alt_bn128 generator: wrong curve")
    got = _limbs_to_int(list(point)[0:4]), _limbs_to_int(list(point)[4:8]), _limbs_to_int(list(point)[8:12])
    if got != (_MONT_P, 2 * _MONT_P % _P, _MONT_P):
        raise ArtifactError("mcl's G1 layout is not the Montgomery (x, y, z) this engine writes")


@contextlib.contextmanager
def forced_backend(name: str) -> Iterator[str]:
    """Run the body on one backend, ``"mcl"`` or ``"ezkl"`` (tests and side-by-side benchmarks).

    Not thread-safe: the choice is process-wide while the body runs.
    """
    if name not in ("mcl", "ezkl"):
        raise InvalidArgument(f"backend must be 'mcl' or 'ezkl', not {name!r}")
    native = _load_native()
    if name == "mcl" and native is None:
        raise ArtifactError(
            f"the mcl backend is not available in this process (mclbn256 did not load, or ${BACKEND_ENV}=ezkl)"
        )
    saved = _STATE["native"]
    _STATE["native"] = native if name == "mcl" else None
    try:
        yield name
    finally:
        _STATE["native"] = saved


def backend() -> str:
    """``"mcl"`` or ``"ezkl"``: which backend commitments and group arithmetic use in this process."""
    return "mcl" if _load_native() is not None else "ezkl"


# -- accounting: seconds spent in the engine, per role -----------------------------------------

_ROLE: contextvars.ContextVar[str | None] = contextvars.ContextVar("zkagg_commit_role", default=None)
_INSIDE: contextvars.ContextVar[bool] = contextvars.ContextVar("zkagg_commit_inside", default=False)
_SECONDS: dict[str, float] = {}

_F = TypeVar("_F", bound=Callable[..., Any])


@contextlib.contextmanager
def accounted(role: str) -> Iterator[None]:
    """Count the seconds the body spends in commitments and group arithmetic under ``role``.

    Read them with :func:`commitment_seconds` (``zkagg run``'s report gives them per round and role).
    Work in threads the engine starts itself is counted by the call that started them.
    """
    token = _ROLE.set(role)
    try:
        yield
    finally:
        _ROLE.reset(token)


def commitment_seconds() -> dict[str, float]:
    """Seconds spent in the engine so far in this process, per role of :func:`accounted`."""
    with _LOCK:
        return dict(_SECONDS)


def timed(fn: _F) -> _F:
    """Add the call's wall time to the current role (outermost engine call only)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        role = _ROLE.get()
        if role is None or _INSIDE.get():
            return fn(*args, **kwargs)
        token = _INSIDE.set(True)
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            elapsed = time.perf_counter() - t0
            _INSIDE.reset(token)
            with _LOCK:
                _SECONDS[role] = _SECONDS.get(role, 0.0) + elapsed

    return cast(_F, wrapper)


# -- limbs and scalars ---------------------------------------------------------------------------


def _limbs_to_int(limbs: Sequence[int]) -> int:
    return sum(int(v) << (64 * i) for i, v in enumerate(limbs))


def _int_limbs(value: int) -> list[int]:
    return [(value >> (64 * i)) & _MASK64 for i in range(_LIMBS)]


_DIGIT_TABLES: list[npt.NDArray[np.uint64]] = []


def _digit_table(level: int) -> npt.NDArray[np.uint64]:
    """``T[d] = d * 2**(16 level) * 2**256 mod r`` (Montgomery form) for every 16-bit digit ``d``."""
    with _LOCK:
        while len(_DIGIT_TABLES) <= level:
            step = (1 << (_DIGIT_BITS * len(_DIGIT_TABLES))) * _MONT_R % _R
            acc = 0
            parts = []
            for _ in range(1 << _DIGIT_BITS):
                parts.append(acc.to_bytes(32, "little"))
                acc = (acc + step) % _R
            table = np.frombuffer(b"".join(parts), dtype="<u8").reshape(-1, _LIMBS).astype(np.uint64)
            _DIGIT_TABLES.append(table)
        return _DIGIT_TABLES[level]


def _sub_limbs(
    a: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64]
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """``a - b`` on rows of four little-endian 64-bit limbs, and the final borrow per row.

    Either side may be a single row (broadcast); the borrow is 1 where ``a < b``.
    """
    a2, b2 = np.broadcast_arrays(np.atleast_2d(a), np.atleast_2d(b))
    out = np.empty(a2.shape, dtype=np.uint64)
    borrow = np.zeros(a2.shape[0], dtype=np.uint64)
    for i in range(_LIMBS):
        d = a2[:, i] - b2[:, i]
        b1 = a2[:, i] < b2[:, i]
        d2 = d - borrow
        out[:, i] = d2
        borrow = (b1 | (d < borrow)).astype(np.uint64)
    return out, borrow


def _add_mod_r(a: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """``(a + b) mod r`` on rows of four little-endian 64-bit limbs, both below ``r``."""
    out = np.empty_like(a)
    carry = np.zeros(a.shape[0], dtype=np.uint64)
    for i in range(_LIMBS):
        s = a[:, i] + b[:, i]
        c1 = s < a[:, i]
        s2 = s + carry
        c2 = s2 < s
        out[:, i] = s2
        carry = (c1 | c2).astype(np.uint64)
    # r < 2**254, so a + b < 2**255 never carries out; subtract r once where a + b >= r.
    diff, borrow = _sub_limbs(out, _R_LIMBS)
    keep = borrow.astype(bool)
    diff[keep] = out[keep]
    return diff


def _fr_rows(scalars: Sequence[int]) -> npt.NDArray[np.uint64]:
    """Montgomery-form Fr rows of any Python integers (taken modulo ``r``), one by one."""
    rows = [_int_limbs(int(v) % _R * _MONT_R % _R) for v in scalars]
    return np.array(rows, dtype=np.uint64).reshape(-1, _LIMBS)


def _mont_scalars(magnitudes: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Montgomery-form Fr rows for non-negative 64-bit magnitudes, by 16-bit digit tables."""
    top = int(magnitudes.max()) if magnitudes.size else 0
    out: npt.NDArray[np.uint64] = _digit_table(0)[magnitudes & np.uint64(0xFFFF)]
    level = 1
    while top >> (_DIGIT_BITS * level):
        digits = (magnitudes >> np.uint64(_DIGIT_BITS * level)) & np.uint64(0xFFFF)
        out = _add_mod_r(out, _digit_table(level)[digits])
        level += 1
    return out


#: A message as the engine takes it: 1-D, ``int64`` when every value fits, else Python ints.
Message = npt.NDArray[np.int64] | npt.NDArray[np.object_]


def message_values(felts: Sequence[int] | npt.NDArray[Any], what: str = "message") -> Message:
    """A message's values, exactly: a 1-D ``int64`` array, or an ``object`` array of Python ints.

    Integers of any size are taken modulo the field later; nothing is rounded (``np.asarray`` of a
    list mixing 2**63 and small ints would give floats). Floats, booleans, non-integer objects and
    arrays that are not 1-D are refused.
    """
    if isinstance(felts, np.ndarray):
        arr = felts
        if arr.ndim != 1:
            raise InvalidArgument(f"{what} must be 1-D, not of shape {arr.shape}")
        if arr.dtype.kind == "i":
            return arr.astype(np.int64, copy=False)
        if arr.dtype.kind == "u":
            return (
                arr.astype(np.int64) if arr.max(initial=0) < 2**63 else np.array(arr.tolist(), dtype=object)
            )
        if arr.dtype.kind != "O":
            raise InvalidArgument(f"{what} must hold integers, not {arr.dtype}")
        values = arr.tolist()
    else:
        values = list(felts)
    out: list[int] = []
    for k, v in enumerate(values):
        if isinstance(v, bool | np.bool_) or not isinstance(v, int | np.integer):
            raise InvalidArgument(f"{what}[{k}] must be an integer, not {v!r}")
        out.append(int(v))
    if all(-(2**63) <= v < 2**63 for v in out):
        return np.array(out, dtype=np.int64)
    return np.array(out, dtype=object)


def _split_message(message: Message) -> tuple[npt.NDArray[np.int64], list[tuple[int, int]]]:
    """Signed 64-bit values (zero where a value does not fit) and ``(index, value mod r)`` of the rest."""
    if message.dtype == np.int64:
        return message.astype(np.int64, copy=False), []
    obj = np.array([int(v) % _R for v in message.tolist()], dtype=object)
    signed = np.where(obj > _R // 2, obj - _R, obj)
    fits = (signed > -(2**63)) & (signed < 2**63)
    small = np.zeros(obj.size, dtype=np.int64)
    small[fits] = signed[fits].astype(np.int64)
    big = [(int(i), int(obj[i])) for i in np.flatnonzero(~fits)]
    return small, big


# -- the Lagrange basis of an SRS --------------------------------------------------------------


@dataclass(frozen=True)
class LagrangeBasis:
    """The Lagrange-basis points of one SRS in mcl's layout, and ``B``.

    Attributes
    ----------
    logrows
        ``k`` of the SRS.
    sha256
        The SRS file's hash (the commitment domain's ``srs_sha256``).
    points
        ``(2**k, 12)`` uint64: ``x, y, z`` Montgomery limbs, ``z = 1``.
    neg_y
        ``(2**k, 4)`` uint64: the Montgomery limbs of ``-y`` (the negated points' ``y``).
    blinding
        ``B``: the sum of the last :data:`BLINDING_POINTS` points, 64-byte encoding.
    blinding_row
        ``B`` in mcl's layout (``(12,)`` uint64).
    """

    logrows: int
    sha256: str
    points: npt.NDArray[np.uint64]
    neg_y: npt.NDArray[np.uint64]
    blinding: bytes
    blinding_row: npt.NDArray[np.uint64]


_BASES: dict[tuple[str, int], LagrangeBasis] = {}


def cached_basis(sha256: str, logrows: int) -> LagrangeBasis | None:
    """The Lagrange basis of the SRS with this hash if this process has read it already."""
    return _BASES.get((sha256, logrows))


@timed
def lagrange_basis(path: Path, logrows: int, sha256: str) -> LagrangeBasis:
    """The Lagrange basis of the SRS file at ``path`` (read once per SRS per process)."""
    key = (sha256, logrows)
    hit = _BASES.get(key)
    if hit is not None:
        return hit
    native = _require_native()
    n = 1 << logrows
    # Read the whole file once and compare its hash: the points computed on are the ones named.
    data = Path(path).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ArtifactError(f"{path} does not have the SHA-256 {sha256[:16]}... its commitment domain names")
    if len(data) < 4 or int.from_bytes(data[:4], "little") != logrows:
        raise ArtifactError(f"{path} is not an SRS of logrows {logrows}")
    start = 4 + n * POINT_SIZE
    if len(data) < start + n * POINT_SIZE:
        raise ArtifactError(f"{path} is truncated: its Lagrange points need {n * POINT_SIZE} bytes")
    xy = np.frombuffer(data, dtype="<u8", count=n * 2 * _LIMBS, offset=start).reshape(n, 2 * _LIMBS)
    points = np.empty((n, _G1_WORDS), dtype=np.uint64)
    points[:, : 2 * _LIMBS] = xy
    points[:, 2 * _LIMBS :] = np.array(_int_limbs(_MONT_P), dtype=np.uint64)
    neg_y = _neg_mod_p(points[:, _LIMBS : 2 * _LIMBS])
    # The file is named by its hash; a few of its points are checked on the curve besides.
    bad = [i for i in _spot_indices(n) if not native.is_valid(points[i].ctypes.data)]
    if bad:
        raise ArtifactError(f"{path}: Lagrange point {bad[0]} is not a point of BN254 G1")
    tail = points[n - BLINDING_POINTS :]
    ones = np.tile(_digit_table(0)[1], (BLINDING_POINTS, 1))
    blinding = _encode(native, _mul_vec(native, tail, ones))
    blinding_row = _decode_rows(native, [blinding], "B")[0]
    for array in (points, neg_y, blinding_row):
        array.flags.writeable = False
    basis = LagrangeBasis(logrows, sha256, points, neg_y, blinding, blinding_row)
    with _LOCK:
        _BASES[key] = basis
    return basis


def _spot_indices(n: int) -> list[int]:
    return sorted({0, 1, n // 2, n - BLINDING_POINTS - 1, *range(n - BLINDING_POINTS, n)})


def _neg_mod_p(y: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """``p - y`` per row (``y`` in ``(0, p)``; a point's y is never zero on BN254)."""
    return _sub_limbs(np.array(_int_limbs(_P), dtype=np.uint64), y)[0]


# -- native primitives ---------------------------------------------------------------------------


def _require_native() -> _Native:
    native = _load_native()
    if native is None:
        raise ArtifactError("the native commitment backend (mclbn256) is not available in this process")
    return native


def _mul_vec(
    native: _Native, points: npt.NDArray[np.uint64], scalars: npt.NDArray[np.uint64]
) -> ctypes.Array[ctypes.c_uint64]:
    """``sum_k s_k P_k`` (mcl points and Montgomery scalars, as contiguous arrays)."""
    out = _G1Words()
    n = points.shape[0]
    if n == 0:
        return out  # mcl's zero: z = 0
    pts = np.ascontiguousarray(points, dtype=np.uint64)
    frs = np.ascontiguousarray(scalars, dtype=np.uint64)
    native.mul_vec(ctypes.addressof(out), pts.ctypes.data, frs.ctypes.data, n)
    return out


def _add(
    native: _Native, a: ctypes.Array[ctypes.c_uint64], b: ctypes.Array[ctypes.c_uint64]
) -> ctypes.Array[ctypes.c_uint64]:
    out = _G1Words()
    native.add(ctypes.addressof(out), ctypes.addressof(a), ctypes.addressof(b))
    return out


def _encode(native: _Native, point: ctypes.Array[ctypes.c_uint64]) -> bytes:
    """Mcl point -> 64-byte big-endian ``x || y`` (the identity as 64 zero bytes)."""
    if native.is_zero(ctypes.addressof(point)):
        return bytes(POINT_SIZE)
    affine = _G1Words()
    native.normalize(ctypes.addressof(affine), ctypes.addressof(point))
    limbs = list(affine)
    x = _limbs_to_int(limbs[0:4]) * _MONT_P_INV % _P
    y = _limbs_to_int(limbs[4:8]) * _MONT_P_INV % _P
    return x.to_bytes(32, "big") + y.to_bytes(32, "big")


def _decode_rows(native: _Native, points: Sequence[bytes], what: str) -> npt.NDArray[np.uint64]:
    """Checked 64-byte points -> mcl rows; the identity becomes mcl's zero (z = 0).

    :func:`zkagg._kzg.points.checked_coordinates` checks each (length, canonical coordinates,
    curve equation) before it is converted to Montgomery form.
    """
    parts: list[bytes] = []
    one = _MONT_P.to_bytes(32, "little")
    zero = bytes(8 * _G1_WORDS)
    for k, data in enumerate(points):
        xy = checked_coordinates(data, f"{what}[{k}]")
        if xy is None:
            parts.append(zero)
            continue
        x, y = xy
        parts.append(
            (x * _MONT_P % _P).to_bytes(32, "little") + (y * _MONT_P % _P).to_bytes(32, "little") + one
        )
    rows = np.frombuffer(b"".join(parts), dtype="<u8").astype(np.uint64)
    return rows.reshape(len(points), _G1_WORDS)


# -- commitments ---------------------------------------------------------------------------------


@timed
def commit_message(basis: LagrangeBasis, felts: Sequence[int] | npt.NDArray[Any]) -> bytes:
    """``ezkl.kzg_commit`` of one column: ``sum_i felts[i] L_i + B``, on the native backend.

    ``felts`` are integers taken modulo the field (signed quantized values are fine); the message
    must fit the column (the caller checks it against the commitment domain).
    """
    native = _require_native()
    small, big = _split_message(message_values(felts))
    n = small.size
    if n > basis.points.shape[0] - RESERVED_ROWS:
        raise InvalidArgument(f"a message of {n} values does not fit a column of logrows {basis.logrows}")
    nz = np.flatnonzero(small)
    acc = _mul_vec(native, *_signed_terms(basis, nz, small[nz]))
    if big:
        idx = np.array([i for i, _ in big], dtype=np.int64)
        frs = _fr_rows([v for _, v in big])
        acc = _add(native, acc, _mul_vec(native, basis.points[idx], frs))
    acc = _add(native, acc, _as_point(basis.blinding_row))
    return _encode(native, acc)


#: Values (or points) below which work stays on one thread (the hand-off costs more).
_PARALLEL_WORK: Final = 2_048


@timed
def commit_messages(
    basis: LagrangeBasis, messages: Sequence[Sequence[int] | npt.NDArray[Any]]
) -> list[bytes]:
    """:func:`commit_message` of every message, on one thread per core when there is enough work.

    mcl's MSM runs without the GIL (ctypes releases it), so chunks commit in parallel threads.
    """
    return _parallel_map(lambda m: commit_message(basis, m), messages, sum(len(m) for m in messages))


_T = TypeVar("_T")
_U = TypeVar("_U")


def _parallel_map(fn: Callable[[_T], _U], items: Sequence[_T], work: int) -> list[_U]:
    """``[fn(x) for x in items]``, on one thread per core when ``work`` (values or points) is enough.

    mcl's MSM runs without the GIL (ctypes releases it), so native calls overlap across threads.
    """
    workers = min(len(items), os.cpu_count() or 1)
    if workers < 2 or work < _PARALLEL_WORK or _load_native() is None:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def _signed_terms(
    basis: LagrangeBasis, idx: npt.NDArray[np.int64], values: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """Bases (negated where the value is negative) and Montgomery scalars ``|value|``."""
    bases = basis.points[idx]
    negative = values < 0
    if negative.any():
        bases[negative, _LIMBS : 2 * _LIMBS] = basis.neg_y[idx[negative]]
    # np.abs(-2**63) wraps to -2**63, whose uint64 view is 2**63: the right magnitude.
    magnitudes = np.abs(values).astype(np.uint64)
    return bases, _mont_scalars(magnitudes)


def _as_point(row: npt.NDArray[np.uint64]) -> ctypes.Array[ctypes.c_uint64]:
    point = _G1Words()
    ctypes.memmove(ctypes.byref(point), row.ctypes.data, _G1_WORDS * 8)
    return point


# -- group arithmetic on encoded points ----------------------------------------------------------


@timed
def msm(points: Sequence[bytes], scalars: Sequence[int], what: str = "point") -> bytes:
    """``sum_k scalars[k] points[k]`` of 64-byte encoded points (each checked on the curve).

    Scalars are any integers, taken modulo the group order (negative ones negate). ``what`` names the
    points in errors (``"commitment"`` gives ``commitment[3] is not a point of BN254 G1``).
    """
    if len(points) != len(scalars):
        raise InvalidArgument(f"msm needs one scalar per point, not {len(scalars)} for {len(points)}")
    native = _load_native()
    if native is None:
        return _msm_python(points, scalars, what)
    rows = _decode_rows(native, points, what)
    frs = _fr_rows(scalars)
    return _encode(native, _mul_vec(native, rows, frs.reshape(-1, _LIMBS)))


@timed
def msm_nested(
    groups: Sequence[tuple[Sequence[bytes], Sequence[int]]], outer: Sequence[int], what: str = "point"
) -> bytes:
    """``sum_j outer[j] * (sum_k s_jk Q_jk)`` for ``groups[j] = (Q_j, s_j)``.

    Two levels: an MSM per group with its (usually small) scalars, then one over the group sums
    with ``outer``. Measured with mcl: cheaper than one flat MSM over the products ``outer[j] *
    s_jk``, whose cost grows with the longer scalars (64 groups of 65 points, 10-bit inner and
    128-bit outer scalars: 18 ms against 29 ms).
    """
    if len(groups) != len(outer):
        raise InvalidArgument(
            f"msm_nested needs one outer scalar per group, not {len(outer)} for {len(groups)}"
        )
    inner = _parallel_map(
        lambda j: msm(groups[j][0], groups[j][1], f"{what} (group {j})"),
        range(len(groups)),
        sum(len(pts) for pts, _ in groups),
    )
    return msm(inner, outer, what)


def _msm_python(points: Sequence[bytes], scalars: Sequence[int], what: str) -> bytes:
    raw: list[RawPoint] = []
    neg: list[RawPoint] = []
    pos_s: list[int] = []
    neg_s: list[int] = []
    half = _R // 2
    for k, (data, s) in enumerate(zip(points, scalars, strict=True)):
        xy = checked_coordinates(data, f"{what}[{k}]")
        scalar = int(s) % _R
        if scalar == 0 or xy is None:
            continue
        if scalar > half:
            neg.append((xy[0], _P - xy[1], 1))
            neg_s.append(_R - scalar)
        else:
            raw.append((xy[0], xy[1], 1))
            pos_s.append(scalar)
    total: RawPoint = RAW_IDENTITY
    if raw:
        total = msm_raw(raw, pos_s)
    if neg:
        total = add_raw(total, msm_raw(neg, neg_s))
    tx, ty, tz = total
    if tz == 0:
        return bytes(POINT_SIZE)
    zinv = pow(tz, -1, _P)
    return (tx * zinv % _P).to_bytes(32, "big") + (ty * zinv % _P).to_bytes(32, "big")
