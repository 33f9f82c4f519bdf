"""Proven rules with real EZKL proofs: agreement with the reference maths, and soundness.

One parametrized agreement test (CONVENTIONS.md §9): float reference, exact field version,
onnxruntime on the exported graph and the proven circuit output agree within the bound the scale
implies. Then every forgery the issue lists is rejected with a specific error. Proofs are made once
per module (logrows 15, 64-value chunks, 4-5 clients).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from zkagg import CommitmentMismatch, InvalidArgument, InvalidProof
from zkagg._aggregation.reference import (
    clipped_fedavg,
    fedavg,
    fedavg_sum_int,
    median,
    median_int,
    trimmed_mean,
    trimmed_mean_int,
)
from zkagg._aggregation.rules import (
    FACTOR_BITS,
    ChunkRuleProof,
    RuleResult,
    aggregate_to_int,
    domain_artifacts,
    prove_rule,
    rule_circuit,
    sign_method,
    verify_rule,
)
from zkagg._field import quantize
from zkagg._kzg.commit import CommitmentDomain, UpdateCommitment, commit_update, commitment_domain
from zkagg._kzg.points import proof_input_commitments
from zkagg._prover.proof import prove
from zkagg.circuits._graph import SIGN_METHODS
from zkagg.circuits._graph import float_reference as float_graph

pytestmark = pytest.mark.slow

SCALE = 13
WEIGHTS = [3, 1, 4, 1, 5]
CLIP = 6.0


@dataclasses.dataclass(frozen=True)
class Shard:
    domain: CommitmentDomain
    updates: np.ndarray
    quantized: np.ndarray
    commitments: list[UpdateCommitment]


@pytest.fixture(scope="module")
def domain() -> CommitmentDomain:
    return commitment_domain(logrows=15, chunk_size=64, scale=SCALE)


def make_shard(domain: CommitmentDomain, n: int, length: int, seed: int, *, spread: float = 1.0) -> Shard:
    """Normal values; ``spread=1`` puts some beyond the sign lookup's table (decomposition), 0.1 not."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, length)) * spread
    x[1, :10] = x[0, :10]  # ties between clients
    x[2] *= 3.0  # one client above the clip norm
    q = quantize(x, SCALE)
    return Shard(domain, x, q, [commit_update(domain, row) for row in x])


@pytest.fixture(scope="module")
def shard(domain: CommitmentDomain) -> Shard:
    return make_shard(domain, 5, 100, seed=1)  # two chunks, the second zero padded


@pytest.fixture(scope="module")
def even_shard(domain: CommitmentDomain) -> Shard:
    return make_shard(domain, 4, 64, seed=2)


@pytest.fixture(scope="module")
def single_shard(domain: CommitmentDomain) -> Shard:
    return make_shard(domain, 5, 64, seed=3)  # one chunk: keeps the suite short


@pytest.fixture(scope="module")
def small_shard(domain: CommitmentDomain) -> Shard:
    return make_shard(domain, 5, 100, seed=4, spread=0.1)  # values the sign lookup takes


@pytest.fixture(scope="module")
def small_single_shard(domain: CommitmentDomain) -> Shard:
    return make_shard(domain, 5, 64, seed=5, spread=0.1)


#: Proven configurations: ``*_lookup`` on values the sign lookup takes, the others with values
#: beyond its table (so the prover falls back to decomposition).
RULES: dict[str, dict[str, Any]] = {
    "median": {},
    "median_even": {},
    "median_lookup": {},
    "trimmed_mean": {"beta": 0.2},
    "trimmed_mean_lookup": {"beta": 0.2},
    "clipped_fedavg": {"weights": WEIGHTS, "clip_norm": CLIP},
    "fedavg": {"weights": WEIGHTS},
}


def rule_of(name: str) -> str:
    """The rule a configuration of :data:`RULES` proves."""
    return next((r for r in ("median", "trimmed_mean") if name.startswith(r)), name)


