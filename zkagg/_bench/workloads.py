"""The timed workloads of ``zkagg bench``: each pipeline's round on one seeded shard workload.

The pipelines aggregate the same shard workload (``N`` clients of ``length`` values, fixed seed):

1. **native** (:func:`measure_native`): numpy aggregation without any proof (and Flower's own
   aggregation functions when ``flwr`` is installed);
2. **EZKL used directly** (:func:`measure_ezkl`): one monolithic circuit over all clients (the
   direct ``TopK`` median or ``MatMul`` FedAvg of :mod:`zkagg.circuits.baselines`), inputs either
   Poseidon-hashed (``input_visibility="hashed"``, as EZKL's documentation binds a proof to its
   inputs) or KZG-committed (``polycommit``, as zkagg's circuits); settings, calibration, compile
   and key setup once, then witness, prove and verify per round. Three baselines come from it
   (:mod:`zkagg._bench.measure`): keys built once per circuit shape with hashed inputs (the
   headline), keys built once with polycommit inputs, and the documentation-style pipeline that
   redoes settings, calibration, compile and key setup every round (hashed inputs). The SRS is
   treated as downloaded once (its generation is reported but not counted), and the clients' own
   hashing or committing of their updates is not counted either (both only flatter EZKL);
3. **zkagg** (:func:`measure_zkagg`): clients commit (KZG, one ``kzg_commit`` per chunk), the shard
   aggregates (:func:`zkagg.aggregate_shard`: exact sums for FedAvg, chunk proofs for the other
   rules, keys built once per deployment and reused), the verifier checks
   (:func:`zkagg.verify_shard`: homomorphic for FedAvg, proofs for the rest). Its one-time setup
   (commitment domain, rule keys) is measured in every child (empty cache) and reported apart.

**End to end** is a round's latency: clients commit in parallel (on their own devices, so the
slowest client's commitment counts), then the aggregator and the verifier run; for the
EZKL baselines witness, prove and verify (plus settings, calibration, compile and setup for the
documentation-style one). Every phase records CPU seconds of its process beside wall seconds, so a
ratio can be read by CPU where other work on the machine distorts wall time. Total (all clients'
commitments added) is reported too.

Two more workloads belong to the full run: monolithic versus sharded proving of FedAvg
(:func:`measure_monolithic`) and the shard-level quality model's accuracy against proof cost
(:func:`measure_quality`, :mod:`zkagg._fl.quality`). Every function here returns one JSON row;
the pipelines are meant to run in a child process (:func:`zkagg._bench.child.in_child`).

Assumes ezkl 23.0.5 (DESIGN.md §4).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from zkagg._aggregation import reference as ref
from zkagg._aggregation.records import ChunkProof, ShardAggregate
from zkagg._aggregation.rules import RuleResult, plan_rule, run_plans
from zkagg._aggregation.shard import aggregate_shard, combine_shards, verify_shard
from zkagg._aggregation.spec import AggregationSpec
from zkagg._bench.child import cpu_seconds, fresh_home, in_child
from zkagg._errors import InvalidArgument
from zkagg._executors import make_executor
from zkagg._field import quantize
from zkagg._fl.data import load_digits_task
from zkagg._fl.quality import QualitySpec, prove_quality, quality_artifacts, verify_quality
from zkagg._home import zkagg_home
from zkagg._kzg.commit import commit_update
from zkagg._protocol.run import CountingBackend
from zkagg._prover.artifacts import _auto_logrows, build_circuit
from zkagg._prover.ezkl import call_ezkl
from zkagg._prover.proof import prove, verify
from zkagg._prover.srs import dev_srs
from zkagg.circuits._graph import Circuit
from zkagg.circuits.baselines import matmul_fedavg_circuit, topk_median_circuit, topk_trimmed_mean_circuit
from zkagg.circuits.fedavg import fedavg_circuit
from zkagg.da import MemoryBackend, Namespace, write_payload
from zkagg.da._shares import SHARE_SIZE

__all__ = [
    "EZKL_INPUTS",
    "measure_ezkl",
    "measure_monolithic",
    "measure_native",
    "measure_quality",
    "measure_zkagg",
]

T = TypeVar("T")


def _updates(n: int, length: int, seed: int) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=0.05, size=(n, length))
    weights = [int(w) for w in rng.integers(10, 100, size=n)]
    return x, weights


def _spec(rule: str, chunk: int, scale: int) -> AggregationSpec:
    return AggregationSpec(
        rule=rule, chunk_size=chunk, scale=scale, beta=0.2 if rule == "trimmed_mean" else None
    )


# -- (1) native ---------------------------------------------------------------------------------


def measure_native(rule: str, n: int, length: int, seed: int) -> dict[str, Any]:
    """Numpy (and Flower's functions when installed) on the same workload; median of 7 runs."""
    x, w = _updates(n, length, seed)

    def timed(fn: Callable[[], object]) -> float:
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    fns: dict[str, Callable[[], object]] = {
        "fedavg": lambda: ref.fedavg(x, w),
        "median": lambda: ref.median(x),
        "trimmed_mean": lambda: ref.trimmed_mean(x, 0.2),
    }
    out: dict[str, Any] = {"pipeline": "native", "rule": rule, "clients": n, "length": length}
    out["numpy_s"] = timed(fns[rule])
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")  # never reach the network
    try:
        from flwr.server.strategy import aggregate as flower_aggregate
    except ImportError:
        out["flower_s"] = None
    else:
        results = [([row], wi) for row, wi in zip(x, w, strict=True)]
        flower: dict[str, Callable[[], object]] = {
            "fedavg": lambda: flower_aggregate.aggregate(results),
            "median": lambda: flower_aggregate.aggregate_median(results),
            "trimmed_mean": lambda: flower_aggregate.aggregate_trimmed_avg(results, 0.2),
        }
        out["flower_s"] = timed(flower[rule])
    out["end_to_end_s"] = out["numpy_s"]
    return out


# -- (2) EZKL baselines ---------------------------------------------------------------------------

#: The EZKL baselines' input visibilities: Poseidon ``hashed`` (what EZKL's documentation shows for
#: binding a proof to its inputs) and ``polycommit`` (KZG commitments, what zkagg's circuits and the
#: baselines of ``benchmarks/robust_circuits.py`` use).
EZKL_INPUTS = ("hashed", "polycommit")
#: One-time phases (once per circuit shape for a user who keeps the keys) and per-round phases.
ONE_TIME_PHASES = ("settings", "calibrate", "compile", "setup")
ROUND_PHASES = ("witness", "prove", "verify")


def _ezkl_circuit(rule: str, n: int, length: int, weights: Sequence[int], scale: int, inputs: str) -> Circuit:
    if inputs not in EZKL_INPUTS:
        raise InvalidArgument(f"inputs must be one of {', '.join(EZKL_INPUTS)}, not {inputs!r}")
    if rule == "fedavg":
        circuit = matmul_fedavg_circuit(weights, length, scale=scale)
    elif rule == "median":
        circuit = topk_median_circuit(n, length, scale=scale)
    else:
        circuit = topk_trimmed_mean_circuit(n, length, ref.trim_count(n, 0.2), scale=scale)
    run_args = replace(circuit.run_args, input_visibility=inputs, output_visibility="public", logrows=None)
    return replace(circuit, run_args=run_args)


def measure_ezkl(
    rule: str, n: int, length: int, scale: int, seed: int, inputs: str, rounds: int
) -> dict[str, Any]:
    """EZKL used directly on one monolithic circuit: one-time setup, then ``rounds`` rounds (in a child).

    The one-time phases (settings, calibration, compile, key setup) run once; each round then runs
    witness, prove and verify on the same keys (the same inputs each round: proving time does not
    depend on the values). Every phase records wall and CPU seconds of this process (ezkl's threads
    included). :mod:`zkagg._bench.measure` derives the baseline rows from this one measurement.
    """
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise InvalidArgument(f"rounds must be a positive integer, not {rounds!r}")
    x, w = _updates(n, length, seed)
    circuit = _ezkl_circuit(rule, n, length, w, scale, inputs)
    one_time: dict[str, float] = {}
    one_time_cpu: dict[str, float] = {}
    per_round: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="zkagg-ezkl-") as tmpdir:
        tmp = Path(tmpdir)
        model, settings, compiled = tmp / "model.onnx", tmp / "settings.json", tmp / "model.compiled"
        model.write_bytes(circuit.onnx)
        data = tmp / "input.json"
        q = np.round(x * 2**scale) / 2**scale
        data.write_text(json.dumps({"input_data": [row.tolist() for row in q]}))

        def step(into: dict[str, float], name: str, fn: Callable[[], T]) -> T:
            c0, t0 = cpu_seconds(), time.perf_counter()
            result = fn()
            into[name] = time.perf_counter() - t0
            into[f"{name}_cpu"] = cpu_seconds() - c0
            return result

        timings: dict[str, float] = {}
        step(
            timings,
            "settings",
            lambda: call_ezkl(
                "gen_settings", str(model), str(settings), py_run_args=circuit.run_args.to_ezkl(17)
            ),
        )
        step(
            timings,
            "calibrate",
            lambda: call_ezkl(
                "calibrate_settings", str(data), str(model), str(settings), "resources", scales=[scale]
            ),
        )
        s = json.loads(settings.read_text())
        k = max(int(s["run_args"]["logrows"]), _auto_logrows(s))
        if k != int(s["run_args"]["logrows"]):
            s["run_args"]["logrows"] = k
            settings.write_text(json.dumps(s))
        step(
            timings, "compile", lambda: call_ezkl("compile_circuit", str(model), str(compiled), str(settings))
        )
        srs = step(timings, "srs", lambda: dev_srs(k))
        vk, pk = tmp / "vk.key", tmp / "pk.key"
        step(timings, "setup", lambda: call_ezkl("setup", str(compiled), str(vk), str(pk), str(srs.path)))
        for phase in ONE_TIME_PHASES:
            one_time[phase] = timings[phase]
            one_time_cpu[phase] = timings[f"{phase}_cpu"]
        witness, proof = tmp / "witness.json", tmp / "proof.json"
        for _ in range(rounds):
            r: dict[str, float] = {}
            step(
                r,
                "witness",
                lambda: call_ezkl(
                    "gen_witness", str(data), str(compiled), str(witness), str(vk), str(srs.path)
                ),
            )
            step(
                r,
                "prove",
                lambda: call_ezkl("prove", str(witness), str(compiled), str(pk), str(proof), str(srs.path)),
            )
            step(r, "verify", lambda: call_ezkl("verify", str(proof), str(settings), str(vk), str(srs.path)))
            per_round.append(r)
        proof_json = json.loads(proof.read_text())
        proof_bytes = len(proof_json.get("proof", []))
        instances = sum(len(c) for c in proof_json.get("instances", []))
        da_payload = proof.stat().st_size
        rows = int(s.get("num_rows", 0))
    return {
        "rule": rule,
        "clients": n,
        "length": length,
        "inputs": inputs,
        "logrows": k,
        "rows": rows,
        "one_time": one_time,
        "one_time_cpu": one_time_cpu,
        "rounds": per_round,
        "srs_s_not_counted": timings["srs"],
        "proof_bytes": proof_bytes,
        "public_instances": instances,
        "da_bytes": da_payload + 64 * n,  # the proof file, and each client's posted hash or commitment
    }


