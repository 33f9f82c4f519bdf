"""``zkagg bench``: what verification costs, measured side by side in one run.

Three pipelines aggregate the same shard workload (``N`` clients of ``length`` values, fixed seed):
native numpy (and Flower), the naive EZKL pipeline, and zkagg; :mod:`zkagg._bench.workloads`
describes each and what its end-to-end time counts. Every measurement of a pipeline runs in a
fresh child process (:mod:`zkagg._bench.child`), so its peak memory and CPU seconds are its own.

This module holds what a run measures (:class:`BenchConfig`, with :data:`QUICK` and :data:`FULL`),
what it measured (:class:`BenchResults`, written as results.json) and the run itself
(:func:`run_bench`). The headline compares zkagg with native and naive on one shard; full mode adds
a sweep over rules, clients per shard, chunk sizes and shard counts; monolithic versus sharded
proving (total CPU, critical path, peak memory, verification cost); executors (serial, local pool,
Ray) on the same shard proofs; and the shard-level quality model's accuracy against proof cost for a
few pruning ratios and scales (:mod:`zkagg._fl.quality`). The report and the plots are drawn from
:class:`BenchResults` by :mod:`zkagg._bench.report` and :mod:`zkagg._bench.plots`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from zkagg._bench.child import in_child
from zkagg._bench.machine import describe_machine
from zkagg._bench.workloads import (
    measure_monolithic,
    measure_naive,
    measure_native,
    measure_quality,
    measure_zkagg,
)
from zkagg._errors import InvalidArgument, ZkaggError
from zkagg._executors import EXECUTORS

__all__ = [
    "FULL",
    "QUICK",
    "BenchConfig",
    "BenchResults",
    "Progress",
    "run_bench",
]

BENCH_RULES = ("fedavg", "median", "trimmed_mean")
SEED = 20261122
#: Goals recorded with the results (issue 6): zkagg vs the naive pipeline, end to end.
GOALS = {"fedavg": 100.0, "median": 3.0}
_POW2_CHUNKS = tuple(2**k for k in range(6, 17))


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
            results.comparisons.append(_comparison(rule, n, length, naive, ours))
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


def _comparison(
    rule: str, n: int, length: int, naive: dict[str, Any], ours: dict[str, Any]
) -> dict[str, Any]:
    """The headline row: zkagg against the naive pipeline on the same workload, and the goal."""
    ratio = naive["end_to_end_s"] / ours["end_to_end_s"]
    cpu_ratio = naive["child_cpu_s"] / max(ours["child_cpu_s"] - _setup_cpu_guess(ours), 1e-9)
    goal = GOALS.get(rule)
    return {
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


def _setup_cpu_guess(row: dict[str, Any]) -> float:
    """Wall seconds of zkagg's one-time set-up in a child (domain and keys), as a CPU estimate."""
    return float(row.get("domain_setup_s", 0.0)) + float(row.get("setup_s", 0.0))
