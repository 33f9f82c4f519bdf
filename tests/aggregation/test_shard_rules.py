"""The public API end to end for a proven rule (median), through zkagg._aggregation.rules's registered backend."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from zkagg import (
    AggregationSpec,
    CommitmentMismatch,
    InvalidProof,
    ShardAggregate,
    aggregate_shard,
    commit_update,
    verify_shard,
)
from zkagg._aggregation.reference import median


@pytest.mark.slow
def test_median_shard_proves_verifies_round_trips_and_rejects_forgeries() -> None:
    # Prepare
    spec = AggregationSpec(rule="median", chunk_size=64, scale=13)
    rng = np.random.default_rng(4)
    updates = rng.normal(scale=0.3, size=(3, 64))
    commitments = [commit_update(spec, x) for x in updates]
    # Execute
    result = ShardAggregate.from_bytes(aggregate_shard(spec, updates).to_bytes())
    # Assert
    verify_shard(spec, commitments, None, result)
    assert np.abs(result.aggregate - median(updates)).max() <= 2.0**-13
    forged = dataclasses.replace(result, aggregate=result.aggregate + np.eye(1, 64, 5)[0] * 0.5)
    with pytest.raises((InvalidProof, CommitmentMismatch)):
        verify_shard(spec, commitments, None, forged)
    swapped = [commit_update(spec, updates[0] + 0.1), *commitments[1:]]
    with pytest.raises(CommitmentMismatch):
        verify_shard(spec, swapped, None, result)
