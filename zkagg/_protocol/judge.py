"""Judging a closed round from the DA layer alone: one verdict per shard, and the next global model.

Judging is a pure function of what is on the DA layer (the manifest, the blobs in the round's
windows, the global model payload), so the coordinator and the auditor (:mod:`zkagg._protocol.audit`)
run the same code and must reach the same verdicts. Composition and its exact rounding are
:mod:`zkagg._aggregation.compose`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from zkagg._aggregation.compose import compose_global, shard_model
from zkagg._aggregation.records import ShardAggregate
from zkagg._aggregation.shard import verify_shard
from zkagg._errors import DAError, ProtocolError, ZkaggError
from zkagg._field import IntArray
from zkagg._kzg.commit import UpdateCommitment
from zkagg._protocol import workload
from zkagg._protocol.deployment import Deployment
from zkagg._protocol.guard import MessageGuard, check_manifest_rules, verify_client_norm
from zkagg._protocol.inclusion import check_exclusion
from zkagg._protocol.messages import (
    NOT_CAUGHT,
    PPM,
    BlobRef,
    ClientUpdate,
    ExcludedUpdate,
    RoundManifest,
    ShardResult,
    ShardVerdict,
    VerdictReason,
)
from zkagg._protocol.reading import check_round_start, read_range
from zkagg._protocol.seed import SeedDraw, draw_seed
from zkagg._protocol.sharding import deployment_namespaces, has_quorum
from zkagg.da import DABackend, PayloadRef, read_payload

__all__ = ["LATE_GRACE", "Progress", "RoundJudgement", "ShardJudgement", "judge_round", "quiet"]

#: Blocks after ``results_by`` the coordinator waits before judging: results posted in them are
#: judged ``late`` rather than ``missing``. Part of the protocol, so the auditor reads the same range.
LATE_GRACE: Final = 4
#: Aggregates larger than this travel as a payload (:func:`zkagg.da.write_payload`), not inline.

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """A progress callback that says nothing."""


@dataclass
class ShardJudgement:
    """The verdict on one shard and, when accepted, what enters the global model."""

    verdict: ShardVerdict
    aggregate: ShardAggregate | None = None
    commitments: tuple[UpdateCommitment, ...] = ()
    quality_accuracy: float | None = None
    n_clients: int = 0
    #: Whether the judged result carries a valid signature of the shard's own aggregator.
    signed: bool = False
    #: The updates an accepted result excluded, each with a reason judging checked.
    excluded: tuple[ExcludedUpdate, ...] = ()


@dataclass
class RoundJudgement:
    """Everything :func:`judge_round` derived for a round."""

    manifest: RoundManifest
    global_q: IntArray
    shards: list[ShardJudgement]
    next_global: IntArray | None
    verify_seconds: float
    client_updates: int
    threshold: float
    #: Evidence of shard equivocation: a shard's aggregator signed two different results this round.
    evidence: list[str] = field(default_factory=list)
    #: Cheats the protocol caught this round, each naming the party that signed it: a shard result
    #: excluded for a reason that is not liveness (:data:`~zkagg._protocol.messages.NOT_CAUGHT`),
    #: a client update an accepted shard excluded with a checked reason, a signed update of a
    #: registered client that the guard refused as malformed or misbound (a sample count above the
    #: bound, another shard). The global model is right regardless; these say who tried.
    findings: list[str] = field(default_factory=list)
    #: How the round's seed came about: which shards' reveals counted, which are absent and why.
    seed: SeedDraw | None = None

    @property
    def verdicts(self) -> tuple[ShardVerdict, ...]:
        """One verdict per shard, in shard order."""
        return tuple(s.verdict for s in self.shards)

    @property
    def accepted(self) -> list[int]:
        """Accepted shards."""
        return [s.verdict.shard for s in self.shards if s.verdict.accepted]


def judge_round(
    backend: DABackend,
    deployment: Deployment,
    manifest: RoundManifest,
    *,
    quality_spec: workload.QualitySpec | None = None,
    verify_commitments: bool = False,
    timeout: float = 600.0,
    home: str | None = None,
    progress: Progress = quiet,
) -> RoundJudgement:
    """Judge every shard of a closed round from the DA layer alone, and compose the next global model.

    Reads the client updates in ``(seed_height, updates_by]`` (every shard namespace) and the shard
    results in ``(updates_by, results_by + LATE_GRACE]`` (control namespace) in DA order through one
    :class:`~zkagg._protocol.guard.MessageGuard`; a shard's verdict is its first result that passes the guard
    (then every exclusion's reason must hold, :func:`~zkagg._protocol.inclusion.check_exclusion`;
    its aggregate must be available and decode, verify against the included clients'
    commitments and weights, and its quality proof must verify, be bound to ``g + u_k`` and meet the
    manifest's threshold; with a deployment norm bound, every included client's update must carry
    a valid norm proof, :func:`verify_client_norm`), or else the first rejection of a result signed
    by its aggregator, or else the first rejection of a result claiming the shard, or else
    ``missing``.
    """
    t0 = time.perf_counter()
    dep = deployment
    ns = deployment_namespaces(dep.deployment_id, dep.n_shards)
    backend.wait_for_height(manifest.results_by + LATE_GRACE, timeout=timeout)
    # The round's rules are the deployment's, whatever the coordinator signed (ProtocolError if not).
    check_manifest_rules(manifest, dep)
    draw = draw_seed(backend, manifest, timeout)
    seed = draw.seed
    global_q = check_round_start(backend, dep, manifest)
    guard = MessageGuard(
        manifest, seed, client_registry=dep.client_registry, max_sample_count=dep.sample_count_bound
    )
    by_blob: dict[bytes, ClientUpdate] = {}
    findings: list[str] = []
    for posted in read_range(
        backend,
        list(ns.shards),
        manifest.seed_height + 1,
        manifest.updates_by,
        verify_commitments=verify_commitments,
    ):
        u = posted.message
        if not isinstance(u, ClientUpdate):
            continue
        reason, detail = guard.judge_client_update(
            u, height=posted.height, namespace=posted.namespace, blob_commitment=posted.blob.commitment
        )
        if reason is VerdictReason.ACCEPTED:
            by_blob[posted.blob.commitment] = u
        elif reason in (VerdictReason.MALFORMED, VerdictReason.MISBOUND) and _signed_by_client(dep, u):
            findings.append(
                f"client {u.client_id.hex()} signed an update at height {posted.height} that was refused: {detail}"
            )
    threshold = manifest.quality_threshold_ppm / PPM
    if dep.quality and quality_spec is None:
        quality_spec = workload.quality_spec(dep)
    context = _Context(backend, dep, manifest, by_blob, global_q, threshold, quality_spec, home)
    final: dict[int, ShardJudgement] = {}
    # shard -> (message id, height) of the first result of this round its aggregator signed
    first_signed: dict[int, tuple[bytes, int]] = {}
    evidence: list[str] = []
    signed_rejection: dict[int, ShardJudgement] = {}
    other_rejection: dict[int, ShardJudgement] = {}
    for posted in read_range(
        backend,
        [ns.control],
        manifest.updates_by + 1,
        manifest.results_by + LATE_GRACE,
        verify_commitments=verify_commitments,
    ):
        res = posted.message
        if not isinstance(res, ShardResult) or not 0 <= res.shard < dep.n_shards:
            continue
        signed = _signed_by_shard(res, manifest)
        if signed and res.deployment == dep.deployment_id and res.round == manifest.round:
            first = first_signed.setdefault(res.shard, (res.message_id(), posted.height))
            if first[0] != res.message_id():
                evidence.append(
                    f"shard {res.shard}'s aggregator signed two different results of round "
                    f"{manifest.round}, at heights {first[1]} and {posted.height}"
                )
        if res.shard in final:
            continue
        ref = BlobRef(posted.height, posted.blob.commitment)
        reason, detail = guard.judge_shard_result(
            res, height=posted.height, namespace=posted.namespace, blob_commitment=posted.blob.commitment
        )
        if reason is not VerdictReason.ACCEPTED:
            rejection = ShardJudgement(ShardVerdict(res.shard, reason, detail[:1000], ref), signed=signed)
            if not signed:
                other_rejection.setdefault(res.shard, rejection)
            else:
                signed_rejection.setdefault(res.shard, rejection)
            continue
        progress(f"verifying shard {res.shard}")
        final[res.shard] = _judge_accepted(context, res, ref)
    shards = []
    for k in range(dep.n_shards):
        judged: ShardJudgement | None = final.get(k) or signed_rejection.get(k) or other_rejection.get(k)
        if judged is None:
            judged = ShardJudgement(
                ShardVerdict(
                    k, VerdictReason.MISSING, f"no result of shard {k} by height {manifest.results_by}"
                )
            )
        shards.append(judged)
    for s in shards:
        v = s.verdict
        if s.signed and v.reason not in NOT_CAUGHT:
            findings.append(
                f"shard {v.shard}'s aggregator signed a result excluded as {v.reason.value}: {v.detail}"
            )
        findings.extend(
            f"shard {v.shard} excluded client {x.client_id.hex()} (update at height {x.height}): {x.reason.name}"
            for x in s.excluded
        )
    accepted = [
        (s.aggregate, s.commitments) for s in shards if s.verdict.accepted and s.aggregate is not None
    ]
    next_global = None
    # Quorum on availability, not on verdicts (has_quorum says why); composed from the accepted.
    if has_quorum(manifest, [s.verdict for s in shards]):
        next_global = compose_global(dep.spec(), global_q, accepted)
    return RoundJudgement(
        manifest,
        global_q,
        shards,
        next_global,
        time.perf_counter() - t0,
        len(by_blob),
        threshold,
        evidence,
        findings,
        draw,
    )


def _signed_by_client(dep: Deployment, update: ClientUpdate) -> bool:
    """Whether an update carries a valid signature of the registered client it names."""
    if dep.client_registry.get(update.client_id) != update.client_key:
        return False
    try:
        update.verify_signature(update.client_key)
    except ProtocolError:
        return False
    return True


def _signed_by_shard(res: ShardResult, manifest: RoundManifest) -> bool:
    """Whether a result carries a valid signature of its shard's aggregator (whatever else is wrong)."""
    if res.aggregator_key != manifest.shard_keys[res.shard].signing_key:
        return False
    try:
        res.verify_signature(res.aggregator_key)
    except ProtocolError:
        return False
    return True


