"""Issue 12's attacks on a real round: each party cheats with its real key on the real embedded node.

Every test checks that the attack was exercised (the cheating party's message is on the DA layer
and reached the party that must catch it), then that the right party refuses it with its own
reason, that nothing crashes, and what ``zkagg audit`` says from the DA layer alone.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zkagg._aggregation import spec as spec_module
from zkagg._aggregation.records import ShardAggregate
from zkagg._errors import DAError, ProtocolError
from zkagg._fl.data import DigitsData, dirichlet_partition, load_digits_task
from zkagg._kzg import commit as commit_module
from zkagg._kzg.commit import commit_update
from zkagg._protocol import shard as shard_module
from zkagg._protocol import workload
from zkagg._protocol.announce import announce_deployment
from zkagg._protocol.audit import AuditReport, audit
from zkagg._protocol.client import ClientParty
from zkagg._protocol.coordinator import Coordinator
from zkagg._protocol.deployment import Deployment, DeploymentKeys
from zkagg._protocol.guard import QUALITY_CIRCUIT
from zkagg._protocol.judge import judge_round
from zkagg._protocol.keys import Identity
from zkagg._protocol.messages import (
    CircuitRef,
    ClientUpdate,
    RoundManifest,
    ShardKeys,
    ShardResult,
    VerdictReason,
    decode_message,
)
from zkagg._protocol.reading import Ticker, find_manifest
from zkagg._protocol.seed import chain_anchor, fetch_seed
from zkagg._protocol.shard import ShardAggregator
from zkagg._protocol.sharding import assign_shard, deployment_namespaces
from zkagg._protocol.vectors import encode_vector, vector_commitment
from zkagg._prover.srs import dev_srs as real_dev_srs
from zkagg.da import Blob, EmbeddedNode, write_payload

N_CLIENTS = 4


@dataclasses.dataclass
class World:
    """A deployment on a fresh embedded node, with every party's keys and the clients' data."""

    keys: DeploymentKeys
    dep: Deployment
    node: EmbeddedNode
    tick: Ticker
    data: DigitsData
    parts: list[np.ndarray]
    state: Path

    def coordinator(self) -> Coordinator:
        return Coordinator(
            self.dep, self.keys.coordinator, self.node, state_dir=self.state, advance=self.tick
        )

    def client(self, i: int) -> ClientParty:
        x, y = self.data.x_train[self.parts[i]], self.data.y_train[self.parts[i]]
        return ClientParty(self.dep, i, self.keys.clients[i], self.node, x, y)

    def post(self, namespace_of: str, data: bytes, shard: int = 0) -> int:
        ns = deployment_namespaces(self.dep.deployment_id, self.dep.n_shards)
        where = ns.control if namespace_of == "control" else ns.shard(shard)
        return self.node.submit([Blob.new(where, data)])

    def audit(self) -> AuditReport:
        return audit(self.node, self.dep)


def _world(tmp_path: Path, shards: int = 1, **params: Any) -> Iterator[World]:
    keys = DeploymentKeys.generate(N_CLIENTS, shards)
    settings: dict[str, Any] = {"quality": False, "update_window": 20, "result_window": 20, "quorum": 1}
    settings.update(params)
    dep = keys.deployment(**settings)
    data = load_digits_task(seed=0, probe_size=dep.probe_size)
    parts = dirichlet_partition(data.y_train, N_CLIENTS, alpha=1.0, seed=0)
    with EmbeddedNode(tmp_path / "da", block_time=None) as node:
        announce_deployment(node, dep)
        yield World(keys, dep, node, Ticker.for_deployment(node, dep), data, list(parts), tmp_path / "c")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from _world(tmp_path)


def forged_manifest(
    w: World, round_: int = 1, start: np.ndarray | None = None, **changes: Any
) -> RoundManifest:
    """A manifest the coordinator signs with its real key: the deployment's fields, then ``changes``."""
    dep = w.dep
    q = workload.initial_model(dep) if start is None else start
    ns = deployment_namespaces(dep.deployment_id, dep.n_shards)
    ref = write_payload(w.node, ns.payloads, encode_vector(q, dep.scale))
    seed_height = w.node.local_head().height + 2
    fields: dict[str, Any] = {
        "deployment": dep.deployment_id,
        "round": round_,
        "global_model_commitment": vector_commitment(dep, q).to_bytes(),
        "global_model": ref,
        "aggregation_rule": dep.rule,
        "aggregation_spec": dep.spec().to_bytes(),
        "quantization_scale": dep.scale,
        "chunk_size": dep.chunk_size,
        "circuits": (CircuitRef(QUALITY_CIRCUIT, b"\x01" * 32),) if dep.quality else (),
        "num_shards": dep.n_shards,
        "seed_height": seed_height,
        "reveal_by": seed_height + dep.reveal_window,
        "updates_by": seed_height + dep.reveal_window + dep.update_window,
        "results_by": seed_height + dep.reveal_window + dep.update_window + dep.result_window,
        "quorum": dep.quorum,
        "quality_threshold_ppm": workload.quality_threshold_ppm(dep, q),
        "coordinator_key": dep.coordinator_key,
        "shard_keys": dep.shard_keys,
    }
    fields.update(changes)
    return RoundManifest(**fields).sign(w.keys.coordinator.signing)


