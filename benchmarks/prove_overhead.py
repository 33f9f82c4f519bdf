"""Proof overhead of a parameterized MLP, and what the artifact cache saves on a second `zkagg prove`.

Usage::

    .venv/bin/python -m benchmarks.prove_overhead [--widths 16,64,256] [--depth 2] [--repeats 2]

For each width it measures, each phase in its own child process (so peak memory is per phase):
settings + calibrate + compile + SRS + setup, witness + prove, and verify; with the circuit's rows,
logrows and proof size. Then it times the CLI side by side in one run: a first `zkagg prove` on a
fresh cache (SRS and keys built), a first `zkagg prove` with only the SRS cached, and a second
`zkagg prove` of the same model on new input (keys reused), and reports the ratios.

Writes benchmarks/results/prove_overhead.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    describe_machine,
    markdown_table,
    peak_rss_mib,
    run_child,
    worker_command,
    write_results,
)

SEED = 20261122


def make_model(width: int, depth: int, out: Path, seed: int = SEED) -> tuple[Path, Path, Path]:
    """Export an MLP (width x depth, ReLU) and two different inputs for it."""
    import torch

    torch.manual_seed(seed)
    layers: list[torch.nn.Module] = []
    for i in range(depth):
        layers.append(torch.nn.Linear(width, width))
        if i < depth - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers).eval()
    x = torch.rand(1, width) - 0.5
    model_path = out / f"mlp_w{width}_d{depth}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (x,), model_path, input_names=["input"], output_names=["output"], dynamo=False
        )
    inputs = []
    for k in range(2):
        path = out / f"input_w{width}_{k}.json"
        values = (
            (torch.rand(1, width, generator=torch.Generator().manual_seed(seed + k)) - 0.5).flatten().tolist()
        )
        path.write_text(json.dumps({"input_data": [values]}))
        inputs.append(path)
    return model_path, inputs[0], inputs[1]


def worker(argv: list[str]) -> None:
    """Child-process phases: ``build MODEL CAL``, ``prove MODEL INPUT PROOF``, ``verify MODEL PROOF``."""
    from zkagg import RunArgs, build_circuit, prove, verify
    from zkagg._prover.proof import Proof

    phase = argv[0]
    args = RunArgs(input_scale=10, param_scale=10)
    if phase == "build":
        a = build_circuit(argv[1], args, calibration_data=argv[2])
        result: dict[str, Any] = {
            "timings": a.timings,
            "logrows": a.logrows,
            "rows": a.num_rows,
            "cached": a.cached,
        }
    elif phase == "prove":
        a = build_circuit(argv[1], args, calibration_data=argv[3])
        proof = prove(a, argv[2], out=argv[4])
        result = {
            "timings": proof.timings,
            "proof_bytes": proof.proof_size,
            "file_bytes": Path(argv[4]).stat().st_size,
        }
    elif phase == "verify":
        a = build_circuit(argv[1], args, calibration_data=argv[3])
        import time

        t0 = time.perf_counter()
        verify(Proof.load(argv[2]), a)
        result = {"timings": {"verify": time.perf_counter() - t0}}
    else:
        raise SystemExit(f"unknown phase {phase!r}")
    result["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(result))


def measure_width(width: int, depth: int, work: Path) -> dict[str, Any]:
    home = work / f"home_w{width}"
    env = {**os.environ, "ZKAGG_HOME": str(home)}
    model, in1, _ = make_model(width, depth, work)
    mod = "benchmarks.prove_overhead"
    build = run_child(worker_command(mod, "--worker", "build", str(model), str(in1)), env)
    proof_path = work / f"proof_w{width}.json"
    prove = run_child(
        worker_command(mod, "--worker", "prove", str(model), str(in1), str(in1), str(proof_path)), env
    )
    verify = run_child(worker_command(mod, "--worker", "verify", str(model), str(proof_path), str(in1)), env)
    for step in (build, prove, verify):
        if step["returncode"] != 0:
            raise SystemExit(f"benchmark step failed: {step.get('stderr')}")
    b, p, v = build["output"], prove["output"], verify["output"]
    return {
        "width": width,
        "depth": depth,
        "params": depth * (width * width + width),
        "logrows": b["logrows"],
        "rows": b["rows"],
        "calibrate_s": b["timings"].get("calibrate"),
        "srs_s": b["timings"].get("srs"),
        "setup_s": b["timings"].get("setup"),
        "compile_s": b["timings"].get("compile"),
        "witness_s": p["timings"]["witness"],
        "prove_s": p["timings"]["prove"],
        "verify_s": v["timings"]["verify"],
        "proof_bytes": p["proof_bytes"],
        "proof_file_bytes": p["file_bytes"],
        "peak_mib_build": b["peak_rss_mib"],
        "peak_mib_prove": p["peak_rss_mib"],
        "peak_mib_verify": v["peak_rss_mib"],
    }


def measure_cache_reuse(work: Path, repeats: int) -> dict[str, Any]:
    """Side by side: cold `zkagg prove` (SRS and keys), cold keys with the SRS cached, warm (keys reused)."""
    from importlib import resources

    model = Path(str(resources.files("zkagg.examples") / "mlp.onnx"))
    in1 = Path(str(resources.files("zkagg.examples") / "mlp_input.json"))
    in2 = work / "example_input_2.json"
    values = json.loads(in1.read_text())["input_data"][0]
    in2.write_text(json.dumps({"input_data": [[-v * 0.5 for v in values]]}))
    zkagg = [sys.executable, "-m", "zkagg.cli.app"]
    runs: list[dict[str, Any]] = []
    for r in range(repeats):
        cold_home = work / f"cache_cold_{r}"
        keys_home = work / f"cache_keys_{r}"
        env_cold = {**os.environ, "ZKAGG_HOME": str(cold_home)}
        env_keys = {**os.environ, "ZKAGG_HOME": str(keys_home)}
        common = ["prove", str(model), "--scale", "10", "--json"]
        cold = run_child(
            [*zkagg, *common[:2], str(in1), *common[2:], "--out", str(work / "c.json")], env_cold
        )
        warm = run_child(
            [*zkagg, *common[:2], str(in2), *common[2:], "--out", str(work / "w.json")], env_cold
        )
        shutil.copytree(cold_home / "srs", keys_home / "srs")
        keys = run_child(
            [*zkagg, *common[:2], str(in1), *common[2:], "--out", str(work / "k.json")], env_keys
        )
        for step in (cold, warm, keys):
            if step["returncode"] != 0:
                raise SystemExit(f"CLI run failed: {step.get('stderr')}")
        assert warm["output"]["keys_cached"] is True and cold["output"]["keys_cached"] is False
        runs.append({"cold_s": cold["wall_s"], "cold_keys_only_s": keys["wall_s"], "warm_s": warm["wall_s"]})
    med = {k: statistics.median(run[k] for run in runs) for k in runs[0]}
    return {
        "runs": runs,
        "median": med,
        "warm_over_cold": med["warm_s"] / med["cold_s"],
        "warm_over_cold_keys_only": med["warm_s"] / med["cold_keys_only_s"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--widths", default="16,64,256", help="comma-separated MLP widths")
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="repetitions of the CLI cache measurement")
    parser.add_argument("--worker", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    ns = parser.parse_args(argv)
    if ns.worker:
        worker(ns.worker)
        return
    widths = [int(w) for w in ns.widths.split(",") if w]
    with tempfile.TemporaryDirectory(prefix="zkagg-bench-") as tmp:
        work = Path(tmp)
        rows = []
        for w in widths:
            print(f"width {w} ...", file=sys.stderr, flush=True)
            rows.append(measure_width(w, ns.depth, work))
        print("CLI cache reuse ...", file=sys.stderr, flush=True)
        cache = measure_cache_reuse(work, ns.repeats)
    payload = {"machine": describe_machine(), "seed": SEED, "circuits": rows, "cli_cache_reuse": cache}
    table = markdown_table(
        rows,
        [
            ("width", "width"),
            ("depth", "depth"),
            ("rows", "rows"),
            ("logrows", "logrows"),
            ("calibrate_s", "calibrate s"),
            ("srs_s", "dev SRS s"),
            ("setup_s", "setup s"),
            ("prove_s", "prove s"),
            ("verify_s", "verify s"),
            ("proof_bytes", "proof B"),
            ("peak_mib_build", "peak MiB setup"),
            ("peak_mib_prove", "peak MiB prove"),
            ("peak_mib_verify", "peak MiB verify"),
        ],
    )
    med = cache["median"]
    table += (
        "\n\n## Second `zkagg prove` of the same model on new input (bundled example MLP, median of "
        f"{len(cache['runs'])})\n\n"
        "| first call, fresh cache (SRS + keys) | first call, SRS cached (keys built) | second call (keys reused) "
        "| second / first | second / first with SRS cached |\n|---|---|---|---|---|\n"
        f"| {med['cold_s']:.2f} s | {med['cold_keys_only_s']:.2f} s | {med['warm_s']:.2f} s "
        f"| {cache['warm_over_cold']:.0%} | {cache['warm_over_cold_keys_only']:.0%} |\n"
    )
    json_path, md_path = write_results("prove_overhead", payload, table)
    print(md_path.read_text())
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
