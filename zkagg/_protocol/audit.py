"""Re-derive every verdict of a deployment's rounds from the DA layer alone (``zkagg audit``).

The auditor knows only a DA endpoint and the deployment's control namespace. It finds the
deployment's announced configuration there (:func:`zkagg._protocol.announce.find_deployment`: it must hash to
the id the namespace derives from), then for every round whose manifest or global result the
coordinator signed:

1. the round's canonical manifest is the first in DA order that every party may follow: signed by
   the coordinator with a seed height above its own (:func:`~zkagg._protocol.guard.check_manifest`),
   fixed by the deployment in everything the deployment fixes (shard keys, spec, quorum, windows,
   circuits: :func:`~zkagg._protocol.guard.check_manifest_rules`), its global model payload commits to
   ``global_model_commitment``, round 1 starts from the deployment's initial model and the quality
   threshold is the deployment's rule on that model
   (:func:`~zkagg._protocol.reading.check_round_start`); from round 2 on, it starts from the global
   model of the last round that composed one. Any other manifest the coordinator signed for the
   round that breaks those rules, or a second followable one (equivocation), is a mismatch naming
   its height;
2. :func:`~zkagg._protocol.judge.judge_round` runs again on the blobs in the round's windows, recomputing every
   blob's share commitment from its data (a DA node that alters data is caught); in a deployment
   with ``client_norm_bound`` that includes verifying the norm proof carried by every client update
   a shard included (a shard that included one without a valid proof is ``bad-norm-proof``);
3. the coordinator's signed :class:`~zkagg._protocol.messages.GlobalResult` says the same: one verdict per
   shard with the same reason and the same judged blob, and the same global model (payload and
   commitment), or none when the quorum was missed;
4. no shard aggregator signed two different results of the round (evidence of equivocation, kept
   by judging even though the first valid result is the one judged).

Any difference is a :class:`Mismatch`; :attr:`AuditReport.ok` is true when there is none. Cheats
the protocol caught along the way (a shard excluded for a reason that is not liveness, a client
excluded or refused for what it signed) are :attr:`AuditReport.findings`: they do not make the
global models wrong, but they name who tried; :attr:`AuditReport.clean` is true when there are
neither mismatches nor findings. The audit also lists, per round, the shards whose seed reveal is
absent (:attr:`RoundAudit.absent_reveals`, with the reasons of refused reveals): withholding or
censoring a reveal biases the cohorts a little (:mod:`zkagg._protocol.seed`), so it is reported,
but like a missing shard result it is a fact of the round, not a disagreement with the coordinator
or a signed cheat, and changes neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zkagg._errors import ProtocolError, ZkaggError
from zkagg._protocol import workload
from zkagg._protocol.deployment import Deployment
from zkagg._protocol.guard import check_manifest, check_manifest_rules
from zkagg._protocol.judge import LATE_GRACE, Progress, judge_round, quiet
from zkagg._protocol.messages import GlobalResult, RoundManifest
from zkagg._protocol.reading import check_round_start, read_range
from zkagg._protocol.sharding import deployment_namespaces
from zkagg._protocol.vectors import read_vector, vector_commitment
from zkagg.da import DABackend

__all__ = ["AuditReport", "Mismatch", "RoundAudit", "audit"]


@dataclass(frozen=True)
class Mismatch:
    """One thing that did not reproduce."""

    round: int
    what: str

    def __str__(self) -> str:
        return f"round {self.round}: {self.what}"


@dataclass
class RoundAudit:
    """The audit of one round: the verdicts re-derived, and whether they match."""

    round: int
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    global_model: bool = False
    mismatches: list[Mismatch] = field(default_factory=list)
    #: Cheats the protocol caught in this round (:attr:`~zkagg._protocol.judge.RoundJudgement.findings`).
    findings: list[str] = field(default_factory=list)
    #: Shards whose seed reveal did not count this round (withheld, censored, late or off-chain).
    absent_reveals: list[int] = field(default_factory=list)
    #: Why reveals in the window were refused (``"height h: reason: detail"``).
    refused_reveals: list[str] = field(default_factory=list)


@dataclass
class AuditReport:
    """All audited rounds of a deployment."""

    deployment: Deployment
    rounds: list[RoundAudit]
    mismatches: list[Mismatch]

    @property
    def ok(self) -> bool:
        """Whether everything reproduced: the coordinator's verdicts and global models are right."""
        return not self.mismatches

    @property
    def findings(self) -> list[str]:
        """Every cheat the protocol caught, ``"round r: ..."``, naming the party that signed it."""
        return [f"round {r.round}: {f}" for r in self.rounds for f in r.findings]

    @property
    def clean(self) -> bool:
        """Whether everything reproduced and nobody was caught cheating."""
        return self.ok and not self.findings

    def to_json(self) -> dict[str, Any]:
        """A JSON-able summary."""
        return {
            "deployment": self.deployment.deployment_id.hex(),
            "ok": self.ok,
            "rounds": [
                {
                    "round": r.round,
                    "verdicts": r.verdicts,
                    "global_model": r.global_model,
                    "mismatches": [str(m) for m in r.mismatches],
                    "findings": list(r.findings),
                    "absent_reveals": r.absent_reveals,
                    "refused_reveals": r.refused_reveals,
                }
                for r in self.rounds
            ],
            "mismatches": [str(m) for m in self.mismatches],
            "findings": self.findings,
        }


