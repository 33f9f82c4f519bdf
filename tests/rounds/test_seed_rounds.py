"""Cohort seeds on real rounds: shards reveal their seed-chain values, every party draws the same seed.

Issue 12, attack 8 ("cohorts no single party can choose"): see :mod:`zkagg._protocol.seed`.
"""

from __future__ import annotations

from typing import Any

from tests.rounds.world import drew_clients
from zkagg._protocol.audit import audit


def test_a_withheld_reveal_changes_nothing_but_the_seed_and_the_audit_lists_it(run_rounds: Any) -> None:
    # Prepare / Execute: 3 shards, shard 2 withholds its seed reveal (otherwise honest)
    ran = run_rounds(
        clients=9,
        shards=3,
        rounds=1,
        quality=False,
        quorum=1,
        byzantine_shards=1,
        shard_attack="withhold-reveal",
    )
    row = ran.report.rounds[0]
    report = audit(ran.node, ran.deployment)
    # Assert: clients, shards, the coordinator and the audit drew one seed: every update landed in
    # the shard its client computed and was accepted by that shard (none misbound), every verdict
    # reproduces; the absent reveal is recorded, and the honest shards' reveals counted
    assert row.rejected == []
    assert sum(row.cohort_sizes) == 9
    drew_clients(row)
    assert [v["reason"] for v in row.verdicts] == ["accepted"] * 3
    assert row.absent_reveals == [2]
    assert report.ok, [str(m) for m in report.mismatches]
    assert report.rounds[0].absent_reveals == [2]
    assert report.to_json()["rounds"][0]["absent_reveals"] == [2]
