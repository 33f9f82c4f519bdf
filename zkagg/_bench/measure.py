"""``zkagg bench``: what verification costs, measured side by side in one run.

The pipelines aggregate the same shard workload (``N`` clients of ``length`` values, fixed seed):
native numpy (and Flower), EZKL used directly, and zkagg; :mod:`zkagg._bench.workloads` describes
each and what its end-to-end time counts. Every measurement of a pipeline runs in a fresh child
process (:mod:`zkagg._bench.child`), so its peak memory and CPU seconds are its own.

EZKL used directly gives three baselines (:data:`BASELINES`), each a row named for what it is:

* ``ezkl-keys-once``: hashed inputs, settings, calibration, compile and keys built once per circuit
  shape and kept; a round is witness + prove + verify. The **headline** baseline: what a competent
  EZKL user runs every round;
* ``ezkl-polycommit``: the same with ``polycommit`` (KZG) inputs, as zkagg's own circuits;
* ``ezkl-every-round``: the documentation-style pipeline, settings, calibration, compile and key
  setup redone every round (hashed inputs); a secondary row.

The first and the last come from one measurement (:func:`~zkagg._bench.workloads.measure_ezkl`
with hashed inputs): the every-round row is its one-time phases plus its first round, the keys-once
row its last round. Each comparison row shows the baseline's one-time setup and zkagg's (commitment
domain and rule keys) beside the per-round ratio, by wall and by CPU seconds.

This module holds what a run measures (:class:`BenchConfig`, with :data:`QUICK` and :data:`FULL`),
what it measured (:class:`BenchResults`, written as results.json) and the run itself
(:func:`run_bench`). The headline compares zkagg with native and the EZKL baselines on one shard; full mode adds
a sweep over rules, clients per shard, chunk sizes and shard counts; monolithic versus sharded
proving (total CPU, critical path, peak memory, verification cost); executors (serial, local pool,
Ray) on the same shard proofs; and the shard-level quality model's accuracy against proof cost for a
few pruning ratios and scales (:mod:`zkagg._fl.quality`). The report and the plots are drawn from
:class:`BenchResults` by :mod:`zkagg._bench.report` and :mod:`zkagg._bench.plots`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from zkagg._bench.child import in_child
from zkagg._bench.machine import describe_machine
from zkagg._bench.workloads import (
    EZKL_INPUTS,
    ONE_TIME_PHASES,
    ROUND_PHASES,
    measure_ezkl,
    measure_monolithic,
    measure_native,
    measure_quality,
    measure_zkagg,
)
from zkagg._errors import InvalidArgument, ZkaggError
from zkagg._executors import EXECUTORS

__all__ = [
    "BASELINES",
    "FULL",
    "HEADLINE_BASELINE",
    "QUICK",
    "BenchConfig",
    "BenchResults",
    "Progress",
    "run_bench",
]

BENCH_RULES = ("fedavg", "median", "trimmed_mean")
SEED = 20261122
#: Goals recorded with the results (issue 6): zkagg vs the headline baseline, end to end.
GOALS = {"fedavg": 100.0, "median": 3.0}
#: The EZKL baselines (pipeline name: what it is), the headline first.
BASELINES = {
    "ezkl-keys-once": "EZKL, keys built once per circuit shape, hashed inputs",
    "ezkl-polycommit": "EZKL, keys built once per circuit shape, polycommit inputs",
    "ezkl-every-round": "EZKL documentation-style: settings, calibration, compile and keys every round, hashed inputs",
}
HEADLINE_BASELINE = "ezkl-keys-once"
_POW2_CHUNKS = tuple(2**k for k in range(6, 17))


# -- configuration --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchConfig:
    """What one ``zkagg bench`` run measures.

    The headline workload (zkagg against native and the EZKL baselines, one shard) is the first entry of
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
    ezkl
        Run the EZKL baselines (:data:`BASELINES`, the headline comparison).
    ezkl_inputs
        Input visibilities of the EZKL baselines to measure: ``hashed`` gives ``ezkl-keys-once`` and
        ``ezkl-every-round``, ``polycommit`` gives ``ezkl-polycommit``.
    ezkl_rounds
        Rounds each EZKL baseline proves on its keys (the keys-once rows report the last one).
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
    ezkl: bool = True
    ezkl_inputs: tuple[str, ...] = EZKL_INPUTS
    ezkl_rounds: int = 2
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
        for v in self.ezkl_inputs:
            if v not in EZKL_INPUTS:
                raise InvalidArgument(f"ezkl_inputs must be among {', '.join(EZKL_INPUTS)}, not {v!r}")
        if (
            isinstance(self.ezkl_rounds, bool)
            or not isinstance(self.ezkl_rounds, int)
            or self.ezkl_rounds < 1
        ):
            raise InvalidArgument(f"ezkl_rounds must be a positive integer, not {self.ezkl_rounds!r}")
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
        if config.ezkl:
            for inputs in config.ezkl_inputs:
                say(
                    f"headline {rule}: EZKL directly ({inputs} inputs, keys once, {config.ezkl_rounds} round(s))"
                )
                raw = in_child(
                    measure_ezkl, rule, n, length, config.scale, config.seed, inputs, config.ezkl_rounds
                )
                rows += _ezkl_rows(raw)
            by_name = {r["pipeline"]: r for r in rows}
            results.comparisons += [_comparison(by_name[b], ours) for b in BASELINES if b in by_name]
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
    results.machine["load_1min_at_end"] = os.getloadavg()[0]
    return results


