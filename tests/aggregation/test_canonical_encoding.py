"""Shard aggregates and specs have one encoding: every other form of the same value is refused.

The forms tried are those a malicious shard could post for the same aggregate (issue 12, "canonical
encodings"): the FedAvg sums at a wider width than the least, a value written as ``x + p``, a
float aggregate with ``-0.0``, NaN or an infinity, and a spec whose absent parameters use another
NaN. The checksum is recomputed each time, so what refuses them is the canonical-form check.
"""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zkagg import FIELD_MODULUS, AggregationSpec, InvalidArgument, ProtocolError, ShardAggregate
from zkagg._aggregation.records import ChunkProof, fedavg_aggregate
from zkagg._aggregation.spec import SPEC_SIZE

SRS_SHA = "11" * 32  # a fixed SRS identity: no SRS is needed to encode or decode
P = FIELD_MODULUS
HALF = (P - 1) // 2
FEDAVG = AggregationSpec(rule="fedavg", chunk_size=4, scale=13, srs_sha256=SRS_SHA)
SALTED = AggregationSpec(rule="fedavg", chunk_size=4, scale=13, salted=True, srs_sha256=SRS_SHA)
MEDIAN = AggregationSpec(rule="median", chunk_size=4, scale=10, srs_sha256=SRS_SHA)
PROOFS = (ChunkProof(0, "ab" * 32, b"proof of chunk 0"), ChunkProof(1, "cd" * 32, b"proof of chunk 1"))


def _fedavg(
    values: list[int], spec: AggregationSpec = FEDAVG, weights: tuple[int, ...] = (3, 1)
) -> ShardAggregate:
    """A fedavg aggregate whose sums are ``values`` (signed, reduced mod p), one chunk per 4 values."""
    cs = spec.chunk_size
    padded = values + [0] * (-len(values) % cs)
    chunks = [tuple(v % P for v in padded[i : i + cs]) for i in range(0, len(padded), cs)]
    sums = tuple((*c, 12345) if spec.salted else c for c in chunks)
    agg = fedavg_aggregate(sums, sum(weights), spec.scale, len(values), cs)
    return ShardAggregate(spec, weights, len(values), agg, sums=sums)


def _head(result: ShardAggregate) -> bytes:
    """Everything before the fedavg value width, or before a proven rule's float aggregate."""
    n = len(result.weights)
    return b"ZKSA\x01" + result.spec.to_bytes() + struct.pack(f">I{n}QQ", n, *result.weights, result.length)


def _seal(body: bytes) -> bytes:
    """Append the checksum, as the encoder does (so only the canonical-form check can refuse)."""
    return body + hashlib.sha256(body).digest()


def _fedavg_form(result: ShardAggregate, width: int, signed: list[int]) -> bytes:
    """``result`` re-encoded with the values ``signed`` (any representatives) at ``width`` bytes."""
    body = _head(result) + bytes([width]) + b"".join(v.to_bytes(width, "big", signed=True) for v in signed)
    if result.spec.salted:
        body += b"".join(chunk[-1].to_bytes(32, "big") for chunk in result.sums)
    return _seal(body)


def _float_form(result: ShardAggregate, aggregate: list[float]) -> bytes:
    """``result`` re-encoded with the float aggregate written as given (bit for bit)."""
    body = (
        _head(result) + np.asarray(aggregate, dtype=">f8").tobytes() + struct.pack(">I", len(result.proofs))
    )
    for p in result.proofs:
        body += struct.pack(">I32sI", p.chunk, bytes.fromhex(p.circuit_id), len(p.proof)) + p.proof
    return _seal(body)


# -- the canonical form is what the encoder writes ------------------------------------------------


@pytest.mark.parametrize(
    ("values", "width"),
    [
        ([0, 0, 0, 0], 1),
        ([-64, 63, 0, 1], 1),  # 2 * 64 + 1 = 129 takes 8 bits
        ([-128, 0, 0, 0], 2),  # the width holds 2 * max |v| + 1, not only the two's complement of v
        ([2**40, -(2**40), 7, 0, 1], 6),
        ([HALF, -HALF, 0, 1], 32),  # the widest values: the signed representatives of the field
    ],
)
def test_the_encoder_writes_the_least_width(values: list[int], width: int) -> None:
    # Prepare
    result = _fedavg(values)
    # Execute
    data = result.to_bytes()
    # Assert
    assert data[len(_head(result))] == width
    assert data == _fedavg_form(result, width, values + [0] * (-len(values) % 4))
    assert ShardAggregate.from_bytes(data).to_bytes() == data


# -- every other form is refused ------------------------------------------------------------------


@pytest.mark.parametrize("spec", [FEDAVG, SALTED], ids=["unsalted", "salted"])
@pytest.mark.parametrize("extra", [1, 2, 26])
def test_a_wider_width_than_the_least_is_refused(spec: AggregationSpec, extra: int) -> None:
    # Prepare: the same values at a width the encoder would not pick
    values = [2**40, -(2**40), 7, 0, 1, 0, 0, 0]
    result = _fedavg(values, spec)
    wider = _fedavg_form(result, 6 + extra, values)
    # Execute / Assert
    with pytest.raises(
        ProtocolError, match="value width must be the least that holds the fedavg sums, 6 bytes, not"
    ):
        ShardAggregate.from_bytes(wider)


