"""Byzantine robustness on synthetic data (reference maths, no proofs).

Honest clients send the true update plus Gaussian noise; a fraction of them is Byzantine and sends
``-10`` times its update (sign-flipped and 10x scaled). For every rule the program reports the
relative L2 error ``||aggregate - honest FedAvg|| / ||honest FedAvg||`` (mean over seeds), for the
float rules and for the exact integer rules at scale 13 (what the circuits and homomorphic checks
compute).

Run: ``.venv/bin/python -m benchmarks.byzantine``. Writes ``benchmarks/results/byzantine.{json,md}``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.harness import describe_machine, markdown_table, write_results
from zkagg import quantize
from zkagg._aggregation.reference import (
    byzantine_updates,
    clipped_fedavg,
    fedavg,
    fedavg_rescale,
    fedavg_sum_int,
    median,
    median_int,
    trimmed_mean,
    trimmed_mean_int,
)

SCALE = 13
SEEDS = range(10)


def errors_for(n_clients: int, length: int, fraction: float, noise: float, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=length)
    honest = truth + noise * rng.normal(size=(n_clients, length))
    attacked, bad = byzantine_updates(honest, fraction, seed=seed)
    reference = fedavg(honest[~bad])
    norm = float(np.linalg.norm(reference))
    beta = max(fraction, 0.1) if fraction < 0.5 else 0.45
    clip = 1.1 * float(np.median(np.linalg.norm(honest, axis=1)))
    q = quantize(attacked, SCALE)
    sums, count = trimmed_mean_int(q, beta)
    candidates = {
        "fedavg": fedavg(attacked),
        "median": median(attacked),
        f"trimmed_mean(beta={beta:g})": trimmed_mean(attacked, beta),
        "clipped_fedavg(C=1.1 median norm)": clipped_fedavg(attacked, clip),
        "fedavg (integer)": fedavg_rescale(fedavg_sum_int(q), n_clients, SCALE),
        "median (integer)": median_int(q) / 2.0**SCALE,
        "trimmed_mean (integer)": fedavg_rescale(sums, count, SCALE),
    }
    return {name: float(np.linalg.norm(agg - reference)) / norm for name, agg in candidates.items()}


def main() -> None:
    rows: list[dict[str, Any]] = []
    for n_clients, fraction in [(20, 0.0), (20, 0.1), (20, 0.3), (50, 0.3), (15, 0.3)]:
        per_seed = [errors_for(n_clients, 10_000, fraction, 0.1, seed) for seed in SEEDS]
        for rule in per_seed[0]:
            values = [e[rule] for e in per_seed]
            rows.append(
                {
                    "clients": n_clients,
                    "byzantine_fraction": fraction,
                    "rule": rule,
                    "relative_error_mean": float(np.mean(values)),
                    "relative_error_max": float(np.max(values)),
                }
            )
    columns = [
        ("clients", "clients"),
        ("byzantine_fraction", "Byzantine"),
        ("rule", "rule"),
        ("relative_error_mean", "rel. L2 error (mean)"),
        ("relative_error_max", "rel. L2 error (max)"),
    ]
    notes = (
        "\n\nByzantine clients send -10x their update. Error relative to the FedAvg of the honest "
        f"clients; 10,000 values per client, noise 0.1 around a N(0, 1) truth, {len(SEEDS)} seeds. "
        "Integer rows: the exact integer rules at scale 13 (what the proofs and homomorphic checks "
        "compute), rescaled to floats.\n"
    )
    payload = {"machine": describe_machine(), "rows": rows}
    json_path, md_path = write_results("byzantine", payload, markdown_table(rows, columns) + notes)
    for row in rows:
        if row["byzantine_fraction"] == 0.3 and row["clients"] == 20:
            print(f"{row['rule']:40s} {row['relative_error_mean']:.4f}")
    print(f"wrote {json_path} and {md_path}")


if __name__ == "__main__":
    main()
