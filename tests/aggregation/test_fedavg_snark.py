"""FedAvg with a SNARK per chunk through the public API: ``AggregationSpec(rule="fedavg_snark")``.

The aggregate must equal the homomorphic ``fedavg`` aggregate bit for bit, the result must survive
its encoding, and every forgery the issue lists fails with a specific error. Proofs are real EZKL
proofs at logrows 15 (5 clients, 64-value chunks, two chunks of which the second is zero padded).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from zkagg import (
    AggregationSpec,
    CommitmentMismatch,
    InvalidArgument,
    InvalidProof,
    ProtocolError,
    ShardAggregate,
    aggregate_shard,
    commit_update,
    verify_shard,
)
from zkagg._aggregation.reference import fedavg_rescale
from zkagg._aggregation.shard import combine_shards
from zkagg._kzg.commit import UpdateCommitment

pytestmark = pytest.mark.slow

WEIGHTS = [3, 1, 4, 1, 5]


@dataclasses.dataclass(frozen=True)
class Proven:
    spec: AggregationSpec
    updates: np.ndarray
    commitments: list[UpdateCommitment]
    result: ShardAggregate


def relabel(result: ShardAggregate, weights: list[int]) -> ShardAggregate:
    """The same proofs and exact sums, presented as a result for other weights (a forgery)."""
    ints = [round(v * sum(result.weights) * 2**13) for v in result.aggregate.tolist()]
    aggregate = fedavg_rescale(ints, sum(weights), 13)
    return dataclasses.replace(result, weights=tuple(weights), aggregate=aggregate)


@pytest.fixture(scope="module")
def proven() -> Proven:
    spec = AggregationSpec(rule="fedavg_snark", chunk_size=64, scale=13)
    updates = np.random.default_rng(21).normal(scale=0.4, size=(5, 100))
    commitments = [commit_update(spec, x) for x in updates]
    result = aggregate_shard(spec, updates, WEIGHTS)
    return Proven(spec, updates, commitments, result)


def test_snark_fedavg_equals_homomorphic_fedavg_and_verifies(proven: Proven) -> None:
    # Prepare
    plain_spec = dataclasses.replace(proven.spec, rule="fedavg")
    plain = aggregate_shard(plain_spec, proven.updates, WEIGHTS)
    # Execute
    decoded = ShardAggregate.from_bytes(proven.result.to_bytes())
    verify_shard(proven.spec, proven.commitments, WEIGHTS, decoded)
    # Assert: one proof per chunk, the same float aggregate as the homomorphic rule
    assert len(decoded.proofs) == 2 and not decoded.sums
    assert np.array_equal(decoded.aggregate, plain.aggregate)
    # The commitments are the same points under both rules (same domain).
    assert [c.points for c in proven.commitments] == [
        c.points for c in (commit_update(plain_spec, x) for x in proven.updates)
    ]


def test_spec_encoding_of_the_new_rule_round_trips_and_old_codes_are_unchanged(proven: Proven) -> None:
    data = proven.spec.to_bytes()
    assert data[:2] == bytes([1, 4])  # version 1, rule code 4 (appended: codes 0-3 unchanged)
    back = AggregationSpec.from_bytes(data)
    assert back.rule == "fedavg_snark" and back.to_bytes() == data
    assert dataclasses.replace(proven.spec, rule="fedavg").to_bytes()[:2] == bytes([1, 0])


def test_one_aggregate_value_changed_is_rejected(proven: Proven) -> None:
    ints = [round(v * 14 * 2**13) for v in proven.result.aggregate.tolist()]
    ints[7] += 1  # one quantum of the exact weighted sum: still an exact rescale
    forged = dataclasses.replace(proven.result, aggregate=fedavg_rescale(ints, 14, 13))
    with pytest.raises(InvalidProof, match=r"aggregate value 7 \(chunk 0\) differs"):
        verify_shard(proven.spec, proven.commitments, WEIGHTS, forged)


def test_swapped_client_is_rejected(proven: Proven) -> None:
    other = commit_update(proven.spec, proven.updates[3] + 2**-13)
    with pytest.raises(CommitmentMismatch, match="client 3"):
        verify_shard(
            proven.spec, [*proven.commitments[:3], other, proven.commitments[4]], WEIGHTS, proven.result
        )


def test_dropped_or_added_client_is_rejected(proven: Proven) -> None:
    with pytest.raises(InvalidProof, match="a client dropped or added"):
        verify_shard(proven.spec, proven.commitments[:4], WEIGHTS[:4], proven.result)
    # A result relabelled to the remaining four clients: their circuit has another key.
    relabelled = relabel(proven.result, WEIGHTS[:4])
    with pytest.raises(InvalidProof, match="a key of another circuit"):
        verify_shard(proven.spec, proven.commitments[:4], WEIGHTS[:4], relabelled)
    extra = [*proven.commitments, proven.commitments[0]]
    relabelled = relabel(proven.result, [*WEIGHTS, 1])
    with pytest.raises(InvalidProof, match="a key of another circuit"):
        verify_shard(proven.spec, extra, [*WEIGHTS, 1], relabelled)


def test_changed_weights_are_rejected(proven: Proven) -> None:
    with pytest.raises(InvalidProof, match="uses weight 3 for client 0, not 1"):
        verify_shard(proven.spec, proven.commitments, [1, 1, 4, 1, 5], proven.result)
    # The weights are constants of the circuit: relabelled weights need another verification key.
    relabelled = relabel(proven.result, [1, 1, 4, 1, 5])
    with pytest.raises(InvalidProof, match="a key of another circuit"):
        verify_shard(proven.spec, proven.commitments, [1, 1, 4, 1, 5], relabelled)


def test_proof_of_another_chunk_is_rejected(proven: Proven) -> None:
    p0, p1 = proven.result.proofs
    swapped = dataclasses.replace(proven.result, proofs=(dataclasses.replace(p1, chunk=0), p1))
    with pytest.raises(InvalidProof, match="proof given for chunk 0 is the proof of chunk 1"):
        verify_shard(proven.spec, proven.commitments, WEIGHTS, swapped)
    with pytest.raises(InvalidProof, match="expected 2 chunk proofs, got 1"):
        verify_shard(
            proven.spec, proven.commitments, WEIGHTS, dataclasses.replace(proven.result, proofs=(p0,))
        )


def test_key_of_another_circuit_is_rejected(proven: Proven) -> None:
    # A median proof for the same clients and chunk 0, presented as the FedAvg proof.
    median_spec = dataclasses.replace(proven.spec, rule="median")
    median = aggregate_shard(median_spec, proven.updates)
    other = dataclasses.replace(proven.result, proofs=(median.proofs[0], proven.result.proofs[1]))
    with pytest.raises(InvalidProof, match="a key of another circuit"):
        verify_shard(proven.spec, proven.commitments, WEIGHTS, other)


def test_commitment_of_another_domain_is_rejected(proven: Proven) -> None:
    other = commit_update(dataclasses.replace(proven.spec, chunk_size=128), proven.updates[2])
    with pytest.raises(CommitmentMismatch, match="client 2"):
        verify_shard(
            proven.spec, [*proven.commitments[:2], other, *proven.commitments[3:]], WEIGHTS, proven.result
        )


def test_truncated_or_corrupted_encoding_is_rejected(proven: Proven) -> None:
    data = proven.result.to_bytes()
    with pytest.raises(ProtocolError, match="truncated or corrupted"):
        ShardAggregate.from_bytes(data[:-1])
    flipped = bytearray(data)
    flipped[200] ^= 1
    with pytest.raises(ProtocolError, match="truncated or corrupted"):
        ShardAggregate.from_bytes(bytes(flipped))


def test_snark_results_do_not_compose_linearly(proven: Proven) -> None:
    with pytest.raises(InvalidArgument, match="only fedavg results compose linearly, not fedavg_snark"):
        combine_shards([proven.result, proven.result])


def test_salted_domain_is_refused() -> None:
    spec = AggregationSpec(rule="fedavg_snark", chunk_size=64, salted=True)
    with pytest.raises(InvalidArgument, match="unsalted"):
        aggregate_shard(spec, np.zeros((2, 64)), [1, 1], salt_seeds=[bytes(32), bytes([1]) * 32])
