"""The round commands' command lines: a small ``zkagg run``, and every bad argument named."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zkagg._protocol.deployment import Deployment
from zkagg._protocol.run import RoundRow
from zkagg.cli.app import app
from zkagg.cli.run import _cells
from zkagg.da._auth import load_or_create_secret, new_token
from zkagg.da._runner import spawn_server

runner = CliRunner()


def test_run_json_report_and_audit_of_its_state(tmp_path: Path) -> None:
    # Execute
    report = tmp_path / "report.json"
    result = runner.invoke(
        app,
        [
            "run",
            "--clients",
            "4",
            "--shards",
            "2",
            "--rounds",
            "1",
            "--no-quality",
            "--dropout",
            "0.25",
            "--state",
            str(tmp_path / "state"),
            "--report",
            str(report),
            "--json",
        ],
    )
    # Assert
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    written = json.loads(report.read_text())
    assert printed["ok"] and written["format"] == "zkagg-run-report/1"
    assert written["rounds"][0]["clients_posted"] == 3 and len(written["rounds"][0]["dropped"]) == 1
    assert written["final_accuracy"] == printed["final_accuracy"]
    assert (tmp_path / "state" / "deployment.json").exists()


def test_run_text_output(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--clients", "2", "--shards", "1", "--rounds", "1", "--no-quality"])
    assert result.exit_code == 0, result.output
    assert "final test accuracy" in result.output and "control namespace" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--rule", "krum"],
            "--rule must be one of fedavg, median, trimmed_mean, clipped_fedavg, fedavg_snark, not 'krum'",
        ),
        (["--dropout", "1.5"], "dropout must be a fraction in [0, 1), not 1.5"),
        (["--clients", "2", "--shards", "3"], "shards must be at most clients (2), not 3"),
        (["--client-attack", "noise"], "client_attack must be one of sign-flip, scaled, not 'noise'"),
        (
            ["--shard-attack", "nap"],
            "shard_attack must be one of tamper-aggregate, replay, withhold, include-unproven, censor, withhold-reveal, not 'nap'",
        ),
        (["--byzantine-shards", "9"], "byzantine_shards must be an integer in [0, 4], not 9"),
        (["--byzantine-clients", "1"], "byzantine_clients must be a fraction in [0, 1), not 1.0"),
        (["--report", "/nonexistent/dir/r.json"], "--report must be a file in an existing directory"),
        (["--quality-margin", "2"], "quality_margin must be a number in [0.0, 1.0], not 2.0"),
        (["--norm-bound=-1"], "--norm-bound must be a positive finite number, not -1.0"),
        (["--norm-bound", "0"], "--norm-bound must be a positive finite number, not 0.0"),
        (["--norm-bound", "nan"], "--norm-bound must be a positive finite number, not nan"),
        (["--norm-bound", "inf"], "--norm-bound must be a positive finite number, not inf"),
        (["--norm-bound", "big"], "'big' is not a valid float"),
    ],
)
def test_run_bad_arguments(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["run", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_audit_bad_arguments() -> None:
    result = runner.invoke(app, ["audit", "--da", "http://127.0.0.1:9", "--namespace", "zz"])
    assert (
        result.exit_code == 2 and "--namespace must be 29 bytes as 58 hex digits, not 'zz'" in result.output
    )
    ns = "00" * 29
    result = runner.invoke(
        app, ["audit", "--da", "http://127.0.0.1:9", "--namespace", ns, "--deployment-id", "ab"]
    )
    assert result.exit_code == 2 and "--deployment-id must be 64 hex digits, not 'ab'" in result.output


def test_audit_unreachable_node_and_empty_namespace(tmp_path: Path) -> None:
    result = runner.invoke(app, ["audit", "--da", "http://127.0.0.1:9", "--namespace", "00" * 28 + "01"])
    assert result.exit_code in (9, 10), result.output  # DA errors
    server, url = spawn_server(tmp_path / "da", instant=True, skip_auth=True)
    try:
        result = runner.invoke(app, ["audit", "--da", url, "--namespace", "00" * 28 + "01"])
    finally:
        server.kill()
        server.wait()
    assert result.exit_code == 14 and "no zkagg deployment is announced in namespace" in result.output


def test_init_and_role_argument_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", str(tmp_path / "d"), "--clients", "3", "--shards", "1", "--json"])
    assert result.exit_code == 0, result.output
    dep = tmp_path / "d" / "deployment.json"
    again = runner.invoke(app, ["init", str(tmp_path / "d")])
    assert again.exit_code == 2 and "already holds a deployment" in again.output
    bad_rule = runner.invoke(app, ["init", str(tmp_path / "e"), "--rule", "krum"])
    assert bad_rule.exit_code == 2 and "rule must be one of" in bad_rule.output
    bad_bound = runner.invoke(app, ["init", str(tmp_path / "f"), "--norm-bound", "nan"])
    assert bad_bound.exit_code == 2
    assert "--norm-bound must be a positive finite number, not nan" in bad_bound.output
    assert not (tmp_path / "f").exists()
    capped = runner.invoke(
        app, ["init", str(tmp_path / "g"), "--clients", "3", "--shards", "1", "--max-samples", "500"]
    )
    assert capped.exit_code == 0, capped.output
    assert Deployment.load(tmp_path / "g" / "deployment.json").sample_count_bound == 500
    assert Deployment.load(dep).sample_count_bound == 2**32 - 1
    bad_cap = runner.invoke(app, ["init", str(tmp_path / "h"), "--max-samples", "0"])
    assert bad_cap.exit_code == 2 and "--max-samples" in bad_cap.output
    keys = tmp_path / "d" / "keys"
    client = runner.invoke(app, ["client", "--deployment", str(dep), "--keys", str(keys), "--index", "0-5"])
    assert (
        client.exit_code == 2
        and "--index must be distinct indices in [0, 3) like 3, 0,2,5 or 0-3, not '0-5'" in client.output
    )
    shard = runner.invoke(
        app, ["shard", "--deployment", str(dep), "--keys", str(keys / "shard-0"), "--index", "4"]
    )
    assert shard.exit_code == 2 and "--index must be in [0, 1), not 4" in shard.output
    wrong = runner.invoke(
        app,
        [
            "shard",
            "--deployment",
            str(dep),
            "--keys",
            str(keys / "client-0"),
            "--index",
            "0",
            "--da",
            "http://127.0.0.1:9",
        ],
    )
    assert wrong.exit_code == 2 and "identity is not shard 0's aggregator keys" in wrong.output
    missing = runner.invoke(
        app,
        [
            "coordinator",
            "--deployment",
            str(tmp_path / "nope.json"),
            "--keys",
            str(keys),
            "--state",
            str(tmp_path),
        ],
    )
    assert missing.exit_code == 7 and "does not exist" in missing.output


def test_run_against_a_running_da_server(tmp_path: Path) -> None:
    # Prepare: `zkagg da serve --instant` with JWT auth, and a write token
    server, url = spawn_server(tmp_path / "da", instant=True)
    token = new_token(load_or_create_secret(tmp_path / "da"), "admin", None)
    try:
        # Execute
        result = runner.invoke(
            app,
            [
                "run",
                "--clients",
                "3",
                "--shards",
                "1",
                "--rounds",
                "1",
                "--no-quality",
                "--da",
                url,
                "--token",
                token,
                "--instant",
                "--json",
            ],
        )
        # Assert
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["rounds"][0]["global_model"]
        audit = runner.invoke(
            app, ["audit", "--da", url, "--token", token, "--namespace", summary["control_namespace"]]
        )
        assert audit.exit_code == 0, audit.output
        assert "audit passed: 1 round(s)" in audit.output
    finally:
        server.kill()
        server.wait()


def test_audit_names_a_caught_cheat_with_its_own_exit_status(tmp_path: Path) -> None:
    # Prepare: one run whose only shard censors three of its four clients, on a served node
    server, url = spawn_server(tmp_path / "da", instant=True)
    token = new_token(load_or_create_secret(tmp_path / "da"), "admin", None)
    try:
        args = ["--clients", "4", "--shards", "1", "--rounds", "1", "--no-quality", "--quorum", "1"]
        args += ["--byzantine-shards", "1", "--shard-attack", "censor", "--da", url, "--token", token]
        result = runner.invoke(app, ["run", *args, "--instant", "--json"])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["rounds"][0]["verdicts"][0]["reason"] == "unjustified-exclusion"
        # Execute
        audit = runner.invoke(
            app, ["audit", "--da", url, "--token", token, "--namespace", summary["control_namespace"]]
        )
        # Assert: the coordinator's verdict reproduces, and the audit names the cheat and exits 15
        assert audit.exit_code == 15, audit.output
        assert "round 1: ok; verdicts 0:unjustified-exclusion" in audit.output
        assert "FINDING round 1: shard 0's aggregator signed a result excluded as unjustified-exclusion" in (
            audit.output
        )
        assert "the protocol caught 1 cheat(s)" in audit.output
    finally:
        server.kill()
        server.wait()


def test_init_writes_the_norm_bound_and_run_documents_it(tmp_path: Path) -> None:
    # Execute
    result = runner.invoke(
        app, ["init", str(tmp_path / "d"), "--clients", "2", "--shards", "1", "--norm-bound", "1.5"]
    )
    usage = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    # Assert
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "d" / "deployment.json").read_text())
    assert written["client_norm_bound"] == 1.5
    assert usage.exit_code == 0 and "--norm-bound" in usage.output and "L2 norm" in usage.output


@pytest.mark.slow
def test_run_with_norm_bound_reports_the_clients_left_out(tmp_path: Path) -> None:
    # Execute: one of two clients sign-flips and cannot prove its norm (about 35 s: two norm proofs)
    report = tmp_path / "report.json"
    args = ["run", "--clients", "2", "--shards", "1", "--rounds", "1", "--no-quality", "--norm-bound", "1.0"]
    result = runner.invoke(
        app, [*args, "--byzantine-clients", "0.5", "--report", str(report)], env={"COLUMNS": "250"}
    )
    # Assert: the live table's column, the summary line and the report all count it
    assert result.exit_code == 0, result.output
    assert "norm excl" in result.output and "client norm bound 1" in result.output
    assert (
        "client norm bound 1: 1 client update(s) left out for a missing or invalid norm proof"
        in result.output
    )
    row = json.loads(report.read_text())["rounds"][0]
    assert row["norm_excluded"] == 1 and "no valid norm proof" in row["rejected"][0]
    assert json.loads(report.read_text())["config"]["norm_bound"] == 1.0


@pytest.mark.slow  # a real two-round run in a fresh process (about 40 s)
def test_run_piped_prints_a_plain_line_per_round(tmp_path: Path) -> None:
    # Prepare: `zkagg run ... | cat`: the child's stdout is a pipe, not a terminal
    entry = "import sys; from zkagg.cli.app import main; sys.argv[0] = 'zkagg'; main()"
    args = ["run", "--clients", "2", "--shards", "1", "--rounds", "2", "--no-quality"]
    # Execute
    proc = subprocess.run(
        [sys.executable, "-c", entry, *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    # Assert: the title, one line per round (in order), phase lines, then the summary; no table
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    rounds = [line for line in lines if line.startswith("round ")]
    assert [line.split()[1] for line in rounds] == ["1", "2"], proc.stdout
    assert all("test acc" in line and "DA KiB" in line for line in rounds)
    assert lines[0].startswith("zkagg run: 2 clients, 1 shards")
    assert any(line.startswith("  ") for line in lines), "no per-phase progress line"
    assert lines.index(rounds[-1]) < next(
        i for i, line in enumerate(lines) if line.startswith("final test accuracy")
    )
    assert "━" not in proc.stdout + proc.stderr and "┃" not in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("reasons", "accepted", "shown"),
    [
        (["below-threshold", "below-threshold"], 0, "0/2 (none accepted)"),
        (["accepted", "missing", "missing"], 1, "1/3 (no quorum)"),
        (["accepted", "accepted"], 2, "2/2"),
    ],
)
def test_the_round_table_says_why_no_model_was_published(
    reasons: list[str], accepted: int, shown: str
) -> None:
    row = RoundRow(
        round=1,
        test_accuracy=0.5,
        shards_accepted=accepted,
        verdicts=[{"shard": k, "reason": r, "detail": ""} for k, r in enumerate(reasons)],
        clients_posted=4,
        dropped=[],
        prove_seconds=0.0,
        verify_seconds=0.0,
        seconds=1.0,
        da_bytes=1024,
        global_model=accepted == len(reasons),
        threshold=None,
    )
    assert dict((name, text) for name, _justify, text in _cells(row, norm=False))["shards ok"] == shown
