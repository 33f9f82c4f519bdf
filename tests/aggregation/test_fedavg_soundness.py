"""Homomorphic FedAvg: honest shards pass, every forgery is rejected with a specific error."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zkagg import (
    FIELD_MODULUS,
    AggregationSpec,
    CommitmentMismatch,
    InvalidArgument,
    InvalidProof,
    ProtocolError,
    ShardAggregate,
    UpdateCommitment,
    aggregate_shard,
    combine_shards,
    commit_update,
    verify_shard,
)
from zkagg._aggregation.records import fedavg_aggregate
from zkagg._aggregation.reference import fedavg

SPEC = AggregationSpec(rule="fedavg", chunk_size=64, scale=13)
WEIGHTS = [3, 1, 7, 2]


@dataclasses.dataclass(frozen=True)
class Shard:
    updates: list[np.ndarray]
    commitments: list[UpdateCommitment]
    result: ShardAggregate


@pytest.fixture(scope="module")
def shard() -> Shard:
    rng = np.random.default_rng(11)
    updates = [rng.normal(scale=0.5, size=150) for _ in WEIGHTS]
    commitments = [commit_update(SPEC, x) for x in updates]
    return Shard(updates, commitments, aggregate_shard(SPEC, updates, weights=WEIGHTS))


def with_sums(result: ShardAggregate, sums: list[list[int]]) -> ShardAggregate:
    """A result whose sums were replaced, with the aggregate recomputed so that only the sums lie."""
    agg = fedavg_aggregate(sums, result.total_weight, SPEC.scale, result.length, SPEC.chunk_size)
    return dataclasses.replace(result, sums=tuple(tuple(s) for s in sums), aggregate=agg)


def test_honest_shard_passes_and_matches_float_fedavg(shard: Shard) -> None:
    # Execute
    verify_shard(SPEC, shard.commitments, WEIGHTS, shard.result)
    # Assert
    reference = fedavg(np.stack(shard.updates), WEIGHTS)
    assert np.abs(shard.result.aggregate - reference).max() <= 2.0**-13
    assert len(shard.result.sums) == 3


def test_encoding_round_trips_and_still_verifies(shard: Shard) -> None:
    # Execute
    data = shard.result.to_bytes()
    back = ShardAggregate.from_bytes(data)
    # Assert
    verify_shard(SPEC, shard.commitments, WEIGHTS, back)
    assert back.sums == shard.result.sums
    assert np.array_equal(back.aggregate, shard.result.aggregate)
    assert len(data) < 150 * 8  # compact: a few bytes per value, not 32-byte field elements


def test_one_aggregate_sum_changed_is_rejected_naming_the_chunk(shard: Shard) -> None:
    # Prepare
    sums = [list(s) for s in shard.result.sums]
    sums[2][5] = (sums[2][5] + 1) % FIELD_MODULUS
    # Execute / Assert
    with pytest.raises(CommitmentMismatch, match="chunk 2 does not open"):
        verify_shard(SPEC, shard.commitments, WEIGHTS, with_sums(shard.result, sums))


def test_float_aggregate_changed_is_rejected(shard: Shard) -> None:
    # Prepare
    agg = shard.result.aggregate.copy()
    agg[17] += 1e-3
    forged = dataclasses.replace(shard.result, aggregate=agg)
    # Execute / Assert
    with pytest.raises(InvalidProof, match=r"aggregate\[17\].*not the rescale"):
        verify_shard(SPEC, shard.commitments, WEIGHTS, forged)


def test_swapped_client_update_is_rejected(shard: Shard) -> None:
    # Prepare: the shard aggregated another update in place of client 1's
    updates = list(shard.updates)
    updates[1] = updates[1] + 0.25
    forged = aggregate_shard(SPEC, updates, weights=WEIGHTS)
    # Execute / Assert
    with pytest.raises(CommitmentMismatch, match="does not open"):
        verify_shard(SPEC, shard.commitments, WEIGHTS, forged)


def test_swapped_commitment_order_with_different_weights_is_rejected(shard: Shard) -> None:
    # Prepare
    commitments = [shard.commitments[1], shard.commitments[0], *shard.commitments[2:]]
    # Execute / Assert
    with pytest.raises(CommitmentMismatch, match="does not open"):
        verify_shard(SPEC, commitments, WEIGHTS, shard.result)


def test_dropped_client_is_rejected(shard: Shard) -> None:
    # Prepare: the shard left client 3 out
    forged = aggregate_shard(SPEC, shard.updates[:3], weights=WEIGHTS[:3])
    # Execute / Assert
    with pytest.raises(InvalidProof, match=r"aggregates 3 clients, but 4 commitments.*dropped or added"):
        verify_shard(SPEC, shard.commitments, WEIGHTS, forged)


def test_added_client_is_rejected(shard: Shard) -> None:
    # Prepare: the shard added an uncommitted update
    extra = [*shard.updates, np.ones(150)]
    forged = aggregate_shard(SPEC, extra, weights=[*WEIGHTS, 1])
    # Execute / Assert
    with pytest.raises(InvalidProof, match="aggregates 5 clients, but 4"):
        verify_shard(SPEC, shard.commitments, WEIGHTS, forged)


def test_added_client_disguised_in_the_weights_is_rejected(shard: Shard) -> None:
    # Prepare: same client count and weights, but a fifth update mixed into the sums
    extra = [*shard.updates, np.ones(150)]
    hidden = aggregate_shard(SPEC, extra, weights=[*WEIGHTS, 1])
    forged = with_sums(shard.result, [list(s) for s in hidden.sums])
    # Execute / Assert
    with pytest.raises(CommitmentMismatch, match="does not open"):
        verify_shard(SPEC, shard.commitments, WEIGHTS, forged)


def test_changed_weights_are_rejected(shard: Shard) -> None:
    # Prepare
    other = [3, 1, 6, 2]
    relabelled = dataclasses.replace(shard.result, weights=tuple(other))
    reweighted = aggregate_shard(SPEC, shard.updates, weights=other)
    # Execute / Assert
    with pytest.raises(InvalidProof, match="weight 6 for client 2, not 7"):
        verify_shard(SPEC, shard.commitments, WEIGHTS, reweighted)
    with pytest.raises(CommitmentMismatch, match="does not open"):
        verify_shard(
            SPEC, shard.commitments, other, with_sums(relabelled, [list(s) for s in shard.result.sums])
        )


def test_commitments_and_weights_of_different_lengths_are_refused(shard: Shard) -> None:
    # Execute / Assert
    with pytest.raises(InvalidArgument, match="one entry per client \\(4\\), not 3"):
        verify_shard(SPEC, shard.commitments, WEIGHTS[:3], shard.result)


@pytest.mark.parametrize(
    "change",
    [{"chunk_size": 128}, {"scale": 12}, {"salted": True}, {"logrows": 16}, {"srs_sha256": "ab" * 32}],
    ids=lambda c: next(iter(c)),
)
def test_commitment_from_another_domain_is_rejected_naming_it(
    shard: Shard, change: dict[str, object]
) -> None:
    # Prepare: a commitment whose domain differs in one field. Domain checks run before any point
    # arithmetic, so the points need not come from that domain (building a logrows-16 reference
    # circuit would take a minute); the chunk_size/scale cases are real commitments.
    if set(change) <= {"chunk_size", "scale"}:
        other_spec = dataclasses.replace(SPEC, **change)  # type: ignore[arg-type]
        foreign = commit_update(other_spec, shard.updates[0])
    else:
        domain = dataclasses.replace(SPEC.domain(), **change)  # type: ignore[arg-type]
        c = shard.commitments[0]
        foreign = UpdateCommitment(domain, c.length, c.points[: domain.n_chunks(c.length)])
    commitments = [foreign, *shard.commitments[1:]]
    # Execute / Assert
    key, value = next(iter(change.items()))
    shown = str(value)[:12] if key == "srs_sha256" else f"{key}={value}"
    with pytest.raises(CommitmentMismatch, match=f"client 0 was made in commitment domain .*{shown}"):
        verify_shard(SPEC, commitments, WEIGHTS, shard.result)


def test_result_under_another_spec_is_rejected(shard: Shard) -> None:
    # Prepare
    other = AggregationSpec(rule="fedavg", chunk_size=64, scale=12)
    # Execute / Assert
    with pytest.raises(InvalidProof, match="another spec"):
        verify_shard(other, shard.commitments, WEIGHTS, shard.result)


@pytest.mark.parametrize("cut", [1, 32, 100, -1, -33])
def test_truncated_encoding_is_rejected(shard: Shard, cut: int) -> None:
    # Prepare
    data = shard.result.to_bytes()
    truncated = data[:cut]
    # Execute / Assert
    with pytest.raises(ProtocolError, match=r"truncated|too short|ends early"):
        ShardAggregate.from_bytes(truncated)


@pytest.mark.parametrize("position", [4, 60, 200, -40, -1])
def test_corrupted_encoding_is_rejected(shard: Shard, position: int) -> None:
    # Prepare
    data = bytearray(shard.result.to_bytes())
    data[position] ^= 0x01
    # Execute / Assert
    with pytest.raises(ProtocolError, match=r"version|corrupted"):
        ShardAggregate.from_bytes(bytes(data))


def test_salted_shard_verifies_and_hides() -> None:
    # Prepare
    spec = AggregationSpec(rule="fedavg", chunk_size=64, scale=13, salted=True)
    rng = np.random.default_rng(2)
    updates = [rng.normal(size=70) for _ in range(3)]
    seeds = [os.urandom(32) for _ in updates]
    commitments = [commit_update(spec, x, salt_seed=s) for x, s in zip(updates, seeds, strict=True)]
    # Execute
    result = ShardAggregate.from_bytes(aggregate_shard(spec, updates, [1, 2, 3], salt_seeds=seeds).to_bytes())
    verify_shard(spec, commitments, [1, 2, 3], result)
    # Assert
    assert commit_update(spec, updates[0], salt_seed=os.urandom(32)).points != commitments[0].points
    wrong_seed = aggregate_shard(spec, updates, [1, 2, 3], salt_seeds=[os.urandom(32), *seeds[1:]])
    with pytest.raises(CommitmentMismatch):
        verify_shard(spec, commitments, [1, 2, 3], wrong_seed)


@pytest.mark.slow
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    n_clients=st.integers(1, 4),
    length=st.integers(1, 200),
    magnitude=st.sampled_from([1e-3, 1.0, 1e3]),
    salted=st.booleans(),
)
def test_honest_shards_always_pass(
    data: st.DataObject, n_clients: int, length: int, magnitude: float, salted: bool
) -> None:
    # Prepare
    spec = dataclasses.replace(SPEC, salted=salted)
    weights = data.draw(st.lists(st.integers(1, 10_000), min_size=n_clients, max_size=n_clients))
    seed = data.draw(st.integers(0, 2**32 - 1))
    updates = np.random.default_rng(seed).uniform(-magnitude, magnitude, size=(n_clients, length))
    seeds = [bytes([i]) * 32 for i in range(n_clients)] if salted else None
    commitments = [
        commit_update(spec, x, salt_seed=seeds[i] if seeds else None) for i, x in enumerate(updates)
    ]
    # Execute
    result = ShardAggregate.from_bytes(aggregate_shard(spec, updates, weights, salt_seeds=seeds).to_bytes())
    # Assert
    verify_shard(spec, commitments, weights, result)
    assert np.abs(result.aggregate - fedavg(updates, weights)).max() <= 2.0**-13


def test_shard_results_compose_into_a_verifiable_global_fedavg(shard: Shard) -> None:
    # Prepare: a second shard of two clients
    rng = np.random.default_rng(12)
    updates = [rng.normal(size=150) for _ in range(2)]
    commitments = [commit_update(SPEC, x) for x in updates]
    second = aggregate_shard(SPEC, updates, weights=[5, 4])
    # Execute
    combined = combine_shards([shard.result, second])
    # Assert
    verify_shard(SPEC, [*shard.commitments, *commitments], [*WEIGHTS, 5, 4], combined)
    everyone = np.stack([*shard.updates, *updates])
    assert np.abs(combined.aggregate - fedavg(everyone, [*WEIGHTS, 5, 4])).max() <= 2.0**-13
    with pytest.raises(InvalidProof, match="weight"):
        verify_shard(SPEC, [*commitments, *shard.commitments], [5, 4, *WEIGHTS], combined)
    with pytest.raises(CommitmentMismatch):
        verify_shard(SPEC, [*commitments, *shard.commitments], [*WEIGHTS, 5, 4], combined)