@dataclass(frozen=True)
class _Context:
    """What judging one shard result needs of its round."""

    backend: DABackend
    deployment: Deployment
    manifest: RoundManifest
    #: The round's client updates that passed the guard, by blob commitment.
    by_blob: dict[bytes, ClientUpdate]
    global_q: IntArray
    threshold: float
    quality_spec: workload.QualitySpec | None
    home: str | None


def _spec_problem(agg: ShardAggregate, dep: Deployment) -> tuple[VerdictReason, str] | None:
    """Why an aggregate's spec is not the deployment's, or ``None`` when it is.

    ``wrong-srs`` when it differs only in its SRS: everything is verified with the deployment's SRS
    (pinned, or this machine's dev SRS), never with the one a result names, and the result is
    excluded because its proofs were made where whoever holds that SRS's trapdoor could forge them.
    """
    expected = dep.spec()
    if agg.spec.matches(expected):
        return None
    ours = expected.domain().srs_sha256
    if dataclasses.replace(agg.spec, srs_sha256=ours).matches(expected):
        return (
            VerdictReason.WRONG_SRS,
            f"the aggregate was made under SRS {agg.spec.srs_sha256}, not the deployment's "
            f"{'pinned' if dep.srs_pinned else 'dev'} SRS {ours}",
        )
    return VerdictReason.MALFORMED, "the aggregate's spec is not the deployment's"


