"""Quantization must equal ezkl.float_to_felt / felt_to_float for every value it accepts."""

from __future__ import annotations

import math

import ezkl
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from py_ecc.optimized_bn128.optimized_curve import curve_order, field_modulus

from zkagg import FIELD_MODULUS, InvalidArgument, QuantizationError, dequantize, quantize
from zkagg._field import felt_to_hex, felt_to_signed, felts_to_hex, hex_to_felt, signed_to_felt

scales = st.integers(min_value=0, max_value=30)
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)


def test_modulus_is_the_scalar_field() -> None:
    assert curve_order == FIELD_MODULUS
    assert field_modulus != FIELD_MODULUS
    assert str(FIELD_MODULUS).endswith("495617")


@settings(max_examples=300, deadline=None)
@given(value=finite, scale=scales)
def test_quantize_matches_ezkl(value: float, scale: int) -> None:
    assume(abs(value) * 2.0**scale < 2**62)
    q = int(quantize([value], scale)[0])
    assert felt_to_hex(signed_to_felt(q)) == ezkl.float_to_felt(value, scale)  # type: ignore[call-arg]


@settings(max_examples=200, deadline=None)
@given(k=st.integers(min_value=-(10**6), max_value=10**6), scale=st.integers(min_value=0, max_value=20))
def test_half_way_values_round_away_from_zero_like_ezkl(k: int, scale: int) -> None:
    value = (k + 0.5) / 2**scale
    q = int(quantize([value], scale)[0])
    assert felt_to_hex(signed_to_felt(q)) == ezkl.float_to_felt(value, scale)  # type: ignore[call-arg]
    assert abs(q) == abs(k + 0.5) + 0.5


@settings(max_examples=200, deadline=None)
@given(q=st.integers(min_value=-(2**40), max_value=2**40), scale=scales)
def test_dequantize_matches_ezkl(q: int, scale: int) -> None:
    felt = felt_to_hex(signed_to_felt(q))
    assert dequantize(np.array([q]), scale)[0] == ezkl.felt_to_float(felt, scale)
    assert felt_to_signed(hex_to_felt(felt)) == q


def test_quantize_is_vectorized_and_keeps_shape() -> None:
    x = np.linspace(-3, 3, 24).reshape(2, 3, 4)
    q = quantize(x, 8)
    assert q.shape == x.shape and q.dtype == np.int64
    assert np.all(np.abs(dequantize(q, 8) - x) <= 2.0**-9)


def test_felts_to_hex_matches_ezkl_for_negative_values() -> None:
    assert felts_to_hex(quantize([-1.5, 2.25], 7)) == [
        ezkl.float_to_felt(-1.5, 7),  # type: ignore[call-arg]
        ezkl.float_to_felt(2.25, 7),  # type: ignore[call-arg]
    ]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_refused(bad: float) -> None:
    with pytest.raises(QuantizationError, match=r"values\[1\] is"):
        quantize([0.0, bad], 7)


def test_int64_overflow_is_refused_with_the_limit() -> None:
    with pytest.raises(QuantizationError, match="int64 range"):
        quantize([2.0**60], 8)


def test_field_overflow_for_declared_terms_is_refused() -> None:
    n_terms = 2**230  # (p - 1) / 2 / 2**230 is about 2**22.6, below 1e6 * 2**13
    with pytest.raises(QuantizationError, match="sums of"):
        quantize([1e6], 13, n_terms=n_terms)
    assert quantize([1e6], 13, n_terms=2**20)[0] == 1e6 * 2**13


@pytest.mark.parametrize("scale", [-1, 63, 1.5, True, "7"])
def test_bad_scale_names_the_argument(scale: object) -> None:
    with pytest.raises(InvalidArgument, match="scale must be an integer"):
        quantize([1.0], scale)  # type: ignore[arg-type]


@pytest.mark.parametrize("n_terms", [0, -3, 2.5])
def test_bad_n_terms(n_terms: object) -> None:
    with pytest.raises(InvalidArgument, match="n_terms must be a positive integer"):
        quantize([1.0], 7, n_terms=n_terms)  # type: ignore[arg-type]


def test_non_numeric_values() -> None:
    with pytest.raises(QuantizationError, match="real numbers"):
        quantize(["a"], 7)


@pytest.mark.parametrize(
    ("text", "message"),
    [("00", "64 hex digits"), ("zz" * 32, "must be hex"), ("ff" * 32, "not reduced")],
)
def test_hex_to_felt_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        hex_to_felt(text)


def test_signed_range_errors() -> None:
    with pytest.raises(QuantizationError):
        signed_to_felt(FIELD_MODULUS)
    with pytest.raises(InvalidArgument):
        felt_to_signed(-1)
    with pytest.raises(InvalidArgument):
        felt_to_hex(FIELD_MODULUS)
