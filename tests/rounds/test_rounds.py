"""Whole rounds in one process on a real embedded DA node: honest runs, faults, audit.

Quality proofs are off here except where a test says otherwise (they cost one EZKL proof per shard);
``test_quality_gate`` runs them for real.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from tests.rounds.world import drew_clients
from zkagg._protocol.audit import audit
from zkagg._protocol.coordinator import Coordinator
from zkagg._protocol.keys import Identity
from zkagg._protocol.messages import GlobalResult
from zkagg._protocol.reading import read_range
from zkagg._protocol.sharding import deployment_namespaces
from zkagg.da import EmbeddedNode


def global_results(ran: Any) -> list[GlobalResult]:
    control = deployment_namespaces(ran.deployment.deployment_id, ran.deployment.n_shards).control
    head = ran.node.local_head().height
    return [
        p.message for p in read_range(ran.node, [control], 1, head) if isinstance(p.message, GlobalResult)
    ]


def reasons(row: Any) -> list[str]:
    return [v["reason"] for v in row.verdicts]


def test_honest_rounds_learn_and_audit(run_rounds: Any) -> None:
    # Execute
    ran = run_rounds(clients=8, shards=2, rounds=2, quality=False, quorum=1)
    # Assert
    report = ran.report
    for row in report.rounds:
        drew_clients(row)
    assert [reasons(r) for r in report.rounds] == [["accepted", "accepted"]] * 2
    assert report.initial_accuracy < 0.3 < report.rounds[0].test_accuracy < report.final_accuracy
    assert all(r.da_bytes > 0 and r.clients_posted == 8 and r.global_model for r in report.rounds)
    assert [g.round for g in global_results(ran)] == [1, 2]
    result = audit(ran.node, ran.deployment)
    assert result.clean, (result.mismatches, result.findings)  # reproduces, and nobody was caught
    assert [r.round for r in result.rounds] == [1, 2] and all(r.global_model for r in result.rounds)
    # every shard's seed reveal counted (issue 12: cohorts no single party can choose)
    assert all(r.absent_reveals == [] for r in report.rounds)
    assert all(r.absent_reveals == [] for r in result.rounds)


def test_dropout_completes_the_round(run_rounds: Any) -> None:
    ran = run_rounds(clients=10, shards=2, rounds=1, quality=False, dropout=0.3, quorum=1)
    row = ran.report.rounds[0]
    assert len(row.dropped) == 3 and row.clients_posted == 7
    assert row.global_model and row.shards_accepted >= 1
    assert audit(ran.node, ran.deployment).ok


@pytest.mark.parametrize(
    ("attack", "rounds", "reason"),
    [
        ("tamper-aggregate", 1, "bad-aggregate"),
        ("withhold", 1, "withheld"),
        ("replay", 2, "replayed"),
    ],
)
def test_byzantine_shard_is_excluded_with_its_reason(
    run_rounds: Any, attack: str, rounds: int, reason: str
) -> None:
    # Prepare / Execute: shard 2 of 3 is Byzantine
    ran = run_rounds(
        clients=12, shards=3, rounds=rounds, quality=False, byzantine_shards=1, shard_attack=attack, quorum=1
    )
    # Assert
    rows = ran.report.rounds
    for row in rows:  # the replaying shard needs a result of round 1 to replay in round 2
        drew_clients(row)
    last = rows[-1]
    assert reasons(last) == ["accepted", "accepted", reason], last.verdicts
    assert last.global_model == (last.shards_accepted >= 1)
    result = audit(ran.node, ran.deployment)
    assert result.ok, result.mismatches
    assert [v["reason"] for v in result.rounds[-1].verdicts] == reasons(last)


def test_below_quorum_publishes_no_global_model(run_rounds: Any) -> None:
    ran = run_rounds(clients=6, shards=3, rounds=2, quality=False, byzantine_shards=2, quorum=2)
    for row in ran.report.rounds:
        assert row.shards_accepted <= 1 and not row.global_model
        assert row.test_accuracy == ran.report.initial_accuracy  # the model did not move
    results = global_results(ran)
    assert [g.global_model for g in results] == [None, None]
    assert audit(ran.node, ran.deployment).ok


def test_byzantine_clients_shift_fedavg(run_rounds: Any) -> None:
    honest = run_rounds(clients=8, shards=2, rounds=2, quality=False, quorum=1)
    attacked = run_rounds(clients=8, shards=2, rounds=2, quality=False, byzantine_clients=0.3, quorum=1)
    assert len(attacked.report.byzantine_clients) == 2
    assert attacked.report.final_accuracy < honest.report.final_accuracy - 0.2
    assert audit(attacked.node, attacked.deployment).ok  # verified, but poisoned: the rule is FedAvg


def test_coordinator_restarted_after_posting_composes_once(run_rounds: Any) -> None:
    # Prepare: a finished round whose coordinator "crashed" after posting, before recording it
    ran = run_rounds(clients=6, shards=2, rounds=1, quality=False)
    with sqlite3.connect(ran.state / "coordinator" / "coordinator.sqlite") as conn:
        conn.execute("UPDATE rounds SET result = NULL, result_height = NULL")
    coordinator = Coordinator(
        ran.deployment,
        Identity.load(ran.state / "keys" / "coordinator"),
        ran.node,
        state_dir=ran.state / "coordinator",
    )
    try:
        # Execute: the restarted coordinator closes the round again
        outcome = coordinator.close_round(1)
        again = coordinator.close_round(1)
    finally:
        coordinator.close()
    # Assert: it found its own posted result instead of composing a second one
    assert outcome.judgement is None and outcome.global_result.round == 1
    assert again.height == outcome.height
    assert len(global_results(ran)) == 1
    assert audit(ran.node, ran.deployment).ok


def test_changed_byte_in_da_storage_fails_the_audit(run_rounds: Any) -> None:
    # Prepare: an honest round, then one byte of a client update changed inside the node's SQLite file
    ran = run_rounds(clients=6, shards=2, rounds=1, quality=False)
    assert audit(ran.node, ran.deployment).ok
    home = ran.state / "da"
    ran.node.close()
    shard_ns = deployment_namespaces(ran.deployment.deployment_id, 2).shards
    with sqlite3.connect(home / "blocks.sqlite") as conn:
        rowid, data = conn.execute(
            "SELECT rowid, data FROM blobs WHERE namespace IN (?, ?) ORDER BY height LIMIT 1",
            (shard_ns[0].to_bytes(), shard_ns[1].to_bytes()),
        ).fetchone()
        changed = bytearray(data)
        changed[200] ^= 0x01
        conn.execute("UPDATE blobs SET data = ? WHERE rowid = ?", (bytes(changed), rowid))
    node = EmbeddedNode(home, block_time=None)
    try:
        # Execute
        result = audit(node, ran.deployment)
    finally:
        node.close()
    # Assert
    assert not result.ok
    assert "does not match its commitment" in str(result.mismatches[0])
