"""Reference rules: float and exact integer versions agree within the bound the scale implies."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from zkagg import InvalidArgument, quantize
from zkagg._aggregation.reference import (
    byzantine_updates,
    clipped_fedavg,
    clipped_fedavg_int,
    fedavg,
    fedavg_rescale,
    fedavg_sum_field,
    fedavg_sum_int,
    median,
    median_int,
    trim_count,
    trimmed_mean,
    trimmed_mean_int,
)
from zkagg._field import FIELD_MODULUS, felt_to_signed, signed_to_felt

SCALE = 13
QUANTUM = 2.0**-SCALE

updates_strategy = hnp.arrays(
    np.float64,
    st.tuples(st.integers(1, 9), st.integers(1, 20)),
    elements=st.floats(-100, 100, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=60, deadline=None)
@given(x=updates_strategy, data=st.data())
def test_integer_fedavg_matches_float_within_half_a_quantum(x: np.ndarray, data: st.DataObject) -> None:
    # Prepare
    weights = data.draw(st.lists(st.integers(1, 1000), min_size=x.shape[0], max_size=x.shape[0]))
    q = quantize(x, SCALE)
    # Execute
    sums = fedavg_sum_int(q, weights)
    field = fedavg_sum_field([[signed_to_felt(int(v)) for v in row] for row in q], weights)
    mean = fedavg_rescale(sums, sum(weights), SCALE)
    # Assert
    assert [felt_to_signed(v) for v in field] == sums
    assert np.abs(mean - fedavg(x, weights)).max() <= QUANTUM / 2 + 1e-9 * np.abs(x).max()


@settings(max_examples=60, deadline=None)
@given(x=updates_strategy)
def test_integer_median_and_trimmed_mean_match_float(x: np.ndarray) -> None:
    # Prepare
    q = quantize(x, SCALE)
    beta = 0.2
    # Execute
    med = median_int(q) / 2**SCALE
    sums, count = trimmed_mean_int(q, beta)
    tm = fedavg_rescale(sums, count, SCALE)
    # Assert
    assert np.abs(med - median(x)).max() <= QUANTUM
    assert np.abs(tm - trimmed_mean(x, beta)).max() <= QUANTUM / 2 + 1e-9 * np.abs(x).max()


@settings(max_examples=40, deadline=None)
@given(x=updates_strategy, clip=st.floats(0.01, 50))
def test_integer_clipped_fedavg_matches_float_within_a_few_quanta(x: np.ndarray, clip: float) -> None:
    # Prepare
    q = quantize(x, SCALE)
    weights = list(range(1, x.shape[0] + 1))
    # Execute
    got = fedavg_rescale(clipped_fedavg_int(q, clip, SCALE, weights), sum(weights), SCALE)
    # Assert: quantization of x (half a quantum), of C, and the integer square root
    assert np.abs(got - clipped_fedavg(x, clip, weights)).max() <= 3 * QUANTUM


def test_rules_on_a_known_example() -> None:
    # Prepare
    x = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0], [100.0, -100.0]])
    # Execute / Assert
    assert median(x).tolist() == [3.0, 20.0]
    assert trimmed_mean(x, 0.2).tolist() == [3.0, 20.0]
    assert fedavg(x, [1, 1, 1, 1, 0 + 1]).tolist() == pytest.approx([22.0, 0.0])
    assert trim_count(5, 0.2) == 1
    assert np.linalg.norm(clipped_fedavg(x[4:], 1.0)) == pytest.approx(1.0)
    assert median_int(np.array([[1], [4]])).tolist() == [2]
    assert fedavg_sum_field([[FIELD_MODULUS - 1], [2]], [1, 1]) == [1]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: trimmed_mean(np.ones((3, 2)), 0.5), r"beta must be in \[0, 0.5\), not 0.5"),
        (lambda: fedavg(np.ones((2, 2)), [1]), r"one entry per client \(2\), not 1"),
        (lambda: fedavg(np.ones((2, 2)), [1, 0]), "weights must be positive integers"),
        (lambda: clipped_fedavg(np.ones((2, 2)), 0.0), "clip_norm must be positive"),
        (lambda: median(np.ones(3)), "updates must be a non-empty 2-D array"),
    ],
)
def test_invalid_arguments_are_named(call: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        call()  # type: ignore[operator]


def test_byzantine_updates_flip_and_scale_the_chosen_fraction() -> None:
    # Prepare
    honest = np.ones((10, 4))
    # Execute
    attacked, bad = byzantine_updates(honest, 0.3, seed=1)
    # Assert
    assert bad.sum() == 3
    assert (attacked[bad] == -10.0).all() and (attacked[~bad] == 1.0).all()
