"""The shard aggregator of a round: collects, checks, aggregates, proves and posts (DESIGN.md §1, step 3).

Right after the manifest's ``seed_height``, shard ``k`` posts its signed
:class:`~zkagg._protocol.messages.SeedReveal`, the round's value of its seed chain, which mixes into
the assignment seed (:mod:`zkagg._protocol.seed`, :meth:`ShardAggregator.reveal`). After
``updates_by``, shard ``k`` reads its namespace through a
:class:`~zkagg._protocol.guard.MessageGuard`, opens each accepted update and checks it against its
commitment (and, with a deployment norm bound, its norm proof), aggregates the cohort with the
deployment's rule (:func:`~zkagg.aggregate_shard`: exact sums for FedAvg, EZKL proofs otherwise),
proves the quality of its shard model ``g + u_k`` (:mod:`zkagg._protocol.workload`), where ``u_k``
is the aggregate rounded to integers (:func:`~zkagg._aggregation.compose.shard_update`), and posts
a signed :class:`~zkagg._protocol.messages.ShardResult`. The result accounts for every update the
guard accepted: included, or excluded with a reason and evidence anyone can check
(:mod:`zkagg._protocol.inclusion`). Every refused update is reported with its reason in
:class:`ShardReport`.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Final

from zkagg._aggregation.compose import shard_model
from zkagg._aggregation.records import ShardAggregate
from zkagg._aggregation.shard import aggregate_shard
from zkagg._errors import InvalidArgument, ZkaggError
from zkagg._field import IntArray, dequantize
from zkagg._protocol import workload
from zkagg._protocol.deployment import Deployment
from zkagg._protocol.faults import (
    SHARD_ATTACKS,
    tamper_aggregate,
)
from zkagg._protocol.guard import MessageGuard, check_manifest_rules
from zkagg._protocol.inclusion import Fault, screen_update
from zkagg._protocol.keys import Identity
from zkagg._protocol.messages import (
    ClientUpdate,
    ExcludedUpdate,
    ExclusionReason,
    IncludedUpdate,
    RoundManifest,
    ShardResult,
)
from zkagg._protocol.reading import global_ref, read_range
from zkagg._protocol.seed import fetch_seed, make_reveal
from zkagg._protocol.sharding import deployment_namespaces
from zkagg._protocol.vectors import read_vector
from zkagg.da import Blob, DABackend, PayloadRef, write_payload

__all__ = ["INLINE_AGGREGATE_BYTES", "ShardAggregator", "ShardReport"]

#: Aggregates larger than this travel as a payload (:func:`zkagg.da.write_payload`), not inline.
INLINE_AGGREGATE_BYTES: Final = 512 * 1024


@dataclass(frozen=True)
class ShardReport:
    """What one shard aggregator did in a round."""

    shard: int
    included: int
    rejected: tuple[str, ...]
    height: int | None
    bytes_posted: int
    prove_seconds: float
    seconds: float
    attack: str | None = None
    #: Clients left out for a missing or invalid norm proof (hex ids; their lines are in ``rejected``).
    norm_rejected: tuple[str, ...] = ()


@dataclass
class _Cohort:
    """What a shard found in its namespace in one round: what it includes, and what it refused and why."""

    #: The round's global model (read once; the range check and the shard model start from it).
    global_q: IntArray
    included: list[IncludedUpdate] = field(default_factory=list)
    updates: list[IntArray] = field(default_factory=list)
    weights: list[int] = field(default_factory=list)
    excluded: list[ExcludedUpdate] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    norm_rejected: list[str] = field(default_factory=list)


class ShardAggregator:
    """The aggregator of shard ``index``: collects, checks, aggregates, proves and posts its result.

    ``attack`` makes it Byzantine (for fault tests and ``zkagg run``): ``tamper-aggregate`` changes
    one value of its aggregate after proving; ``replay`` re-posts its previous round's result (in its
    first round it behaves honestly); ``withhold`` posts a result whose aggregate payload it never
    makes available; ``include-unproven`` skips the norm-proof check and includes every update that
    matches its commitment (in a deployment with ``client_norm_bound``); ``censor`` aggregates only
    its first valid update and leaves the others out silently, with no reason (a shard choosing the
    inputs of its median); ``withhold-reveal`` never posts its seed reveal (its shard is then absent
    from the round's seed, and the audit says so).
    """

    def __init__(
        self,
        deployment: Deployment,
        index: int,
        identity: Identity,
        backend: DABackend,
        *,
        attack: str | None = None,
        timeout: float = 600.0,
        home: str | None = None,
    ) -> None:
        keys = deployment.shard_keys[index]
        if identity.signing.public_key != keys.signing_key or identity.encryption is None:
            raise InvalidArgument(f"identity is not shard {index}'s aggregator keys in this deployment")
        if identity.encryption.public_key != keys.encryption_key:
            raise InvalidArgument(f"identity's encryption key is not shard {index}'s in this deployment")
        if attack is not None and attack not in SHARD_ATTACKS:
            raise InvalidArgument(f"attack must be one of {', '.join(SHARD_ATTACKS)} or None, not {attack!r}")
        self.deployment = deployment
        self.index = index
        self.identity = identity
        self.backend = backend
        self.attack = attack
        self.timeout = timeout
        self.home = home
        self._last_result: bytes | None = None
        self._qspec: workload.QualitySpec | None = None
        self._revealed: set[int] = set()

    def quality_spec(self) -> workload.QualitySpec:
        """The deployment's quality spec (built once)."""
        if self._qspec is None:
            self._qspec = workload.quality_spec(self.deployment)
        return self._qspec

    def reveal(self, manifest: RoundManifest) -> int | None:
        """Post this shard's seed reveal for the manifest's round once ``seed_height`` exists.

        Returns the height it landed at, or ``None`` when nothing was posted: already revealed this
        round, a ``withhold-reveal`` attacker, or too late (the chain is at ``reveal_by`` already, so
        the reveal could not count; the seed is then drawn without it). Never before
        ``seed_height``: a value known earlier would let the DA operator grind the block hash
        against it.
        """
        if manifest.round in self._revealed or self.attack == "withhold-reveal":
            return None
        check_manifest_rules(manifest, self.deployment)
        self.backend.wait_for_height(manifest.seed_height, timeout=self.timeout)
        if self.backend.local_head().height >= manifest.reveal_by:
            return None
        reveal = make_reveal(manifest, self.index, self.identity.signing)
        height = self._submit(reveal.to_bytes())
        self._revealed = {manifest.round}
        return height

    def run_round(self, manifest: RoundManifest) -> ShardReport:
        """Reveal (when still in time), aggregate this shard's cohort once ``updates_by`` is final, post the result."""
        t0 = time.perf_counter()
        self.reveal(manifest)
        cohort = self._collect(manifest)

        def report(
            height: int | None = None, size: int = 0, prove_seconds: float = 0.0, included: int = 0
        ) -> ShardReport:
            return ShardReport(
                shard=self.index,
                included=included,
                rejected=tuple(cohort.rejected),
                height=height,
                bytes_posted=size,
                prove_seconds=prove_seconds,
                seconds=time.perf_counter() - t0,
                attack=self.attack,
                norm_rejected=tuple(cohort.norm_rejected),
            )

        if self.attack == "replay" and self._last_result is not None:
            data = self._last_result
            return report(self._submit(data), len(data))
        if not cohort.updates:  # nothing to aggregate: say so, accounting for every update
            return report(*self._post(manifest, cohort, None, b""))
        t_prove = time.perf_counter()
        try:
            agg, quality = self._aggregate(manifest, cohort)
        except ZkaggError as exc:  # nothing to post: the coordinator will record the shard as missing
            cohort.rejected.append(f"aggregation failed: {exc}")
            return report(prove_seconds=time.perf_counter() - t_prove)
        prove_seconds = time.perf_counter() - t_prove
        height, size = self._post(manifest, cohort, agg, quality)
        return report(height, size, prove_seconds, len(cohort.included))

    def _collect(self, manifest: RoundManifest) -> _Cohort:
        """Every update posted to this shard in the round's window: opened, checked, included or refused."""
        dep = self.deployment
        check_manifest_rules(manifest, dep)
        ns = deployment_namespaces(dep.deployment_id, dep.n_shards)
        seed = fetch_seed(self.backend, manifest, self.timeout)
        self.backend.wait_for_height(manifest.updates_by, timeout=self.timeout)
        guard = MessageGuard(
            manifest, seed, client_registry=dep.client_registry, max_sample_count=dep.sample_count_bound
        )
        encryption = self.identity.encryption
        assert encryption is not None  # checked in __init__
        global_q = read_vector(
            self.backend, global_ref(manifest), workload.n_params(dep), dep.scale, "global model"
        )
        cohort = _Cohort(global_q)
        for posted in read_range(
            self.backend, [ns.shard(self.index)], manifest.seed_height + 1, manifest.updates_by
        ):
            u = posted.message
            if not isinstance(u, ClientUpdate):
                continue
            where = f"client {u.client_id.hex()} at height {posted.height}"
            try:
                guard.check_client_update(
                    u,
                    height=posted.height,
                    namespace=posted.namespace,
                    blob_commitment=posted.blob.commitment,
                )
            except ZkaggError as exc:  # public: every verifier's guard refuses it too
                cohort.rejected.append(f"{where}: {exc}")
                continue
            screened = screen_update(
                dep, global_q, u, encryption, check_norm=self.attack != "include-unproven"
            )
            if isinstance(screened, Fault):
                cohort.rejected.append(f"{where}: {screened.reason.name}: {screened.detail}")
                if screened.reason is ExclusionReason.BAD_NORM_PROOF:
                    cohort.norm_rejected.append(u.client_id.hex())
                cohort.excluded.append(
                    ExcludedUpdate(
                        u.client_id, posted.height, posted.blob.commitment, screened.reason, screened.evidence
                    )
                )
                continue
            cohort.included.append(IncludedUpdate(u.client_id, posted.height, posted.blob.commitment))
            cohort.updates.append(screened)
            cohort.weights.append(u.sample_count)
        if self.attack == "censor" and len(cohort.included) > 1:
            # Keeps only its first update and drops the others silently (no reason, no evidence).
            del cohort.included[1:], cohort.updates[1:], cohort.weights[1:]
        return cohort

    def _aggregate(self, manifest: RoundManifest, cohort: _Cohort) -> tuple[ShardAggregate, bytes]:
        """The cohort's aggregate with its proofs, and the encoded quality proof of the shard model."""
        dep = self.deployment
        agg = aggregate_shard(
            dep.spec(), [dequantize(q, dep.scale) for q in cohort.updates], weights=cohort.weights
        )
        if not dep.quality:
            return agg, b""
        model = shard_model(cohort.global_q, agg)
        proof = workload.prove_quality(dequantize(model, dep.scale), self.quality_spec(), home=self.home)
        return agg, proof.to_wire()

    def _post(
        self, manifest: RoundManifest, cohort: _Cohort, agg: ShardAggregate | None, quality: bytes
    ) -> tuple[int, int]:
        """Sign and post the shard result (the aggregate inline or as a payload); its height and size.

        Without an aggregate (no update to include) the result is empty: its exclusions only.
        """
        dep = self.deployment
        ns = deployment_namespaces(dep.deployment_id, dep.n_shards)
        if agg is not None and self.attack == "tamper-aggregate":
            agg = tamper_aggregate(agg)
        encoded = agg.to_bytes() if agg is not None else b""
        aggregate: bytes | PayloadRef
        if agg is None:
            aggregate = b""
        elif self.attack == "withhold":
            # A reference to a payload manifest that was never posted.
            fake = hashlib.sha256(b"withheld" + encoded).digest()
            aggregate = PayloadRef(self.backend.local_head().height, ns.payloads, fake)
        elif len(encoded) > INLINE_AGGREGATE_BYTES:
            aggregate = write_payload(self.backend, ns.payloads, encoded)
        else:
            aggregate = encoded
        result = ShardResult(
            deployment=dep.deployment_id,
            round=manifest.round,
            shard=self.index,
            included=tuple(cohort.included),
            aggregate=aggregate,
            quality_proof=quality,
            aggregator_key=self.identity.signing.public_key,
            excluded=tuple(cohort.excluded),
        ).sign(self.identity.signing)
        data = result.to_bytes()
        height = self._submit(data)
        self._last_result = data
        size = len(data) + (
            len(encoded) if isinstance(aggregate, PayloadRef) and self.attack != "withhold" else 0
        )
        return height, size

    def _submit(self, data: bytes) -> int:
        dep = self.deployment
        control = deployment_namespaces(dep.deployment_id, dep.n_shards).control
        return self.backend.submit([Blob.new(control, data)])