def _check_exclusions(context: _Context, res: ShardResult) -> tuple[VerdictReason, str] | None:
    """Why one of the result's exclusions does not hold, or ``None`` when every reason checks out."""
    recipient = context.deployment.shard_keys[res.shard].encryption_key
    for x in res.excluded:
        update = context.by_blob.get(x.commitment)
        if update is None:  # the guard checked the accounting; this is a defensive double check
            return VerdictReason.BAD_INCLUSION, f"client {x.client_id.hex()} has no accepted update"
        why = check_exclusion(context.deployment, context.global_q, update, x.reason, x.evidence, recipient)
        if why is not None:
            return (
                VerdictReason.UNJUSTIFIED_EXCLUSION,
                f"the shard excludes client {x.client_id.hex()} (height {x.height}) unjustly: {why}",
            )
    return None


def _judge_accepted(context: _Context, res: ShardResult, ref: BlobRef) -> ShardJudgement:
    """The verdict on a shard result the guard accepted: availability, aggregate, norms, quality."""
    backend, dep, manifest = context.backend, context.deployment, context.manifest
    by_blob, global_q, home = context.by_blob, context.global_q, context.home
    k = res.shard

    def excluded(reason: VerdictReason, detail: str) -> ShardJudgement:
        return ShardJudgement(ShardVerdict(k, reason, detail[:1000], ref), signed=True)

    if res.is_empty:
        unjust = _check_exclusions(context, res)
        if unjust is not None:
            return excluded(*unjust)
        detail = f"no update to aggregate ({len(res.excluded)} excluded with a checked reason)"
        return ShardJudgement(
            ShardVerdict(k, VerdictReason.EMPTY, detail, ref), signed=True, excluded=res.excluded
        )
    if isinstance(res.aggregate, PayloadRef):
        try:
            encoded = read_payload(backend, res.aggregate)
        except (DAError, ProtocolError) as exc:
            return excluded(VerdictReason.WITHHELD, f"the aggregate payload is not available: {exc}")
        except ZkaggError as exc:
            return excluded(VerdictReason.WITHHELD, f"the aggregate payload cannot be read: {exc}")
    else:
        encoded = res.aggregate
    try:
        agg = ShardAggregate.from_bytes(encoded)
    except ZkaggError as exc:
        return excluded(VerdictReason.MALFORMED, f"the aggregate does not decode: {exc}")
    # Compared with the deployment before any work that the aggregate's fields could size.
    spec_problem = _spec_problem(agg, dep)
    if spec_problem is not None:
        return excluded(*spec_problem)
    if agg.length != global_q.size:
        return excluded(
            VerdictReason.MALFORMED, f"the aggregate has {agg.length} values, not the model's {global_q.size}"
        )
    if len(agg.weights) != len(res.included):
        return excluded(
            VerdictReason.MALFORMED,
            f"the aggregate weighs {len(agg.weights)} clients, but the result includes {len(res.included)}",
        )
    commitments = []
    weights = []
    for item in res.included:
        update = by_blob.get(item.commitment)
        if update is None:  # the guard checked inclusion; this is a defensive double check
            return excluded(
                VerdictReason.BAD_INCLUSION, f"client {item.client_id.hex()} has no accepted update"
            )
        try:
            commitments.append(UpdateCommitment.from_bytes(update.commitments))
        except ZkaggError as exc:
            return excluded(
                VerdictReason.BAD_INCLUSION, f"client {item.client_id.hex()}'s commitment is malformed: {exc}"
            )
        weights.append(update.sample_count)
    unjust = _check_exclusions(context, res)
    if unjust is not None:
        return excluded(*unjust)
    if dep.client_norm_bound is not None:
        for item in res.included:
            try:
                verify_client_norm(dep, by_blob[item.commitment])
            except ZkaggError as exc:
                return excluded(
                    VerdictReason.BAD_NORM_PROOF,
                    f"client {item.client_id.hex()} (height {item.height}) has no valid norm proof: {exc}",
                )
    try:
        verify_shard(dep.spec(), commitments, weights, agg)
        model = shard_model(global_q, agg)
    except ZkaggError as exc:
        return excluded(VerdictReason.BAD_AGGREGATE, str(exc))
    accuracy = None
    if dep.quality:
        quality_spec = context.quality_spec or workload.quality_spec(dep)
        try:
            proof = workload.QualityProof.from_wire(res.quality_proof)
            expected = workload.model_commitments(model, quality_spec, home=home)
            workload.verify_quality(proof, 0.0, quality_spec, expected_commitments=expected, home=home)
            accuracy = proof.accuracy
        except ZkaggError as exc:
            return excluded(VerdictReason.BAD_QUALITY_PROOF, str(exc))
        needed = manifest.quality_threshold_ppm * proof.n_probe
        if proof.correct * PPM < needed:
            return excluded(
                VerdictReason.BELOW_THRESHOLD,
                f"proven probe accuracy {proof.correct}/{proof.n_probe} is below the threshold {context.threshold:.4f}",
            )
    return ShardJudgement(
        ShardVerdict(k, VerdictReason.ACCEPTED, "", ref),
        agg,
        tuple(commitments),
        accuracy,
        len(commitments),
        signed=True,
        excluded=res.excluded,
    )


# -- coordinator ---------------------------------------------------------------------------------------
