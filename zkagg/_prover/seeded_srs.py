"""A dev SRS derived from a public seed: the same file on every machine, for reproducible tests.

``ezkl.gen_srs`` draws its trapdoor ``tau`` at random, so two machines (or two test sessions) get
different SRS files, different commitment domains, different commitments in the round manifests,
and so different block hashes and cohorts. A **seeded** dev SRS takes ``tau`` from a hash of a
seed instead: everything downstream becomes a function of the inputs. Anyone who knows the seed
knows ``tau`` and can forge every proof and open every commitment to anything: it is a dev SRS in
the strictest sense, for tests and replayable simulations only, and :func:`zkagg._prover.srs.dev_srs`
labels it INSECURE like any dev SRS.

The file is halo2's ``ParamsKZG`` in the raw form ``ezkl.gen_srs`` writes (checked against such a
file in ``tests/prover/test_seeded_srs.py``): ``k`` (u32 LE); ``tau^i G1`` for ``i < 2**k``;
the Lagrange basis ``L_i(tau) G1`` over halo2's domain (``omega`` = ``7**((r - 1) / 2**28)``
squared down to order ``2**k``, as halo2curves' BN254 ``ROOT_OF_UNITY``), with
``L_i(tau) = (tau^n - 1) / n * omega^i / (tau - omega^i)``; then ``G2`` and ``tau G2``. Field
elements are 32-byte little-endian in Montgomery form, ``x | y`` per point, ``c0 | c1`` in Fq2.

The G1 points are fixed-base multiples of the generator: a comb of 8-bit windows (32 mixed
Jacobian additions per point) and one batched inversion to affine, on plain Python integers
(about 7 s for ``k = 15`` and 30 s for ``k = 17`` on one core, close to ``ezkl.gen_srs``). The two
G2 points come from py-ecc.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from py_ecc.optimized_bn128.optimized_curve import G2, multiply, normalize
from py_ecc.optimized_bn128.optimized_curve import curve_order as _R
from py_ecc.optimized_bn128.optimized_curve import field_modulus as _Q

from zkagg._errors import InvalidArgument

__all__ = ["seeded_tau", "write_seeded_srs"]

_TAG: Final = b"zkagg/seeded-dev-srs/v1\x00"
#: halo2curves' BN254 scalar field: 2-adicity 28, multiplicative generator 7.
_TWO_ADICITY: Final = 28
_ROOT_OF_UNITY: Final = pow(7, (_R - 1) >> _TWO_ADICITY, _R)
_MONT: Final = pow(2, 256, _Q)
_WINDOW: Final = 8
_WINDOWS: Final = (_R.bit_length() + _WINDOW - 1) // _WINDOW

Jacobian = tuple[int, int, int]
Affine = tuple[int, int]
_INFINITY: Final[Jacobian] = (1, 1, 0)


def seeded_tau(logrows: int, seed: bytes) -> int:
    """The trapdoor of the seeded SRS of ``logrows``: a hash of ``seed``, never a root of unity."""
    n = 1 << logrows
    counter = 0
    while True:
        digest = hashlib.sha512(_TAG + struct.pack("<II", logrows, counter) + seed).digest()
        tau = int.from_bytes(digest, "little") % _R
        if tau and pow(tau, n, _R) != 1:
            return tau
        counter += 1


def _double(p: Jacobian) -> Jacobian:
    x, y, z = p
    if z == 0 or y == 0:
        return _INFINITY
    a = x * x % _Q
    b = y * y % _Q
    c = b * b % _Q
    d = 2 * ((x + b) ** 2 - a - c) % _Q
    e = 3 * a
    x3 = (e * e - 2 * d) % _Q
    return (x3, (e * (d - x3) - 8 * c) % _Q, 2 * y * z % _Q)


def _add_affine(p: Jacobian, q: Affine) -> Jacobian:
    """``p + q`` for a Jacobian ``p`` and an affine ``q`` (madd-2007-bl, ``a = 0``)."""
    x1, y1, z1 = p
    if z1 == 0:
        return (q[0], q[1], 1)
    x2, y2 = q
    z1z1 = z1 * z1 % _Q
    u2 = x2 * z1z1 % _Q
    s2 = y2 * z1 * z1z1 % _Q
    h = (u2 - x1) % _Q
    r = 2 * (s2 - y1) % _Q
    if h == 0:
        return _double(p) if r == 0 else _INFINITY
    hh = h * h % _Q
    i = 4 * hh % _Q
    j = h * i % _Q
    v = x1 * i % _Q
    x3 = (r * r - j - 2 * v) % _Q
    return (x3, (r * (v - x3) - 2 * y1 * j) % _Q, ((z1 + h) ** 2 - z1z1 - hh) % _Q)


def _batch_inverse(values: Sequence[int], modulus: int) -> list[int]:
    """Every value's inverse with one modular inversion (Montgomery's trick); values are non-zero."""
    prefix = []
    acc = 1
    for v in values:
        prefix.append(acc)
        acc = acc * v % modulus
    inv = pow(acc, -1, modulus)
    out = [0] * len(values)
    for idx in range(len(values) - 1, -1, -1):
        out[idx] = inv * prefix[idx] % modulus
        inv = inv * values[idx] % modulus
    return out


def _to_affine(points: Sequence[Jacobian]) -> list[Affine]:
    """Jacobian points (none at infinity) to affine, with one inversion for all."""
    inverses = _batch_inverse([p[2] for p in points], _Q)
    out = []
    for (x, y, _), zi in zip(points, inverses, strict=True):
        zi2 = zi * zi % _Q
        out.append((x * zi2 % _Q, y * zi2 * zi % _Q))
    return out


def _comb_table() -> list[list[Affine]]:
    """``table[w][v - 1] = v 2**(8 w) G`` for ``v`` in ``1..255``, affine."""
    flat: list[Jacobian] = []
    base: Jacobian = (1, 2, 1)
    for _ in range(_WINDOWS):
        base_affine = _to_affine([base])[0]
        acc = base
        row = [acc]
        for _ in range(2, 1 << _WINDOW):
            acc = _add_affine(acc, base_affine)
            row.append(acc)
        flat.extend(row)
        for _ in range(_WINDOW):
            base = _double(base)
    affine = _to_affine(flat)
    size = (1 << _WINDOW) - 1
    return [affine[w * size : (w + 1) * size] for w in range(_WINDOWS)]


def _g1_multiples(scalars: Iterable[int], table: list[list[Affine]]) -> list[Affine]:
    """``s G1`` for each non-zero scalar below ``r``, affine."""
    mask = (1 << _WINDOW) - 1
    out: list[Jacobian] = []
    for s in scalars:
        acc = _INFINITY
        w = 0
        while s:
            v = s & mask
            if v:
                acc = _add_affine(acc, table[w][v - 1])
            s >>= _WINDOW
            w += 1
        out.append(acc)
    return _to_affine(out)


def _fq(value: int) -> bytes:
    return (value * _MONT % _Q).to_bytes(32, "little")


def _g1_bytes(points: Iterable[Affine]) -> bytes:
    return b"".join(_fq(x) + _fq(y) for x, y in points)


def _g2_bytes(tau: int) -> bytes:
    out = b""
    for point in (G2, multiply(G2, tau)):
        x, y = normalize(point)
        out += b"".join(_fq(int(c)) for c in (*x.coeffs, *y.coeffs))
    return out


def write_seeded_srs(path: Path | str, logrows: int, seed: bytes) -> Path:
    """Write the seeded dev SRS of ``logrows`` to ``path`` (atomically) and return the path.

    Raises
    ------
    InvalidArgument
        For a ``logrows`` outside 1..26 or an empty ``seed``.
    """
    if not isinstance(logrows, int) or isinstance(logrows, bool) or not 1 <= logrows <= 26:
        raise InvalidArgument(f"logrows must be an int in 1..26, not {logrows!r}")
    if not isinstance(seed, bytes) or not seed:
        raise InvalidArgument(f"seed must be non-empty bytes, not {seed!r:.60}")
    n = 1 << logrows
    tau = seeded_tau(logrows, seed)
    table = _comb_table()
    powers = [1] * n
    for i in range(1, n):
        powers[i] = powers[i - 1] * tau % _R
    omega = pow(_ROOT_OF_UNITY, 1 << (_TWO_ADICITY - logrows), _R)
    roots = [1] * n
    for i in range(1, n):
        roots[i] = roots[i - 1] * omega % _R
    multiplier = (pow(tau, n, _R) - 1) * pow(n, -1, _R) % _R
    denominators = _batch_inverse([(tau - w) % _R for w in roots], _R)
    lagrange = [multiplier * w % _R * d % _R for w, d in zip(roots, denominators, strict=True)]
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(struct.pack("<I", logrows))
            fh.write(_g1_bytes(_g1_multiples(powers, table)))
            fh.write(_g1_bytes(_g1_multiples(lagrange, table)))
            fh.write(_g2_bytes(tau))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
