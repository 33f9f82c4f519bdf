"""Homomorphic FedAvg verification throughput (no SNARK): client values verified per second.

For each shape (clients x values, chunk size) the program commits every client update (not timed
as verification: that is the clients' work), aggregates the shard, encodes it, and then times what a
verifier does with the encoded result and the posted commitments:

* ``decode``: :meth:`ShardAggregate.from_bytes`;
* ``verify``: :func:`zkagg.verify_shard`, which checks one Fiat-Shamir combination of the chunk
  equations through the commitment engine (``zkagg/_kzg/engine.py``: on the native backend it
  commits every chunk sum and combines the points; on the ezkl fallback one ``kzg_commit`` of the
  combined sums), the combinations of the client commitments, the rescale check and the hash.

and the cost of one commitment of a full-field chunk message (whatever backend this process uses)
and that times the chunks. ``benchmarks/commitment_engine.py`` puts the two backends side by side.

Run: ``.venv/bin/python -m benchmarks.homomorphic_fedavg [--quick]``. Fixed seeds; writes
``benchmarks/results/homomorphic_fedavg.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import time
from typing import Any

import numpy as np

from benchmarks.harness import describe_machine, markdown_table, write_results
from zkagg import AggregationSpec, ShardAggregate, aggregate_shard, commit_update, verify_shard
from zkagg._field import FIELD_MODULUS
from zkagg._kzg import engine
from zkagg._kzg.commit import commit_chunk

GOAL = 10_000_000  # client values per second, commitment of the aggregate included


def _times(fn: Any, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _median_time(fn: Any, repeats: int) -> float:
    return statistics.median(_times(fn, repeats))


def run_shape(n_clients: int, length: int, chunk_size: int, repeats: int, seed: int) -> dict[str, Any]:
    spec = AggregationSpec(rule="fedavg", chunk_size=chunk_size, scale=13)
    domain = spec.domain()
    rng = np.random.default_rng(seed)
    updates = rng.normal(scale=0.05, size=(n_clients, length))
    weights = [int(w) for w in rng.integers(1, 1000, n_clients)]

    t0 = time.perf_counter()
    commitments = [commit_update(spec, x) for x in updates]
    commit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = aggregate_shard(spec, updates, weights)
    aggregate_s = time.perf_counter() - t0
    data = result.to_bytes()

    decode_s = _median_time(lambda: ShardAggregate.from_bytes(data), repeats)
    decoded = ShardAggregate.from_bytes(data)
    verify_shard(spec, commitments, weights, decoded)  # warm: reference circuit, B, page cache
    verify_times = _times(lambda: verify_shard(spec, commitments, weights, decoded), repeats)
    verify_s = statistics.median(verify_times)
    verify_best_s = min(verify_times)

    message = [secrets.randbelow(FIELD_MODULUS) for _ in range(domain.message_size)]
    kzg_s = _median_time(lambda: commit_chunk(domain, message), repeats)
    n_chunks = domain.n_chunks(length)
    values = n_clients * length
    total_s = decode_s + verify_s
    return {
        "clients": n_clients,
        "values_per_client": length,
        "chunk_size": chunk_size,
        "chunks": n_chunks,
        "client_values": values,
        "encoded_bytes": len(data),
        "decode_s": decode_s,
        "verify_s": verify_s,
        "verify_best_s": verify_best_s,
        "values_per_s_verify_best": values / verify_best_s,
        "kzg_commit_one_chunk_s": kzg_s,
        "kzg_share_of_verify": kzg_s / verify_s,
        "unbatched_kzg_s": kzg_s * n_chunks,
        "values_per_s_verify": values / verify_s,
        "values_per_s_decode_and_verify": values / total_s,
        "meets_goal": values / verify_s >= GOAL,
        "meets_goal_best": values / verify_best_s >= GOAL,
        "client_commit_s_all_clients": commit_s,
        "aggregate_s": aggregate_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes only (a smoke run)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.quick:
        shapes = [(8, 4096, 1024), (8, 4096, 4096)]
    else:
        shapes = [(64, 65_536, 16_384), (64, 65_536, 4_096), (16, 65_536, 16_384)]
    rows = []
    for n, d, cs in shapes:
        row = run_shape(n, d, cs, args.repeats, seed=2026)
        rows.append(row)
        print(
            f"{n} x {d} (chunk {cs}): verify {row['verify_s']:.3f} s = "
            f"{row['values_per_s_verify'] / 1e6:.1f} M values/s (kzg_commit {row['kzg_commit_one_chunk_s']:.3f} s), "
            f"decode {row['decode_s']:.3f} s",
            flush=True,
        )
    columns = [
        ("clients", "clients"),
        ("values_per_client", "values/client"),
        ("chunk_size", "chunk"),
        ("chunks", "chunks"),
        ("verify_s", "verify s"),
        ("kzg_commit_one_chunk_s", "of which kzg_commit s"),
        ("unbatched_kzg_s", "unbatched kzg_commit s"),
        ("values_per_s_verify", "values/s (verify, median)"),
        ("values_per_s_verify_best", "values/s (verify, best)"),
        ("decode_s", "decode s"),
        ("values_per_s_decode_and_verify", "values/s (decode+verify)"),
        ("encoded_bytes", "encoded bytes"),
        ("meets_goal", ">= 10M/s"),
    ]
    notes = (
        "\n\nverify = `verify_shard` on the decoded result, median of "
        f"{args.repeats}, on the commitment backend `{engine.backend()}` (zkagg/_kzg/engine.py); it "
        "includes the commitments of the chunk sums, the combinations of the client commitments, the "
        "rescale check and the Fiat-Shamir hash. `of which kzg_commit` is one commitment of a "
        "full-field chunk message on that backend, `unbatched` that times the chunks. Client commitments and aggregation are "
        "not verification work (see the JSON for their times). Quantization scale 13, logrows 15, "
        "dev SRS, weights uniform in [1, 1000).\n"
    )
    load = os.getloadavg()
    payload = {"machine": describe_machine(), "goal_values_per_s": GOAL, "rows": rows, "load_average": load}
    notes += (
        f"\nLoad average at the end of the run: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} "
        f"(on {os.cpu_count()} cores; other work on the machine slows kzg_commit).\n"
    )
    json_path, md_path = write_results("homomorphic_fedavg", payload, markdown_table(rows, columns) + notes)
    print(f"wrote {json_path} and {md_path}")


if __name__ == "__main__":
    main()