@dataclass
class _Collected:
    """What the coordinator signed in the control namespace, per round, in DA order."""

    manifests: dict[int, tuple[RoundManifest, int]] = field(default_factory=dict)  # the canonical ones
    results: dict[int, list[tuple[GlobalResult, int]]] = field(default_factory=dict)
    evidence: list[Mismatch] = field(default_factory=list)


def _collect(backend: DABackend, deployment: Deployment, start: int) -> _Collected:
    control = deployment_namespaces(deployment.deployment_id, deployment.n_shards).control
    signed: dict[int, list[tuple[RoundManifest, int]]] = {}
    out = _Collected()
    head = backend.local_head().height
    for posted in read_range(backend, [control], start, head, verify_commitments=True):
        m = posted.message
        if isinstance(m, RoundManifest) and m.deployment == deployment.deployment_id:
            try:
                m.verify_signature(deployment.coordinator_key)
            except ProtocolError:
                continue
            signed.setdefault(m.round, []).append((m, posted.height))
        elif isinstance(m, GlobalResult) and m.deployment == deployment.deployment_id:
            try:
                m.verify_signature(deployment.coordinator_key)
            except ProtocolError:
                continue
            out.results.setdefault(m.round, []).append((m, posted.height))
    for r, candidates in sorted(signed.items()):
        _canonical_manifest(backend, deployment, r, candidates, out)
    return out


def _canonical_manifest(
    backend: DABackend,
    deployment: Deployment,
    r: int,
    candidates: list[tuple[RoundManifest, int]],
    out: _Collected,
) -> None:
    """Pick round ``r``'s canonical manifest as every party does; keep the rest as evidence.

    The canonical manifest is the first in DA order that any party may follow
    (:func:`~zkagg._protocol.reading.find_manifest`'s checks). A manifest whose seed height was
    already reached when it landed is followed by nobody and is harmless (an honest coordinator
    posts again when the chain outran it). Any other manifest the coordinator signed is evidence:
    one that breaks the deployment's rules, or a second followable one (equivocation).
    """
    canonical: tuple[RoundManifest, int] | None = None
    for m, height in candidates:
        try:
            check_manifest(m, height=height, coordinator_key=deployment.coordinator_key)
        except ProtocolError:
            continue  # its seed height was known when it landed: nobody follows it
        try:
            check_manifest_rules(m, deployment)
            check_round_start(backend, deployment, m)
        except ZkaggError as exc:
            out.evidence.append(
                Mismatch(
                    r,
                    f"the coordinator signed a manifest at height {height} that breaks the deployment: {exc}",
                )
            )
            continue
        if canonical is None:
            canonical = (m, height)
        elif m.message_id() != canonical[0].message_id():
            out.evidence.append(
                Mismatch(
                    r,
                    f"coordinator equivocation: manifests of round {r} at heights {canonical[1]} and {height} "
                    f"both follow the deployment's rules (the first is canonical)",
                )
            )
    if canonical is not None:
        out.manifests[r] = canonical


