"""The commitment engine side by side with ``ezkl.kzg_commit``, in one run (issue 13's figures).

Two tables, every row measured on both backends of :mod:`zkagg._kzg.engine` in the same process,
one right after the other (ratios, not absolute times, are what a shared machine gives honestly):

* ``commit_update``: one client's update (scale 13, values ~ N(0, 0.05), the default quantized
  range) of 1,210 parameters (the default model, chunks of 1,024), 100,000 (chunks of 16,384 and
  4,096) and 1,000,000 (chunks of 16,384); the ``ezkl`` backend is one ``ezkl.kzg_commit`` per
  chunk through the domain's reference circuit (what every commitment cost before the engine).
* ``verify_shard`` (FedAvg): 64 clients x 65,536 values for every chunk size from 1,024 to the
  largest a logrows-15 domain allows (16,384), and 32,768 / 65,536 at logrows 16 / 17; client
  values per second of the check alone (decoding excluded), median of the repeats.

Each timing records wall and CPU seconds of this process; with the machine's load average, which
says how far wall times are stretched by other work.

Run: ``.venv/bin/python -m benchmarks.commitment_engine [--quick] [--repeats 5]``. Writes
``benchmarks/results/commitment_engine.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.harness import describe_machine, markdown_table, write_results
from zkagg import AggregationSpec, ShardAggregate, aggregate_shard, commit_update, verify_shard
from zkagg._kzg import engine
from zkagg._kzg.commit import commitment_domain

SCALE = 13
COMMIT_SHAPES = [(1_210, 1_024, 15), (100_000, 16_384, 15), (100_000, 4_096, 15), (1_000_000, 16_384, 15)]
VERIFY_SHAPES = [(1_024, 15), (2_048, 15), (4_096, 15), (8_192, 15), (16_384, 15), (32_768, 16), (65_536, 17)]
VERIFY_CLIENTS, VERIFY_VALUES = 64, 65_536


def _timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``repeats`` calls."""
    walls, cpus = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def commit_row(params: int, chunk: int, logrows: int, repeats: int) -> dict[str, Any]:
    domain = commitment_domain(logrows=logrows, chunk_size=chunk, scale=SCALE)
    x = np.random.default_rng(params + chunk).normal(scale=0.05, size=params)
    row: dict[str, Any] = {
        "params": params,
        "chunk": chunk,
        "logrows": logrows,
        "chunks": domain.n_chunks(params),
    }
    points = {}
    for name in ("mcl", "ezkl"):
        with engine.forced_backend(name):
            points[name] = commit_update(domain, x)  # warm: basis or reference circuit
            n = repeats if name == "mcl" or params <= 100_000 else 1
            row[f"{name}_s"], row[f"{name}_cpu_s"] = _timed(lambda: commit_update(domain, x), n)
    row["identical"] = points["mcl"] == points["ezkl"]
    row["speedup"] = row["ezkl_s"] / row["mcl_s"]
    row["speedup_cpu"] = row["ezkl_cpu_s"] / row["mcl_cpu_s"]
    return row


def verify_row(chunk: int, logrows: int, repeats: int, backends: tuple[str, ...]) -> dict[str, Any]:
    spec = AggregationSpec(rule="fedavg", chunk_size=chunk, scale=SCALE, logrows=logrows)
    rng = np.random.default_rng(chunk)
    updates = rng.normal(scale=0.05, size=(VERIFY_CLIENTS, VERIFY_VALUES))
    weights = [int(w) for w in rng.integers(1, 1000, VERIFY_CLIENTS)]
    commitments = [commit_update(spec, x) for x in updates]
    result = ShardAggregate.from_bytes(aggregate_shard(spec, updates, weights).to_bytes())
    values = VERIFY_CLIENTS * VERIFY_VALUES
    row: dict[str, Any] = {
        "clients": VERIFY_CLIENTS,
        "values_per_client": VERIFY_VALUES,
        "chunk": chunk,
        "logrows": logrows,
    }
    for name in backends:
        with engine.forced_backend(name):
            verify_shard(spec, commitments, weights, result)  # warm
            wall, cpu = _timed(lambda: verify_shard(spec, commitments, weights, result), repeats)
        row[f"{name}_s"], row[f"{name}_cpu_s"] = wall, cpu
        row[f"{name}_values_per_s"] = values / wall
    if "ezkl" in backends:
        row["speedup"] = row["ezkl_s"] / row["mcl_s"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small shapes only (a smoke run)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    commit_shapes = COMMIT_SHAPES[:2] if args.quick else COMMIT_SHAPES
    verify_shapes = VERIFY_SHAPES[:2] if args.quick else VERIFY_SHAPES
    load_before = os.getloadavg()
    commits = []
    for params, chunk, logrows in commit_shapes:
        row = commit_row(params, chunk, logrows, args.repeats)
        commits.append(row)
        print(
            f"commit_update {params} (chunk {chunk}): mcl {row['mcl_s'] * 1e3:.1f} ms, ezkl {row['ezkl_s'] * 1e3:.0f} ms, "
            f"{row['speedup']:.0f}x (CPU {row['speedup_cpu']:.0f}x), identical {row['identical']}",
            flush=True,
        )
    verifies = []
    for chunk, logrows in verify_shapes:
        row = verify_row(chunk, logrows, args.repeats, ("mcl", "ezkl"))
        verifies.append(row)
        print(
            f"verify_shard 64 x 65536 (chunk {chunk}): mcl {row['mcl_values_per_s'] / 1e6:.1f} M values/s, "
            f"ezkl {row['ezkl_values_per_s'] / 1e6:.1f} M values/s",
            flush=True,
        )
    load_after = os.getloadavg()
    commit_table = markdown_table(
        commits,
        [
            ("params", "parameters"),
            ("chunk", "chunk"),
            ("chunks", "chunks"),
            ("mcl_s", "engine (mcl) s"),
            ("ezkl_s", "ezkl.kzg_commit s"),
            ("speedup", "speed-up (wall)"),
            ("speedup_cpu", "speed-up (CPU)"),
            ("identical", "same bytes"),
        ],
    )
    verify_table = markdown_table(
        verifies,
        [
            ("chunk", "chunk"),
            ("logrows", "logrows"),
            ("mcl_s", "engine (mcl) s"),
            ("mcl_values_per_s", "values/s (mcl)"),
            ("ezkl_s", "ezkl s"),
            ("ezkl_values_per_s", "values/s (ezkl)"),
            ("speedup", "speed-up"),
        ],
    )
    text = (
        "## commit_update (one client)\n\n"
        + commit_table
        + "\n\nMedian of "
        + f"{args.repeats} (ezkl at 1,000,000 parameters: one run). Scale 13, values ~ N(0, 0.05), the dev SRS of this machine.\n\n"
        + f"## verify_shard, FedAvg, {VERIFY_CLIENTS} clients x {VERIFY_VALUES:,} values\n\n"
        + verify_table
        + f"\n\nMedian of {args.repeats}, the check alone (the result decoded before), weights uniform in [1, 1000).\n\n"
        + f"Load average before {load_before[0]:.2f} and after {load_after[0]:.2f} (1-minute) on "
        + f"{os.cpu_count()} cores.\n"
    )
    payload = {
        "machine": describe_machine(),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "commit_update": commits,
        "verify_shard": verifies,
    }
    json_path, md_path = write_results("commitment_engine", payload, text)
    print(f"wrote {json_path} and {md_path}")


if __name__ == "__main__":
    main()
