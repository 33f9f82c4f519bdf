"""G1 arithmetic of BN254 on plain integers: the group operations behind the homomorphic checks.

Homogeneous projective ``(X, Y, Z)`` over the base field, the same formulas as
``py_ecc.optimized_bn128`` (add, double), on Python ints reduced modulo ``q``: about 3x faster than
py-ecc's ``FQ`` objects. ``tests/kzg/test_g1_raw.py`` checks them against py-ecc.
"""

from __future__ import annotations

from collections.abc import Sequence

from py_ecc.fields import optimized_bn128_FQ as FQ
from py_ecc.optimized_bn128.optimized_curve import field_modulus as _BASE_MODULUS

from zkagg._kzg.points import PyEccPoint

__all__ = ["RAW_IDENTITY", "RawPoint", "add_raw", "double_raw", "from_raw", "msm_raw", "to_raw"]

RawPoint = tuple[int, int, int]
_Q = _BASE_MODULUS
RAW_IDENTITY: RawPoint = (1, 1, 0)


def to_raw(point: PyEccPoint) -> RawPoint:
    """A py-ecc point as plain integers."""
    return (int(point[0].n), int(point[1].n), int(point[2].n))


def from_raw(point: RawPoint) -> PyEccPoint:
    """Plain integers back to a py-ecc point."""
    return (FQ(point[0]), FQ(point[1]), FQ(point[2]))


def double_raw(p: RawPoint) -> RawPoint:
    """``2 p``."""
    x, y, z = p
    if z == 0:
        return p
    w = 3 * x * x % _Q
    s = y * z % _Q
    b = x * y * s % _Q
    h = (w * w - 8 * b) % _Q
    s2 = s * s % _Q
    return (2 * h * s % _Q, (w * (4 * b - h) - 8 * y * y * s2) % _Q, 8 * s * s2 % _Q)


def add_raw(p1: RawPoint, p2: RawPoint) -> RawPoint:
    """``p1 + p2``."""
    if p1[2] == 0:
        return p2
    if p2[2] == 0:
        return p1
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    u1 = y2 * z1 % _Q
    u2 = y1 * z2 % _Q
    v1 = x2 * z1 % _Q
    v2 = x1 * z2 % _Q
    if v1 == v2:
        return double_raw(p1) if u1 == u2 else RAW_IDENTITY
    u = u1 - u2
    v = v1 - v2
    v2s = v * v % _Q
    v2s_v2 = v2s * v2 % _Q
    v3 = v * v2s % _Q
    zz = z1 * z2 % _Q
    a = (u * u * zz - v3 - 2 * v2s_v2) % _Q
    return (v * a % _Q, (u * (v2s_v2 - a) - v3 * u2) % _Q, v3 * zz % _Q)


def msm_raw(points: Sequence[RawPoint], scalars: Sequence[int]) -> RawPoint:
    """``sum_k s_k P_k`` for non-negative scalars: Straus' method, one doubling chain for all points."""
    acc = RAW_IDENTITY
    top = max(scalars).bit_length()
    for bit in range(top - 1, -1, -1):
        acc = double_raw(acc)
        for point, scalar in zip(points, scalars, strict=True):
            if scalar >> bit & 1:
                acc = add_raw(acc, point)
    return acc