def audit(
    backend: DABackend,
    deployment: Deployment,
    *,
    rounds: list[int] | None = None,
    start: int = 1,
    home: str | None = None,
    progress: Progress = quiet,
) -> AuditReport:
    """Audit ``rounds`` (default: every round with a manifest) of ``deployment`` on ``backend``.

    ``start`` is the first DA height read (the deployment's first manifest must be at or above it).
    """
    try:
        collected = _collect(backend, deployment, start)
    except ZkaggError as exc:
        report = AuditReport(
            deployment, [], [Mismatch(0, f"the control namespace does not read back: {exc}")]
        )
        return report
    manifests, results = collected.manifests, collected.results
    # Every round the coordinator signed something for, a global result without a followable
    # manifest included. Round numbers come from signed but untrusted messages: only rounds that
    # appear are visited (those below the last for the chain of global models), never a range.
    found = set(manifests) | set(results) | {e.round for e in collected.evidence}
    wanted = sorted(found) if rounds is None else sorted(rounds)
    last = max(wanted, default=0)
    qspec = workload.quality_spec(deployment) if deployment.quality else None
    audits: list[RoundAudit] = []
    all_mismatches: list[Mismatch] = []
    previous_global: GlobalResult | None = None
    for r in sorted(set(wanted) | {m for m in manifests if m < last}):
        ra = RoundAudit(r)
        if r in wanted:
            ra.mismatches.extend(e for e in collected.evidence if e.round == r)
        if r not in manifests:
            if r in wanted:
                ra.mismatches.append(Mismatch(r, "no manifest that any party may follow"))
            audits.append(ra)
            all_mismatches.extend(ra.mismatches)
            continue
        manifest, _ = manifests[r]
        posted = results.get(r, [])
        if r not in wanted:  # only needed for the chain of global models
            if posted and posted[0][0].global_model is not None:
                previous_global = posted[0][0]
            continue
        progress(f"auditing round {r}")
        _audit_round(backend, deployment, manifest, posted, previous_global, qspec, home, progress, ra)
        if posted and posted[0][0].global_model is not None:
            previous_global = posted[0][0]
        audits.append(ra)
        all_mismatches.extend(ra.mismatches)
    return AuditReport(deployment, [a for a in audits if a.round in wanted], all_mismatches)


def _audit_round(
    backend: DABackend,
    deployment: Deployment,
    manifest: RoundManifest,
    posted: list[tuple[GlobalResult, int]],
    previous_global: GlobalResult | None,
    qspec: workload.QualitySpec | None,
    home: str | None,
    progress: Progress,
    ra: RoundAudit,
) -> None:
    r = manifest.round

    def miss(what: str) -> None:
        ra.mismatches.append(Mismatch(r, what))

    if previous_global is not None and (
        manifest.global_model != previous_global.global_model
        or manifest.global_model_commitment != previous_global.global_model_commitment
    ):
        miss("the manifest does not start from the last composed global model")
    try:
        if manifest.global_model is None:
            raise ProtocolError("the manifest names no global model")
        g = read_vector(
            backend, manifest.global_model, workload.n_params(deployment), deployment.scale, "global model"
        )
        if vector_commitment(deployment, g).to_bytes() != manifest.global_model_commitment:
            miss("the manifest's global model does not match its commitment")
    except ZkaggError as exc:
        miss(f"the manifest's global model cannot be read: {exc}")
        return
    if not posted:
        miss(f"no global result signed by the coordinator after height {manifest.results_by + LATE_GRACE}")
        return
    if len(posted) > 1:
        miss(f"{len(posted)} global results were posted (at heights {[h for _, h in posted]})")
    result, height = posted[0]
    if height <= manifest.results_by:
        miss(f"the global result was posted at height {height}, before results_by {manifest.results_by}")
    try:
        judgement = judge_round(
            backend,
            deployment,
            manifest,
            quality_spec=qspec,
            verify_commitments=True,
            home=home,
            progress=progress,
        )
    except ZkaggError as exc:
        miss(f"the round cannot be re-judged from the DA layer: {exc}")
        return
    ra.verdicts = [
        {"shard": v.shard, "reason": v.reason.value, "detail": v.detail} for v in judgement.verdicts
    ]
    ra.findings = list(judgement.findings)
    if judgement.seed is not None:
        ra.absent_reveals = judgement.seed.absent
        ra.refused_reveals = list(judgement.seed.refused)
    for line in judgement.evidence:
        miss(f"evidence: {line}")
    posted_verdicts = {v.shard: v for v in result.verdicts}
    for v in judgement.verdicts:
        got = posted_verdicts.get(v.shard)
        if got is None:
            miss(f"the global result has no verdict for shard {v.shard}")
        elif got.reason is not v.reason:
            miss(
                f"shard {v.shard}: the coordinator says {got.reason.value}, the audit finds {v.reason.value}"
            )
        elif v.accepted and got.result != v.result:
            miss(f"shard {v.shard}: the coordinator accepted another result blob than the audit")
    if judgement.next_global is None:
        if result.global_model is not None:
            miss("the coordinator published a global model although the audit finds no quorum")
        return
    if result.global_model is None:
        miss("the coordinator published no global model although the audit finds a quorum")
        return
    try:
        posted_q = read_vector(backend, result.global_model, int(g.size), deployment.scale, "global model")
    except ZkaggError as exc:
        miss(f"the published global model cannot be read: {exc}")
        return
    if not np.array_equal(posted_q, judgement.next_global):
        miss("the published global model differs from the one the audit composes")
    elif vector_commitment(deployment, posted_q).to_bytes() != result.global_model_commitment:
        miss("the published global model does not match its commitment")
    else:
        ra.global_model = True
