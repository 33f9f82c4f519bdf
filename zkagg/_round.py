r"""The three roles of a round on the DA layer: client, shard aggregator, coordinator (DESIGN.md §1).

Every role reads and writes only through a :class:`~zkagg.da.DABackend`, so the same code runs in
one process (``zkagg run``), in several processes on one machine, or against a real celestia-node.

Models and updates are integer vectors at the deployment's scale ``s`` (a value ``v`` stands for
``v / 2**s``). Round ``r`` starts from the global model ``g`` named by its manifest:

* **client** ``i``: trains from ``g / 2**s`` on its data, quantizes the difference to ``q_i``,
  commits to it (:func:`~zkagg.commit_update`), seals ``q_i`` to its shard's aggregator and posts a
  signed :class:`~zkagg._messages.ClientUpdate` into its shard's namespace;
* **shard** ``k``: after ``updates_by`` reads its namespace through a
  :class:`~zkagg._guard.MessageGuard`, opens each accepted update and checks it against its
  commitment, aggregates the cohort with the deployment's rule (:func:`~zkagg.aggregate_shard`:
  exact sums for FedAvg, EZKL proofs otherwise), proves the quality of its shard model
  ``g + u_k`` (:func:`zkagg._quality.prove_quality`), where ``u_k`` is the aggregate rounded to
  integers (:func:`shard_update`), and posts a signed :class:`~zkagg._messages.ShardResult`;
* **coordinator**: after ``results_by`` + :data:`LATE_GRACE` judges every shard
  (:func:`judge_round`) and, with quorum, composes the next global model
  (:func:`compose_global`) and posts it with a signed :class:`~zkagg._messages.GlobalResult`.

Client norm bounds (opt-in: ``Deployment.client_norm_bound`` ``C``). A client proves
``||q_i / 2**s||_2 <= C`` for exactly the vector behind its posted commitment
(:func:`~zkagg.prove_norm`: per group of chunks an exact sum of squares, whose committed inputs
are the client's chunk commitments) and carries the proof in its ClientUpdate's ``proofs`` field
(why there: :class:`~zkagg._messages.ClientUpdate`). An honest client whose trained update is
longer than ``C`` first scales it down to fit (norm clipping as in DP-FedAvg, McMahan et al.,
ICLR 2018), so it can always prove. The shard aggregator checks every update's proof
(:func:`verify_client_norm`) after its commitment, and leaves out, with a reason in its
:class:`ShardReport`, a client with none or an invalid one; judging re-checks the proof of every
client a shard included and excludes the shard as ``bad-norm-proof`` when one fails, so the
auditor, which runs the same judging on the DA layer's blobs, does too. The proof is verified
under the circuit the verifier builds from the deployment (the proof names only which of the two
sound range-check methods it used, and must use that method's fixed chunks per proof), so a
client cannot make the verifiers compile circuits of its choosing.

Rounding is exact and documented: ``round_div(a, b)`` is the integer nearest to ``a / b``, ties away
from zero. A shard's integer update is ``u_k = round_div(A_k, d_k)`` for its exact integer
aggregate ``A_k`` and the rule's divisor ``d_k`` (FedAvg: ``A_k = sum n_i q_i``, ``d_k = sum n_i``;
median: ``d_k = 1``; trimmed mean: ``d_k = N - 2b``). The global update is
``round_div(sum_k A_k, sum_k d_k)`` for FedAvg (exactly FedAvg over every accepted client, checked
homomorphically against all their commitments with :func:`~zkagg.verify_shard` of
:func:`~zkagg.combine_shards`), and ``round_div(sum_k W_k u_k, sum_k W_k)`` for the other rules,
``W_k`` being the shard's total sample count.

Judging is a pure function of what is on the DA layer (the manifest, the blobs in the round's
windows, the global model payload), so the auditor (:mod:`zkagg._audit`) re-derives every verdict
with the same code.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt

from zkagg._commit import UpdateCommitment, chunk_messages, commit_chunk, commit_update
from zkagg._deployment import Deployment
from zkagg._errors import (
    DAError,
    InvalidArgument,
    ProtocolError,
    ZkaggError,
)
from zkagg._field import FIELD_MODULUS, dequantize, felt_to_signed, quantize
from zkagg._guard import MessageGuard, check_manifest
from zkagg._keys import Identity, client_id_for
from zkagg._messages import (
    PPM,
    BlobRef,
    CircuitRef,
    ClientUpdate,
    GlobalResult,
    IncludedUpdate,
    RoundManifest,
    ShardResult,
    ShardVerdict,
    VerdictReason,
    decode_message,
)
from zkagg._norm import NormProof, chunks_per_proof, prove_norm, verify_norm
from zkagg._shard import ShardAggregate, aggregate_shard, combine_shards, verify_shard
from zkagg._sharding import assign_shard, deployment_namespaces, fetch_seed, has_quorum
from zkagg._wire import Reader, Writer
from zkagg.da import Blob, DABackend, Namespace, PayloadRef, read_payload, write_payload

__all__ = [
    "LATE_GRACE",
    "NORM_EVASIONS",
    "ClientParty",
    "Coordinator",
    "RoundJudgement",
    "ShardAggregator",
    "clip_to_norm",
    "decode_vector",
    "encode_vector",
    "find_manifest",
    "judge_round",
    "round_div",
    "shard_update",
    "verify_client_norm",
]

#: Blocks after ``results_by`` the coordinator waits before judging: results posted in them are
#: judged ``late`` rather than ``missing``. Part of the protocol, so the auditor reads the same range.
LATE_GRACE: Final = 4
#: Aggregates larger than this travel as a payload (:func:`zkagg.da.write_payload`), not inline.
INLINE_AGGREGATE_BYTES: Final = 512 * 1024
_VECTOR_TYPE: Final = 16
_QUALITY_CIRCUIT: Final = "quality"

IntVector = npt.NDArray[np.int64]
_OwnT = TypeVar("_OwnT", RoundManifest, GlobalResult)
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# -- integer vectors ------------------------------------------------------------------------------


def encode_vector(values: npt.ArrayLike, scale: int) -> bytes:
    """``ZKAG`` header (type 16, version 1), scale (u8), count (u32), then int64 big-endian values."""
    q = np.asarray(values)
    if q.ndim != 1 or q.dtype.kind not in "iu":
        raise InvalidArgument(f"values must be a 1-D integer array, not {q.dtype} {q.shape}")
    w = Writer(_VECTOR_TYPE, 1)
    w.u8("scale", scale)
    w.u32("count", q.size)
    return w.getvalue() + q.astype(">i8").tobytes()


def decode_vector(data: bytes, *, what: str = "vector") -> tuple[IntVector, int]:
    """Decode :func:`encode_vector`; returns ``(values, scale)`` or raises :class:`~zkagg.ProtocolError`."""
    r = Reader(data, what)
    r.header(_VECTOR_TYPE, (1,))
    scale = r.u8("scale")
    count = r.u32("count")
    body = data[r.offset :]
    if len(body) != 8 * count:
        raise ProtocolError(f"{what}: {count} values need {8 * count} bytes, not {len(body)}")
    return np.frombuffer(body, dtype=">i8").astype(np.int64), scale


def round_div(a: Sequence[int] | IntVector, b: int) -> IntVector:
    """Per value, the integer nearest to ``a / b`` (``b > 0``), ties away from zero; exact."""
    if b < 1:
        raise InvalidArgument(f"divisor must be positive, not {b}")
    out = []
    for v in (int(x) for x in a):
        m = (2 * abs(v) + b) // (2 * b)
        out.append(m if v >= 0 else -m)
    return np.asarray(out, dtype=np.int64)


def clip_to_norm(q: IntVector, bound: float, scale: int) -> IntVector:
    """``q`` scaled down (each value truncated toward zero) so that ``||q / 2**scale||_2 <= bound``.

    Returned unchanged (the same object) when it already fits. The check is exact (integers against
    a rational), so what comes back can always be proven with :func:`~zkagg.prove_norm` at that bound.
    """
    limit = (Fraction(bound) * 2**scale) ** 2
    norm2 = int((q.astype(object) ** 2).sum())
    if norm2 <= limit:
        return q
    factor = float(bound) * 2**scale / math.sqrt(norm2)
    while True:
        factor *= 1 - 1e-9
        clipped: IntVector = np.trunc(q.astype(np.float64) * factor).astype(np.int64)
        if int((clipped.astype(object) ** 2).sum()) <= limit:
            return clipped


def verify_client_norm(deployment: Deployment, update: ClientUpdate) -> None:
    """Check that a client update carries a valid norm proof for its own commitment. ``None`` or raises.

    The bound is the deployment's ``client_norm_bound``; the proof must group as many chunks per
    proof as the deployment's domain fixes for its range-check method
    (:func:`~zkagg._norm.chunks_per_proof`), so that verifiers only ever build those two circuits.

    Raises
    ------
    InvalidArgument
        The deployment sets no ``client_norm_bound``.
    ProtocolError
        The update carries no proof, its proof or commitment does not decode, or the proof groups
        another number of chunks than the deployment fixes.
    InvalidProof, CommitmentMismatch
        A proof does not verify, is bound to other commitments than the update's, or shows a norm
        above the bound (:func:`~zkagg.verify_norm`).
    """
    bound = deployment.client_norm_bound
    if bound is None:
        raise InvalidArgument(f"deployment {deployment.name!r} sets no client_norm_bound: nothing to verify")
    who = f"update of client {update.client_id.hex()}"
    if update.proofs is None:
        raise ProtocolError(f"{who} carries no norm proof, but the deployment bounds updates to {bound:g}")
    proof = NormProof.from_bytes(update.proofs)
    commitment = UpdateCommitment.from_bytes(update.commitments)
    domain = deployment.spec().domain()
    fixed = chunks_per_proof(domain, method=proof.method)
    if proof.chunks_per_proof != fixed:
        raise ProtocolError(
            f"{who}: its norm proof must group {fixed} chunks per proof with method {proof.method!r}, "
            f"not {proof.chunks_per_proof}"
        )
    verify_norm(domain, commitment, proof, l2_bound=bound)


def vector_commitment(deployment: Deployment, q: IntVector) -> UpdateCommitment:
    """The commitment of an integer vector in the deployment's domain (one point per chunk)."""
    domain = deployment.spec().domain()
    points = tuple(commit_chunk(domain, m) for m in chunk_messages(domain, q, None))
    return UpdateCommitment(domain, int(q.size), points)