@pytest.mark.parametrize(
    ("values", "index", "shown"),
    [
        ([5 + P, 0, 0, 0], 0, 5 + P),  # x + p, the same field element
        ([0, 0, -5 - P, 0], 2, -5 - P),  # x - p
        ([HALF + 1, 0, 0, 0], 0, HALF + 1),  # the unsigned residue above (p - 1) / 2: it is -HALF
        ([0, -HALF - 1, 0, 0], 1, -HALF - 1),
    ],
)
def test_another_representative_of_a_field_element_is_refused(
    values: list[int], index: int, shown: int
) -> None:
    # Prepare: the field elements decode to the same sums, but each has one signed representative
    result = _fedavg([v % P for v in values])
    other = _fedavg_form(result, 33, values)
    # Execute / Assert
    with pytest.raises(
        ProtocolError, match=rf"value {index} of the fedavg sums is {shown}, outside \[-\(p - 1\) / 2"
    ):
        ShardAggregate.from_bytes(other)


def test_x_plus_p_at_the_least_width_of_the_other_values_is_refused() -> None:
    # Prepare: 33 bytes hold x + p; 32 bytes is the least width for values near (p - 1) / 2
    result = _fedavg([HALF, 3, 0, 0])
    with pytest.raises(ProtocolError, match="outside"):
        ShardAggregate.from_bytes(_fedavg_form(result, 33, [HALF, 3 + P, 0, 0]))
    with pytest.raises(ProtocolError, match=r"value width must be the least .* 32 bytes, not 33"):
        ShardAggregate.from_bytes(_fedavg_form(result, 33, [HALF, 3, 0, 0]))


def test_a_salt_sum_not_below_p_is_refused() -> None:
    # Prepare
    result = _fedavg([1, 2, 3, 4], SALTED)
    body = _fedavg_form(result, 1, [1, 2, 3, 4])[:-32]
    body = body[:-32] + (12345 + P).to_bytes(32, "big")
    # Execute / Assert
    with pytest.raises(ProtocolError, match="a salt sum is not reduced modulo p"):
        ShardAggregate.from_bytes(_seal(body))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-0.0, r"aggregate\[3\] is -0.0: zero is written as \+0.0, its one encoding"),
        (float("nan"), r"aggregate\[3\] is nan: every aggregate value must be finite"),
        (float("inf"), r"aggregate\[3\] is inf: every aggregate value must be finite"),
        (float("-inf"), r"aggregate\[3\] is -inf: every aggregate value must be finite"),
    ],
)
def test_a_float_aggregate_the_encoder_never_writes_is_refused(value: float, message: str) -> None:
    # Prepare
    result = ShardAggregate(MEDIAN, (1, 1, 1), 7, np.linspace(-1, 1, 7), proofs=PROOFS)
    aggregate = [float(v) for v in result.aggregate]
    aggregate[3] = value
    # Execute / Assert
    with pytest.raises(ProtocolError, match=message):
        ShardAggregate.from_bytes(_float_form(result, aggregate))


def test_the_encoder_writes_negative_zero_as_zero() -> None:
    # Prepare: no rule's rescale gives -0.0, but an aggregate made by hand may hold it
    values = np.array([-0.0, 0.5, -0.0, 0.0])
    result = ShardAggregate(MEDIAN, (1, 1), 4, values, proofs=PROOFS[:1])
    # Execute
    back = ShardAggregate.from_bytes(result.to_bytes())
    # Assert
    assert not np.signbit(back.aggregate).any()
    assert back.to_bytes() == result.to_bytes() == _float_form(result, [0.0, 0.5, 0.0, 0.0])


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: ShardAggregate(MEDIAN, (1,), 4, np.array([0.0, np.nan, 0.0, 0.0]), proofs=PROOFS[:1]),
            r"aggregate\[1\] must be finite, not nan",
        ),
        (
            lambda: ShardAggregate(MEDIAN, (1,), 4, np.zeros(3), proofs=PROOFS[:1]),
            r"aggregate must be 4 values, not shape \(3,\)",
        ),
        (
            lambda: ShardAggregate(FEDAVG, (1,), 4, np.zeros(4), sums=((1, 2, 3, P),)),
            r"sums\[0\]\[3\] must be a field element in \[0, p\), not",
        ),
        (
            lambda: ShardAggregate(FEDAVG, (1,), 4, np.zeros(4), sums=((1, 2, 3, -1),)),
            r"sums\[0\]\[3\] must be a field element in \[0, p\), not -1",
        ),
        (
            lambda: ShardAggregate(FEDAVG, (1,), 5, np.zeros(5), sums=((1, 2, 3, 4),)),
            "sums must be 2 chunks of 4 field elements for 5 values, not 1 chunks",
        ),
        (
            lambda: ShardAggregate(SALTED, (1,), 4, np.zeros(4), sums=((1, 2, 3, 4),)),
            "sums must be 1 chunks of 5 field elements for 4 values",
        ),
    ],
)
def test_the_encoder_refuses_what_it_could_not_write_back(build, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidArgument, match=message):
        build().to_bytes()


