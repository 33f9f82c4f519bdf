"""``zkagg bench``: what verification costs, measured side by side in one run.

Three pipelines aggregate the same shard workload (``N`` clients of ``length`` values, fixed seed):

1. **native**: numpy aggregation without any proof (and Flower's own aggregation functions when
   ``flwr`` is installed);
2. **naive EZKL**: what a user writes from EZKL's documentation: one monolithic circuit over all
   clients (the direct ``TopK`` median or ``MatMul`` FedAvg of :mod:`zkagg.circuits.baselines`),
   inputs Poseidon-hashed (``input_visibility="hashed"``) so that the proof names what it was
   computed on, settings calibrated, circuit compiled and keys set up again every round, then
   witness, prove, verify. The SRS is treated as downloaded once (its generation is reported but
   not counted), and the clients' own Poseidon hashing of their updates is not counted either
   (both only flatter the naive pipeline);
3. **zkagg**: clients commit (KZG, one ``kzg_commit`` per chunk), the shard aggregates
   (:func:`zkagg.aggregate_shard`: exact sums for FedAvg, chunk proofs for the other rules, keys
   built once per deployment and reused), the verifier checks (:func:`zkagg.verify_shard`:
   homomorphic for FedAvg, proofs for the rest).

Every measurement of a pipeline runs in a fresh child process (spawned), so peak memory is that
process's own (``ru_maxrss``) and CPU seconds are its own; each zkagg child gets an empty cache root
with the SRS files linked in, so one-time set-up (the commitment domain and the rule circuit's keys)
is measured every time, and reported apart from the round.

**End to end** is a round's latency: clients commit in parallel (on their own devices, so the
slowest client's commitment counts), then the aggregator and the verifier run; for the naive
pipeline calibrate, compile, setup, witness, prove and verify. Total CPU (all clients' commitments
added) is reported too.

Full mode adds: a sweep over rules, clients per shard, chunk sizes and shard counts; monolithic
versus sharded proving (total CPU, critical path, peak memory, verification cost); executors
(serial, local pool, Ray) on the same shard proofs; and the shard-level quality model's accuracy
against proof cost for a few pruning ratios and scales (:mod:`zkagg._fl.quality`).

Assumes ezkl 23.0.5 (DESIGN.md §4).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from zkagg._errors import InvalidArgument, ZkaggError

__all__ = [
    "FULL",
    "QUICK",
    "BenchConfig",
    "describe_machine",
    "in_child",
    "run_bench",
    "write_outputs",
]

BENCH_RULES = ("fedavg", "median", "trimmed_mean")
SEED = 20261122
#: Goals recorded with the results (issue 6): zkagg vs the naive pipeline, end to end.
GOALS = {"fedavg": 100.0, "median": 3.0}
_POW2_CHUNKS = tuple(2**k for k in range(6, 17))


# -- the machine ----------------------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe_machine() -> dict[str, Any]:
    """CPU model, cores, memory, OS, Python and the versions that matter for the numbers."""
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for name in ("zkagg", "ezkl", "onnx", "onnxruntime", "torch", "numpy", "ray", "flwr"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "load_1min_at_start": load,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


# -- configuration --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchConfig:
    """What one ``zkagg bench`` run measures.

    The headline workload (zkagg against native and naive, one shard) is the first entry of
    ``clients`` and ``chunk_sizes`` with ``length`` values per client; the sweep covers every
    combination of ``rules``, ``clients``, ``chunk_sizes`` and ``shards``.

    Attributes
    ----------
    rules
        Rules to sweep (``fedavg``, ``median``, ``trimmed_mean``).
    clients
        Clients per shard to sweep (at least 3).
    chunk_sizes
        Commitment chunk sizes to sweep (powers of two in [64, 65536]).
    shards
        Shard counts to sweep (each shard has ``clients`` clients).
    length
        Values per client update.
    naive
        Run the naive EZKL pipeline (the headline comparison).
    monolithic
        Run the monolithic-versus-sharded comparison.
    quality
        Run the pruning/quantization-versus-proof-cost section.
    executor
        Where zkagg's proofs run in the headline and the sweep (``serial``, ``local``, ``ray``).
    compare_executors
        Executors to compare on the same four-shard median proofs; empty: none.
    workers
        Workers of the ``local`` and ``ray`` executors.
    ray_address
        A Ray cluster for the ``ray`` executor (default: a local instance).
    scale
        Quantization scale.
    seed
        Seed of every workload.
    """

    rules: tuple[str, ...] = ("fedavg", "median")
    clients: tuple[int, ...] = (8,)
    chunk_sizes: tuple[int, ...] = (128,)
    shards: tuple[int, ...] = (1,)
    length: int = 128
    naive: bool = True
    monolithic: bool = False
    quality: bool = False
    executor: str = "serial"
    compare_executors: tuple[str, ...] = ()
    workers: int = 2
    ray_address: str | None = None
    scale: int = 13
    seed: int = SEED

    def __post_init__(self) -> None:
        from zkagg._executors import EXECUTORS

        if not self.rules:
            raise InvalidArgument("rules must name at least one rule")
        for r in self.rules:
            if r not in BENCH_RULES:
                raise InvalidArgument(f"rules must be among {', '.join(BENCH_RULES)}, not {r!r}")
        for name, values, low in (("clients", self.clients, 3), ("shards", self.shards, 1)):
            if not values or any(isinstance(v, bool) or not isinstance(v, int) or v < low for v in values):
                raise InvalidArgument(f"{name} must be integers >= {low}, not {list(values)!r}")
        if not self.chunk_sizes or any(c not in _POW2_CHUNKS for c in self.chunk_sizes):
            raise InvalidArgument(
                f"chunk_sizes must be powers of two in [64, 65536], not {list(self.chunk_sizes)!r}"
            )
        if isinstance(self.length, bool) or not isinstance(self.length, int) or self.length < 1:
            raise InvalidArgument(f"length must be a positive integer, not {self.length!r}")
        for e in (self.executor, *self.compare_executors):
            if e not in EXECUTORS:
                raise InvalidArgument(f"executor must be one of {', '.join(EXECUTORS)}, not {e!r}")
        if self.ray_address is not None and "ray" not in (self.executor, *self.compare_executors):
            raise InvalidArgument(f"ray_address is only for executor 'ray', not {self.executor!r}")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise InvalidArgument(f"workers must be a positive integer, not {self.workers!r}")

    @property
    def head(self) -> tuple[int, int, int]:
        """The headline workload: (clients, length, chunk size), one shard."""
        return self.clients[0], self.length, self.chunk_sizes[0]


#: ``--quick``: the headline comparison only, 8 clients x 128 values (under 3 minutes on 2 cores
#: once the dev SRS files exist).
QUICK = BenchConfig()
#: The default: the sweep, executors, monolithic vs sharded and the quality model.
FULL = BenchConfig(
    rules=("fedavg", "median", "trimmed_mean"),
    clients=(8, 16),
    chunk_sizes=(256,),
    shards=(1, 4),
    length=256,
    monolithic=True,
    quality=True,
    compare_executors=("serial", "local", "ray"),
)


# -- child processes ------------------------------------------------------------------------------


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _child_main(fn: Callable[..., dict[str, Any]], args: tuple[Any, ...]) -> dict[str, Any]:
    c0 = _cpu_seconds()
    out = fn(*args)
    out["child_cpu_s"] = _cpu_seconds() - c0
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def in_child(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run ``fn(*args)`` in a fresh spawned process; add its CPU seconds and peak RSS (MiB)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_child_main, fn, args).result()


def _fresh_home(logrows: Sequence[int]) -> Path:
    """An empty cache root with this machine's dev SRS files linked in.

    The SRS of every logrows in ``logrows`` is generated first if missing; every other dev SRS
    already cached is linked too (circuits that pick their own logrows find it).
    """
    from zkagg._home import zkagg_home
    from zkagg._prover.srs import dev_srs

    home = Path(tempfile.mkdtemp(prefix="zkagg-bench-home-"))
    target = home / "srs" / "dev"
    target.mkdir(parents=True)
    for k in sorted(set(logrows)):
        dev_srs(k, home=zkagg_home())
    for path in sorted((zkagg_home() / "srs" / "dev").glob("k*.srs")):
        meta = path.with_name(f"{path.name}.json")
        if meta.exists():
            os.symlink(path, target / path.name)
            shutil.copyfile(meta, target / meta.name)
    return home


def _updates(n: int, length: int, seed: int) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=0.05, size=(n, length))
    weights = [int(w) for w in rng.integers(10, 100, size=n)]
    return x, weights


def _spec(rule: str, chunk: int, scale: int) -> Any:
    from zkagg._aggregation.spec import AggregationSpec

    return AggregationSpec(
        rule=rule, chunk_size=chunk, scale=scale, beta=0.2 if rule == "trimmed_mean" else None
    )


# -- (1) native ---------------------------------------------------------------------------------


def measure_native(rule: str, n: int, length: int, seed: int) -> dict[str, Any]:
    """Numpy (and Flower's functions when installed) on the same workload; median of 7 runs."""
    from zkagg._aggregation import reference as ref

    x, w = _updates(n, length, seed)

    def timed(fn: Callable[[], Any]) -> float:
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    fns: dict[str, Callable[[], Any]] = {
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
        flower: dict[str, Callable[[], Any]] = {
            "fedavg": lambda: flower_aggregate.aggregate(results),
            "median": lambda: flower_aggregate.aggregate_median(results),
            "trimmed_mean": lambda: flower_aggregate.aggregate_trimmed_avg(results, 0.2),
        }
        out["flower_s"] = timed(flower[rule])
    out["end_to_end_s"] = out["numpy_s"]
    return out


# -- (2) the naive EZKL pipeline ------------------------------------------------------------------


def _naive_circuit(rule: str, n: int, length: int, weights: Sequence[int], scale: int) -> Any:
    from zkagg.circuits.baselines import matmul_fedavg_circuit, topk_median_circuit, topk_trimmed_mean_circuit

    if rule == "fedavg":
        circuit = matmul_fedavg_circuit(weights, length, scale=scale)
    elif rule == "median":
        circuit = topk_median_circuit(n, length, scale=scale)
    else:
        from zkagg._aggregation.reference import trim_count

        circuit = topk_trimmed_mean_circuit(n, length, trim_count(n, 0.2), scale=scale)
    run_args = replace(circuit.run_args, input_visibility="hashed", output_visibility="public", logrows=None)
    return replace(circuit, run_args=run_args)


def measure_naive(rule: str, n: int, length: int, scale: int, seed: int) -> dict[str, Any]:
    """One round of the naive pipeline (runs in a child process)."""
    from zkagg._prover.artifacts import _auto_logrows
    from zkagg._prover.ezkl import call_ezkl
    from zkagg._prover.srs import dev_srs

    x, w = _updates(n, length, seed)
    circuit = _naive_circuit(rule, n, length, w, scale)
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="zkagg-naive-") as tmpdir:
        tmp = Path(tmpdir)
        model, settings, compiled = tmp / "model.onnx", tmp / "settings.json", tmp / "model.compiled"
        model.write_bytes(circuit.onnx)
        data = tmp / "input.json"
        q = np.round(x * 2**scale) / 2**scale
        data.write_text(json.dumps({"input_data": [row.tolist() for row in q]}))

        def step(name: str, fn: Callable[[], Any]) -> Any:
            t0 = time.perf_counter()
            result = fn()
            timings[name] = time.perf_counter() - t0
            return result

        step(
            "settings",
            lambda: call_ezkl(
                "gen_settings", str(model), str(settings), py_run_args=circuit.run_args.to_ezkl(17)
            ),
        )
        step(
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
        step("compile", lambda: call_ezkl("compile_circuit", str(model), str(compiled), str(settings)))
        srs = step("srs", lambda: dev_srs(k))
        vk, pk = tmp / "vk.key", tmp / "pk.key"
        step("setup", lambda: call_ezkl("setup", str(compiled), str(vk), str(pk), str(srs.path)))
        witness, proof = tmp / "witness.json", tmp / "proof.json"
        step(
            "witness",
            lambda: call_ezkl("gen_witness", str(data), str(compiled), str(witness), str(vk), str(srs.path)),
        )
        step(
            "prove",
            lambda: call_ezkl("prove", str(witness), str(compiled), str(pk), str(proof), str(srs.path)),
        )
        step("verify", lambda: call_ezkl("verify", str(proof), str(settings), str(vk), str(srs.path)))
        proof_json = json.loads(proof.read_text())
        proof_bytes = len(proof_json.get("proof", []))
        instances = sum(len(c) for c in proof_json.get("instances", []))
        da_payload = proof.stat().st_size
        rows = int(s.get("num_rows", 0))
    counted = ("settings", "calibrate", "compile", "setup", "witness", "prove", "verify")
    e2e = sum(timings[p] for p in counted)
    return {
        "pipeline": "naive",
        "rule": rule,
        "clients": n,
        "length": length,
        "logrows": k,
        "rows": rows,
        "timings": timings,
        "calibrate_s": timings["calibrate"],
        "setup_s": timings["settings"] + timings["compile"] + timings["setup"],
        "prove_s": timings["witness"] + timings["prove"],
        "verify_s": timings["verify"],
        "srs_s_not_counted": timings["srs"],
        "end_to_end_s": e2e,
        "proofs": 1,
        "proof_bytes": proof_bytes,
        "public_instances": instances,
        "da_bytes": da_payload + 64 * n,  # the proof file, and each client's posted hash
    }


# -- (3) zkagg ------------------------------------------------------------------------------------


class _RecordingBackend:
    """A DA backend wrapper that counts what is submitted (blob data and shares)."""

    def __init__(self) -> None:
        from zkagg.da import MemoryBackend

        self.inner = MemoryBackend()
        self.data_bytes = 0
        self.shares = 0

    def submit(self, blobs: Sequence[Any], config: Any = None) -> int:
        from zkagg.da._shares import shares_needed

        for b in blobs:
            self.data_bytes += len(b.data)
            self.shares += shares_needed(len(b.data))
        return int(self.inner.submit(blobs, config))

    def get(self, height: int, namespace: Any, commitment: bytes) -> Any:
        """Delegate reads to the memory backend."""
        return self.inner.get(height, namespace, commitment)


def _da_cost(payloads: Sequence[bytes]) -> dict[str, int]:
    from zkagg.da import Namespace, write_payload

    backend = _RecordingBackend()
    ns = Namespace.v0(b"zkbench")
    for p in payloads:
        write_payload(backend, ns, p)
    return {
        "da_bytes": backend.data_bytes,
        "da_shares": backend.shares,
        "da_share_bytes": backend.shares * 512,
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
    from zkagg._aggregation.records import ShardAggregate
    from zkagg._aggregation.rules import plan_rule, run_plans
    from zkagg._aggregation.shard import aggregate_shard, combine_shards, verify_shard
    from zkagg._executors import make_executor
    from zkagg._home import zkagg_home
    from zkagg._kzg.commit import commit_update

    home = _fresh_home([15])
    os.environ["ZKAGG_HOME"] = str(home)
    try:
        assert zkagg_home() == home
        spec = _spec(rule, chunk, scale)
        t0 = time.perf_counter()
        domain = spec.domain()
        domain_s = time.perf_counter() - t0
        data = [_updates(n, length, seed + s) for s in range(shards)]
        # clients: each commits its own update (in parallel in reality: the slowest one counts)
        commit_times: list[float] = []
        commitments = []
        for x, _ in data:
            row = []
            for v in x:
                c0 = time.perf_counter()
                row.append(commit_update(spec, v))
                commit_times.append(time.perf_counter() - c0)
            commitments.append(row)
        setup_s = 0.0
        rows = logrows = 0
        ex = make_executor(
            executor, workers=None if executor == "serial" else workers, ray_address=ray_address
        )
        try:
            if rule == "fedavg":
                a0 = time.perf_counter()
                results = [aggregate_shard(spec, x, w) for x, w in data]
                aggregate_s = time.perf_counter() - a0
            else:
                quantize_w = [(_quantized(spec, x, w), w) for x, w in data]
                s0 = time.perf_counter()
                plans = [
                    plan_rule(rule, domain, q, weights=w, beta=spec.beta, clip_norm=spec.clip_norm)
                    for q, w in quantize_w
                ]
                setup_s = time.perf_counter() - s0  # builds the rule circuit's keys once (then cached)
                rows, logrows = plans[0].artifacts.num_rows, plans[0].artifacts.logrows
                if ex.name != "serial":  # warm the workers (start-up is not a round cost)
                    ex.run(plans[0].tasks("warm-up")[:1])
                a0 = time.perf_counter()
                rule_results = run_plans(plans, ex)
                aggregate_s = time.perf_counter() - a0
                results = [
                    _shard_aggregate(spec, rr, w, length)
                    for rr, (_, w) in zip(rule_results, data, strict=True)
                ]
        finally:
            ex.close()
        encoded = [r.to_bytes() for r in results]
        v0 = time.perf_counter()
        for (_, w), cs, blob in zip(data, commitments, encoded, strict=True):
            verify_shard(spec, cs, w, ShardAggregate.from_bytes(blob))
        if rule == "fedavg" and shards > 1:
            combined = combine_shards(results)
            verify_shard(spec, [c for cs in commitments for c in cs], list(combined.weights), combined)
        verify_s = time.perf_counter() - v0
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
            "calibrate_s": 0.0,
            "commit_s_total": sum(commit_times),
            "commit_s_max": max(commit_times),
            "prove_s": aggregate_s,
            "verify_s": verify_s,
            "end_to_end_s": latency,
            "total_s": sum(commit_times) + aggregate_s + verify_s,
            "proofs": len(proofs),
            "proof_bytes": proof_bytes,
            **_da_cost(payloads),
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _quantized(spec: Any, x: np.ndarray, w: Sequence[int]) -> np.ndarray:
    from zkagg._field import quantize

    return np.asarray(quantize(x, spec.scale, n_terms=sum(w)), dtype=np.int64)


def _shard_aggregate(spec: Any, rr: Any, w: Sequence[int], length: int) -> Any:
    from zkagg._aggregation.records import ChunkProof, ShardAggregate

    proofs = tuple(ChunkProof(p.chunk, p.circuit_id, p.proof.to_bytes()) for p in rr.proofs)
    return ShardAggregate(spec, tuple(w), length, rr.aggregate(length, spec.scale), proofs=proofs)


# -- monolithic versus sharded -------------------------------------------------------------------


def measure_monolithic(total_clients: int, shards: int, length: int, scale: int, seed: int) -> dict[str, Any]:
    """One proven FedAvg circuit over all clients versus one per shard plus homomorphic composition.

    Both use zkagg's integer FedAvg circuit with default range checks (the proven variant); each
    proof is made in its own child process so that its peak memory is its own.
    """
    from zkagg.circuits.fedavg import fedavg_circuit

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
            "monolithic_peak_mib": mono["peak_rss_mib"],
            "sharded_peak_mib": max(r["peak_rss_mib"] for r in shard_runs),
            "monolithic_verify_s": mono["verify_s"],
            "sharded_verify_s": sum(r["verify_s"] for r in shard_runs) + compose["verify_s"],
        },
    }


def _q(x: np.ndarray, scale: int) -> list[list[int]]:
    return [[int(v) for v in row] for row in np.round(x * 2**scale).astype(np.int64)]


def _prove_once(circuit: Any, inputs: list[list[int]]) -> dict[str, Any]:
    from zkagg._prover.artifacts import build_circuit
    from zkagg._prover.proof import prove, verify

    home = _fresh_home([15])  # keys are always built here, so set-up is measured
    os.environ["ZKAGG_HOME"] = str(home)
    try:
        c0, t0 = _cpu_seconds(), time.perf_counter()
        artifacts = build_circuit(circuit.onnx, circuit.run_args)
        setup_s, setup_cpu = time.perf_counter() - t0, _cpu_seconds() - c0
        c0, t0 = _cpu_seconds(), time.perf_counter()
        proof = prove(artifacts, inputs)
        prove_s, prove_cpu = time.perf_counter() - t0, _cpu_seconds() - c0
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
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _compose_once(total: int, shards: int, length: int, scale: int, seed: int) -> dict[str, Any]:
    """The second level: shard sums composed and checked homomorphically (no SNARK)."""
    from zkagg._aggregation.shard import aggregate_shard, combine_shards, verify_shard
    from zkagg._kzg.commit import commit_update

    spec = _spec("fedavg", 1 << max(6, (length - 1).bit_length()), scale)
    x, w = _updates(total, length, seed)
    per = total // shards
    commitments = [commit_update(spec, v) for v in x]
    results = [
        aggregate_shard(spec, x[s * per : (s + 1) * per], w[s * per : (s + 1) * per]) for s in range(shards)
    ]
    c0, t0 = _cpu_seconds(), time.perf_counter()
    combined = combine_shards(results)
    verify_shard(spec, commitments, w, combined)
    return {"verify_s": time.perf_counter() - t0, "cpu_s": _cpu_seconds() - c0}


# -- pruning and quantization versus proof cost -----------------------------------------------------


def measure_quality(prune: float, scale: int, seed: int) -> dict[str, Any]:
    """Accuracy and proof cost of the shard-level quality model at one pruning ratio and scale."""
    import torch

    from zkagg._fl.data import load_digits_task
    from zkagg._fl.model import DigitsMLP, accuracy, get_flat_params, local_train, param_count
    from zkagg._fl.quality import QualitySpec, prove_quality, quality_artifacts, verify_quality

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
    c0, t0 = _cpu_seconds(), time.perf_counter()
    proof = prove_quality(q, spec)
    prove_s, prove_cpu = time.perf_counter() - t0, _cpu_seconds() - c0
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


# -- the run --------------------------------------------------------------------------------------


@dataclass
class BenchResults:
    """Everything a run measured, as written to results.json."""

    config: dict[str, Any]
    machine: dict[str, Any]
    headline: list[dict[str, Any]] = field(default_factory=list)
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    sweep: list[dict[str, Any]] = field(default_factory=list)
    executors: list[dict[str, Any]] = field(default_factory=list)
    monolithic: dict[str, Any] | None = None
    quality: list[dict[str, Any]] = field(default_factory=list)
    elapsed_s: float = 0.0


Progress = Callable[[str], None]


def run_bench(
    config: BenchConfig,
    progress: Progress | None = None,
    checkpoint: Callable[[BenchResults], object] | None = None,
) -> BenchResults:
    """Run every measurement ``config`` asks for (each pipeline in its own child process).

    ``checkpoint(results)`` is called after every measurement (the CLI rewrites its outputs, so a
    long run that is stopped keeps what it measured).
    """
    say = progress or (lambda _msg: None)

    def save() -> None:
        results.elapsed_s = time.perf_counter() - started
        if checkpoint is not None:
            checkpoint(results)

    started = time.perf_counter()
    results = BenchResults(config=asdict(config), machine=describe_machine())
    n, length, chunk = config.head
    ex = (config.executor, config.workers, config.ray_address if config.executor == "ray" else None)
    for rule in config.rules:
        say(f"headline {rule}: native")
        native = measure_native(rule, n, length, config.seed)
        say(f"headline {rule}: zkagg ({n} clients x {length} values, chunk {chunk})")
        ours = in_child(measure_zkagg, rule, n, length, chunk, 1, config.scale, config.seed, *ex)
        rows = [native, ours]
        if config.naive:
            say(f"headline {rule}: naive EZKL pipeline (hashed inputs, one circuit, keys rebuilt)")
            naive = in_child(measure_naive, rule, n, length, config.scale, config.seed)
            rows.append(naive)
            ratio = naive["end_to_end_s"] / ours["end_to_end_s"]
            cpu_ratio = naive["child_cpu_s"] / max(ours["child_cpu_s"] - _setup_cpu_guess(ours), 1e-9)
            goal = GOALS.get(rule)
            results.comparisons.append(
                {
                    "rule": rule,
                    "clients": n,
                    "length": length,
                    "naive_end_to_end_s": naive["end_to_end_s"],
                    "zkagg_end_to_end_s": ours["end_to_end_s"],
                    "zkagg_total_s": ours["total_s"],
                    "speedup_end_to_end": ratio,
                    "speedup_total": naive["end_to_end_s"] / ours["total_s"],
                    "speedup_cpu_approx": cpu_ratio,
                    "goal": goal,
                    "goal_met": None if goal is None else ratio >= goal,
                }
            )
        results.headline.extend(rows)
        save()
    for rule in config.rules:
        for clients in config.clients:
            for c in config.chunk_sizes:
                for s in config.shards:
                    if (clients, c, s, config.length) == (n, chunk, 1, length):
                        continue  # measured in the headline
                    say(f"sweep {rule}: {s} shard(s) x {clients} clients x {config.length} values, chunk {c}")
                    try:
                        row = in_child(
                            measure_zkagg, rule, clients, config.length, c, s, config.scale, config.seed, *ex
                        )
                    except ZkaggError as exc:  # a circuit that does not fit the domain's logrows
                        row = {"pipeline": "zkagg", "rule": rule, "clients": clients, "length": config.length}
                        row.update(chunk_size=c, shards=s, error=str(exc))
                    results.sweep.append(row)
                    save()
    results.sweep = [r for r in results.headline if r["pipeline"] == "zkagg"] + results.sweep
    for e in config.compare_executors:
        say(f"executor {e}: 4 shards x {n} clients, median")
        results.executors.append(
            in_child(
                measure_zkagg,
                "median",
                n,
                length,
                chunk,
                4,
                config.scale,
                config.seed,
                e,
                config.workers,
                config.ray_address if e == "ray" else None,
            )
        )
        save()
    if results.executors:
        base = next((r for r in results.executors if r["executor"] == "serial"), results.executors[0])
        for r in results.executors:
            r["speedup_vs_serial"] = base["prove_s"] / r["prove_s"]
    if config.monolithic:
        say("monolithic vs sharded: 32 clients x 256 values, 4 shards (proven FedAvg)")
        results.monolithic = measure_monolithic(32, 4, 256, config.scale, config.seed)
        save()
    if config.quality:
        for scale in (7, 13):
            for prune in (0.0, 0.8):
                say(f"quality: prune {prune:.0%}, scale {scale}")
                results.quality.append(in_child(measure_quality, prune, scale, config.seed))
                save()
    results.elapsed_s = time.perf_counter() - started
    return results


def _setup_cpu_guess(row: dict[str, Any]) -> float:
    """Wall seconds of zkagg's one-time set-up in a child (domain and keys), as a CPU estimate."""
    return float(row.get("domain_setup_s", 0.0)) + float(row.get("setup_s", 0.0))


# -- outputs --------------------------------------------------------------------------------------


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return "" if v is None else str(v)


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    head = "| " + " | ".join(h for _, h in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(_fmt(r.get(k)) for k, _ in columns) + " |" for r in rows]
    return "\n".join([head, rule, *body])


def report_markdown(res: BenchResults) -> str:
    """The markdown report of a run (names the machine)."""
    m = res.machine
    v = m.get("versions", {})
    lines = [
        "# zkagg bench",
        "",
        f"Machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('memory_gib')} GiB, {m.get('os')}, "
        f"Python {m.get('python')}; ezkl {v.get('ezkl')}, torch {v.get('torch')}, numpy {v.get('numpy')}, "
        f"ray {v.get('ray')}, flwr {v.get('flwr')}. Load average at start {_fmt(m.get('load_1min_at_start'))}. "
        f"Taken {m.get('date_utc')}; the run took {res.elapsed_s:.0f} s.",
        "",
        "Timings are wall seconds on a shared machine: compare within this run (ratios), not across runs.",
        "",
    ]
    if res.comparisons:
        lines += [
            "## zkagg against the naive EZKL pipeline (same shard workload, same run)",
            "",
            "End to end = a round's latency (clients commit in parallel; the naive pipeline calibrates, "
            "compiles, sets up keys, proves and verifies every round). Total = every client's commitment "
            "added up.",
            "",
            _table(
                res.comparisons,
                [
                    ("rule", "rule"),
                    ("clients", "clients"),
                    ("length", "values"),
                    ("naive_end_to_end_s", "naive s"),
                    ("zkagg_end_to_end_s", "zkagg s"),
                    ("speedup_end_to_end", "speedup (end to end)"),
                    ("zkagg_total_s", "zkagg total s"),
                    ("speedup_total", "speedup (total)"),
                    ("goal", "goal"),
                    ("goal_met", "met"),
                ],
            ),
            "",
        ]
    lines += [
        "## Side by side: native, naive EZKL, zkagg",
        "",
        _table(
            res.headline,
            [
                ("rule", "rule"),
                ("pipeline", "pipeline"),
                ("numpy_s", "numpy s"),
                ("flower_s", "Flower s"),
                ("calibrate_s", "calibrate s"),
                ("setup_s", "setup s"),
                ("commit_s_max", "commit s (slowest client)"),
                ("prove_s", "prove/aggregate s"),
                ("verify_s", "verify s"),
                ("end_to_end_s", "end to end s"),
                ("logrows", "logrows"),
                ("rows", "rows"),
                ("proof_bytes", "proof bytes"),
                ("da_bytes", "DA bytes"),
                ("peak_rss_mib", "peak MiB"),
            ],
        ),
        "",
        "zkagg's setup (commitment domain and rule keys) is once per deployment, not per round; it is "
        "shown, not counted in the round. Naive DA bytes: the proof file plus a 64-byte hash per client. "
        "zkagg DA bytes: the clients' commitments and the shard result as written by "
        "`zkagg.da.write_payload` (blob data).",
        "",
    ]
    if res.sweep:
        lines += [
            "## Sweep (zkagg)",
            "",
            _table(
                res.sweep,
                [
                    ("rule", "rule"),
                    ("shards", "shards"),
                    ("clients", "clients/shard"),
                    ("length", "values"),
                    ("chunk_size", "chunk"),
                    ("logrows", "logrows"),
                    ("rows", "rows"),
                    ("setup_s", "setup s"),
                    ("commit_s_max", "commit s"),
                    ("prove_s", "prove s"),
                    ("verify_s", "verify s"),
                    ("end_to_end_s", "end to end s"),
                    ("proofs", "proofs"),
                    ("proof_bytes", "proof bytes"),
                    ("da_bytes", "DA bytes"),
                    ("peak_rss_mib", "peak MiB"),
                    ("error", "note"),
                ],
            ),
            "",
        ]
    if res.executors:
        lines += [
            "## Executors on the same shard proofs",
            "",
            _table(
                res.executors,
                [
                    ("executor", "executor"),
                    ("workers", "workers"),
                    ("shards", "shards"),
                    ("proofs", "proofs"),
                    ("prove_s", "prove s"),
                    ("speedup_vs_serial", "speedup"),
                ],
            ),
            "",
        ]
    if res.monolithic:
        s = res.monolithic["summary"]
        lines += [
            "## Monolithic versus sharded (proven FedAvg)",
            "",
            f"{res.monolithic['total_clients']} clients x {res.monolithic['length']} values: one circuit "
            f"versus {res.monolithic['shards']} shard circuits plus homomorphic composition.",
            "",
            "| | monolithic | sharded |",
            "|---|---|---|",
            f"| logrows | {s['monolithic_logrows']} | {s['shard_logrows']} (each) |",
            f"| total CPU s (setup + prove) | {_fmt(s['monolithic_cpu_s'])} | {_fmt(s['sharded_cpu_s'])} |",
            f"| prove CPU s | {_fmt(s['monolithic_prove_cpu_s'])} | {_fmt(s['sharded_prove_cpu_s'])} |",
            f"| critical path s (shards on separate machines) | {_fmt(s['monolithic_critical_path_s'])} | "
            f"{_fmt(s['sharded_critical_path_s'])} |",
            f"| peak memory MiB | {_fmt(s['monolithic_peak_mib'])} | {_fmt(s['sharded_peak_mib'])} |",
            f"| verification s | {_fmt(s['monolithic_verify_s'])} | {_fmt(s['sharded_verify_s'])} |",
            "",
        ]
    if res.quality:
        lines += [
            "## Pruning and quantization against proof cost (shard-level quality model)",
            "",
            _table(
                res.quality,
                [
                    ("prune", "pruned"),
                    ("scale", "scale"),
                    ("nonzero", "non-zero params"),
                    ("test_accuracy", "test accuracy"),
                    ("probe_accuracy_proven", "proven probe accuracy"),
                    ("logrows", "logrows"),
                    ("rows", "rows"),
                    ("prove_s", "prove s"),
                    ("verify_s", "verify s"),
                ],
            ),
            "",
        ]
    return "\n".join(lines)


def write_outputs(res: BenchResults, out: Path) -> list[Path]:
    """Write results.json, report.md and the PNG plots into ``out``; return the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "results.json", out / "report.md"]
    paths[0].write_text(json.dumps(asdict(res), indent=2, sort_keys=True, default=str) + "\n")
    paths[1].write_text(report_markdown(res) + "\n")
    paths += _plots(res, out)
    return paths


def _plots(res: BenchResults, out: Path) -> list[Path]:
    try:
        import matplotlib
    except ImportError as exc:
        raise InvalidArgument(
            "zkagg bench draws its plots with matplotlib: pip install 'zkagg[bench]'"
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    rules = list(dict.fromkeys(r["rule"] for r in res.headline))
    pipelines = ["native", "naive", "zkagg"]
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.25
    for k, p in enumerate(pipelines):
        ys = [
            next((r["end_to_end_s"] for r in res.headline if r["rule"] == rule and r["pipeline"] == p), 0)
            for rule in rules
        ]
        ax.bar([i + (k - 1) * width for i in range(len(rules))], ys, width, label=p)
    ax.set_yscale("log")
    ax.set_xticks(range(len(rules)), rules)
    ax.set_ylabel("end to end, seconds (log)")
    ax.set_title("One shard round: native vs naive EZKL vs zkagg")
    ax.legend()
    fig.tight_layout()
    paths.append(out / "end_to_end.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    phases = [
        ("calibrate_s", "calibrate"),
        ("setup_s", "setup"),
        ("commit_s_max", "commit"),
        ("prove_s", "prove"),
        ("verify_s", "verify"),
    ]
    rows = [r for r in res.headline if r["pipeline"] != "native"]
    fig, ax = plt.subplots(figsize=(7, 4))
    labels = [f"{r['rule']}\n{r['pipeline']}" for r in rows]
    bottom = np.zeros(len(rows))
    for key, name in phases:
        vals = np.array([float(r.get(key) or 0.0) for r in rows])
        ax.bar(labels, vals, bottom=bottom, label=name)
        bottom += vals
    ax.set_ylabel("seconds")
    ax.set_title("Where the time goes (zkagg setup is once per deployment)")
    ax.legend()
    fig.tight_layout()
    paths.append(out / "phases.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    proven = [r for r in res.sweep if r["rule"] != "fedavg" and "error" not in r]
    if proven:
        fig, ax = plt.subplots(figsize=(7, 4))
        for rule in dict.fromkeys(r["rule"] for r in proven):
            pts = sorted(
                (r["clients"] * r["length"] * r["shards"], r["prove_s"]) for r in proven if r["rule"] == rule
            )
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=rule)
        ax.set_xlabel("client values proven")
        ax.set_ylabel("prove seconds")
        ax.set_title("zkagg proving cost across the sweep")
        ax.legend()
        fig.tight_layout()
        paths.append(out / "sweep.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    if res.monolithic:
        s = res.monolithic["summary"]
        fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
        for ax, (key, title) in zip(
            axes,
            [("cpu_s", "total CPU s"), ("critical_path_s", "critical path s"), ("peak_mib", "peak MiB")],
            strict=True,
        ):
            ax.bar(["monolithic", "sharded"], [s[f"monolithic_{key}"], s[f"sharded_{key}"]])
            ax.set_title(title)
        fig.tight_layout()
        paths.append(out / "monolithic_vs_sharded.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    if res.quality:
        fig, ax = plt.subplots(figsize=(6, 4))
        for scale in dict.fromkeys(r["scale"] for r in res.quality):
            same = [r for r in res.quality if r["scale"] == scale]
            ax.scatter(
                [r["prove_s"] for r in same], [r["test_accuracy"] for r in same], label=f"scale {scale}"
            )
            for r in same:
                ax.annotate(f"{r['prune']:.0%}", (r["prove_s"], r["test_accuracy"]), fontsize=7)
        ax.set_xlabel("prove seconds")
        ax.set_ylabel("test accuracy")
        ax.set_title("Quality model: pruning/scale vs proof cost")
        ax.legend()
        fig.tight_layout()
        paths.append(out / "quality.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths


def headline_ratio(res: BenchResults, rule: str) -> float | None:
    """The end-to-end speedup of zkagg over the naive pipeline for ``rule`` in this run (or None)."""
    for c in res.comparisons:
        if c["rule"] == rule:
            return float(c["speedup_end_to_end"])
    return None