# -- what a shard's aggregate means ----------------------------------------------------------------


def aggregate_ints(agg: ShardAggregate) -> tuple[list[int], int]:
    """The exact integer aggregate of a (verified) shard aggregate and its divisor."""
    from zkagg._robust import SPEC_RULES, aggregate_to_int, rule_divisor

    spec = agg.spec
    if spec.rule == "fedavg":
        flat = [felt_to_signed(v) for chunk in agg.sums for v in chunk[: spec.chunk_size]]
        return flat[: agg.length], agg.total_weight
    divisor = rule_divisor(SPEC_RULES[spec.rule], agg.n_clients, agg.weights, spec.beta)
    return aggregate_to_int(agg.aggregate, divisor, spec.scale, agg.length), divisor


def shard_update(agg: ShardAggregate) -> IntVector:
    """The shard's integer model update ``round_div(A, d)`` (see the module docstring)."""
    ints, divisor = aggregate_ints(agg)
    return round_div(ints, divisor)


def compose_global(
    deployment: Deployment,
    global_q: IntVector,
    accepted: Sequence[tuple[ShardAggregate, Sequence[UpdateCommitment]]],
) -> IntVector:
    """The next global model from the accepted shards (module docstring); FedAvg checked homomorphically.

    Raises
    ------
    InvalidArgument
        No accepted shard.
    InvalidProof, CommitmentMismatch
        FedAvg: the composed sums do not open the combination of every accepted client commitment.
    """
    if not accepted:
        raise InvalidArgument("accepted must hold at least one shard aggregate")
    spec = deployment.spec()
    if spec.rule == "fedavg":
        combined = combine_shards([a for a, _ in accepted])
        commitments = [c for _, cs in accepted for c in cs]
        verify_shard(spec, commitments, list(combined.weights), combined)
        ints, divisor = aggregate_ints(combined)
        return global_q + round_div(ints, divisor)
    total = [0] * int(global_q.size)
    weight = 0
    for agg, _ in accepted:
        w = agg.total_weight
        weight += w
        for j, v in enumerate(shard_update(agg).tolist()):
            total[j] += w * v
    return global_q + round_div(total, weight)


