"""The world of the attack tests: a deployment on a fresh embedded node, every party's keys, and cheats' tools."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from zkagg._errors import ProtocolError
from zkagg._fl.data import DigitsData, dirichlet_partition, load_digits_task
from zkagg._kzg.commit import commit_update
from zkagg._protocol import workload
from zkagg._protocol.announce import announce_deployment
from zkagg._protocol.audit import AuditReport, audit
from zkagg._protocol.client import ClientParty
from zkagg._protocol.coordinator import Coordinator, RoundOutcome
from zkagg._protocol.deployment import Deployment, DeploymentKeys
from zkagg._protocol.guard import QUALITY_CIRCUIT
from zkagg._protocol.keys import Identity
from zkagg._protocol.messages import (
    CircuitRef,
    ClientUpdate,
    RoundManifest,
    ShardKeys,
    ShardResult,
    decode_message,
)
from zkagg._protocol.reading import Ticker
from zkagg._protocol.run import RoundRow
from zkagg._protocol.seed import chain_anchor, fetch_seed
from zkagg._protocol.shard import ShardAggregator, ShardReport
from zkagg._protocol.sharding import assign_shard, deployment_namespaces
from zkagg._protocol.vectors import encode_vector, vector_commitment
from zkagg.da import Blob, EmbeddedNode, SteppedClock, write_payload

N_CLIENTS = 4
#: Every party's keys are derived from this (insecure on purpose): the same cohorts on every run.
KEY_SEED = b"zkagg round tests"


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


def make_world(tmp_path: Path, shards: int = 1, key_seed: bytes = KEY_SEED, **params: Any) -> Iterator[World]:
    """A deployment of :data:`N_CLIENTS` clients with derived keys on a node with a stepped clock."""
    keys = DeploymentKeys.generate(N_CLIENTS, shards, seed=key_seed)
    settings: dict[str, Any] = {"quality": False, "update_window": 20, "result_window": 20, "quorum": 1}
    settings.update(params)
    dep = keys.deployment(**settings)
    data = load_digits_task(seed=0, probe_size=dep.probe_size)
    parts = dirichlet_partition(data.y_train, N_CLIENTS, alpha=1.0, seed=0)
    with EmbeddedNode(tmp_path / "da", block_time=None, clock=SteppedClock()) as node:
        announce_deployment(node, dep)
        yield World(keys, dep, node, Ticker.for_deployment(node, dep), data, list(parts), tmp_path / "c")


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
    attacker = Identity.derive(KEY_SEED, "attacker", encryption=True)
    assert attacker.encryption is not None
    return ShardKeys(
        attacker.signing.public_key, attacker.encryption.public_key, chain_anchor(attacker.signing)
    )


def mismatches(report: AuditReport) -> str:
    return "\n".join(str(m) for m in report.mismatches)


def caught(w: World) -> str:
    """The audit's findings, one per line, after checking that every verdict reproduces."""
    report = w.audit()
    assert report.ok, mismatches(report)
    assert report.findings, "the audit caught nobody"
    return "\n".join(report.findings)


def open_with_honest_clients(w: World, skip: int) -> tuple[Coordinator, RoundManifest]:
    coordinator = w.coordinator()
    manifest, _ = coordinator.open_round(1)
    w.tick(manifest.reveal_by)
    for i in range(N_CLIENTS):
        if i != skip:
            w.client(i).run_round(manifest)
    return coordinator, manifest


def post_update(w: World, manifest: RoundManifest, i: int, q: np.ndarray, sample_count: int) -> int:
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


def close_with_shard(
    w: World, manifest: RoundManifest, attack: str | None = None
) -> tuple[ShardReport, RoundOutcome]:
    """Shard 0 aggregates once ``updates_by`` is reached (with ``attack``), then the coordinator closes round 1."""
    coordinator = w.coordinator()
    try:
        w.tick(manifest.updates_by)
        report = ShardAggregator(w.dep, 0, w.keys.shards[0], w.node, attack=attack).run_round(manifest)
        return report, coordinator.close_round(1)
    finally:
        coordinator.close()


def posted_result(w: World, report: ShardReport) -> ShardResult:
    """The ShardResult shard 0 posted (at ``report.height``)."""
    assert report.height is not None
    control = deployment_namespaces(w.dep.deployment_id, w.dep.n_shards).control
    for blob in w.node.get_all(report.height, [control]):
        try:
            message = decode_message(blob.data)
        except ProtocolError:
            continue
        if isinstance(message, ShardResult):
            return message
    raise AssertionError(f"no ShardResult at height {report.height}")


def drew_clients(row: RoundRow) -> None:
    """Assert that every shard drew a client this round, so that each shard's role was exercised.

    Cohorts are a hash of a block hash (nobody picks them) and a shard can be empty in a round;
    the round tests derive their keys and block times from fixed seeds, so the draw is the same on
    every run, and this check fails (rather than the test quietly expecting ``missing``) if a
    change of the protocol moves it.
    """
    assert all(n > 0 for n in row.cohort_sizes), (
        f"round {row.round}: a shard drew no client {row.cohort_sizes}"
    )
