"""Proving and verifying the non-linear aggregation rules chunk by chunk with EZKL.

For every chunk ``j`` of a shard, one proof of the rule's circuit (:mod:`zkagg.circuits`) whose
``polycommit`` inputs are exactly the clients' chunk-``j`` messages, so that the commitments ezkl
places in the proof are the points the clients posted. All chunks use one circuit, hence one proving
key: they are independent tasks that can run in parallel (on separate machines, DESIGN.md §4).

What a verifier checks (:func:`verify_rule`), per chunk:

a. the proof is for the expected circuit: its recorded verification-key hash is the one the verifier
   builds from the rule's parameters, and ezkl verifies it under that key (a key of another circuit
   fails, :class:`~zkagg.InvalidProof`);
b. its committed-input points equal the clients' posted chunk-``j`` commitments, in client order
   (measured with ezkl 23.0.5: a proof's ``proof`` bytes begin with one 64-byte point per
   ``polycommit`` input, big-endian ``x || y``, in graph-input order; :func:`proof_input_commitments`);
   a swapped, dropped or added client fails here (:class:`~zkagg.CommitmentMismatch`);
c. the public outputs: the violation of the check-not-compute circuits is 0, and the aggregate is
   bound to the result, either as a committed input whose point must equal the commitment of the
   published aggregate's chunk (median, trimmed mean) or as the public output itself (FedAvg,
   clipped FedAvg);
d. chunk binding: the points of (b) are chunk ``j``'s, so a proof of another chunk is rejected (the
   message names the chunk it proves);
e. for clipped FedAvg, the clip factors committed in every chunk are the ones the verifier computes
   from the clients' partial sums of squares, added over all chunks (exact integers).

Exact integers throughout: the circuits work on the quantized values (scale 0), and every aggregate
is an integer vector with a documented deterministic rescale to floats
(:func:`zkagg._aggregation.reference.fedavg_rescale`): the median ``m / 2**s``; the trimmed mean
``T / ((N - 2b) 2**s)``; FedAvg ``S / (sum n_i 2**s)``; clipped FedAvg ``S / (2**F sum n_i 2**s)``.

Salted (hiding) domains are not supported by the proven rules yet: the salt slot is a full field
element that would enter the circuits' comparisons and range checks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

import numpy as np
import numpy.typing as npt

from zkagg._aggregation.records import ChunkProof, RuleBackend, RuleProof, ShardAggregate
from zkagg._aggregation.reference import fedavg_rescale, median_int, trim_count
from zkagg._aggregation.spec import AggregationSpec
from zkagg._errors import CommitmentMismatch, InvalidArgument, InvalidProof, ZkaggError
from zkagg._executors._base import Executor, ProveTask
from zkagg._field import IntArray, felt_to_signed
from zkagg._home import zkagg_home
from zkagg._kzg.commit import CommitmentDomain, UpdateCommitment, commit_chunk
from zkagg._kzg.points import proof_input_commitments, verified_input_commitments
from zkagg._prover.artifacts import CircuitArtifacts, build_circuit
from zkagg._prover.proof import Proof, prove
from zkagg._prover.srs import SRS, srs_by_hash
from zkagg.circuits._graph import SIGN_METHODS, Circuit, lookup_table_bound, uses_sign_lookup
from zkagg.circuits.clipped_fedavg import clipped_fedavg_circuit
from zkagg.circuits.fedavg import fedavg_circuit
from zkagg.circuits.median import median_circuit
from zkagg.circuits.trimmed_mean import trimmed_mean_circuit

__all__ = [
    "FACTOR_BITS",
    "PROVEN_RULES",
    "SIGN_RULES",
    "SPEC_RULES",
    "ChunkRuleProof",
    "RulePlan",
    "RuleResult",
    "clip_factors",
    "domain_artifacts",
    "finish_rule",
    "plan_rule",
    "prove_rule",
    "rule_circuit",
    "rule_divisor",
    "run_plans",
    "sign_method",
    "verify_rule",
]

#: Rules proven by EZKL circuits here ("fedavg" is the optional SNARK variant of FedAvg).
PROVEN_RULES = ("median", "trimmed_mean", "clipped_fedavg", "fedavg")
#: The :class:`~zkagg.AggregationSpec` rule each proven circuit serves through the shard API: the
#: spec's ``"fedavg"`` is checked homomorphically, its ``"fedavg_snark"`` by the FedAvg circuit.
SPEC_RULES = {
    "median": "median",
    "trimmed_mean": "trimmed_mean",
    "clipped_fedavg": "clipped_fedavg",
    "fedavg_snark": "fedavg",
}
#: Rules whose circuits compare values, with two sign methods (:data:`~zkagg.circuits._graph.SIGN_METHODS`):
#: the prover takes ``"lookup"`` when every value fits the lookup table (:func:`sign_method`), the
#: verifier accepts either.
SIGN_RULES = ("median", "trimmed_mean")
#: Fixed-point bits of the clip factors of clipped FedAvg.
FACTOR_BITS = 16


# -- circuits and artifacts ---------------------------------------------------------------------


def rule_circuit(
    rule: str,
    domain: CommitmentDomain,
    n_clients: int,
    *,
    weights: Sequence[int] | None = None,
    beta: float | None = None,
    method: str = "decomposition",
) -> Circuit:
    """The circuit that proves one chunk of ``rule`` for ``n_clients`` in ``domain``.

    Its content (hence its verification key) depends only on the rule, the number of clients, the
    weights (FedAvg variants), the trim count (trimmed mean), the sign method (median and trimmed
    mean, :data:`SIGN_RULES`), the chunk size and the logrows.
    """
    if rule not in PROVEN_RULES:
        raise InvalidArgument(f"rule must be one of {', '.join(PROVEN_RULES)}, not {rule!r}")
    if domain.salted:
        raise InvalidArgument(
            "the EZKL-proven rules need an unsalted commitment domain (salted=False): the salt slot "
            "would enter the circuit's comparisons"
        )
    cs, k = domain.chunk_size, domain.logrows
    if uses_sign_lookup(method) and rule not in SIGN_RULES:
        raise InvalidArgument(f"method 'lookup' is for rules {' and '.join(SIGN_RULES)}, not {rule}")
    if rule == "median":
        return median_circuit(n_clients, cs, logrows=k, method=method)
    if rule == "trimmed_mean":
        if beta is None:
            raise InvalidArgument("beta is required for rule trimmed_mean")
        return trimmed_mean_circuit(n_clients, cs, trim_count(n_clients, beta), logrows=k, method=method)
    w = list(weights) if weights is not None else [1] * n_clients
    if len(w) != n_clients:
        raise InvalidArgument(f"weights must have one entry per client ({n_clients}), not {len(w)}")
    if rule == "fedavg":
        return fedavg_circuit(w, cs, logrows=k)
    return clipped_fedavg_circuit(w, cs, logrows=k)


def sign_method(rule: str, domain: CommitmentDomain, quantized: npt.ArrayLike) -> str:
    """The sign method a shard proves ``rule`` with: ``"lookup"`` when the lookup table takes every value.

    A comparison circuit by lookup (about 2.3-4x fewer rows) needs every client value, every
    difference of two client values in one coordinate (the cut points are client values) and the
    claimed statistic within :func:`~zkagg.circuits._graph.lookup_table_bound` of the domain's
    logrows (``|q| <= 16351`` quanta at logrows 15, about 2.0 at scale 13); otherwise, and for rules
    that compare nothing, ``"decomposition"``. Both are sound, and the verifier accepts either.
    """
    q = np.asarray(quantized)
    if rule not in SIGN_RULES or q.size == 0:
        return "decomposition"
    bound = lookup_table_bound(domain.logrows)
    spread = q.max(axis=0).astype(np.int64) - q.min(axis=0).astype(np.int64)
    fits = int(np.abs(q).max()) <= bound and int(spread.max()) <= bound
    return "lookup" if fits else "decomposition"


def _domain_srs(domain: CommitmentDomain) -> SRS | None:
    """``None`` for the dev SRS (build_circuit's default), else the registered ceremony SRS."""
    srs = srs_by_hash(domain.srs_sha256, domain.logrows)
    return None if srs.source == "dev" else srs


def domain_artifacts(circuit: Circuit, domain: CommitmentDomain) -> CircuitArtifacts:
    """Compile (or load from the cache) ``circuit`` with the domain's SRS and logrows."""
    if circuit.run_args.logrows != domain.logrows:
        raise InvalidArgument(
            f"circuit {circuit.name} has logrows {circuit.run_args.logrows}, the commitment domain "
            f"{domain.logrows}: every linked proof must use the domain's logrows"
        )
    try:
        return build_circuit(circuit.onnx, circuit.run_args, srs=_domain_srs(domain))
    except ZkaggError as exc:
        raise InvalidArgument(
            f"circuit {circuit.name} ({dict(circuit.params)}) cannot be compiled at logrows "
            f"{domain.logrows}: use fewer clients or a smaller chunk_size ({exc})"
        ) from exc


def _public_ints(proof: Proof) -> list[int]:
    return [felt_to_signed(v) for column in proof.instances for v in column]


# -- exact integer rule helpers -----------------------------------------------------------------


def clip_factors(norms_squared: Sequence[int], clip_norm: float, scale: int) -> list[int]:
    """Clip factors ``floor(2**F * min(1, C_q / sqrt(||q||**2)))`` with ``C_q = round(C * 2**scale)``.

    Exact integer arithmetic (``isqrt``), so prover and verifier agree bit for bit:
    ``floor(2**F C_q / sqrt(S)) = isqrt(floor(2**(2F) C_q**2 / S))``.
    """
    cq = round(clip_norm * 2**scale)
    if cq < 1:
        raise InvalidArgument(f"clip_norm must be at least one quantum (2**-{scale}), not {clip_norm!r}")
    out = []
    for s in norms_squared:
        if s < 0:
            raise InvalidProof(f"a sum of squares is negative ({s})")
        out.append(1 << FACTOR_BITS if s <= cq * cq else math.isqrt((cq * cq << 2 * FACTOR_BITS) // s))
    return out


def rule_divisor(rule: str, n_clients: int, weights: Sequence[int], beta: float | None) -> int:
    """What the exact integer aggregate is divided by (before ``2**scale``) to give the float one."""
    if rule == "median":
        return 1
    if rule == "trimmed_mean":
        assert beta is not None
        return n_clients - 2 * trim_count(n_clients, beta)
    if rule == "fedavg":
        return sum(weights)
    return sum(weights) << FACTOR_BITS


def _chunk_inputs(
    rule: str,
    x: IntArray,
    weights: Sequence[int],
    trim: int,
    factors: Sequence[int] | None,
) -> tuple[list[list[int]], list[int] | None]:
    """Inputs of one chunk's circuit after the clients', and the chunk's aggregate when it is an input."""
    n = x.shape[0]
    if rule == "median":
        m = median_int(x)
        if n % 2:
            return [m.tolist()], m.tolist()
        s = np.sort(x, axis=0)
        return [s[n // 2 - 1].tolist(), s[n // 2].tolist(), m.tolist()], m.tolist()
    if rule == "trimmed_mean":
        s = np.sort(x, axis=0)
        total = [int(v) for v in s[trim : n - trim].astype(object).sum(axis=0).tolist()]
        return [s[trim].tolist(), s[n - trim - 1].tolist(), total], total
    if rule == "clipped_fedavg":
        assert factors is not None
        return [list(factors)], None
    return [], None


@dataclass(frozen=True)
class ChunkRuleProof:
    """The proof of one chunk: its index, the circuit's verification-key hash and the zkagg proof."""

    chunk: int
    circuit_id: str
    proof: Proof


@dataclass(frozen=True)
class RuleResult:
    """The exact aggregate of a proven rule and its chunk proofs.

    Attributes
    ----------
    rule
        The rule.
    aggregate_int
        The exact integer aggregate over all padded chunks (see the module docstring).
    divisor
        The float aggregate is ``aggregate_int / (divisor * 2**scale)``.
    factors
        Clipped FedAvg: the clip factors used (``FACTOR_BITS`` fixed-point bits).
    proofs
        One per chunk, in chunk order.
    """

    rule: str
    aggregate_int: tuple[int, ...]
    divisor: int
    factors: tuple[int, ...] | None
    proofs: tuple[ChunkRuleProof, ...]

    def aggregate(self, length: int, scale: int) -> npt.NDArray[np.float64]:
        """The float aggregate of the first ``length`` values (the documented rescale)."""
        return fedavg_rescale(list(self.aggregate_int[:length]), self.divisor, scale)


@dataclass(frozen=True)
class RulePlan:
    """Everything decided before proving one shard's chunks: the circuit, its keys, every chunk's inputs.

    Chunk proofs are independent tasks (:meth:`tasks`); :func:`finish_rule` assembles their proofs.
    """

    rule: str
    domain: CommitmentDomain
    n_clients: int
    weights: tuple[int, ...]
    beta: float | None
    circuit: Circuit
    artifacts: CircuitArtifacts
    chunk_inputs: tuple[list[list[int]], ...]
    chunk_aggregates: tuple[list[int] | None, ...]
    factors: tuple[int, ...] | None

    def tasks(self, label: str = "") -> list[ProveTask]:
        """One :class:`~zkagg._executors.ProveTask` per chunk, labelled ``"<label> chunk <j>"``."""
        srs = _domain_srs(self.domain)
        home = str(zkagg_home())
        prefix = f"{label} " if label else ""
        return [
            ProveTask(
                f"{prefix}chunk {j}",
                self.circuit.onnx,
                self.circuit.run_args,
                inputs,
                None if srs is None else srs.sha256,
                home,
            )
            for j, inputs in enumerate(self.chunk_inputs)
        ]


def plan_rule(
    rule: str,
    domain: CommitmentDomain,
    quantized: npt.ArrayLike,
    *,
    weights: Sequence[int] | None = None,
    beta: float | None = None,
    clip_norm: float | None = None,
    method: str | None = None,
) -> RulePlan:
    """Compute every chunk's inputs and build (or load) the circuit's keys; arguments as :func:`prove_rule`."""
    q = np.asarray(quantized)
    if q.ndim != 2 or q.dtype.kind not in "iu" or 0 in q.shape:
        raise InvalidArgument(f"quantized must be a non-empty 2-D integer array, not {q.dtype} {q.shape}")
    n, length = q.shape
    cs = domain.chunk_size
    n_chunks = domain.n_chunks(length)
    padded = np.zeros((n, n_chunks * cs), dtype=np.int64)
    padded[:, :length] = q
    w = [int(v) for v in weights] if weights is not None else [1] * n
    if method is None:
        method = sign_method(rule, domain, padded)
    elif uses_sign_lookup(method) and sign_method(rule, domain, padded) != "lookup":
        raise InvalidArgument(
            f"method='lookup' needs every value, and every difference of two values in one coordinate, "
            f"within {lookup_table_bound(domain.logrows)} quanta (logrows {domain.logrows}); these "
            "values are not: use method='decomposition' or None"
        )
    circuit = rule_circuit(rule, domain, n, weights=w, beta=beta, method=method)
    artifacts = domain_artifacts(circuit, domain)
    trim = trim_count(n, beta) if rule == "trimmed_mean" and beta is not None else 0
    factors = None
    if rule == "clipped_fedavg":
        if clip_norm is None:
            raise InvalidArgument("clip_norm is required for rule clipped_fedavg")
        norms = [int(v) for v in (padded.astype(object) ** 2).sum(axis=1).tolist()]
        factors = clip_factors(norms, clip_norm, domain.scale)
    inputs: list[list[list[int]]] = []
    aggregates: list[list[int] | None] = []
    for j in range(n_chunks):
        x = padded[:, j * cs : (j + 1) * cs]
        extra, aggregate = _chunk_inputs(rule, x, w, trim, factors)
        inputs.append([*x.tolist(), *extra])
        aggregates.append(aggregate)
    return RulePlan(
        rule,
        domain,
        n,
        tuple(w),
        beta,
        circuit,
        artifacts,
        tuple(inputs),
        tuple(aggregates),
        tuple(factors) if factors else None,
    )


def finish_rule(plan: RulePlan, proofs: Sequence[Proof]) -> RuleResult:
    """Assemble the exact aggregate and the chunk proofs (one per chunk, in order) into a :class:`RuleResult`."""
    if len(proofs) != len(plan.chunk_inputs):
        raise InvalidArgument(
            f"proofs must hold one proof per chunk ({len(plan.chunk_inputs)}), not {len(proofs)}"
        )
    cs = plan.domain.chunk_size
    total: list[int] = []
    out = []
    for j, (proof, aggregate) in enumerate(zip(proofs, plan.chunk_aggregates, strict=True)):
        if aggregate is None:
            aggregate = _public_ints(proof)[:cs]
        total.extend(int(v) for v in aggregate)
        out.append(ChunkRuleProof(j, plan.artifacts.vk_sha256, proof))
    divisor = rule_divisor(plan.rule, plan.n_clients, plan.weights, plan.beta)
    return RuleResult(plan.rule, tuple(total), divisor, plan.factors, tuple(out))


def run_plans(
    plans: Sequence[RulePlan], executor: Executor | None, labels: Sequence[str] | None = None
) -> list[RuleResult]:
    """Prove the chunks of several plans (shards) as one batch of tasks and finish each.

    ``executor=None`` proves in this process, one chunk after the other.
    """
    if executor is None:
        return [finish_rule(p, [prove(p.artifacts, inputs) for inputs in p.chunk_inputs]) for p in plans]
    names = list(labels) if labels is not None else [f"shard {i}" for i in range(len(plans))]
    batches = [p.tasks(name) for p, name in zip(plans, names, strict=True)]
    results = executor.run([t for batch in batches for t in batch])
    out = []
    cursor = 0
    for plan, batch in zip(plans, batches, strict=True):
        part = results[cursor : cursor + len(batch)]
        cursor += len(batch)
        out.append(finish_rule(plan, [Proof.from_bytes(r.proof) for r in part]))
    return out


def prove_rule(
    rule: str,
    domain: CommitmentDomain,
    quantized: npt.ArrayLike,
    *,
    weights: Sequence[int] | None = None,
    beta: float | None = None,
    clip_norm: float | None = None,
    executor: Executor | None = None,
    method: str | None = None,
) -> RuleResult:
    """Compute ``rule``'s exact aggregate and prove every chunk.

    Parameters
    ----------
    rule
        ``median``, ``trimmed_mean``, ``clipped_fedavg`` or ``fedavg``.
    domain
        The clients' commitment domain (chunk size, logrows, scale, SRS).
    quantized
        Integer array ``(clients, values)`` of the quantized updates (as committed); zero padded
        here to whole chunks.
    weights
        Integer sample counts (FedAvg variants); default 1 each.
    beta
        Trimmed mean: fraction trimmed at each end.
    clip_norm
        Clipped FedAvg: the L2 bound ``C`` (float units).
    executor
        Where the chunk proofs run (:mod:`zkagg._executors`); ``None`` proves them in this process,
        one after the other.
    method
        Median and trimmed mean: how the circuit takes signs (:data:`SIGN_RULES`); ``None`` picks
        ``"lookup"`` when the values allow it (:func:`sign_method`), else ``"decomposition"``.

    Returns
    -------
    RuleResult
    """
    plan = plan_rule(rule, domain, quantized, weights=weights, beta=beta, clip_norm=clip_norm, method=method)
    return run_plans([plan], executor)[0]


def aggregate_to_int(aggregate: npt.ArrayLike, divisor: int, scale: int, length: int) -> list[int]:
    """Recover the exact integers from a float aggregate that is their documented rescale.

    Raises :class:`~zkagg.InvalidProof` when a value is not exactly the rescale of an integer.
    """
    f = np.asarray(aggregate, dtype=np.float64)
    if f.shape != (length,) or not np.isfinite(f).all():
        raise InvalidProof(f"the aggregate must be {length} finite values, not shape {f.shape}")
    d = divisor << scale
    ints = [round(Fraction(float(v)) * d) for v in f.tolist()]
    back = fedavg_rescale(ints, divisor, scale)
    bad = np.flatnonzero(back != f)
    if bad.size:
        i = int(bad[0])
        raise InvalidProof(
            f"aggregate[{i}] = {f[i]!r} is not the rescale of an integer by {divisor} * 2**{scale}"
        )
    return ints


def verify_rule(
    rule: str,
    domain: CommitmentDomain,
    commitments: Sequence[UpdateCommitment],
    aggregate_int: Sequence[int],
    proofs: Sequence[ChunkProof | ChunkRuleProof],
    *,
    weights: Sequence[int] | None = None,
    beta: float | None = None,
    clip_norm: float | None = None,
) -> None:
    """Verify that ``aggregate_int`` is ``rule`` applied to exactly the committed updates.

    Parameters
    ----------
    rule, domain, weights, beta, clip_norm
        As for :func:`prove_rule`.
    commitments
        The clients' posted commitments, in client order (all in ``domain``, of one length).
    aggregate_int
        The exact integer aggregate over the padded chunks (``n_chunks * chunk_size`` values).
    proofs
        One per chunk: objects with ``chunk``, ``circuit_id`` and ``proof`` (a :class:`Proof` or its
        bytes), as :class:`ChunkRuleProof` or ``zkagg._aggregation.records.ChunkProof``.

    Returns ``None`` or raises :class:`~zkagg.InvalidProof` / :class:`~zkagg.CommitmentMismatch`.
    """
    if not commitments:
        raise InvalidArgument("commitments must name at least one client")
    n = len(commitments)
    for i, c in enumerate(commitments):
        domain.require_same(c.domain, f"the commitment of client {i}")
    length = commitments[0].length
    if any(c.length != length for c in commitments):
        raise CommitmentMismatch("the clients' commitments cover different numbers of values")
    cs = domain.chunk_size
    n_chunks = domain.n_chunks(length)
    if len(aggregate_int) != n_chunks * cs:
        raise InvalidProof(f"the aggregate must have {n_chunks * cs} values, not {len(aggregate_int)}")
    if len(proofs) != n_chunks:
        raise InvalidProof(f"expected {n_chunks} chunk proofs, got {len(proofs)}")
    w = [int(v) for v in weights] if weights is not None else [1] * n
    variants = _CircuitVariants(rule, domain, n, w, beta)
    circuit = variants.circuit
    n_inputs = circuit.n_inputs
    parsed: list[Proof] = []
    for j, item in enumerate(proofs):
        if int(item.chunk) != j:
            raise InvalidProof(
                f"proof number {j} is labelled chunk {item.chunk}: proofs must be in chunk order"
            )
        artifacts = variants.artifacts_for(str(item.circuit_id), j)
        proof = item.proof if isinstance(item.proof, Proof) else Proof.from_bytes(bytes(item.proof))
        points = verified_input_commitments(proof, artifacts, n_inputs, f"the proof of chunk {j}")
        _check_links(points, commitments, j, n_chunks)
        parsed.append(proof)
    factors = None
    if rule == "clipped_fedavg":
        if clip_norm is None:
            raise InvalidArgument("clip_norm is required for rule clipped_fedavg")
        norms = [0] * n
        for proof in parsed:
            outs = _public_ints(proof)
            if len(outs) != cs + n:
                raise InvalidProof(
                    f"a clipped FedAvg proof must have {cs + n} public values, not {len(outs)}"
                )
            norms = [a + b for a, b in zip(norms, outs[cs:], strict=True)]
        factors = clip_factors(norms, clip_norm, domain.scale)
        expected = commit_chunk(domain, factors)
        for j, proof in enumerate(parsed):
            if proof_input_commitments(proof, n_inputs)[n] != expected:
                raise InvalidProof(
                    f"the proof of chunk {j} used clip factors other than the ones the clients' norms give"
                )
    for j, proof in enumerate(parsed):
        chunk = [int(v) for v in aggregate_int[j * cs : (j + 1) * cs]]
        outs = _public_ints(proof)
        if rule in ("median", "trimmed_mean"):
            if len(outs) != 1 or outs[0] != 0:
                raise InvalidProof(
                    f"the proof of chunk {j} shows the claimed {rule.replace('_', ' ')} is wrong "
                    f"(violation {outs[0] if outs else None}, must be 0)"
                )
            name = "median" if rule == "median" else "trimmed_sum"
            point = proof_input_commitments(proof, n_inputs)[circuit.input_index(name)]
            if point != commit_chunk(domain, chunk):
                raise InvalidProof(f"the aggregate of chunk {j} is not the value its proof is about")
        elif len(outs) != (cs if rule == "fedavg" else cs + n):
            raise InvalidProof(f"the proof of chunk {j} has {len(outs)} public values, not the circuit's")
        elif outs[:cs] != chunk:
            i = next((k for k in range(cs) if k >= len(outs) or outs[k] != chunk[k]), 0)
            raise InvalidProof(
                f"aggregate value {j * cs + i} (chunk {j}) differs from what its proof computes"
            )


class _CircuitVariants:
    """The circuits a verifier accepts for one rule: both sign methods of a comparison rule, else one.

    Keys are built (or loaded) lazily, the prover's default (``"lookup"``) first, so a verifier
    of lookup proofs never builds the decomposition circuit.
    """

    def __init__(
        self, rule: str, domain: CommitmentDomain, n: int, weights: list[int], beta: float | None
    ) -> None:
        self.rule, self.domain, self.n, self.weights, self.beta = rule, domain, n, weights, beta
        self.methods = SIGN_METHODS if rule in SIGN_RULES else ("decomposition",)
        self._built: dict[str, CircuitArtifacts] = {}
        # Inputs and outputs are the same for every variant; the first one names them.
        self.circuit = self._circuit(self.methods[0])

    def _circuit(self, method: str) -> Circuit:
        return rule_circuit(
            self.rule, self.domain, self.n, weights=self.weights, beta=self.beta, method=method
        )

    def artifacts_for(self, circuit_id: str, chunk: int) -> CircuitArtifacts:
        """The artifacts whose verification key hash is ``circuit_id``, or :class:`~zkagg.InvalidProof`."""
        for method in self.methods:
            if method not in self._built:
                circuit = self.circuit if method == self.methods[0] else self._circuit(method)
                self._built[method] = domain_artifacts(circuit, self.domain)
            if self._built[method].vk_sha256 == circuit_id:
                return self._built[method]
        wanted = " or ".join(a.vk_sha256[:12] for a in self._built.values())
        raise InvalidProof(
            f"the proof of chunk {chunk} names verification key {circuit_id[:12]}, but rule "
            f"{self.rule} for {self.n} clients needs {wanted} (a key of another circuit)"
        )


def _check_links(points: list[bytes], commitments: Sequence[UpdateCommitment], j: int, n_chunks: int) -> None:
    for i, c in enumerate(commitments):
        if points[i] == c.points[j]:
            continue
        for other in range(n_chunks):
            if other != j and all(points[k] == cc.points[other] for k, cc in enumerate(commitments)):
                raise InvalidProof(f"the proof given for chunk {j} is the proof of chunk {other}")
        raise CommitmentMismatch(
            f"the proof of chunk {j} is not bound to client {i}'s posted commitment "
            "(a client swapped, dropped or added)"
        )


# -- the backend zkagg._aggregation.shard dispatches to ------------------------------------------------------


class _Backend:
    """Plugs the proven rules into :func:`zkagg.aggregate_shard` / :func:`zkagg.verify_shard`.

    ``rule`` is the circuit's rule (:data:`PROVEN_RULES`); the spec's rule name may differ
    (:data:`SPEC_RULES`: ``fedavg_snark`` is the ``fedavg`` circuit).
    """

    def __init__(self, rule: str) -> None:
        self.rule = rule

    def prove(
        self,
        spec: AggregationSpec,
        quantized: IntArray,
        weights: tuple[int, ...],
        length: int,
        salts: list[list[int]] | None,
        commitments: Sequence[UpdateCommitment] | None,
        executor: Executor | None = None,
    ) -> RuleProof:
        """Prove every chunk of ``quantized`` (see :class:`~zkagg._aggregation.records.RuleBackend`)."""
        if salts is not None:
            raise InvalidArgument(f"rule {self.rule} needs an unsalted domain (salted=False)")
        result = prove_rule(
            self.rule,
            spec.domain(),
            quantized,
            weights=weights,
            beta=spec.beta,
            clip_norm=spec.clip_norm,
            executor=executor,
        )
        proofs = tuple(ChunkProof(p.chunk, p.circuit_id, p.proof.to_bytes()) for p in result.proofs)
        return RuleProof(result.aggregate(length, spec.scale), proofs)

    def verify(
        self,
        spec: AggregationSpec,
        commitments: Sequence[UpdateCommitment],
        weights: tuple[int, ...],
        result: ShardAggregate,
    ) -> None:
        """Verify ``result``'s chunk proofs against ``commitments`` (see :class:`RuleBackend`)."""
        domain = spec.domain()
        n = len(commitments)
        divisor = rule_divisor(self.rule, n, weights, spec.beta)
        ints = aggregate_to_int(result.aggregate, divisor, spec.scale, result.length)
        padded = ints + [0] * (domain.n_chunks(result.length) * domain.chunk_size - len(ints))
        verify_rule(
            self.rule,
            domain,
            commitments,
            padded,
            result.proofs,
            weights=weights,
            beta=spec.beta,
            clip_norm=spec.clip_norm,
        )


#: The backend of every spec rule proven by EZKL circuits (``fedavg`` is checked homomorphically).
RULE_BACKENDS: Final[Mapping[str, RuleBackend]] = {
    spec_rule: _Backend(circuit_rule) for spec_rule, circuit_rule in SPEC_RULES.items()
}