# -- (3) zkagg ------------------------------------------------------------------------------------


def _da_cost(payloads: Sequence[bytes]) -> dict[str, int]:
    """Blob data and shares that writing ``payloads`` with :func:`zkagg.da.write_payload` submits."""
    backend = CountingBackend(MemoryBackend())
    ns = Namespace.v0(b"zkbench")
    for p in payloads:
        write_payload(backend, ns, p)
    return {
        "da_bytes": backend.bytes,
        "da_shares": backend.shares,
        "da_share_bytes": backend.shares * SHARE_SIZE,
    }


def measure_zkagg(
    rule: str,
    n: int,
    length: int,
    chunk: int,
    shards: int,
    scale: int,
    seed: int,
    executor: str = "serial",
    workers: int = 1,
    ray_address: str | None = None,
) -> dict[str, Any]:
    """One round of zkagg over ``shards`` shards of ``n`` clients (runs in a child process)."""
    with fresh_home([15]) as home:
        assert zkagg_home() == home
        spec = _spec(rule, chunk, scale)
        c_start, t0 = cpu_seconds(), time.perf_counter()
        domain = spec.domain()
        domain_s = time.perf_counter() - t0
        domain_cpu = cpu_seconds() - c_start
        data = [_updates(n, length, seed + s) for s in range(shards)]
        # clients: each commits its own update (in parallel in reality: the slowest one counts)
        commit_times: list[float] = []
        commit_cpu: list[float] = []
        commitments = []
        for x, _ in data:
            row = []
            for v in x:
                c0, t0 = cpu_seconds(), time.perf_counter()
                row.append(commit_update(spec, v))
                commit_times.append(time.perf_counter() - t0)
                commit_cpu.append(cpu_seconds() - c0)
            commitments.append(row)
        setup_s = setup_cpu = 0.0
        rows = logrows = 0
        ex = make_executor(
            executor, workers=None if executor == "serial" else workers, ray_address=ray_address
        )
        try:
            if rule == "fedavg":
                a_cpu, a0 = cpu_seconds(), time.perf_counter()
                results = [aggregate_shard(spec, x, w) for x, w in data]
                aggregate_s, aggregate_cpu = time.perf_counter() - a0, cpu_seconds() - a_cpu
            else:
                quantize_w = [(_quantized(spec, x, w), w) for x, w in data]
                s_cpu, s0 = cpu_seconds(), time.perf_counter()
                plans = [
                    plan_rule(rule, domain, q, weights=w, beta=spec.beta, clip_norm=spec.clip_norm)
                    for q, w in quantize_w
                ]
                setup_s = time.perf_counter() - s0  # builds the rule circuit's keys once (then cached)
                setup_cpu = cpu_seconds() - s_cpu
                rows, logrows = plans[0].artifacts.num_rows, plans[0].artifacts.logrows
                if ex.name != "serial":  # warm the workers (start-up is not a round cost)
                    ex.run(plans[0].tasks("warm-up")[:1])
                a_cpu, a0 = cpu_seconds(), time.perf_counter()
                rule_results = run_plans(plans, ex)
                # this process's CPU only: workers of a pool or of Ray are not counted
                aggregate_s, aggregate_cpu = time.perf_counter() - a0, cpu_seconds() - a_cpu
                results = [
                    _shard_aggregate(spec, rr, w, length)
                    for rr, (_, w) in zip(rule_results, data, strict=True)
                ]
        finally:
            ex.close()
        encoded = [r.to_bytes() for r in results]
        v_cpu, v0 = cpu_seconds(), time.perf_counter()
        for (_, w), cs, blob in zip(data, commitments, encoded, strict=True):
            verify_shard(spec, cs, w, ShardAggregate.from_bytes(blob))
        if rule == "fedavg" and shards > 1:
            combined = combine_shards(results)
            verify_shard(spec, [c for cs in commitments for c in cs], list(combined.weights), combined)
        verify_s, verify_cpu = time.perf_counter() - v0, cpu_seconds() - v_cpu
        proofs = [p for r in results for p in r.proofs]
        proof_bytes = sum(len(json.loads(p.proof)["proof"]["proof"]) for p in proofs)
        payloads = [c.to_bytes() for cs in commitments for c in cs] + encoded
        latency = max(commit_times) + aggregate_s + verify_s
        return {
            "pipeline": "zkagg",
            "rule": rule,
            "clients": n,
            "length": length,
            "chunk_size": chunk,
            "shards": shards,
            "executor": executor,
            "workers": 1 if executor == "serial" else workers,
            "logrows": logrows or domain.logrows,
            "rows": rows,
            "domain_setup_s": domain_s,
            "setup_s": setup_s,
            "one_time_s": domain_s + setup_s,
            "one_time_cpu_s": domain_cpu + setup_cpu,
            "calibrate_s": 0.0,
            "round_setup_s": 0.0,
            "commit_s_total": sum(commit_times),
            "commit_s_max": max(commit_times),
            "prove_s": aggregate_s,
            "verify_s": verify_s,
            "end_to_end_s": latency,
            "end_to_end_cpu_s": max(commit_cpu) + aggregate_cpu + verify_cpu,
            "total_s": sum(commit_times) + aggregate_s + verify_s,
            "total_cpu_s": sum(commit_cpu) + aggregate_cpu + verify_cpu,
            "proofs": len(proofs),
            "proof_bytes": proof_bytes,
            **_da_cost(payloads),
        }


