"""The plain-integer G1 arithmetic used by FedAvg verification agrees with py-ecc."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from py_ecc.optimized_bn128.optimized_curve import G1, Z1, add, double, eq, multiply, neg

from zkagg._kzg.g1 import add_raw, double_raw, from_raw, msm_raw, to_raw

scalars = st.integers(0, 2**160)


@settings(max_examples=25, deadline=None)
@given(a=scalars, b=scalars, k=st.lists(st.integers(0, 2**20), min_size=1, max_size=5))
def test_raw_arithmetic_matches_py_ecc(a: int, b: int, k: list[int]) -> None:
    # Prepare
    p, q = multiply(G1, a), multiply(G1, b)
    points = [multiply(G1, 3 + i) for i in range(len(k))]
    # Execute
    total = msm_raw([to_raw(x) for x in points], k)
    # Assert
    assert eq(from_raw(add_raw(to_raw(p), to_raw(q))), add(p, q))
    assert eq(from_raw(double_raw(to_raw(p))), double(p))
    expected = Z1
    for x, s in zip(points, k, strict=True):
        expected = add(expected, multiply(x, s))
    assert eq(from_raw(total), expected)


def test_raw_edge_cases() -> None:
    # Prepare
    g = to_raw(G1)
    # Execute / Assert
    assert eq(from_raw(add_raw(g, g)), double(G1))
    assert from_raw(add_raw(g, to_raw(neg(G1))))[2] == 0
    assert add_raw(to_raw(Z1), g) == g
    assert msm_raw([g], [0])[2] == 0
