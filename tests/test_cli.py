"""The CLI: prove, verify and info through typer, with exit codes and one-line reasons."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zkagg import InvalidProof
from zkagg.cli.app import app

from .conftest import EXAMPLES

runner = CliRunner()


def test_help_does_not_import_ezkl_or_torch() -> None:
    code = (
        "import sys; import zkagg.cli.app as a; "
        "heavy = [m for m in ('ezkl', 'torch', 'onnxruntime') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("prove", "verify", "info", "example", "da"):
        assert command in result.stdout


def test_info_json(zkagg_home: Path) -> None:
    result = runner.invoke(app, ["info", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["versions"]["ezkl"] == "23.0.5"
    assert data["home"] == str(zkagg_home)


def test_prove_missing_model_is_one_line_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["prove", str(tmp_path / "nope.onnx"), str(EXAMPLES / "mlp_input.json")])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "MODEL must be an existing ONNX file" in result.stderr


def test_prove_bad_visibility(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "prove",
            str(EXAMPLES / "mlp.onnx"),
            str(EXAMPLES / "mlp_input.json"),
            "--input-visibility",
            "secret",
        ],
    )
    assert result.exit_code == 2
    assert "input_visibility must be one of" in result.stderr


def test_prove_srs_without_hash(tmp_path: Path) -> None:
    args = [
        "prove",
        str(EXAMPLES / "mlp.onnx"),
        str(EXAMPLES / "mlp_input.json"),
        "--srs",
        str(tmp_path / "x.srs"),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "--srs-sha256" in result.stderr


def test_verify_missing_proof_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["verify", str(tmp_path / "none.json")])
    assert result.exit_code == 2 and "readable file" in result.stderr


@pytest.mark.slow
def test_prove_then_verify_round_trip(tmp_path: Path, example_proven) -> None:  # type: ignore[no-untyped-def]
    proof = tmp_path / "proof.json"
    result = runner.invoke(
        app,
        [
            "prove",
            str(EXAMPLES / "mlp.onnx"),
            str(EXAMPLES / "mlp_input.json"),
            "--scale",
            "10",
            "--out",
            str(proof),
            "--export-artifacts",
            str(tmp_path / "verifier"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["keys_cached"] is True  # same model and arguments as the session fixture
    assert summary["srs"]["insecure"] is True
    ok = runner.invoke(app, ["verify", str(proof), "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["valid"] is True
    ok_dir = runner.invoke(app, ["verify", str(proof), "--artifacts", str(tmp_path / "verifier")])
    assert ok_dir.exit_code == 0, ok_dir.output
    assert ok_dir.stdout.startswith("valid:")


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["flip", "instance", "truncate"])
def test_verify_rejects_tampered_proofs(tmp_path: Path, example_proven, damage: str) -> None:  # type: ignore[no-untyped-def]
    raw = example_proven.proof_path.read_bytes()
    bad = tmp_path / "bad.json"
    if damage == "truncate":
        bad.write_bytes(raw[: len(raw) - 40])
    else:
        data = json.loads(raw)
        if damage == "flip":
            data["proof"]["proof"][64] ^= 0x10
        else:
            column = data["proof"]["instances"][0]
            column[0], column[1] = column[1], column[0]
        bad.write_text(json.dumps(data, sort_keys=True, separators=(",", ":")))  # zkagg's one form
    result = runner.invoke(app, ["verify", str(bad)])
    assert result.exit_code == InvalidProof.exit_code
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    as_json = runner.invoke(app, ["verify", str(bad), "--json"])
    assert as_json.exit_code == InvalidProof.exit_code
    assert json.loads(as_json.stdout)["error"] == "InvalidProof"


@pytest.mark.slow
def test_verify_against_another_circuits_artifacts(tmp_path: Path, example_proven, other_proven) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(
        app, ["verify", str(example_proven.proof_path), "--artifacts", str(other_proven.artifacts.directory)]
    )
    assert result.exit_code == InvalidProof.exit_code
    assert "made for verification key" in result.stderr


@pytest.mark.slow
def test_verify_without_cached_artifacts(tmp_path: Path, example_proven) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["verify", str(example_proven.proof_path), "--home", str(tmp_path / "empty")])
    assert result.exit_code == 7
    assert "--artifacts" in result.stderr