@pytest.fixture(scope="module")
def proven(
    shard: Shard, even_shard: Shard, single_shard: Shard, small_shard: Shard, small_single_shard: Shard
) -> dict[str, tuple[Shard, RuleResult]]:
    shards = {
        "median_even": even_shard,
        "median_lookup": small_shard,
        "trimmed_mean": single_shard,
        "trimmed_mean_lookup": small_single_shard,
        "fedavg": single_shard,
    }
    out = {}
    for name, kwargs in RULES.items():
        s = shards.get(name, shard)
        out[name] = (s, prove_rule(rule_of(name), s.domain, s.quantized, **kwargs))
    return out


def float_reference(name: str, x: np.ndarray) -> np.ndarray:
    kwargs = RULES[name]
    if name.startswith("median"):
        return median(x)
    if name.startswith("trimmed_mean"):
        return trimmed_mean(x, kwargs["beta"])
    if name == "clipped_fedavg":
        return clipped_fedavg(x, CLIP, WEIGHTS)
    return fedavg(x, WEIGHTS)


def field_reference(name: str, q: np.ndarray) -> np.ndarray:
    if name.startswith("median"):
        return median_int(q) / 2.0**SCALE
    if name.startswith("trimmed_mean"):
        total, count = trimmed_mean_int(q, RULES[name]["beta"])
        out: np.ndarray = np.asarray(total) / (count * 2.0**SCALE)
        return out
    if name == "clipped_fedavg":
        norms = np.sqrt((q.astype(np.float64) ** 2).sum(axis=1))
        f = np.minimum(1.0, CLIP * 2**SCALE / norms)
        clipped: np.ndarray = (np.asarray(WEIGHTS) * f) @ q / (sum(WEIGHTS) * 2.0**SCALE)
        return clipped
    return np.asarray(fedavg_sum_int(q, WEIGHTS)) / (sum(WEIGHTS) * 2.0**SCALE)


def onnxruntime_output(name: str, s: Shard, result: RuleResult) -> np.ndarray:
    """Run the exported graph of chunk 0 on the prover's inputs; return its aggregate (or violation)."""
    rule = rule_of(name)
    circuit = rule_circuit(
        rule,
        s.domain,
        len(s.commitments),
        method=sign_method(rule, s.domain, s.quantized),
        **{k: v for k, v in RULES[name].items() if k != "clip_norm"},
    )
    cs = s.domain.chunk_size
    from zkagg._aggregation.rules import _chunk_inputs

    x = np.zeros((s.quantized.shape[0], cs), dtype=np.int64)
    x[:, : min(cs, s.quantized.shape[1])] = s.quantized[:, :cs]
    trim = 1 if rule == "trimmed_mean" else 0
    extra, _ = _chunk_inputs(rule, x, WEIGHTS, trim, list(result.factors) if result.factors else None)
    feeds = [*x, *extra]
    session = ort.InferenceSession(float_graph(circuit))
    named = {
        n: np.asarray(v, dtype=np.float32).reshape(shape)
        for (n, shape), v in zip(circuit.inputs, feeds, strict=True)
    }
    outputs = session.run(None, named)
    if rule in ("median", "trimmed_mean"):
        assert float(outputs[0].item()) == 0.0  # the check passes on the honest witness
        return np.asarray(result.aggregate_int[:cs], dtype=np.float64) / (result.divisor * 2.0**SCALE)
    return np.asarray(outputs[0], dtype=np.float64).ravel() / (result.divisor * 2.0**SCALE)


#: Agreement bound in quanta between the float reference and the circuit: half a quantum of input
#: quantization, plus the rounding of the even median (one quantum) and of the clip factors.
BOUNDS = {
    "median": 0.5,
    "median_even": 1.0,
    "median_lookup": 0.5,
    "trimmed_mean": 0.5,
    "trimmed_mean_lookup": 0.5,
    "fedavg": 0.5,
    "clipped_fedavg": 1.5,
}


