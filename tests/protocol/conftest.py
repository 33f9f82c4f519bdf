"""Fixtures of the round-protocol tests: deterministic keys, a signed manifest and signed updates.

Keys are derived from labels (``SHA-256(label)`` as the private key), so every run builds the same
messages; Ed25519 signatures are deterministic, only sealed boxes use fresh randomness.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pytest

from zkagg._protocol.keys import EncryptionKey, SigningKey, client_id_for
from zkagg._protocol.messages import (
    BlobRef,
    CircuitRef,
    ClientUpdate,
    GlobalResult,
    IncludedUpdate,
    RoundManifest,
    ShardKeys,
    ShardResult,
    ShardVerdict,
    VerdictReason,
)
from zkagg._protocol.seed import chain_anchor
from zkagg._protocol.sharding import assign_shard
from zkagg.da import Namespace, PayloadRef

DEPLOYMENT = hashlib.sha256(b"zkagg test deployment").digest()
SEED = hashlib.sha256(b"zkagg test seed").digest()


def signing_key(label: str) -> SigningKey:
    return SigningKey.from_bytes(hashlib.sha256(b"sign:" + label.encode()).digest())


def encryption_key(label: str) -> EncryptionKey:
    return EncryptionKey.from_bytes(hashlib.sha256(b"encrypt:" + label.encode()).digest())


@dataclass
class Deployment:
    """A coordinator, ``num_shards`` aggregators and a pool of clients, with their keys."""

    num_shards: int = 4
    coordinator: SigningKey = field(default_factory=lambda: signing_key("coordinator"))
    aggregators: list[SigningKey] = field(default_factory=list)
    decryptors: list[EncryptionKey] = field(default_factory=list)
    clients: list[SigningKey] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.aggregators = [signing_key(f"aggregator-{i}") for i in range(self.num_shards)]
        self.decryptors = [encryption_key(f"aggregator-{i}") for i in range(self.num_shards)]
        self.clients = [signing_key(f"client-{i}") for i in range(32)]

    def manifest(self, round: int = 3, seed_height: int = 10, **changes: object) -> RoundManifest:
        fields: dict[str, object] = dict(
            deployment=DEPLOYMENT,
            round=round,
            global_model_commitment=b"\x01" * 64,
            global_model=None,
            aggregation_rule="fedavg",
            aggregation_spec=b"spec",
            quantization_scale=12,
            chunk_size=1024,
            circuits=(CircuitRef("fedavg-16", b"\x02" * 32), CircuitRef("quality", b"\x03" * 32)),
            num_shards=self.num_shards,
            seed_height=seed_height,
            reveal_by=seed_height + 1,
            updates_by=seed_height + 5,
            results_by=seed_height + 10,
            quorum=3,
            quality_threshold_ppm=800_000,
            coordinator_key=self.coordinator.public_key,
            shard_keys=tuple(
                ShardKeys(a.public_key, e.public_key, chain_anchor(a))
                for a, e in zip(self.aggregators, self.decryptors, strict=True)
            ),
        )
        fields.update(changes)
        return RoundManifest(**fields).sign(self.coordinator)  # type: ignore[arg-type]

    def shard_of(self, manifest: RoundManifest, client: SigningKey, seed: bytes = SEED) -> int:
        return assign_shard(
            seed, manifest.deployment, manifest.round, client_id_for(client.public_key), manifest.num_shards
        )

    def update(
        self,
        manifest: RoundManifest,
        client: SigningKey,
        *,
        shard: int | None = None,
        plaintext: bytes = b"quantized update",
        seed: bytes = SEED,
        sample_count: int = 100,
    ) -> ClientUpdate:
        shard = self.shard_of(manifest, client, seed) if shard is None else shard
        return ClientUpdate.create(
            manifest,
            shard=shard,
            key=client,
            update=plaintext,
            commitments=b"\x04" * 64,
            sample_count=sample_count,
        )

    def result(
        self, manifest: RoundManifest, shard: int, included: list[IncludedUpdate], aggregate: bytes = b"agg"
    ) -> ShardResult:
        return ShardResult(
            deployment=manifest.deployment,
            round=manifest.round,
            shard=shard,
            included=tuple(included),
            aggregate=aggregate,
            quality_proof=b"proof",
            aggregator_key=self.aggregators[shard].public_key,
        ).sign(self.aggregators[shard])

    def global_result(
        self,
        manifest: RoundManifest,
        accepted: list[int],
        model: bool = True,
        refs: dict[int, BlobRef] | None = None,
        below: list[int] | None = None,
    ) -> GlobalResult:
        refs = refs or {}
        below = below or []

        def verdict(s: int) -> ShardVerdict:
            ref = refs.get(s, BlobRef(20, bytes([s]) * 32))
            if s in accepted:
                return ShardVerdict(s, VerdictReason.ACCEPTED, "", ref)
            if s in below:
                return ShardVerdict(s, VerdictReason.BELOW_THRESHOLD, "proven 1/16 is below 0.8", ref)
            return ShardVerdict(s, VerdictReason.MISSING, "no result by results_by")

        verdicts = tuple(verdict(s) for s in range(manifest.num_shards))
        return GlobalResult(
            deployment=manifest.deployment,
            round=manifest.round,
            verdicts=verdicts,
            global_model=PayloadRef(25, Namespace.v0(b"payloads"), b"\x05" * 32) if model else None,
            global_model_commitment=b"\x06" * 64 if model else b"",
            coordinator_key=self.coordinator.public_key,
        ).sign(self.coordinator)


@pytest.fixture
def deployment() -> Deployment:
    return Deployment()