# -- reading the DA layer --------------------------------------------------------------------------


@dataclass(frozen=True)
class Posted:
    """A blob read from the DA layer with its decoded message (``None`` for foreign blobs)."""

    height: int
    namespace: Namespace
    blob: Blob
    message: Any


def _check_blob(blob: Blob, verify_commitments: bool) -> None:
    if verify_commitments:
        recomputed = Blob.new(blob.namespace, blob.data, blob.share_version, blob.signer).commitment
        if recomputed != blob.commitment:
            raise ProtocolError(
                f"the DA node returned a blob in namespace {blob.namespace.hex()} whose data does not "
                f"match its commitment {blob.commitment.hex()} (recomputed {recomputed.hex()})"
            )


def read_range(
    backend: DABackend,
    namespaces: Sequence[Namespace],
    first: int,
    last: int,
    *,
    verify_commitments: bool = False,
) -> Iterator[Posted]:
    """Every blob of ``namespaces`` at heights ``first..last`` in DA order, decoded where it is ours.

    With ``verify_commitments`` each blob's commitment is recomputed from its data (a DA node that
    alters data is caught: :class:`~zkagg.ProtocolError`).
    """
    for height in range(max(1, first), last + 1):
        for blob in backend.get_all(height, list(namespaces)):
            _check_blob(blob, verify_commitments)
            try:
                message = decode_message(blob.data)
            except ProtocolError:
                message = None
            yield Posted(height, blob.namespace, blob, message)


def _read_vector(backend: DABackend, ref: PayloadRef, expected_len: int, scale: int, what: str) -> IntVector:
    data = read_payload(backend, ref)
    q, s = decode_vector(data, what=what)
    if q.size != expected_len or s != scale:
        raise ProtocolError(f"{what} must hold {expected_len} values at scale {scale}, not {q.size} at {s}")
    return q


def find_manifest(
    backend: DABackend,
    deployment: Deployment,
    round_: int,
    *,
    start: int = 1,
    timeout: float = 600.0,
    poll: float = 0.05,
) -> tuple[RoundManifest, int]:
    """Wait for the coordinator's manifest of ``round_`` in the control namespace; return it and its height.

    Scans heights from ``start`` as they appear. Foreign blobs and manifests that fail
    :func:`~zkagg._guard.check_manifest` are skipped.

    Raises
    ------
    DAError
        No such manifest within ``timeout`` seconds.
    """
    control = deployment_namespaces(deployment.deployment_id, deployment.n_shards).control
    deadline = time.monotonic() + timeout
    height = max(1, start)
    while True:
        head = backend.local_head().height
        while height <= head:
            for posted in read_range(backend, [control], height, height):
                m = posted.message
                if isinstance(m, RoundManifest) and m.round == round_:
                    try:
                        check_manifest(
                            m,
                            height=posted.height,
                            coordinator_key=deployment.coordinator_key,
                            deployment=deployment.deployment_id,
                            round=round_,
                        )
                    except ProtocolError:
                        continue
                    return m, posted.height
            height += 1
        if time.monotonic() > deadline:
            raise DAError(f"no manifest of round {round_} appeared by height {head} within {timeout:g} s")
        time.sleep(poll)


def wait_height(
    backend: DABackend, height: int, advance: Callable[[int], None] | None, timeout: float
) -> None:
    """Make sure the chain has reached ``height``: ``advance`` it (instant chains) or wait for it."""
    if advance is not None:
        advance(height)
    backend.wait_for_height(height, timeout=timeout)


# -- client ----------------------------------------------------------------------------------------


CLIENT_ATTACKS: Final = ("sign-flip", "scaled")
#: What a Byzantine client does when its attacked update exceeds the deployment's norm bound and no
#: valid proof exists: ``forge`` posts a (valid) norm proof of its clipped honest update, which is
#: bound to other commitments than the ones it posts; ``omit`` posts no proof.
NORM_EVASIONS: Final = ("forge", "omit")
SHARD_ATTACKS: Final = ("tamper-aggregate", "replay", "withhold", "include-unproven")


@dataclass(frozen=True)
class ClientReport:
    """What one client did in a round."""

    index: int
    shard: int
    height: int
    bytes_posted: int
    seconds: float
    norm_seconds: float = 0.0
    clipped: bool = False