@pytest.mark.parametrize("name", list(RULES))
def test_float_field_onnxruntime_and_circuit_agree(
    name: str, proven: dict[str, tuple[Shard, RuleResult]]
) -> None:
    # Prepare
    s, result = proven[name]
    length = s.updates.shape[1]
    quantum = 2.0**-SCALE
    # Execute
    reference = float_reference(name, s.updates)
    field = field_reference(name, s.quantized)
    circuit = result.aggregate(length, SCALE)
    runtime = onnxruntime_output(name, s, result)
    # Assert
    np.testing.assert_allclose(circuit, reference, rtol=0, atol=BOUNDS[name] * quantum * 1.0001)
    np.testing.assert_allclose(circuit, field, rtol=0, atol=BOUNDS[name] * quantum)
    cs = min(s.domain.chunk_size, length)
    np.testing.assert_allclose(runtime[:cs], circuit[:cs], rtol=2e-6, atol=1e-9)  # float32 runtime
    if name != "clipped_fedavg":
        assert np.array_equal(circuit, field)  # exact: the same integers, the same rescale


@pytest.mark.parametrize("name", list(RULES))
def test_honest_proofs_verify(name: str, proven: dict[str, tuple[Shard, RuleResult]]) -> None:
    s, result = proven[name]
    verify_rule(rule_of(name), s.domain, s.commitments, result.aggregate_int, result.proofs, **RULES[name])


@pytest.mark.parametrize("name", list(RULES))
def test_the_prover_takes_sign_lookups_when_the_values_allow(
    name: str, proven: dict[str, tuple[Shard, RuleResult]]
) -> None:
    # Prepare
    s, result = proven[name]
    rule = rule_of(name)
    kwargs = {k: v for k, v in RULES[name].items() if k != "clip_norm"}
    expected = "lookup" if name.endswith("_lookup") else "decomposition"
    # Execute
    method = sign_method(rule, s.domain, s.quantized)
    artifacts = domain_artifacts(
        rule_circuit(rule, s.domain, 5 if name != "median_even" else 4, method=method, **kwargs), s.domain
    )
    # Assert: values within the table take the lookup circuit, the others (and linear rules) not
    assert method == expected
    assert all(p.circuit_id == artifacts.vk_sha256 for p in result.proofs)


def test_proof_points_are_the_client_commitments(proven: dict[str, tuple[Shard, RuleResult]]) -> None:
    s, result = proven["median"]
    for j, p in enumerate(result.proofs):
        points = proof_input_commitments(p.proof, 5)
        assert points == [c.points[j] for c in s.commitments]


def check(
    name: str,
    proven: dict[str, tuple[Shard, RuleResult]],
    *,
    commitments: Callable[[list[UpdateCommitment]], list[UpdateCommitment]] = lambda c: c,
    aggregate: Callable[[list[int]], list[int]] = lambda a: a,
    proofs: Callable[[list[ChunkRuleProof]], list[ChunkRuleProof]] = lambda p: p,
) -> None:
    s, result = proven[name]
    verify_rule(
        rule_of(name),
        s.domain,
        commitments(list(s.commitments)),
        aggregate(list(result.aggregate_int)),
        proofs(list(result.proofs)),
        **RULES[name],
    )


def bump(values: list[int], index: int = 3) -> list[int]:
    values[index] += 1
    return values


@pytest.mark.parametrize("name", list(RULES))
def test_one_aggregate_value_changed_is_rejected(
    name: str, proven: dict[str, tuple[Shard, RuleResult]]
) -> None:
    with pytest.raises(InvalidProof, match="aggregate"):
        check(name, proven, aggregate=bump)