def _ezkl_rows(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """The baseline rows of one :func:`~zkagg._bench.workloads.measure_ezkl` measurement.

    Hashed inputs give ``ezkl-every-round`` (one-time phases plus the first round, all counted in
    the round) and ``ezkl-keys-once`` (the last round; one-time phases reported apart); polycommit
    inputs give ``ezkl-polycommit`` (the last round).
    """
    one, one_cpu = raw["one_time"], raw["one_time_cpu"]
    base = {k: raw[k] for k in ("rule", "clients", "length", "inputs", "logrows", "rows", "proof_bytes")}
    base.update(
        da_bytes=raw["da_bytes"],
        public_instances=raw["public_instances"],
        srs_s_not_counted=raw["srs_s_not_counted"],
        peak_rss_mib=raw.get("peak_rss_mib"),
        child_cpu_s=raw.get("child_cpu_s"),
        load_1min_at_end=raw.get("load_1min_at_end"),
        one_time_timings=one,
        round_timings=raw["rounds"],
    )
    setup_wall = sum(one[p] for p in ONE_TIME_PHASES)
    setup_cpu = sum(one_cpu[p] for p in ONE_TIME_PHASES)

    def row(pipeline: str, r: dict[str, float], in_round: bool, measured: int) -> dict[str, Any]:
        wall = sum(r[p] for p in ROUND_PHASES)
        cpu = sum(r[f"{p}_cpu"] for p in ROUND_PHASES)
        out = {"pipeline": pipeline, **base, "keys": "every round" if in_round else "once"}
        out.update(
            round_measured=measured,
            one_time_s=0.0 if in_round else setup_wall,
            one_time_cpu_s=0.0 if in_round else setup_cpu,
            calibrate_s=one["calibrate"] if in_round else 0.0,
            setup_s=one["settings"] + one["compile"] + one["setup"] if in_round else 0.0,
            round_setup_s=setup_wall if in_round else 0.0,
            prove_s=r["witness"] + r["prove"],
            verify_s=r["verify"],
            end_to_end_s=wall + (setup_wall if in_round else 0.0),
            end_to_end_cpu_s=cpu + (setup_cpu if in_round else 0.0),
        )
        out["total_s"] = out["end_to_end_s"]
        out["total_cpu_s"] = out["end_to_end_cpu_s"]
        return out

    rounds = raw["rounds"]
    if raw["inputs"] == "polycommit":
        return [row("ezkl-polycommit", rounds[-1], False, len(rounds))]
    return [
        row("ezkl-keys-once", rounds[-1], False, len(rounds)),
        row("ezkl-every-round", rounds[0], True, 1),
    ]


def _comparison(baseline: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    """The comparison of zkagg with one baseline: per round, with both one-time setups beside."""
    name = baseline["pipeline"]
    ratio = baseline["end_to_end_s"] / ours["end_to_end_s"]
    goal = GOALS.get(ours["rule"]) if name == HEADLINE_BASELINE else None
    return {
        "rule": ours["rule"],
        "clients": ours["clients"],
        "length": ours["length"],
        "baseline": name,
        "headline": name == HEADLINE_BASELINE,
        "baseline_end_to_end_s": baseline["end_to_end_s"],
        "baseline_end_to_end_cpu_s": baseline["end_to_end_cpu_s"],
        "baseline_one_time_s": baseline["one_time_s"],
        "zkagg_end_to_end_s": ours["end_to_end_s"],
        "zkagg_end_to_end_cpu_s": ours["end_to_end_cpu_s"],
        "zkagg_total_s": ours["total_s"],
        "zkagg_one_time_s": ours["one_time_s"],
        "speedup_end_to_end": ratio,
        "speedup_cpu": baseline["end_to_end_cpu_s"] / max(ours["end_to_end_cpu_s"], 1e-9),
        "speedup_total": baseline["end_to_end_s"] / ours["total_s"],
        "goal": goal,
        "goal_met": None if goal is None else ratio >= goal,
    }