def attacker_keys() -> ShardKeys:
    attacker = Identity.generate(encryption=True)
    assert attacker.encryption is not None
    return ShardKeys(
        attacker.signing.public_key, attacker.encryption.public_key, chain_anchor(attacker.signing)
    )


def mismatches(report: AuditReport) -> str:
    return "\n".join(str(m) for m in report.mismatches)


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
    for w in _world(tmp_path, shards=3, quorum=0, **params):
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


def _open_with_honest_clients(w: World, skip: int) -> tuple[Coordinator, RoundManifest]:
    coordinator = w.coordinator()
    manifest, _ = coordinator.open_round(1)
    w.tick(manifest.reveal_by)
    for i in range(N_CLIENTS):
        if i != skip:
            w.client(i).run_round(manifest)
    return coordinator, manifest


def _post_update(w: World, manifest: RoundManifest, i: int, q: np.ndarray, sample_count: int) -> int:
    """Client ``i`` posts ``q`` with a matching commitment and the sample count it claims."""
    dep = w.dep
    seed = fetch_seed(w.node, manifest, 10)
    cid = w.client(i).client_id
    shard = assign_shard(seed, dep.deployment_id, 1, cid, dep.n_shards)
    update = ClientUpdate.create(
        manifest,
        shard=shard,
        key=w.keys.clients[i].signing,
        update=encode_vector(q, dep.scale),
        commitments=commit_update(dep.spec(), q / 2.0**dep.scale).to_bytes(),
        sample_count=sample_count,
    )
    return w.post("shard", update.to_bytes(), shard)


@pytest.mark.parametrize(("bound", "claimed"), [(1000, 2**40), (None, 2**63 - 1)])
def test_lying_sample_count_is_refused_and_the_shard_still_posts(
    tmp_path: Path, bound: int | None, claimed: int
) -> None:
    for w in _world(tmp_path, max_sample_count=bound):
        coordinator, manifest = _open_with_honest_clients(w, skip=3)
        try:
            _post_update(w, manifest, 3, np.ones(workload.n_params(w.dep), dtype=np.int64), claimed)
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
        assert w.audit().ok


def test_out_of_range_update_is_refused_by_the_shard(world: World) -> None:
    coordinator, manifest = _open_with_honest_clients(world, skip=3)
    try:
        q = np.zeros(workload.n_params(world.dep), dtype=np.int64)
        q[5] = 2**60
        _post_update(world, manifest, 3, q, 10)
        world.tick(manifest.updates_by)
        report = ShardAggregator(world.dep, 0, world.keys.shards[0], world.node).run_round(manifest)
        outcome = coordinator.close_round(1)
    finally:
        coordinator.close()
    assert report.included == 3
    assert any("value 5 is 1152921504606846976 quanta" in r for r in report.rejected)
    assert outcome.global_result.verdicts[0].reason is VerdictReason.ACCEPTED
    assert world.audit().ok


def test_shard_colluding_on_a_huge_update_is_excluded_without_a_crash(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare: client 3 posts a value of 2**62 quanta; its shard skips the range check
    coordinator, manifest = _open_with_honest_clients(world, skip=3)
    try:
        q = np.zeros(workload.n_params(world.dep), dtype=np.int64)
        q[0] = 2**62
        _post_update(world, manifest, 3, q, 2**31)
        world.tick(manifest.updates_by)
        monkeypatch.setattr(shard_module, "_check_range", lambda g, u: None)
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
    assert world.audit().ok  # the audit re-derives the same exclusion


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
    coordinator, manifest = _open_with_honest_clients(world, skip=-1)
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


def test_shard_equivocation_is_kept_as_evidence(world: World) -> None:
    coordinator, manifest = _open_with_honest_clients(world, skip=-1)
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