class ClientParty:
    """Client ``index`` of a deployment: trains, commits, seals and posts its update each round.

    Parameters
    ----------
    deployment, index, identity
        The deployment, the client's index in it (its data part) and its keys.
    backend
        The DA layer.
    x, y
        The client's training data (features ``[n, 64]`` and labels).
    attack, attack_scale
        A Byzantine client's attack: ``sign-flip`` posts ``-attack_scale`` times its honest update,
        ``scaled`` ``+attack_scale`` times (Fang et al., USENIX Security 2020).
    norm_evasion
        With a deployment norm bound: what a Byzantine client whose attacked update exceeds the
        bound posts instead of a proof it cannot make (:data:`NORM_EVASIONS`). An attacked update
        within the bound is proven like an honest one.
    """

    def __init__(
        self,
        deployment: Deployment,
        index: int,
        identity: Identity,
        backend: DABackend,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        *,
        attack: str | None = None,
        attack_scale: float = 10.0,
        norm_evasion: str = "forge",
        timeout: float = 600.0,
    ) -> None:
        if identity.signing.public_key != deployment.client_keys[index]:
            raise InvalidArgument(f"identity is not client {index}'s key in this deployment")
        if attack is not None and attack not in CLIENT_ATTACKS:
            raise InvalidArgument(
                f"attack must be one of {', '.join(CLIENT_ATTACKS)} or None, not {attack!r}"
            )
        if norm_evasion not in NORM_EVASIONS:
            raise InvalidArgument(
                f"norm_evasion must be one of {', '.join(NORM_EVASIONS)}, not {norm_evasion!r}"
            )
        self.deployment = deployment
        self.index = index
        self.identity = identity
        self.backend = backend
        self.x = np.asarray(x, dtype=np.float32)
        self.y = np.asarray(y, dtype=np.int64)
        self.attack = attack
        self.attack_scale = float(attack_scale)
        self.norm_evasion = norm_evasion
        self.timeout = timeout
        self.client_id = client_id_for(identity.signing.public_key)
        self._model_cache: dict[PayloadRef, IntVector] = {}

    def global_model(self, manifest: RoundManifest) -> IntVector:
        """The round's global model, read from its payload (cached per reference)."""
        ref = manifest.global_model
        if ref is None:
            raise ProtocolError(f"the manifest of round {manifest.round} names no global model")
        if ref not in self._model_cache:
            from zkagg._fl_model import param_count

            self._model_cache = {
                ref: _read_vector(
                    self.backend,
                    ref,
                    param_count(self.deployment.hidden),
                    self.deployment.scale,
                    "global model",
                )
            }
        return self._model_cache[ref]

    def run_round(self, manifest: RoundManifest) -> ClientReport:
        """Train, commit and post this round's update (after the seed height exists)."""
        from zkagg._fl_model import TrainConfig, local_train, torch_threads

        t0 = time.perf_counter()
        dep = self.deployment
        seed = fetch_seed(self.backend, manifest, self.timeout)
        shard = assign_shard(seed, dep.deployment_id, manifest.round, self.client_id, dep.n_shards)
        g = self.global_model(manifest)
        train_seed = int.from_bytes(
            hashlib.sha256(struct.pack(">QQI", dep.data_seed, manifest.round, self.index)).digest()[:4], "big"
        )
        with torch_threads(1):
            local = local_train(
                dequantize(g, dep.scale),
                self.x,
                self.y,
                hidden=dep.hidden,
                config=TrainConfig(epochs=dep.epochs, lr=dep.lr),
                seed=train_seed,
            )
        honest = np.asarray(local.delta, dtype=np.float64)
        delta = honest
        if self.attack == "sign-flip":
            delta = -self.attack_scale * honest
        elif self.attack == "scaled":
            delta = self.attack_scale * honest
        q = quantize(delta, dep.scale)
        bound = dep.client_norm_bound
        clipped = False
        if bound is not None and self.attack is None:
            fitted = clip_to_norm(q, bound, dep.scale)
            clipped = fitted is not q
            q = fitted
        commitment = commit_update(dep.spec(), dequantize(q, dep.scale))
        t_norm = time.perf_counter()
        proofs = None if bound is None else self._norm_proof(q, honest, bound)
        norm_seconds = time.perf_counter() - t_norm if bound is not None else 0.0
        update = ClientUpdate.create(
            manifest,
            shard=shard,
            key=self.identity.signing,
            update=encode_vector(q, dep.scale),
            commitments=commitment.to_bytes(),
            sample_count=local.n_samples,
            proofs=proofs,
        )
        data = update.to_bytes()
        ns = deployment_namespaces(dep.deployment_id, dep.n_shards).shard(shard)
        height = self.backend.submit([Blob.new(ns, data)])
        return ClientReport(
            self.index, shard, height, len(data), time.perf_counter() - t0, norm_seconds, clipped
        )

    def _norm_proof(self, q: IntVector, honest: npt.NDArray[np.float64], bound: float) -> bytes | None:
        """The encoded norm proof of ``q`` (what this client committed to), or what a Byzantine one posts."""
        dep = self.deployment
        domain = dep.spec().domain()
        if clip_to_norm(q, bound, dep.scale) is q:  # within the bound: provable (every honest client)
            return prove_norm(domain, dequantize(q, dep.scale), l2_bound=bound).to_bytes()
        if self.norm_evasion == "omit":
            return None
        decoy = clip_to_norm(quantize(honest, dep.scale), bound, dep.scale)
        return prove_norm(domain, dequantize(decoy, dep.scale), l2_bound=bound).to_bytes()


# -- shard aggregator --------------------------------------------------------------------------------


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


def _quality_spec(deployment: Deployment) -> Any:
    from zkagg._fl_data import load_digits_task
    from zkagg._quality import QualitySpec

    data = load_digits_task(seed=deployment.data_seed, probe_size=deployment.probe_size)
    return QualitySpec.for_digits(
        data,
        hidden=deployment.hidden,
        scale=deployment.scale,
        logrows=deployment.logrows,
        chunk_size=deployment.chunk_size,
        # 2 advice columns: measured 1.7x less prove CPU than 4 for the default 16 probe samples
        # (24,163 rows, logrows 15); larger probe sets spill into more columns by themselves.
        num_inner_cols=2,
    )