def _quantized(spec: AggregationSpec, x: np.ndarray, w: Sequence[int]) -> np.ndarray:
    return np.asarray(quantize(x, spec.scale, n_terms=sum(w)), dtype=np.int64)


def _shard_aggregate(spec: AggregationSpec, rr: RuleResult, w: Sequence[int], length: int) -> ShardAggregate:
    proofs = tuple(ChunkProof(p.chunk, p.circuit_id, p.proof.to_bytes()) for p in rr.proofs)
    return ShardAggregate(spec, tuple(w), length, rr.aggregate(length, spec.scale), proofs=proofs)


# -- monolithic versus sharded -------------------------------------------------------------------


def measure_monolithic(total_clients: int, shards: int, length: int, scale: int, seed: int) -> dict[str, Any]:
    """One proven FedAvg circuit over all clients versus one per shard plus homomorphic composition.

    Both use zkagg's integer FedAvg circuit with default range checks (the proven variant); each
    proof is made in its own child process so that its peak memory is its own.
    """
    x, w = _updates(total_clients, length, seed)
    per = total_clients // shards
    mono = in_child(_prove_once, fedavg_circuit(w, length, logrows=None, range_checked=True), _q(x, scale))
    shard_runs = [
        in_child(
            _prove_once,
            fedavg_circuit(w[s * per : (s + 1) * per], length, logrows=None, range_checked=True),
            _q(x[s * per : (s + 1) * per], scale),
        )
        for s in range(shards)
    ]
    compose = in_child(_compose_once, total_clients, shards, length, scale, seed)
    return {
        "total_clients": total_clients,
        "shards": shards,
        "length": length,
        "monolithic": mono,
        "sharded": shard_runs,
        "composition": compose,
        "summary": {
            "monolithic_logrows": mono["logrows"],
            "shard_logrows": shard_runs[0]["logrows"],
            "monolithic_cpu_s": mono["prove_cpu_s"] + mono["setup_cpu_s"],
            "sharded_cpu_s": sum(r["prove_cpu_s"] + r["setup_cpu_s"] for r in shard_runs) + compose["cpu_s"],
            "monolithic_prove_cpu_s": mono["prove_cpu_s"],
            "sharded_prove_cpu_s": sum(r["prove_cpu_s"] for r in shard_runs),
            "monolithic_critical_path_s": mono["prove_s"],
            "sharded_critical_path_s": max(r["prove_s"] for r in shard_runs) + compose["verify_s"],
            "monolithic_critical_path_cpu_s": mono["prove_cpu_s"],
            "sharded_critical_path_cpu_s": max(r["prove_cpu_s"] for r in shard_runs) + compose["cpu_s"],
            "monolithic_peak_mib": mono["peak_rss_mib"],
            "sharded_peak_mib": max(r["peak_rss_mib"] for r in shard_runs),
            "monolithic_verify_s": mono["verify_s"],
            "sharded_verify_s": sum(r["verify_s"] for r in shard_runs) + compose["verify_s"],
        },
    }