@pytest.mark.parametrize("method", SIGN_METHODS)
def test_wrong_median_is_rejected_by_the_proof_output(
    method: str, proven: dict[str, tuple[Shard, RuleResult]]
) -> None:
    # Prepare: chunk 0 proven honestly for a wrong median (one quantum off in one coordinate)
    shard, honest = proven["median_lookup" if method == "lookup" else "median"]
    artifacts = domain_artifacts(rule_circuit("median", shard.domain, 5, method=method), shard.domain)
    chunk = shard.quantized[:, :64]
    m = median_int(chunk)
    m[7] += 1
    forged = ChunkRuleProof(0, artifacts.vk_sha256, prove(artifacts, [*chunk.tolist(), m.tolist()]))
    aggregate = [*m.tolist(), *honest.aggregate_int[64:]]
    # Execute / Assert: the proof verifies as a proof, only its public output says the median is wrong
    assert forged.proof.instances != [[0]]
    with pytest.raises(InvalidProof, match="claimed median is wrong"):
        verify_rule("median", shard.domain, shard.commitments, aggregate, [forged, honest.proofs[1]])


def test_proof_from_another_chunk_is_rejected(proven: dict[str, tuple[Shard, RuleResult]]) -> None:
    def swap(p: list[ChunkRuleProof]) -> list[ChunkRuleProof]:
        return [dataclasses.replace(p[1], chunk=0), dataclasses.replace(p[0], chunk=1)]

    with pytest.raises(InvalidProof, match="is the proof of chunk 1"):
        check("median", proven, proofs=swap)


def test_proofs_out_of_order_or_missing_are_rejected(proven: dict[str, tuple[Shard, RuleResult]]) -> None:
    with pytest.raises(InvalidProof, match="chunk order"):
        check("median", proven, proofs=lambda p: p[::-1])
    with pytest.raises(InvalidProof, match="expected 2 chunk proofs"):
        check("median", proven, proofs=lambda p: p[:1])


def test_key_of_another_circuit_is_rejected(proven: dict[str, tuple[Shard, RuleResult]]) -> None:
    other = proven["fedavg"][1].proofs[0]
    with pytest.raises(InvalidProof, match="another circuit"):
        check("median", proven, proofs=lambda p: [dataclasses.replace(other, chunk=0), p[1]])
    # The label rewritten to the expected key: the proof itself still names another key.
    expected = proven["median"][1].proofs[0].circuit_id
    relabelled = dataclasses.replace(other, chunk=0, circuit_id=expected)
    with pytest.raises(InvalidProof, match="another circuit"):
        check("median", proven, proofs=lambda p: [relabelled, p[1]])
    # And the proof's own record of its key forged too: ezkl's verification fails.
    forged = dataclasses.replace(
        relabelled,
        proof=dataclasses.replace(other.proof, vk_sha256=proven["median"][1].proofs[0].proof.vk_sha256),
    )
    with pytest.raises(InvalidProof, match="does not verify"):
        check("median", proven, proofs=lambda p: [forged, p[1]])


def test_swapped_client_is_rejected(shard: Shard, proven: dict[str, tuple[Shard, RuleResult]]) -> None:
    other = commit_update(shard.domain, shard.updates[0] + 2**-SCALE)  # another update for client 3
    with pytest.raises(CommitmentMismatch, match="client 3"):
        check("median", proven, commitments=lambda c: [*c[:3], other, c[4]])
    with pytest.raises(CommitmentMismatch, match="client 0"):
        check("median", proven, commitments=lambda c: [c[1], c[0], *c[2:]])


@pytest.mark.parametrize("name", ["median", "clipped_fedavg"])
def test_dropped_or_added_client_is_rejected(
    name: str, shard: Shard, proven: dict[str, tuple[Shard, RuleResult]]
) -> None:
    extra = commit_update(shard.domain, shard.updates[0])
    weights = RULES[name].get("weights")
    s, result = proven[name]
    for commitments, w in (
        (s.commitments[:4], weights and weights[:4]),
        ([*s.commitments, extra], weights and [*weights, 1]),
    ):
        kwargs = {**RULES[name], **({"weights": w} if w else {})}
        with pytest.raises(InvalidProof, match="another circuit"):
            verify_rule(name, s.domain, commitments, result.aggregate_int, result.proofs, **kwargs)


