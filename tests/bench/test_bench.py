"""``zkagg bench``: a small real run (native, naive EZKL and zkagg side by side) and bad arguments."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zkagg import InvalidArgument
from zkagg._bench.measure import BenchConfig
from zkagg.cli.app import app

runner = CliRunner()
SMALL = ["--clients", "3", "--chunk-sizes", "64", "--length", "64", "--shards", "1"]
NO_EXTRAS = ["--no-monolithic", "--no-quality", "--compare-executors", "none"]


@pytest.mark.slow
def test_bench_writes_results_a_report_naming_the_machine_and_plots(tmp_path: Path) -> None:
    # Prepare
    out = tmp_path / "bench"
    # Execute
    result = runner.invoke(
        app, ["bench", "--rules", "fedavg", *SMALL, *NO_EXTRAS, "--out", str(out), "--json"]
    )
    # Assert
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["ok"] is True
    assert summary["speedup_end_to_end"]["fedavg"] > 0
    data = json.loads((out / "results.json").read_text())
    pipelines = {row["pipeline"] for row in data["headline"]}
    assert pipelines == {"native", "naive", "zkagg"}
    naive = next(r for r in data["headline"] if r["pipeline"] == "naive")
    assert naive["logrows"] >= 15 and naive["proof_bytes"] > 0 and naive["peak_rss_mib"] > 0
    ours = next(r for r in data["headline"] if r["pipeline"] == "zkagg")
    assert ours["da_bytes"] > 0 and ours["proofs"] == 0  # FedAvg: no SNARK
    report = (out / "report.md").read_text()
    assert data["machine"]["cpu"] in report
    assert len(list(out.glob("*.png"))) >= 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--clients", "four"], "--clients must be comma-separated integers >= 3 (such as 4,8), not 'four'"),
        (["--clients", "2"], "--clients must be comma-separated integers >= 3, not '2'"),
        (["--chunk-sizes", "100"], r"chunk_sizes must be powers of two in \[64, 65536\], not \[100\]"),
        (["--rules", "krum"], "rules must be among fedavg, median, trimmed_mean, not 'krum'"),
        (["--executor", "dask"], "--executor must be one of serial, local, ray, not 'dask'"),
        (["--workers", "0"], "--workers must be a positive integer, not 0"),
        (["--length", "0"], "--length must be a positive integer, not 0"),
        (["--compare-executors", "slurm"], "--compare-executors must be 'none' or a comma-separated list"),
        (["--ray-address", "auto"], "ray_address is only for executor 'ray', not 'serial'"),
    ],
)
def test_bad_arguments_name_the_argument(args: list[str], message: str, tmp_path: Path) -> None:
    # Execute
    result = runner.invoke(app, ["bench", "--quick", *args, "--out", str(tmp_path / "o")])
    # Assert
    assert result.exit_code == 2
    assert message in result.output or re.search(message, result.output), result.output


def test_out_must_not_be_a_file(tmp_path: Path) -> None:
    # Prepare
    target = tmp_path / "file"
    target.write_text("x")
    # Execute
    result = runner.invoke(app, ["bench", "--quick", "--out", str(target)])
    # Assert
    assert result.exit_code == 2
    assert "--out must be a directory, not the existing file" in result.output


def test_config_validation_names_the_field() -> None:
    # Execute / Assert
    with pytest.raises(InvalidArgument, match=r"shards must be integers >= 1, not \[0\]"):
        BenchConfig(shards=(0,))