def _q(x: np.ndarray, scale: int) -> list[list[int]]:
    return [[int(v) for v in row] for row in np.round(x * 2**scale).astype(np.int64)]


def _prove_once(circuit: Circuit, inputs: list[list[int]]) -> dict[str, Any]:
    with fresh_home([15]):  # keys are always built here, so set-up is measured
        c0, t0 = cpu_seconds(), time.perf_counter()
        artifacts = build_circuit(circuit.onnx, circuit.run_args)
        setup_s, setup_cpu = time.perf_counter() - t0, cpu_seconds() - c0
        c0, t0 = cpu_seconds(), time.perf_counter()
        proof = prove(artifacts, inputs)
        prove_s, prove_cpu = time.perf_counter() - t0, cpu_seconds() - c0
        t0 = time.perf_counter()
        verify(proof, artifacts)
        verify_s = time.perf_counter() - t0
        return {
            "logrows": artifacts.logrows,
            "rows": artifacts.num_rows,
            "keys_cached": artifacts.cached,
            "setup_s": setup_s,
            "setup_cpu_s": setup_cpu,
            "prove_s": prove_s,
            "prove_cpu_s": prove_cpu,
            "verify_s": verify_s,
            "proof_bytes": proof.proof_size,
        }


def _compose_once(total: int, shards: int, length: int, scale: int, seed: int) -> dict[str, Any]:
    """The second level: shard sums composed and checked homomorphically (no SNARK)."""
    spec = _spec("fedavg", 1 << max(6, (length - 1).bit_length()), scale)
    x, w = _updates(total, length, seed)
    per = total // shards
    commitments = [commit_update(spec, v) for v in x]
    results = [
        aggregate_shard(spec, x[s * per : (s + 1) * per], w[s * per : (s + 1) * per]) for s in range(shards)
    ]
    c0, t0 = cpu_seconds(), time.perf_counter()
    combined = combine_shards(results)
    verify_shard(spec, commitments, w, combined)
    return {"verify_s": time.perf_counter() - t0, "cpu_s": cpu_seconds() - c0}


