"""The digits FL workload: accuracy per round, FedAvg against the median under sign-flipping clients.

Usage::

    .venv/bin/python -m benchmarks.fl_digits [--seeds 0,1,2] [--rounds 10] [--prove]

Runs the reference sharded loop (:func:`zkagg._fl.sim.run_reference`, no proofs) for 16 clients in
4 shards on scikit-learn's digits with Dirichlet(1.0) label skew, hidden width 16, 10 local epochs
of SGD (lr 0.05, momentum 0.9, batch 16), in these scenarios:

* honest clients, FedAvg and coordinate-wise median within shards;
* 30% Byzantine clients (5 of 16) sending -10 times their update, with FedAvg or median within
  shards, with the median over all 16 clients in one shard, and with the shard quality gate (a
  shard is dropped when its shard model's probe accuracy is below max(0.3, global - 0.05)).

With ``--prove`` it also builds the default quality circuit (40 probe samples, logrows 15) and
proves the final honest model's probe accuracy: rows, logrows, setup, prove and verify seconds.

Writes benchmarks/results/fl_digits.json and .md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from benchmarks.harness import describe_machine, markdown_table, peak_rss_mib, write_results

SCENARIOS: list[tuple[str, dict[str, Any]]] = [
    ("fedavg, honest", {"rule": "fedavg"}),
    ("median, honest", {"rule": "median"}),
    ("fedavg, 30% sign-flip", {"rule": "fedavg", "byzantine_fraction": 0.3}),
    ("median, 30% sign-flip", {"rule": "median", "byzantine_fraction": 0.3}),
    ("median (1 shard of 16), 30% sign-flip", {"rule": "median", "byzantine_fraction": 0.3, "n_shards": 1}),
    (
        "fedavg + quality gate, 30% sign-flip",
        {"rule": "fedavg", "byzantine_fraction": 0.3, "quality_threshold": 0.3, "quality_margin": 0.05},
    ),
    (
        "median + quality gate, 30% sign-flip",
        {"rule": "median", "byzantine_fraction": 0.3, "quality_threshold": 0.3, "quality_margin": 0.05},
    ),
]


def run_scenarios(seeds: list[int], rounds: int) -> list[dict[str, Any]]:
    from zkagg._fl.sim import FLConfig, run_reference

    rows = []
    for name, overrides in SCENARIOS:
        runs = []
        for seed in seeds:
            history = run_reference(FLConfig(rounds=rounds, seed=seed, **overrides))
            curve = [r.test_accuracy for r in history.rounds]
            reach = next((r.round for r in history.rounds if r.test_accuracy >= 0.9), None)
            runs.append(
                {
                    "seed": seed,
                    "accuracy_per_round": curve,
                    "final_accuracy": history.final_accuracy,
                    "first_round_at_90": reach,
                    "shards_accepted_per_round": [r.shards_accepted for r in history.rounds],
                    "byzantine_clients": history.byzantine,
                    "seconds": history.seconds,
                }
            )
            print(
                f"{name:40s} seed {seed}: {[round(a, 3) for a in curve]} ({history.seconds:.1f} s)",
                flush=True,
            )
        finals = [r["final_accuracy"] for r in runs]
        reaches = [r["first_round_at_90"] for r in runs]
        rows.append(
            {
                "scenario": name,
                "config": overrides,
                "runs": runs,
                "final_mean": statistics.mean(finals),
                "final_min": min(finals),
                "rounds_to_90": ", ".join("-" if r is None else str(r) for r in reaches),
                "seconds_mean": statistics.mean(r["seconds"] for r in runs),
            }
        )
    return rows


def prove_figures() -> dict[str, Any]:
    from zkagg._field import dequantize, quantize
    from zkagg._fl.data import load_digits_task
    from zkagg._fl.quality import QualitySpec, prove_quality, quality_artifacts, verify_quality
    from zkagg._fl.sim import FLConfig, run_reference

    data = load_digits_task()
    spec = QualitySpec.for_digits(data)
    params = run_reference(FLConfig(rounds=5), data=data).params
    t0 = time.perf_counter()
    artifacts = quality_artifacts(spec)
    build_s = time.perf_counter() - t0
    exact = dequantize(quantize(params, spec.scale), spec.scale)
    t0 = time.perf_counter()
    proof = prove_quality(exact, spec)
    prove_total_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    verify_quality(proof, 0.0, spec)
    verify_s = time.perf_counter() - t0
    return {
        "n_probe": spec.n_probe,
        "hidden": spec.hidden,
        "n_params": spec.n_params,
        "inputs": spec.input_lengths,
        "num_inner_cols": spec.num_inner_cols,
        "scale": spec.scale,
        "rows": artifacts.num_rows,
        "logrows": artifacts.logrows,
        "build_s": build_s,
        "build_cached": artifacts.cached,
        "build_timings": artifacts.timings,
        "prove_timings": proof.proof.timings,
        "prove_total_s": prove_total_s,
        "verify_s": verify_s,
        "proof_bytes": proof.proof.proof_size,
        "proven_correct": proof.correct,
        "probe_accuracy": proof.accuracy,
        "peak_rss_mib": peak_rss_mib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--prove", action="store_true", help="also build and prove the quality circuit")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = run_scenarios(seeds, args.rounds)
    payload: dict[str, Any] = {
        "machine": describe_machine(),
        "setup": {
            "clients": 16,
            "shards": 4,
            "alpha": 1.0,
            "hidden": 16,
            "train": "10 epochs SGD lr 0.05 momentum 0.9 batch 16",
            "attack": "5 of 16 clients send -10 x update",
            "rounds": args.rounds,
            "seeds": seeds,
            "torch_threads": 1,
        },
        "scenarios": rows,
    }
    table = markdown_table(
        rows,
        [
            ("scenario", "scenario"),
            ("final_mean", f"test accuracy after {args.rounds} rounds (mean)"),
            ("final_min", "min over seeds"),
            ("rounds_to_90", "first round >= 90% (per seed)"),
            ("seconds_mean", "seconds per run (mean)"),
        ],
    )
    if args.prove:
        figures = prove_figures()
        payload["quality_proof"] = figures
        print(figures, flush=True)
        table += "\n\nQuality proof of the final honest model (default spec):\n\n" + markdown_table(
            [figures],
            [
                ("n_probe", "probe samples"),
                ("n_params", "parameters"),
                ("num_inner_cols", "columns"),
                ("rows", "rows"),
                ("logrows", "logrows"),
                ("build_s", "build s (SRS + setup)"),
                ("prove_total_s", "prove s (witness + prove + self-verify)"),
                ("verify_s", "verify s"),
                ("proof_bytes", "proof bytes"),
                ("probe_accuracy", "proven probe accuracy"),
            ],
        )
    table += (
        "\n\nReference loop only (float maths, no proofs, no DA); one torch thread; timings on a shared,"
        " loaded machine are noisy."
    )
    json_path, md_path = write_results("fl_digits", payload, table)
    print(json_path, md_path)


if __name__ == "__main__":
    main()
