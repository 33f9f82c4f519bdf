"""Shard assignment (deterministic, balanced, rotating), namespaces, phases and quorum."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from tests.protocol.conftest import DEPLOYMENT, SEED, Deployment
from zkagg._errors import InvalidArgument, ProtocolError
from zkagg._protocol.messages import BlobRef, ShardVerdict, VerdictReason
from zkagg._protocol.sharding import (
    RoundPhase,
    assign_shard,
    check_quorum,
    cohorts,
    deployment_namespaces,
    has_quorum,
    round_phase,
)

IDS = [hashlib.sha256(f"client {i}".encode()).digest()[:16] for i in range(4000)]


def test_assignment_is_deterministic() -> None:
    # (test_vectors.py pins the values themselves)
    first = [assign_shard(SEED, DEPLOYMENT, 3, cid, 8) for cid in IDS[:64]]
    again = [assign_shard(SEED, DEPLOYMENT, 3, cid, 8) for cid in IDS[:64]]
    assert first == again


@pytest.mark.parametrize("num_shards", [2, 4, 8, 16])
def test_assignment_is_balanced(num_shards: int) -> None:
    # Prepare / Execute
    counts = Counter(assign_shard(SEED, DEPLOYMENT, 3, cid, num_shards) for cid in IDS)
    # Assert: Pearson's chi-square against uniform, below the 0.1% critical value for n-1 degrees of
    # freedom (df 1: 10.83, 3: 16.27, 7: 24.32, 15: 37.70); the ids are fixed, so this never flakes.
    expected = len(IDS) / num_shards
    chi2 = sum((counts[s] - expected) ** 2 / expected for s in range(num_shards))
    critical = {2: 10.83, 4: 16.27, 8: 24.32, 16: 37.70}[num_shards]
    assert set(counts) == set(range(num_shards))
    assert chi2 < critical


def test_assignment_rotates_between_rounds_and_seeds() -> None:
    # Two independent assignments agree for about 1/n of the clients.
    n = 4
    r3 = [assign_shard(SEED, DEPLOYMENT, 3, cid, n) for cid in IDS]
    r4 = [assign_shard(SEED, DEPLOYMENT, 4, cid, n) for cid in IDS]
    other_seed = [assign_shard(hashlib.sha256(SEED).digest(), DEPLOYMENT, 3, cid, n) for cid in IDS]
    other_deployment = [assign_shard(SEED, bytes(32), 3, cid, n) for cid in IDS]
    for other in (r4, other_seed, other_deployment):
        same = sum(a == b for a, b in zip(r3, other, strict=True)) / len(IDS)
        assert 0.2 < same < 0.3


def test_cohorts_partition_the_clients(deployment: Deployment) -> None:
    manifest = deployment.manifest()
    groups = cohorts(manifest, SEED, IDS[:100])
    assert len(groups) == manifest.num_shards
    assert sorted(cid for g in groups for cid in g) == sorted(IDS[:100])
    for shard, group in enumerate(groups):
        assert all(assign_shard(SEED, DEPLOYMENT, manifest.round, cid, 4) == shard for cid in group)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((bytes(31), DEPLOYMENT, 0, b"c", 4), "seed must be 32 bytes \\(a round seed\\), not 31 bytes"),
        ((SEED, DEPLOYMENT, 0, b"c", 0), r"num_shards must be an integer in \[1, 1024\], not 0"),
        ((SEED, DEPLOYMENT, 0, b"", 4), "client_id must be 1 to 64 bytes long, not 0"),
        ((SEED, DEPLOYMENT, -1, b"c", 4), r"round must be an integer in \[0, 2\*\*64\), not -1"),
    ],
)
def test_assignment_argument_errors(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        assign_shard(*args)  # type: ignore[arg-type]


def test_namespaces_are_distinct_stable_and_usable_for_blobs() -> None:
    # Prepare / Execute
    ns = deployment_namespaces(DEPLOYMENT, 8)
    other = deployment_namespaces(bytes(32), 8)
    all_ns = [ns.control, ns.payloads, *ns.shards]
    # Assert
    assert len(set(all_ns)) == 10
    assert set(all_ns).isdisjoint({other.control, other.payloads, *other.shards})
    for n in all_ns:
        n.validate_for_blob()
        assert n.version == 0
    assert ns.control.id[18] == 1 and ns.payloads.id[18] == 2 and ns.shard(5).id[18] == 3
    assert deployment_namespaces(DEPLOYMENT, 2).shard(1) == ns.shard(1)  # a shard's namespace ignores n
    with pytest.raises(InvalidArgument, match=r"shard must be an integer in \[0, 8\), not 8"):
        ns.shard(8)
    with pytest.raises(InvalidArgument, match="deployment must be 32 bytes, not 3 bytes"):
        deployment_namespaces(b"abc", 2)


def test_round_phases(deployment: Deployment) -> None:
    m = deployment.manifest(seed_height=10)  # reveal_by 11, updates_by 15, results_by 20
    phases = [round_phase(m, h) for h in (1, 10, 11, 12, 15, 16, 20, 21)]
    assert phases == [
        RoundPhase.AWAITING_SEED,
        RoundPhase.AWAITING_SEED,
        RoundPhase.REVEALS,
        RoundPhase.UPDATES,
        RoundPhase.UPDATES,
        RoundPhase.RESULTS,
        RoundPhase.RESULTS,
        RoundPhase.CLOSED,
    ]


def _verdict(shard: int, reason: str) -> ShardVerdict:
    result = None if reason == "missing" else BlobRef(20, bytes([shard]) * 32)
    return ShardVerdict(shard, VerdictReason(reason), "", result)


def _verdicts(*reasons: str) -> list[ShardVerdict]:
    return [_verdict(k, r) for k, r in enumerate(reasons)]


def test_quorum_counts_available_shards_not_accepted_ones(deployment: Deployment) -> None:
    m = deployment.manifest()  # 4 shards, quorum 3
    # One accepted shard and two proven but below the quality threshold: 3 available, a model
    assert has_quorum(m, _verdicts("accepted", "below-threshold", "below-threshold", "missing"))
    check_quorum(m, _verdicts("accepted", "accepted", "accepted", "accepted"))
    # Missing, late, withheld and unverifiable results do not count as available
    for absent in ("missing", "late", "withheld", "bad-aggregate", "bad-quality-proof", "bad-signature"):
        assert not has_quorum(m, _verdicts("accepted", "accepted", absent, absent)), absent
    with pytest.raises(
        ProtocolError, match=r"round 3 has 2 available shards \(\[0, 2\]\) but its quorum is 3"
    ):
        check_quorum(m, _verdicts("accepted", "missing", "below-threshold", "withheld"))
    # Available but nothing accepted: nothing to compose
    assert not has_quorum(m, _verdicts(*["below-threshold"] * 4))
    with pytest.raises(ProtocolError, match="round 3 has no accepted shard"):
        check_quorum(m, _verdicts(*["below-threshold"] * 4))
    # A shard counts once however often it appears
    twice = [_verdict(0, "accepted"), _verdict(0, "accepted")]
    assert not has_quorum(m, [*twice, _verdict(1, "below-threshold")])
    with pytest.raises(InvalidArgument, match=r"verdicts must name shards in \[0, 4\), not \[4\]"):
        has_quorum(m, [_verdict(4, "accepted")])
