"""Issue 12's attacks on a real round: each party cheats with its real key on the real embedded node.

Every test checks that the attack was exercised (the cheating party's message is on the DA layer
and reached the party that must catch it), then that the right party refuses it with its own
reason, that nothing crashes, and what ``zkagg audit`` says from the DA layer alone.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.rounds.world import (
    N_CLIENTS,
    World,
    attacker_keys,
    caught,
    forged_manifest,
    make_world,
    mismatches,
    open_with_honest_clients,
    post_update,
)
from zkagg._aggregation import spec as spec_module
from zkagg._aggregation.records import ShardAggregate
from zkagg._errors import DAError, ProtocolError
from zkagg._kzg import commit as commit_module
from zkagg._protocol import inclusion as inclusion_module
from zkagg._protocol import workload
from zkagg._protocol.coordinator import Coordinator
from zkagg._protocol.judge import judge_round
from zkagg._protocol.messages import (
    CircuitRef,
    RoundManifest,
    ShardResult,
    VerdictReason,
    decode_message,
)
from zkagg._protocol.reading import find_manifest, read_range
from zkagg._protocol.run import CountingBackend
from zkagg._protocol.shard import ShardAggregator
from zkagg._protocol.sharding import deployment_namespaces
from zkagg._prover.srs import dev_srs as real_dev_srs
from zkagg.da import Blob, EmbeddedNode, Namespace, TxConfig

# -- the coordinator ----------------------------------------------------------------------------


def test_substituted_shard_keys_are_followed_by_nobody(world: World) -> None:
    # Prepare: the coordinator signs a manifest that names the attacker's keys for shard 0
    bad = forged_manifest(world, shard_keys=(attacker_keys(),))
    height = world.post("control", bad.to_bytes())
    world.tick(bad.seed_height)
    assert height < bad.seed_height  # a manifest every other check would accept
    # Execute / Assert: no client seals to the attacker, no shard aggregates, nobody follows it
    with pytest.raises(ProtocolError, match="shard 0's keys must be the deployment's"):
        world.client(0).run_round(bad)
    with pytest.raises(ProtocolError, match="shard 0's keys must be the deployment's"):
        ShardAggregator(world.dep, 0, world.keys.shards[0], world.node).run_round(bad)
    with pytest.raises(DAError, match="no manifest of round 1"):
        find_manifest(world.node, world.dep, 1, timeout=0.5)
    report = world.audit()
    assert not report.ok
    assert f"signed a manifest at height {height} that breaks the deployment" in mismatches(report)
    assert "shard 0's keys must be the deployment's" in mismatches(report)


@pytest.mark.parametrize(
    ("params", "changes", "message"),
    [
        ({"quality": False}, {"quorum": 1}, "quorum must be the deployment's 2, not 1"),
        ({"quality": False}, {"quality_threshold_ppm": 1}, "quality_threshold_ppm must be 0"),
        (
            {"quality": True},
            {"quality_threshold_ppm": 0},
            "quality_threshold_ppm must be the deployment's rule",
        ),
        ({"quality": False}, {"chunk_size": 512}, "chunk_size must be the deployment's 1024, not 512"),
        (
            {"quality": False},
            {"circuits": (CircuitRef("quality", b"\x01"),)},
            "circuits must be the deployment's",
        ),
    ],
)
def test_weaker_rules_in_a_manifest_are_refused(
    tmp_path: Path, params: dict[str, Any], changes: dict[str, Any], message: str
) -> None:
    for w in make_world(tmp_path, shards=3, quorum=0, **params):
        # Prepare: a manifest with weaker rules than the deployment's (majority quorum: 2 of 3)
        bad = forged_manifest(w, **changes)
        w.post("control", bad.to_bytes())
        w.tick(bad.results_by + 8)
        # Execute / Assert: nobody follows it, judging refuses it, the audit names it
        with pytest.raises(DAError):
            find_manifest(w.node, w.dep, 1, timeout=0.5)
        with pytest.raises(ProtocolError, match=message):
            judge_round(w.node, w.dep, bad, timeout=5)
        report = w.audit()
        assert not report.ok and message in mismatches(report)


def test_round_one_must_start_from_the_initial_model(world: World) -> None:
    start = workload.initial_model(world.dep) + 1
    bad = forged_manifest(world, start=start)
    height = world.post("control", bad.to_bytes())
    world.tick(bad.seed_height)
    with pytest.raises(DAError):
        find_manifest(world.node, world.dep, 1, timeout=0.5)
    report = world.audit()
    assert f"height {height}" in mismatches(report)
    assert "round 1 must start from the deployment's initial model" in mismatches(report)


def test_coordinator_equivocation_is_reported_with_both_heights(world: World) -> None:
    # Prepare: the honest manifest, then a second valid one for the same round
    coordinator = world.coordinator()
    try:
        honest, h1 = coordinator.open_round(1)
        other = forged_manifest(world)
        h2 = world.post("control", other.to_bytes())
        assert h2 < other.seed_height and other.message_id() != honest.message_id()
        # Execute: every party follows the first; the round runs on it
        found, at = find_manifest(world.node, world.dep, 1, timeout=5)
        world.tick(honest.reveal_by)
        for i in range(N_CLIENTS):
            world.client(i).run_round(found)
        world.tick(honest.updates_by)
        ShardAggregator(world.dep, 0, world.keys.shards[0], world.node).run_round(found)
        outcome = coordinator.close_round(1)
    finally:
        coordinator.close()
    # Assert
    assert (found, at) == (honest, h1)
    assert outcome.global_result.verdicts[0].reason is VerdictReason.ACCEPTED
    report = world.audit()
    assert not report.ok
    assert f"coordinator equivocation: manifests of round 1 at heights {h1} and {h2}" in mismatches(report)


# -- clients ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("bound", "claimed"), [(1000, 2**40), (None, 2**63 - 1)])
def test_lying_sample_count_is_refused_and_the_shard_still_posts(
    tmp_path: Path, bound: int | None, claimed: int
) -> None:
    for w in make_world(tmp_path, max_sample_count=bound):
        coordinator, manifest = open_with_honest_clients(w, skip=3)
        try:
            post_update(w, manifest, 3, np.ones(workload.n_params(w.dep), dtype=np.int64), claimed)
            w.tick(manifest.updates_by)
            report = ShardAggregator(w.dep, 0, w.keys.shards[0], w.node).run_round(manifest)
            outcome = coordinator.close_round(1)
        finally:
            coordinator.close()
        limit = bound if bound is not None else 2**32 - 1
        assert report.included == 3 and report.height is not None
        assert any(
            f"sample_count must be at most the deployment's bound {limit}" in r for r in report.rejected
        )
        assert outcome.global_result.verdicts[0].reason is VerdictReason.ACCEPTED
        cid = w.client(3).client_id.hex()
        assert f"round 1: client {cid} signed an update at height" in caught(w)
        assert f"sample_count must be at most the deployment's bound {limit}" in caught(w)


def test_out_of_range_update_is_refused_by_the_shard(world: World) -> None:
    coordinator, manifest = open_with_honest_clients(world, skip=3)
    try:
        q = np.zeros(workload.n_params(world.dep), dtype=np.int64)
        q[5] = 2**60
        post_update(world, manifest, 3, q, 10)
        world.tick(manifest.updates_by)
        report = ShardAggregator(world.dep, 0, world.keys.shards[0], world.node).run_round(manifest)
        outcome = coordinator.close_round(1)
    finally:
        coordinator.close()
    assert report.included == 3
    assert any("value 5 is 1152921504606846976 quanta" in r for r in report.rejected)
    assert outcome.global_result.verdicts[0].reason is VerdictReason.ACCEPTED
    cid = world.client(3).client_id.hex()
    assert f"shard 0 excluded client {cid} (update at height" in caught(world)
    assert caught(world).endswith("BAD_CONTENT")


def test_shard_colluding_on_a_huge_update_is_excluded_without_a_crash(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare: client 3 posts a value of 2**62 quanta; its shard skips the range check
    coordinator, manifest = open_with_honest_clients(world, skip=3)
    try:
        q = np.zeros(workload.n_params(world.dep), dtype=np.int64)
        q[0] = 2**62
        post_update(world, manifest, 3, q, 2**31)
        world.tick(manifest.updates_by)
        monkeypatch.setattr(inclusion_module, "MAX_MODEL_QUANTA", 2**200)
        report = ShardAggregator(world.dep, 0, world.keys.shards[0], world.node).run_round(manifest)
        # Execute
        outcome = coordinator.close_round(1)
    finally:
        coordinator.close()
    # Assert: the huge update is in the shard's result, and the shard is excluded with a reason
    assert report.included == 4
    verdict = outcome.global_result.verdicts[0]
    assert verdict.reason is VerdictReason.BAD_AGGREGATE
    assert "beyond the range of a model" in verdict.detail
    assert outcome.global_result.global_model is None
    assert "shard 0's aggregator signed a result excluded as bad-aggregate" in caught(world)


# -- shards ----------------------------------------------------------------------------------------


class _ForgedSpecShard(ShardAggregator):
    """A shard whose posted aggregate names logrows 24 in its spec (a 2 GB SRS, hours of CPU to make)."""

    def _aggregate(self, manifest: RoundManifest, cohort: Any) -> tuple[ShardAggregate, bytes]:
        agg, quality = super()._aggregate(manifest, cohort)
        raw = bytearray(agg.to_bytes()[:-32])
        spec_at = 5  # magic (4) + version (1)
        assert raw[spec_at + 18 + 1] == 15  # the domain's logrows byte
        raw[spec_at + 18 + 1] = 24
        forged = bytes(raw)

        encoded = forged + hashlib.sha256(forged).digest()

        class Encoded:
            def to_bytes(self) -> bytes:
                return encoded

        return Encoded(), quality  # type: ignore[return-value]


def test_aggregate_naming_a_huge_domain_costs_the_verifier_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    coordinator, manifest = open_with_honest_clients(world, skip=-1)
    try:
        world.tick(manifest.updates_by)
        _ForgedSpecShard(world.dep, 0, world.keys.shards[0], world.node).run_round(manifest)

        def guarded(logrows: int, *args: Any, **kwargs: Any) -> Any:
            if logrows > 17:
                raise AssertionError(f"a verifier made an SRS of logrows {logrows} for untrusted bytes")
            return real_dev_srs(logrows, *args, **kwargs)

        monkeypatch.setattr(spec_module, "dev_srs", guarded)
        monkeypatch.setattr(commit_module, "dev_srs", guarded)
        outcome = coordinator.close_round(1)
    finally:
        coordinator.close()
    verdict = outcome.global_result.verdicts[0]
    assert verdict.reason is VerdictReason.MALFORMED
    assert "spec is not the deployment's" in verdict.detail
    assert "shard 0's aggregator signed a result excluded as malformed" in caught(world)


def test_shard_equivocation_is_kept_as_evidence(world: World) -> None:
    coordinator, manifest = open_with_honest_clients(world, skip=-1)
    try:
        world.tick(manifest.updates_by)
        report = ShardAggregator(world.dep, 0, world.keys.shards[0], world.node).run_round(manifest)
        assert report.height is not None
        first = world.node.get_all(report.height, [deployment_namespaces(world.dep.deployment_id, 1).control])
        posted = next(decode_message(b.data) for b in first if b.data.startswith(b"ZKAG"))
        assert isinstance(posted, ShardResult)
        second = dataclasses.replace(posted, quality_proof=b"another").sign(world.keys.shards[0].signing)
        h2 = world.post("control", second.to_bytes())
        outcome = coordinator.close_round(1)
    finally:
        coordinator.close()
    assert outcome.global_result.verdicts[0].reason is VerdictReason.ACCEPTED  # the first valid one
    assert outcome.judgement is not None
    line = (
        f"shard 0's aggregator signed two different results of round 1, at heights {report.height} and {h2}"
    )
    assert outcome.judgement.evidence == [line]
    report_ = world.audit()
    assert not report_.ok and f"evidence: {line}" in mismatches(report_)


class _BusyChain(CountingBackend):
    """A node whose chain moves ``lag`` blocks before each of the first ``times`` manifests lands."""

    def __init__(self, node: EmbeddedNode, control: Namespace, lag: int, times: int) -> None:
        super().__init__(node)
        self.control, self.lag, self.times = control, lag, times

    def submit(self, blobs: Sequence[Blob], config: TxConfig | None = None) -> int:
        if self.times > 0 and any(b.namespace == self.control for b in blobs):
            self.times -= 1
            for _ in range(self.lag):
                self.inner.submit([Blob.new(Namespace.v0(b"tick"), b"x")])
        return super().submit(blobs, config)


def test_a_manifest_that_lands_late_is_posted_again_and_the_late_one_is_ignored(world: World) -> None:
    # Prepare: the chain moves 3 blocks while each of the first two manifests is in flight (margin 2, then 4)
    control = deployment_namespaces(world.dep.deployment_id, 1).control
    busy = _BusyChain(world.node, control, lag=3, times=2)
    coordinator = Coordinator(
        world.dep, world.keys.coordinator, busy, state_dir=world.state, advance=world.tick
    )
    try:
        # Execute
        manifest, height = coordinator.open_round(1)
        # Assert: the third try (margin 8) lands below its seed height and is the one every party follows
        assert height < manifest.seed_height
        posted = read_range(world.node, [control], 1, world.node.local_head().height)
        late = [p.height for p in posted if isinstance(p.message, RoundManifest) and p.message != manifest]
        assert len(late) == 2 and busy.times == 0  # the attack on the margin was exercised twice
        assert find_manifest(world.node, world.dep, 1)[0] == manifest
        world.tick(manifest.reveal_by)
        for i in range(N_CLIENTS):
            world.client(i).run_round(manifest)
        world.tick(manifest.updates_by)
        ShardAggregator(world.dep, 0, world.keys.shards[0], world.node).run_round(manifest)
        assert coordinator.close_round(1).global_result.global_model is not None
    finally:
        coordinator.close()
    report = world.audit()
    assert report.clean, (mismatches(report), report.findings)  # the late manifests are not equivocation
