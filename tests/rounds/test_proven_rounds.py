"""Rounds with real EZKL proofs: the shard-model quality gate, and a rule proven in circuit (median)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.rounds.world import drew_clients
from zkagg._protocol.audit import audit


@pytest.mark.slow
def test_quality_gate_accepts_then_rejects_below_threshold(run_rounds: Any) -> None:
    # Execute: one honest round with quality proofs; then the same with an unreachable threshold
    ran = run_rounds(clients=6, shards=2, rounds=1, quality=True, quorum=1)
    # one epoch at a tiny learning rate: the shard model stays near the initial one (~10% accurate)
    strict = run_rounds(clients=3, shards=1, rounds=1, quality=True, quality_floor=0.9, epochs=1, lr=1e-4)
    # Assert
    row = ran.report.rounds[0]
    drew_clients(row)
    assert [v["reason"] for v in row.verdicts] == ["accepted", "accepted"]
    assert row.threshold is not None and 0.0 < row.threshold < 1.0 and row.prove_seconds > 0
    result = audit(ran.node, ran.deployment)
    assert result.ok, result.mismatches
    strict_row = strict.report.rounds[0]
    assert [v["reason"] for v in strict_row.verdicts] == ["below-threshold"]
    assert "is below the threshold 0.9000" in strict_row.verdicts[0]["detail"]
    assert not strict_row.global_model
    assert audit(strict.node, strict.deployment).ok


@pytest.mark.slow
def test_median_round_is_proven_and_a_tampered_aggregate_caught(run_rounds: Any) -> None:
    # Execute: shard 1 of 2 changes its proven median after proving; the quorum is 1
    ran = run_rounds(
        clients=6, shards=2, rounds=1, quality=False, rule="median", byzantine_shards=1, quorum=1
    )
    # Assert
    row = ran.report.rounds[0]
    drew_clients(row)
    assert [v["reason"] for v in row.verdicts] == ["accepted", "bad-aggregate"], row.verdicts
    assert row.prove_seconds > 0
    assert row.global_model and row.test_accuracy > ran.report.initial_accuracy
    result = audit(ran.node, ran.deployment)
    assert result.ok, result.mismatches