class ShardAggregator:
    """The aggregator of shard ``index``: collects, checks, aggregates, proves and posts its result.

    ``attack`` makes it Byzantine (for fault tests and ``zkagg run``): ``tamper-aggregate`` changes
    one value of its aggregate after proving; ``replay`` re-posts its previous round's result (in its
    first round it behaves honestly); ``withhold`` posts a result whose aggregate payload it never
    makes available; ``include-unproven`` skips the norm-proof check and includes every update that
    matches its commitment (in a deployment with ``client_norm_bound``).
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
        self._qspec: Any = None

    def quality_spec(self) -> Any:
        """The deployment's quality spec (built once)."""
        if self._qspec is None:
            self._qspec = _quality_spec(self.deployment)
        return self._qspec

    def run_round(self, manifest: RoundManifest) -> ShardReport:
        """Aggregate this shard's cohort once ``updates_by`` is final and post the result."""
        from zkagg._quality import prove_quality

        t0 = time.perf_counter()
        dep = self.deployment
        ns = deployment_namespaces(dep.deployment_id, dep.n_shards)
        seed = fetch_seed(self.backend, manifest, self.timeout)
        self.backend.wait_for_height(manifest.updates_by, timeout=self.timeout)
        guard = MessageGuard(manifest, seed, client_registry=dep.client_registry)
        assert self.identity.encryption is not None
        from zkagg._fl_model import param_count

        n_params = param_count(dep.hidden)
        included: list[IncludedUpdate] = []
        updates: list[IntVector] = []
        weights: list[int] = []
        rejected: list[str] = []
        norm_rejected: list[str] = []
        check_norms = dep.client_norm_bound is not None and self.attack != "include-unproven"
        spec = dep.spec()
        for posted in read_range(
            self.backend, [ns.shard(self.index)], manifest.seed_height + 1, manifest.updates_by
        ):
            u = posted.message
            if not isinstance(u, ClientUpdate):
                continue
            try:
                guard.check_client_update(
                    u,
                    height=posted.height,
                    namespace=posted.namespace,
                    blob_commitment=posted.blob.commitment,
                )
                q, scale = decode_vector(u.decrypt(self.identity.encryption), what="client update")
                if scale != dep.scale or q.size != n_params:
                    raise ProtocolError(
                        f"client update must hold {n_params} values at scale {dep.scale}, "
                        f"not {q.size} at scale {scale}"
                    )
                claimed = UpdateCommitment.from_bytes(u.commitments)
                spec.domain().require_same(claimed.domain, "the client's commitment")
                if claimed != commit_update(spec, dequantize(q, dep.scale)):
                    raise ProtocolError(f"update of client {u.client_id.hex()} does not match its commitment")
            except ZkaggError as exc:
                rejected.append(f"client {u.client_id.hex()} at height {posted.height}: {exc}")
                continue
            if check_norms:
                try:
                    verify_client_norm(dep, u)
                except ZkaggError as exc:
                    rejected.append(
                        f"client {u.client_id.hex()} at height {posted.height}: no valid norm proof: {exc}"
                    )
                    norm_rejected.append(u.client_id.hex())
                    continue
            included.append(IncludedUpdate(u.client_id, posted.height, posted.blob.commitment))
            updates.append(q)
            weights.append(u.sample_count)
        if self.attack == "replay" and self._last_result is not None:
            data = self._last_result
            height = self.backend.submit([Blob.new(ns.control, data)])
            return ShardReport(
                self.index,
                0,
                tuple(rejected),
                height,
                len(data),
                0.0,
                time.perf_counter() - t0,
                self.attack,
                tuple(norm_rejected),
            )
        if not updates:
            return ShardReport(
                self.index,
                0,
                tuple(rejected),
                None,
                0,
                0.0,
                time.perf_counter() - t0,
                self.attack,
                tuple(norm_rejected),
            )
        t_prove = time.perf_counter()
        try:
            agg = aggregate_shard(spec, [dequantize(q, dep.scale) for q in updates], weights=weights)
            quality = b""
            if dep.quality:
                global_q = _read_vector(
                    self.backend, _global_ref(manifest), n_params, dep.scale, "global model"
                )
                model = global_q + shard_update(agg)
                quality = prove_quality(
                    dequantize(model, dep.scale), self.quality_spec(), home=self.home
                ).to_wire()
        except ZkaggError as exc:  # nothing to post: the coordinator will record the shard as missing
            return ShardReport(
                self.index,
                0,
                (*rejected, f"aggregation failed: {exc}"),
                None,
                0,
                time.perf_counter() - t_prove,
                time.perf_counter() - t0,
                self.attack,
                tuple(norm_rejected),
            )
        prove_seconds = time.perf_counter() - t_prove
        if self.attack == "tamper-aggregate":
            agg = _tamper(agg)
        encoded = agg.to_bytes()
        aggregate: bytes | PayloadRef
        if self.attack == "withhold":
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
            included=tuple(included),
            aggregate=aggregate,
            quality_proof=quality,
            aggregator_key=self.identity.signing.public_key,
        ).sign(self.identity.signing)
        data = result.to_bytes()
        height = self.backend.submit([Blob.new(ns.control, data)])
        self._last_result = data
        size = len(data) + (
            len(encoded) if isinstance(aggregate, PayloadRef) and self.attack != "withhold" else 0
        )
        return ShardReport(
            self.index,
            len(included),
            tuple(rejected),
            height,
            size,
            prove_seconds,
            time.perf_counter() - t0,
            self.attack,
            tuple(norm_rejected),
        )


def _global_ref(manifest: RoundManifest) -> PayloadRef:
    if manifest.global_model is None:
        raise ProtocolError(f"the manifest of round {manifest.round} names no global model")
    return manifest.global_model


def _tamper(agg: ShardAggregate) -> ShardAggregate:
    """One aggregate value changed by one quantum, consistently (the encoding stays well formed)."""
    import dataclasses

    if agg.spec.rule == "fedavg":
        sums = [list(c) for c in agg.sums]
        sums[0][0] = (sums[0][0] + agg.total_weight) % FIELD_MODULUS
        tampered = dataclasses.replace(agg, sums=tuple(tuple(c) for c in sums))
        return ShardAggregate.from_bytes(tampered.to_bytes())  # recomputes the float aggregate
    values = np.array(agg.aggregate, dtype=np.float64)
    values[0] += 2.0**-agg.spec.scale
    return dataclasses.replace(agg, aggregate=values)


# -- judging ---------------------------------------------------------------------------------------


@dataclass
class ShardJudgement:
    """The verdict on one shard and, when accepted, what enters the global model."""

    verdict: ShardVerdict
    aggregate: ShardAggregate | None = None
    commitments: tuple[UpdateCommitment, ...] = ()
    quality_accuracy: float | None = None
    n_clients: int = 0