@pytest.mark.parametrize(("field", "offset"), [("beta", 2), ("clip_norm", 10)])
def test_a_spec_with_another_nan_for_an_absent_parameter_is_refused(field: str, offset: int) -> None:
    # Prepare: any NaN would decode to "absent"; only the one the encoder writes is accepted
    data = bytearray(MEDIAN.to_bytes())
    assert len(data) == SPEC_SIZE
    data[offset : offset + 8] = bytes.fromhex("7ff8000000000001")
    # Execute / Assert
    with pytest.raises(
        InvalidArgument,
        match=f"an absent {field} is encoded as the NaN 7ff8000000000000, not 7ff8000000000001",
    ):
        AggregationSpec.from_bytes(bytes(data))
    data[offset : offset + 8] = bytes.fromhex("fff8000000000000")  # -NaN
    with pytest.raises(InvalidArgument, match=f"an absent {field} is encoded as the NaN"):
        AggregationSpec.from_bytes(bytes(data))


def test_a_shard_aggregate_whose_spec_uses_another_nan_is_refused() -> None:
    result = _fedavg([1, 2, 3, 4])
    data = bytearray(result.to_bytes()[:-32])
    data[5 + 2 : 5 + 10] = bytes.fromhex("7ff0000000000001")  # a signalling NaN for beta
    with pytest.raises(ProtocolError, match="an absent beta is encoded as the NaN 7ff8000000000000"):
        ShardAggregate.from_bytes(_seal(bytes(data)))


# -- the round trip: decode(encode(x)) == x, and encode(decode(b)) == b for every accepted b ------

_ELEMENTS = st.one_of(
    st.integers(-(2**70), 2**70),
    st.integers(-HALF, HALF),
    st.sampled_from([0, 1, -1, 127, -128, 128, HALF, -HALF, 2**63 - 1, -(2**63), 2**63]),
)


@st.composite
def _fedavg_results(draw: st.DrawFn) -> ShardAggregate:
    spec = draw(st.sampled_from([FEDAVG, SALTED]))
    length = draw(st.integers(1, 10))
    values = draw(st.lists(_ELEMENTS, min_size=length, max_size=length))
    padded = values + [draw(_ELEMENTS) for _ in range(-length % 4)]
    chunks = [tuple(v % P for v in padded[i : i + 4]) for i in range(0, len(padded), 4)]
    sums = tuple((*c, draw(st.integers(0, P - 1))) if spec.salted else c for c in chunks)
    weights = tuple(draw(st.lists(st.integers(1, 2**20), min_size=1, max_size=4)))
    agg = fedavg_aggregate(sums, sum(weights), spec.scale, length, 4)
    return ShardAggregate(spec, weights, length, agg, sums=sums)


@st.composite
def _proven_results(draw: st.DrawFn) -> ShardAggregate:
    length = draw(st.integers(1, 10))
    floats = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([0.0, -0.0])
    aggregate = np.array(draw(st.lists(floats, min_size=length, max_size=length)), dtype=np.float64)
    proofs = tuple(
        ChunkProof(
            j, draw(st.binary(min_size=32, max_size=32)).hex(), draw(st.binary(min_size=1, max_size=40))
        )
        for j in range(draw(st.integers(0, 3)))
    )
    weights = tuple(draw(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=4)))
    return ShardAggregate(MEDIAN, weights, length, aggregate, proofs=proofs)


def _same(a: ShardAggregate, b: ShardAggregate) -> bool:
    return (
        a.spec == b.spec
        and a.weights == b.weights
        and a.length == b.length
        and a.sums == b.sums
        and a.proofs == b.proofs
        and np.array_equal(a.aggregate + 0.0, b.aggregate)  # -0.0 is written as +0.0
        and not np.signbit(b.aggregate[b.aggregate == 0]).any()
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_fedavg_results() | _proven_results())
def test_decode_of_encode_is_the_identity(result: ShardAggregate) -> None:
    # Execute
    data = result.to_bytes()
    back = ShardAggregate.from_bytes(data)
    # Assert
    assert _same(result, back)
    assert back.to_bytes() == data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_fedavg_results() | _proven_results(), st.data())
def test_every_accepted_encoding_is_the_one_the_encoder_writes(
    result: ShardAggregate, data: st.DataObject
) -> None:
    # Prepare: change, insert or delete bytes after the magic and version, then fix the checksum
    body = bytearray(result.to_bytes()[:-32])
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(5, len(body)))
        action = data.draw(st.sampled_from(["set", "insert", "delete"]))
        if action == "set" and at < len(body):
            body[at] = data.draw(st.integers(0, 255))
        elif action == "insert":
            body[at:at] = data.draw(st.binary(min_size=1, max_size=33))
        elif at < len(body):
            del body[at : at + data.draw(st.integers(1, 33))]
    encoded = _seal(bytes(body))
    # Execute
    try:
        decoded = ShardAggregate.from_bytes(encoded)
    except ProtocolError:
        return
    # Assert
    assert decoded.to_bytes() == encoded
