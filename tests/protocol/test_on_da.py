"""A round's messages through real DA backends: posted as blobs, read back with get_all, decoded, checked.

Runs on the in-memory backend and on the durable embedded node (instant blocks); the large-payload
path carries a shard aggregate.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.protocol.conftest import Deployment
from zkagg._errors import ProtocolError
from zkagg._protocol.guard import MessageGuard, check_manifest
from zkagg._protocol.messages import (
    BlobRef,
    ClientUpdate,
    GlobalResult,
    RoundManifest,
    ShardResult,
    decode_message,
)
from zkagg._protocol.seed import fetch_seed
from zkagg._protocol.sharding import deployment_namespaces
from zkagg.da import Blob, DABackend, EmbeddedNode, MemoryBackend, Namespace, read_payload, write_payload


@pytest.fixture(params=["memory", "embedded"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DABackend]:
    be: DABackend = (
        MemoryBackend() if request.param == "memory" else EmbeddedNode(tmp_path / "node", block_time=None)
    )
    yield be
    be.close()


def _advance_to(backend: DABackend, height: int) -> None:
    """Make blocks (with a filler blob each) until the chain reaches ``height``."""
    filler = Namespace.v0(b"filler")
    while backend.local_head().height < height:
        backend.submit([Blob.new(filler, os.urandom(8))])


def test_a_round_through_the_da_layer(backend: DABackend, deployment: Deployment) -> None:
    # Prepare: the coordinator opens round 3 with a seed height above the manifest's own height
    coordinator_key = deployment.coordinator.public_key
    start = backend.local_head().height
    manifest = deployment.manifest(round=3, seed_height=start + 2)
    ns = deployment_namespaces(manifest.deployment, manifest.num_shards)
    opened_at = backend.submit([Blob.new(ns.control, manifest.to_bytes())])
    assert opened_at == start + 1

    # Execute: a client reads the manifest back, waits for the seed, finds its shard
    [manifest_blob] = backend.get_all(opened_at, [ns.control])
    read_manifest = RoundManifest.from_bytes(manifest_blob.data)
    check_manifest(read_manifest, height=opened_at, coordinator_key=coordinator_key, round=3)
    _advance_to(backend, read_manifest.reveal_by)
    seed = fetch_seed(backend, read_manifest, timeout=5)

    # ...eight clients post their updates, each to its shard's namespace, plus someone's junk
    updates = [
        deployment.update(read_manifest, c, seed=seed, plaintext=f"update {i}".encode())
        for i, c in enumerate(deployment.clients[:8])
    ]
    blobs = [Blob.new(ns.shard(u.shard), u.to_bytes()) for u in updates]
    blobs.append(Blob.new(ns.shard(0), b"not a zkagg message"))
    updates_at = backend.submit(blobs)

    # ...each aggregator reads every shard namespace, keeps what the guard accepts, decrypts its own
    guard = MessageGuard(read_manifest, seed)
    rejected = []
    for blob in backend.get_all(updates_at, list(ns.shards)):
        try:
            message = decode_message(blob.data)
            assert isinstance(message, ClientUpdate)
            guard.check_client_update(
                message, height=updates_at, namespace=blob.namespace, blob_commitment=blob.commitment
            )
        except ProtocolError as exc:
            rejected.append(str(exc))
    assert rejected == ["message: magic must be b'ZKAG', not b'not '"]
    plaintexts = {}
    for shard in range(manifest.num_shards):
        for u in updates:
            if u.shard == shard:
                plaintexts[u.client_id] = u.decrypt(deployment.decryptors[shard])
    assert sorted(plaintexts.values()) == sorted(f"update {i}".encode() for i in range(8))

    # ...after updates_by, each shard posts its result; one aggregate travels as a large payload
    _advance_to(backend, read_manifest.updates_by)
    results = []
    for shard in range(manifest.num_shards):
        included = guard.accepted_updates(shard)
        if not included:
            continue
        aggregate: bytes | object = b"aggregate of shard %d" % shard
        if shard == updates[0].shard:
            aggregate = write_payload(backend, ns.payloads, os.urandom(5000), chunk_size=2048)
        results.append(deployment.result(read_manifest, shard, included, aggregate=aggregate))  # type: ignore[arg-type]
    results_at = backend.submit([Blob.new(ns.control, r.to_bytes()) for r in results])

    # Assert: the coordinator reads the control namespace and accepts every result
    assert results_at <= read_manifest.results_by
    result_blobs = backend.get_all(results_at, [ns.control])
    read_results = [ShardResult.from_bytes(b.data) for b in result_blobs]
    assert sorted(read_results, key=lambda r: r.shard) == results
    refs = {}
    for r, b in zip(read_results, result_blobs, strict=True):
        guard.check_shard_result(r, height=results_at, namespace=ns.control, blob_commitment=b.commitment)
        refs[r.shard] = BlobRef(results_at, b.commitment)
        if not isinstance(r.aggregate, bytes):
            assert len(read_payload(backend, r.aggregate)) == 5000
    assert guard.accepted_shards() == [r.shard for r in results]

    # ...and, after results_by, posts and re-reads the global result
    _advance_to(backend, read_manifest.results_by)
    accepted = guard.accepted_shards()
    final = deployment.global_result(
        read_manifest, accepted, model=len(accepted) >= read_manifest.quorum, refs=refs
    )
    final_at = backend.submit([Blob.new(ns.control, final.to_bytes())])
    [final_blob] = backend.get_all(final_at, [ns.control])
    read_final = GlobalResult.from_bytes(final_blob.data)
    guard.check_global_result(read_final, height=final_at, namespace=ns.control)
    assert read_final == final

    # A replay of an update at a later height is caught
    [replayed_blob] = [b for b in blobs if b.data == updates[0].to_bytes()]
    replay_at = backend.submit([replayed_blob])
    with pytest.raises(ProtocolError, match="past its deadline"):
        guard.check_client_update(updates[0], height=replay_at, namespace=replayed_blob.namespace)