@dataclass
class RoundJudgement:
    """Everything :func:`judge_round` derived for a round."""

    manifest: RoundManifest
    global_q: IntVector
    shards: list[ShardJudgement]
    next_global: IntVector | None
    verify_seconds: float
    client_updates: int
    threshold: float

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
    quality_spec: Any = None,
    verify_commitments: bool = False,
    timeout: float = 600.0,
    home: str | None = None,
    progress: Progress = _quiet,
) -> RoundJudgement:
    """Judge every shard of a closed round from the DA layer alone, and compose the next global model.

    Reads the client updates in ``(seed_height, updates_by]`` (every shard namespace) and the shard
    results in ``(updates_by, results_by + LATE_GRACE]`` (control namespace) in DA order through one
    :class:`~zkagg._guard.MessageGuard`; a shard's verdict is its first result that passes the guard
    (then its aggregate must be available and decode, verify against the included clients'
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
    seed = fetch_seed(backend, manifest, timeout)
    from zkagg._fl_model import param_count

    global_q = _read_vector(
        backend, _global_ref(manifest), param_count(dep.hidden), dep.scale, "global model"
    )
    guard = MessageGuard(manifest, seed, client_registry=dep.client_registry)
    by_blob: dict[bytes, ClientUpdate] = {}
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
        try:
            guard.check_client_update(
                u, height=posted.height, namespace=posted.namespace, blob_commitment=posted.blob.commitment
            )
        except ProtocolError:
            continue
        by_blob[posted.blob.commitment] = u
    threshold = manifest.quality_threshold_ppm / PPM
    if dep.quality and quality_spec is None:
        quality_spec = _quality_spec(dep)
    final: dict[int, ShardJudgement] = {}
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
        if not isinstance(res, ShardResult) or not 0 <= res.shard < dep.n_shards or res.shard in final:
            continue
        ref = BlobRef(posted.height, posted.blob.commitment)
        reason, detail = guard.judge_shard_result(
            res, height=posted.height, namespace=posted.namespace, blob_commitment=posted.blob.commitment
        )
        if reason is not VerdictReason.ACCEPTED:
            rejection = ShardJudgement(ShardVerdict(res.shard, reason, detail[:1000], ref))
            signed = res.aggregator_key == manifest.shard_keys[res.shard].signing_key
            if reason is VerdictReason.BAD_SIGNATURE or not signed:
                other_rejection.setdefault(res.shard, rejection)
            else:
                signed_rejection.setdefault(res.shard, rejection)
            continue
        progress(f"verifying shard {res.shard}")
        final[res.shard] = _judge_accepted(
            backend,
            dep,
            manifest,
            res,
            ref,
            by_blob,
            global_q,
            threshold,
            quality_spec,
            home,
        )
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
    accepted = [
        (s.aggregate, s.commitments) for s in shards if s.verdict.accepted and s.aggregate is not None
    ]
    next_global = None
    if has_quorum(manifest, [s.verdict.shard for s in shards if s.verdict.accepted]):
        next_global = compose_global(dep, global_q, accepted)
    return RoundJudgement(
        manifest,
        global_q,
        shards,
        next_global,
        time.perf_counter() - t0,
        len(by_blob),
        threshold,
    )


def _judge_accepted(
    backend: DABackend,
    dep: Deployment,
    manifest: RoundManifest,
    res: ShardResult,
    ref: BlobRef,
    by_blob: dict[bytes, ClientUpdate],
    global_q: IntVector,
    threshold: float,
    quality_spec: Any,
    home: str | None,
) -> ShardJudgement:
    from zkagg._quality import QualityProof, model_commitments, verify_quality

    k = res.shard

    def excluded(reason: VerdictReason, detail: str) -> ShardJudgement:
        return ShardJudgement(ShardVerdict(k, reason, detail[:1000], ref))

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
    except ZkaggError as exc:
        return excluded(VerdictReason.BAD_AGGREGATE, str(exc))
    accuracy = None
    if dep.quality:
        try:
            proof = QualityProof.from_wire(res.quality_proof)
            model = global_q + shard_update(agg)
            expected = model_commitments(model, quality_spec, home=home)
            verify_quality(proof, 0.0, quality_spec, expected_commitments=expected, home=home)
            accuracy = proof.accuracy
        except ZkaggError as exc:
            return excluded(VerdictReason.BAD_QUALITY_PROOF, str(exc))
        needed = manifest.quality_threshold_ppm * proof.n_probe
        if proof.correct * PPM < needed:
            return excluded(
                VerdictReason.BELOW_THRESHOLD,
                f"proven probe accuracy {proof.correct}/{proof.n_probe} is below the threshold {threshold:.4f}",
            )
    return ShardJudgement(
        ShardVerdict(k, VerdictReason.ACCEPTED, "", ref),
        agg,
        tuple(commitments),
        accuracy,
        len(commitments),
    )


# -- coordinator ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoundOutcome:
    """A closed round as the coordinator recorded it."""

    round: int
    global_result: GlobalResult
    height: int
    judgement: RoundJudgement | None
    bytes_posted: int
    seconds: float


class CoordinatorState:
    """The coordinator's durable state: one SQLite file (WAL, ``synchronous=FULL``).

    Table ``rounds``: per round, the manifest (bytes and height) and, once posted, the global
    result (bytes and height). Written after each DA submission is acknowledged; on restart the
    coordinator also looks on the DA layer for what it posted but did not record.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS rounds (deployment BLOB NOT NULL, round INTEGER NOT NULL, "
            "manifest BLOB NOT NULL, manifest_height INTEGER NOT NULL, result BLOB, result_height INTEGER, "
            "PRIMARY KEY (deployment, round))"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)")

    def start_height(self, head: int) -> int:
        """The chain head when this state was created (recorded on first use): where searches begin."""
        self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('start_height', ?)", (head,))
        row = self._db.execute("SELECT value FROM meta WHERE key = 'start_height'").fetchone()
        return int(row[0])

    def manifest(self, deployment: bytes, round_: int) -> tuple[RoundManifest, int] | None:
        """The recorded manifest of a round and its height."""
        row = self._db.execute(
            "SELECT manifest, manifest_height FROM rounds WHERE round = ? AND deployment = ?",
            (round_, deployment),
        ).fetchone()
        if row is None:
            return None
        return RoundManifest.from_bytes(row[0]), int(row[1])

    def result(self, deployment: bytes, round_: int) -> tuple[GlobalResult, int] | None:
        """The recorded global result of a round and its height."""
        row = self._db.execute(
            "SELECT result, result_height FROM rounds WHERE round = ? AND deployment = ? AND result IS NOT NULL",
            (round_, deployment),
        ).fetchone()
        if row is None:
            return None
        return GlobalResult.from_bytes(row[0]), int(row[1])

    def record_manifest(self, deployment: bytes, manifest: RoundManifest, height: int) -> None:
        """Record a posted manifest."""
        self._db.execute(
            "INSERT OR REPLACE INTO rounds (round, deployment, manifest, manifest_height) VALUES (?, ?, ?, ?)",
            (manifest.round, deployment, manifest.to_bytes(), height),
        )

    def record_result(self, deployment: bytes, result: GlobalResult, height: int) -> None:
        """Record a posted global result."""
        self._db.execute(
            "UPDATE rounds SET result = ?, result_height = ? WHERE round = ? AND deployment = ?",
            (result.to_bytes(), height, result.round, deployment),
        )

    def close(self) -> None:
        """Close the database."""
        self._db.close()