def test_changed_weights_are_rejected(proven: dict[str, tuple[Shard, RuleResult]]) -> None:
    s, result = proven["fedavg"]
    with pytest.raises(InvalidProof, match="another circuit"):
        verify_rule(
            "fedavg", s.domain, s.commitments, result.aggregate_int, result.proofs, weights=[1, 1, 4, 1, 5]
        )


def test_clip_factors_bind_the_clip_norm(proven: dict[str, tuple[Shard, RuleResult]]) -> None:
    s, result = proven["clipped_fedavg"]
    assert result.factors is not None and min(result.factors) < 1 << FACTOR_BITS  # someone was clipped
    with pytest.raises(InvalidProof, match="clip factors"):
        verify_rule(
            "clipped_fedavg",
            s.domain,
            s.commitments,
            result.aggregate_int,
            result.proofs,
            weights=WEIGHTS,
            clip_norm=CLIP * 1.5,
        )


def test_commitment_of_another_domain_is_rejected(
    shard: Shard, proven: dict[str, tuple[Shard, RuleResult]]
) -> None:
    other_domain = commitment_domain(logrows=15, chunk_size=128, scale=SCALE)
    other = commit_update(other_domain, shard.updates[2])
    with pytest.raises(CommitmentMismatch, match="client 2"):
        check("median", proven, commitments=lambda c: [*c[:2], other, *c[3:]])


def test_aggregate_float_must_be_an_exact_rescale() -> None:
    assert aggregate_to_int(np.array([0.5, -0.25]), 1, 2, 2) == [2, -1]
    with pytest.raises(InvalidProof, match=r"aggregate\[1\]"):
        aggregate_to_int(np.array([0.5, 0.3]), 1, 2, 2)


def test_salted_domains_are_refused() -> None:
    salted = commitment_domain(logrows=15, chunk_size=64, scale=SCALE, salted=True)
    with pytest.raises(InvalidArgument, match="unsalted"):
        rule_circuit("median", salted, 3)


def _trimmed_witness(chunk: np.ndarray, trim: int) -> tuple[list[int], list[int], list[int]]:
    s = np.sort(chunk, axis=0)
    n = chunk.shape[0]
    return s[trim].tolist(), s[n - trim - 1].tolist(), s[trim : n - trim].sum(axis=0).tolist()


@pytest.mark.parametrize("forgery", ["sum_plus_one", "lower_one_rank_low", "cuts_swapped", "cut_off_by_one"])
@pytest.mark.parametrize("method", SIGN_METHODS)
def test_wrong_trimmed_mean_witness_is_rejected_by_the_proof_output(
    forgery: str, method: str, proven: dict[str, tuple[Shard, RuleResult]]
) -> None:
    # Prepare: the single chunk proven for a wrong witness, each consistent wherever it can be
    s = proven["trimmed_mean_lookup" if method == "lookup" else "trimmed_mean"][0]
    circuit = rule_circuit("trimmed_mean", s.domain, 5, beta=0.2, method=method)
    artifacts = domain_artifacts(circuit, s.domain)
    chunk = s.quantized[:, :64]
    lower, upper, total = _trimmed_witness(chunk, 1)
    ordered = np.sort(chunk, axis=0)
    if forgery == "sum_plus_one":
        total[5] += 1
    elif forgery == "lower_one_rank_low":  # lower = the smallest value, the sum its clip identity gives
        lower[5] = int(ordered[0, 5])
        clipped = np.clip(chunk[:, 5], lower[5], upper[5])
        total[5] = int(clipped.sum()) - lower[5] - upper[5]
    elif forgery == "cuts_swapped":
        lower, upper = upper, lower
    else:
        lower[5] -= 1
    proof = prove(artifacts, [*chunk.tolist(), lower, upper, total])
    # Execute / Assert: a valid proof whose public output says the claim is wrong
    assert proof.instances != [[0]]
    forged = ChunkRuleProof(0, artifacts.vk_sha256, proof)
    with pytest.raises(InvalidProof, match="claimed trimmed mean is wrong"):
        verify_rule("trimmed_mean", s.domain, s.commitments, total, [forged], beta=0.2)