# -- pruning and quantization versus proof cost -----------------------------------------------------


def measure_quality(prune: float, scale: int, seed: int) -> dict[str, Any]:
    """Accuracy and proof cost of the shard-level quality model at one pruning ratio and scale."""
    import torch  # torch and the torch-based model are imported only where they are needed

    from zkagg._fl.model import DigitsMLP, accuracy, get_flat_params, local_train, param_count

    data = load_digits_task(seed=0)
    torch.manual_seed(seed)
    hidden = 16
    start = get_flat_params(DigitsMLP(hidden))
    update = local_train(start, data.x_train, data.y_train, hidden=hidden, seed=seed)
    params = start + update.delta
    if prune > 0:
        cut = np.quantile(np.abs(params), prune)
        params = np.where(np.abs(params) < cut, 0.0, params)
    q = np.round(params * 2**scale) / 2**scale
    spec = QualitySpec.for_digits(data, hidden=hidden, scale=scale)
    t0 = time.perf_counter()
    artifacts = quality_artifacts(spec)
    setup_s = time.perf_counter() - t0
    c0, t0 = cpu_seconds(), time.perf_counter()
    proof = prove_quality(q, spec)
    prove_s, prove_cpu = time.perf_counter() - t0, cpu_seconds() - c0
    t0 = time.perf_counter()
    verify_quality(proof, 0.0, spec)
    verify_s = time.perf_counter() - t0
    return {
        "prune": prune,
        "scale": scale,
        "params": param_count(hidden),
        "nonzero": int(np.count_nonzero(q)),
        "test_accuracy": accuracy(q, hidden, data.x_test, data.y_test),
        "probe_accuracy_proven": proof.accuracy,
        "logrows": artifacts.logrows,
        "rows": artifacts.num_rows,
        "setup_s": setup_s,
        "prove_s": prove_s,
        "prove_cpu_s": prove_cpu,
        "verify_s": verify_s,
        "proof_bytes": proof.proof.proof_size,
    }