def initial_model(deployment: Deployment) -> IntVector:
    """The quantized initial global model (seeded by ``data_seed``)."""
    from zkagg._fl_model import DigitsMLP, get_flat_params

    params = get_flat_params(DigitsMLP(deployment.hidden, seed=deployment.data_seed))
    return quantize(np.asarray(params, dtype=np.float64), deployment.scale)


def probe_accuracy(deployment: Deployment, q: IntVector, x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Accuracy of the model ``q / 2**scale`` on ``(x, y)``."""
    from zkagg._fl_model import accuracy

    return accuracy(dequantize(q, deployment.scale), deployment.hidden, x, y)


class Coordinator:
    """Opens rounds, judges them and posts the global results; crash-safe through :class:`CoordinatorState`.

    Parameters
    ----------
    deployment, identity, backend
        The deployment, the coordinator's keys and the DA layer.
    state_dir
        Where ``coordinator.sqlite`` lives.
    advance
        For instant chains: called with a height the coordinator needs to reach (``zkagg run``
        posts tick blobs); ``None`` waits for blocks.
    """

    def __init__(
        self,
        deployment: Deployment,
        identity: Identity,
        backend: DABackend,
        *,
        state_dir: Path | str,
        advance: Callable[[int], None] | None = None,
        timeout: float = 600.0,
        home: str | None = None,
        progress: Progress = _quiet,
    ) -> None:
        if identity.signing.public_key != deployment.coordinator_key:
            raise InvalidArgument("identity is not the coordinator key of this deployment")
        from zkagg._fl_data import load_digits_task

        self.deployment = deployment
        self.identity = identity
        self.backend = backend
        self.state = CoordinatorState(Path(state_dir) / "coordinator.sqlite")
        self.advance = advance
        self.timeout = timeout
        self.home = home
        self.progress = progress
        self.namespaces = deployment_namespaces(deployment.deployment_id, deployment.n_shards)
        self.data = load_digits_task(seed=deployment.data_seed, probe_size=deployment.probe_size)
        self._qspec: Any = None
        #: Heights below this were on the chain before this coordinator's state existed.
        self.start = self.state.start_height(backend.local_head().height)

    def announce(self) -> int:
        """Post the deployment's configuration (once) for auditors; return its height."""
        return announce_deployment(self.backend, self.deployment, start=self.start)

    def quality_spec(self) -> Any:
        """The deployment's quality spec (built once)."""
        if self._qspec is None:
            self._qspec = _quality_spec(self.deployment)
        return self._qspec

    def _find_own(self, kind: type[_OwnT], round_: int, first: int) -> tuple[_OwnT, int] | None:
        """A message of ``kind`` for ``round_`` signed by this coordinator, posted at or after ``first``."""
        head = self.backend.local_head().height
        for posted in read_range(self.backend, [self.namespaces.control], first, head):
            m = posted.message
            if isinstance(m, kind) and m.round == round_ and m.deployment == self.deployment.deployment_id:
                try:
                    m.verify_signature(self.deployment.coordinator_key)
                except ProtocolError:
                    continue
                return m, posted.height
        return None

    def _global_for(self, round_: int) -> tuple[PayloadRef, bytes, IntVector]:
        """The global model round ``round_`` starts from: the last composed one, or the initial model."""
        from zkagg._fl_model import param_count

        dep = self.deployment
        for r in range(round_ - 1, 0, -1):
            recorded = self.state.result(dep.deployment_id, r)
            if recorded is not None and recorded[0].global_model is not None:
                gr = recorded[0]
                assert gr.global_model is not None
                q = _read_vector(
                    self.backend, gr.global_model, param_count(dep.hidden), dep.scale, "global model"
                )
                return gr.global_model, gr.global_model_commitment, q
            opened = self.state.manifest(dep.deployment_id, r)
            if opened is not None and opened[0].global_model is not None and recorded is not None:
                m = opened[0]
                assert m.global_model is not None
                q = _read_vector(
                    self.backend, m.global_model, param_count(dep.hidden), dep.scale, "global model"
                )
                return m.global_model, m.global_model_commitment, q
        q = initial_model(dep)
        ref = write_payload(self.backend, self.namespaces.payloads, encode_vector(q, dep.scale))
        return ref, vector_commitment(dep, q).to_bytes(), q

    def open_round(self, round_: int) -> tuple[RoundManifest, int]:
        """Post the manifest of ``round_`` (or return the one already posted) and its height."""
        from zkagg._quality import quality_artifacts

        dep = self.deployment
        recorded = self.state.manifest(dep.deployment_id, round_)
        if recorded is not None:
            return recorded
        if round_ > 1 and self.state.result(dep.deployment_id, round_ - 1) is None:
            raise ProtocolError(f"round {round_} cannot open before round {round_ - 1} is closed")
        previous = self.state.manifest(dep.deployment_id, round_ - 1) if round_ > 1 else None
        found = self._find_own(RoundManifest, round_, previous[1] if previous else self.start)
        if found is not None:  # posted before a crash, not recorded
            self.state.record_manifest(dep.deployment_id, found[0], found[1])
            return found
        self.progress(f"round {round_}: opening")
        ref, commitment, q = self._global_for(round_)
        circuits: tuple[CircuitRef, ...] = ()
        threshold = 0.0
        if dep.quality:
            artifacts = quality_artifacts(self.quality_spec(), home=self.home)
            circuits = (CircuitRef(_QUALITY_CIRCUIT, bytes.fromhex(artifacts.vk_sha256)),)
            acc = probe_accuracy(dep, q, self.data.x_probe, self.data.y_probe)
            threshold = max(dep.quality_floor, acc - dep.quality_margin)
        head = self.backend.local_head().height
        seed_height = head + 2
        manifest = RoundManifest(
            deployment=dep.deployment_id,
            round=round_,
            global_model_commitment=commitment,
            global_model=ref,
            aggregation_rule=dep.rule,
            aggregation_spec=dep.spec().to_bytes(),
            quantization_scale=dep.scale,
            chunk_size=dep.chunk_size,
            circuits=circuits,
            num_shards=dep.n_shards,
            seed_height=seed_height,
            updates_by=seed_height + dep.update_window,
            results_by=seed_height + dep.update_window + dep.result_window,
            quorum=dep.quorum,
            quality_threshold_ppm=min(PPM, round(threshold * PPM)),
            coordinator_key=dep.coordinator_key,
            shard_keys=dep.shard_keys,
        ).sign(self.identity.signing)
        height = self.backend.submit([Blob.new(self.namespaces.control, manifest.to_bytes())])
        if height >= seed_height:
            raise ProtocolError(
                f"the manifest of round {round_} landed at height {height}, not below its seed height "
                f"{seed_height}: the chain moved on while it was posted; open the round again"
            )
        self.state.record_manifest(dep.deployment_id, manifest, height)
        return manifest, height

    def close_round(self, round_: int) -> RoundOutcome:
        """Judge ``round_`` once its windows are closed and post the global result (exactly once)."""
        dep = self.deployment
        t0 = time.perf_counter()
        recorded = self.state.result(dep.deployment_id, round_)
        if recorded is not None:
            return RoundOutcome(round_, recorded[0], recorded[1], None, 0, 0.0)
        opened = self.state.manifest(dep.deployment_id, round_)
        if opened is None:
            raise ProtocolError(f"round {round_} was never opened")
        manifest, _ = opened
        wait_height(self.backend, manifest.results_by + LATE_GRACE, self.advance, self.timeout)
        found = self._find_own(GlobalResult, round_, manifest.results_by + 1)
        if found is not None:  # posted before a crash, not recorded
            self.state.record_result(dep.deployment_id, found[0], found[1])
            return RoundOutcome(round_, found[0], found[1], None, 0, time.perf_counter() - t0)
        self.progress(f"round {round_}: judging")
        judgement = judge_round(
            self.backend,
            dep,
            manifest,
            quality_spec=self.quality_spec() if dep.quality else None,
            timeout=self.timeout,
            home=self.home,
            progress=self.progress,
        )
        posted_bytes = 0
        ref = None
        commitment = b""
        if judgement.next_global is not None:
            payload = encode_vector(judgement.next_global, dep.scale)
            ref = write_payload(self.backend, self.namespaces.payloads, payload)
            commitment = vector_commitment(dep, judgement.next_global).to_bytes()
            posted_bytes += len(payload)
        result = GlobalResult(
            deployment=dep.deployment_id,
            round=round_,
            verdicts=judgement.verdicts,
            global_model=ref,
            global_model_commitment=commitment,
            coordinator_key=dep.coordinator_key,
        ).sign(self.identity.signing)
        data = result.to_bytes()
        height = self.backend.submit([Blob.new(self.namespaces.control, data)])
        posted_bytes += len(data)
        self.state.record_result(dep.deployment_id, result, height)
        return RoundOutcome(round_, result, height, judgement, posted_bytes, time.perf_counter() - t0)

    def close(self) -> None:
        """Close the durable state."""
        self.state.close()


@dataclass
class Ticker:
    """Advances an instant chain by posting small tick blobs in a deployment's tick namespace."""

    backend: DABackend
    namespace: Namespace
    ticks: int = field(default=0)

    @classmethod
    def for_deployment(cls, backend: DABackend, deployment: Deployment) -> Ticker:
        """The ticker of a deployment (namespace derived from its id)."""
        ident = b"\x04" + hashlib.sha256(b"zkagg/tick/v1\x00" + deployment.deployment_id).digest()[:9]
        return cls(backend, Namespace.v0(ident))

    def __call__(self, height: int) -> None:
        while self.backend.local_head().height < height:
            self.backend.submit([Blob.new(self.namespace, struct.pack(">Q", self.ticks))])
            self.ticks += 1


# -- the deployment on the DA layer ------------------------------------------------------------------

_ANNOUNCE_HEADER: Final = b"zkagg-deployment/1\n"


def announce_deployment(backend: DABackend, deployment: Deployment, *, start: int = 1) -> int:
    """Post the deployment's public configuration in its control namespace (once); return the height.

    An auditor that knows only the control namespace finds it there, and checks that it hashes to
    the deployment id the namespace is derived from (:func:`find_deployment`). Heights from ``start``
    are searched for an earlier announcement first (a coordinator restarted after posting it).
    """
    control = deployment_namespaces(deployment.deployment_id, deployment.n_shards).control
    for dep, height in _scan_announcements(backend, control, start):
        if dep.deployment_id == deployment.deployment_id:
            return height
    return backend.submit([Blob.new(control, _ANNOUNCE_HEADER + deployment.canonical_bytes())])


def _scan_announcements(
    backend: DABackend, control: Namespace, start: int = 1
) -> list[tuple[Deployment, int]]:
    import json

    found = []
    for posted in read_range(backend, [control], start, backend.local_head().height):
        data = posted.blob.data
        if not data.startswith(_ANNOUNCE_HEADER):
            continue
        try:
            dep = Deployment.from_json(json.loads(data[len(_ANNOUNCE_HEADER) :]))
        except (ValueError, ZkaggError):
            continue
        if deployment_namespaces(dep.deployment_id, dep.n_shards).control == control:
            found.append((dep, posted.height))
    return found


def find_deployment(
    backend: DABackend, control: Namespace, deployment_id: bytes | None = None, *, start: int = 1
) -> Deployment:
    """The deployment announced in ``control`` at or after height ``start`` (whose id derives that namespace).

    Raises
    ------
    ProtocolError
        None is announced there, or several are and ``deployment_id`` does not pick one.
    """
    found = _scan_announcements(backend, control, start)
    if deployment_id is not None:
        found = [(d, h) for d, h in found if d.deployment_id == deployment_id]
    ids = {d.deployment_id for d, _ in found}
    if not ids:
        raise ProtocolError(f"no zkagg deployment is announced in namespace {control.hex()}")
    if len(ids) > 1:
        raise ProtocolError(
            f"{len(ids)} deployments are announced in namespace {control.hex()}; name one with its id"
        )
    return found[0][0]