def test_trimmed_mean_bounds_its_inputs_without_input_range_checks(single_shard: Shard) -> None:
    # A client value of 2**28 - 1 quanta (within the prover's own input check) with the cut points
    # at -5: Sign's decomposition of x - lower has no witness (module docstring of
    # zkagg.circuits.trimmed_mean, point 4), as an input range check would refuse it.
    from zkagg import ProvingError

    s = single_shard
    circuit = rule_circuit("trimmed_mean", s.domain, 5, beta=0.2)
    assert circuit.run_args.ignore_range_check_inputs_outputs
    artifacts = domain_artifacts(circuit, s.domain)
    chunk = s.quantized[:, :64].copy()
    chunk[:2, 9] = -5
    chunk[4, 9] = 2**28 - 1
    lower, upper, total = _trimmed_witness(chunk, 1)
    with pytest.raises(ProvingError):
        prove(artifacts, [*chunk.tolist(), lower, upper, total])


def test_sign_lookup_has_no_witness_beyond_its_table(small_single_shard: Shard) -> None:
    # A client value of 2**28 - 1 quanta (which the decomposition circuit's Sign would take): its
    # difference with the cut points is no entry of the lookup table, so the lookup circuit has no
    # witness (circuits/_graph.py, "Signs by lookup"). The prover's mock check says so instead of
    # letting ezkl's prover run on without end.
    from zkagg import ProvingError

    s = small_single_shard
    circuit = rule_circuit("trimmed_mean", s.domain, 5, beta=0.2, method="lookup")
    assert circuit.run_args.ignore_range_check_inputs_outputs
    artifacts = domain_artifacts(circuit, s.domain)
    chunk = s.quantized[:, :64].copy()
    chunk[4, 9] = 2**28 - 1
    lower, upper, total = _trimmed_witness(chunk, 1)
    with pytest.raises(ProvingError, match="outside its lookup table"):
        prove(artifacts, [*chunk.tolist(), lower, upper, total])


@pytest.mark.parametrize("rule", ["median", "trimmed_mean"])
def test_sign_lookup_is_refused_for_values_beyond_its_table(rule: str, shard: Shard) -> None:
    # shard's values spread beyond 16351 quanta: the automatic choice falls back to decomposition,
    # an explicit method="lookup" is refused before any key is built.
    assert sign_method(rule, shard.domain, shard.quantized) == "decomposition"
    beta = 0.2 if rule == "trimmed_mean" else None
    with pytest.raises(InvalidArgument, match="method='lookup' needs every value"):
        prove_rule(rule, shard.domain, shard.quantized, beta=beta, method="lookup")


def test_sign_method_reads_values_and_spreads() -> None:
    d = commitment_domain(logrows=15, chunk_size=64, scale=SCALE)
    inside = np.array([[16351, -5], [0, 5]])
    assert sign_method("median", d, inside) == "lookup"
    assert sign_method("median", d, np.array([[16351, 0], [-1, 0]])) == "decomposition"  # spread 16352
    assert sign_method("median", d, np.array([[-16352], [-16352]])) == "decomposition"  # |q| too large
    assert sign_method("fedavg", d, inside) == "decomposition"  # compares nothing
    with pytest.raises(InvalidArgument, match="method 'lookup' is for rules"):
        rule_circuit("fedavg", d, 2, method="lookup")
