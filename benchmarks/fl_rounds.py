"""Verified rounds end to end (``zkagg run``): accuracy, verdicts and cost per scenario.

Usage::

    .venv/bin/python -m benchmarks.fl_rounds [--scenarios default,fedavg-flip,median-flip] [--rounds 5]

Every scenario is :func:`zkagg._protocol.run.run_deployment` on a fresh embedded DA node (instant blocks):
16 clients in 4 shards on scikit-learn's digits (Dirichlet(1.0) label skew), 5 rounds, real EZKL
proofs (quality proofs of the shard models with 16 probe samples; median proofs per chunk), every
message through the DA layer, each round judged by the coordinator. Scenarios:

* ``default``: what ``zkagg run`` does with no options (FedAvg, honest clients, quality gate);
* ``fedavg-flip-nogate``: 30% of the clients (5 of 16) send -10 times their update, FedAvg, no gate;
* ``fedavg-flip``: the same with the quality gate;
* ``median-flip``: the same attack, median within shards (proven in circuit) with the quality gate;
* ``fedavg-flip-q1`` and ``median-flip-q1``: the same with a quorum of one shard and a quality margin
  of 0.05 (with 5 attackers among 16 clients most 4-client shards hold one, so a majority quorum of
  shards often fails and the round publishes no model).

Scenarios run in one invocation share its machine and load; results of earlier invocations are kept
in the output (each scenario records when it was taken).

Writes benchmarks/results/fl_rounds.json and .md, with the machine described. Wall times come from
a shared 2-core machine: compare scenarios of one run, not runs of different days.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from benchmarks.harness import describe_machine, markdown_table, peak_rss_mib, write_results

SCENARIOS: dict[str, dict[str, Any]] = {
    "default": {},
    "fedavg-flip-nogate": {"byzantine_clients": 0.3, "quality": False},
    "fedavg-flip": {"byzantine_clients": 0.3},
    "median-flip": {"byzantine_clients": 0.3, "rule": "median"},
    "fedavg-flip-q1": {"byzantine_clients": 0.3, "quorum": 1, "quality_margin": 0.05},
    "median-flip-q1": {"byzantine_clients": 0.3, "rule": "median", "quorum": 1, "quality_margin": 0.05},
}


def run_scenario(name: str, rounds: int) -> dict[str, Any]:
    from zkagg._protocol.run import RunConfig, run_deployment

    t0 = time.perf_counter()
    report = run_deployment(RunConfig(rounds=rounds, **SCENARIOS[name]))
    seconds = time.perf_counter() - t0
    return {
        "scenario": name,
        "config": SCENARIOS[name],
        "accuracy_per_round": [round(r.test_accuracy, 4) for r in report.rounds],
        "final_accuracy": report.final_accuracy,
        "shards_accepted": [r.shards_accepted for r in report.rounds],
        "excluded": [
            [f"{v['shard']}:{v['reason']}" for v in r.verdicts if v["reason"] != "accepted"]
            for r in report.rounds
        ],
        "prove_seconds": sum(r.prove_seconds for r in report.rounds),
        "verify_seconds": sum(r.verify_seconds for r in report.rounds),
        "da_bytes": sum(r.da_bytes for r in report.rounds),
        "setup_seconds": report.setup_seconds,
        "seconds": seconds,
        "byzantine_clients": report.byzantine_clients,
        "taken_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated scenario names")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    names = [n for n in args.scenarios.split(",") if n]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"--scenarios must name {', '.join(SCENARIOS)}, not {unknown}")
    import json

    from benchmarks.harness import RESULTS

    previous = RESULTS / "fl_rounds.json"
    kept = []
    if previous.exists():
        kept = [
            r for r in json.loads(previous.read_text()).get("scenarios", []) if r["scenario"] not in names
        ]
    rows = []
    for name in names:
        print(f"running {name} ...", flush=True)
        row = run_scenario(name, args.rounds)
        print(f"  {row['accuracy_per_round']} in {row['seconds']:.0f} s", flush=True)
        rows.append(row)
    rows = kept + rows
    table_rows = [
        {
            "scenario": r["scenario"],
            "curve": ", ".join(f"{a:.3f}" for a in r["accuracy_per_round"]),
            "final": r["final_accuracy"],
            "accepted": ", ".join(str(a) for a in r["shards_accepted"]),
            "prove": r["prove_seconds"],
            "verify": r["verify_seconds"],
            "mib": round(r["da_bytes"] / 2**20, 2),
            "seconds": r["seconds"],
        }
        for r in rows
    ]
    table = markdown_table(
        table_rows,
        [
            ("scenario", "scenario"),
            ("curve", "test accuracy per round"),
            ("final", "final"),
            ("accepted", "shards accepted per round"),
            ("prove", "prove s (all shards)"),
            ("verify", "verify s (coordinator)"),
            ("mib", "DA MiB"),
            ("seconds", "wall s (incl. set-up)"),
        ],
    )
    note = (
        f"\n\n16 clients, 4 shards, {args.rounds} rounds, one process playing every party on an embedded DA "
        "node; 30% sign-flip = 5 of 16 clients send -10x their update. Peak RSS "
        f"{peak_rss_mib():.0f} MiB.\n"
    )
    write_results(
        "fl_rounds", {"machine": describe_machine(), "rounds": args.rounds, "scenarios": rows}, table + note
    )


if __name__ == "__main__":
    main()
