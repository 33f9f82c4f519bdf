"""``zkagg da commit``: output forms and one-line errors, through typer's CliRunner."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from zkagg.cli.da_commit import commit

# CELESTIA.md §7: the docs example.
DOC_NS = "AAAAAAAAAAAAAAAAAAAAAAAAAAECAwQFBgcICRA="
DOC_DATA = b"This is an example of some blob data"
DOC_COMMITMENT = "AD5EzbG0/EMvpw0p8NIjMVnoCP4Bv6K+V6gjmwdXUKU="


@pytest.fixture
def app() -> typer.Typer:
    # The command alone, registered as cli/da.py registers it (plus a no-op so typer keeps the name).
    application = typer.Typer()
    application.command(name="commit")(commit)
    application.command(name="noop")(lambda: None)
    return application


@pytest.fixture
def doc_file(tmp_path: Path) -> Path:
    path = tmp_path / "blob.bin"
    path.write_bytes(DOC_DATA)
    return path


def test_commit_prints_base64_and_hex(app: typer.Typer, doc_file: Path) -> None:
    # Execute
    result = CliRunner().invoke(app, ["commit", str(doc_file), "--namespace", DOC_NS])

    # Assert
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"commitment (base64) {DOC_COMMITMENT}"
    assert lines[1].split()[-1] == base64.b64decode(DOC_COMMITMENT).hex()


def test_commit_json(app: typer.Typer, doc_file: Path) -> None:
    # Execute
    result = CliRunner().invoke(app, ["commit", str(doc_file), "--namespace", DOC_NS, "--json"])

    # Assert
    assert result.exit_code == 0, result.output
    obj = json.loads(result.stdout)
    assert obj["ok"] is True
    assert obj["commitment_base64"] == DOC_COMMITMENT
    assert obj["namespace_base64"] == DOC_NS
    assert obj["size"] == len(DOC_DATA)
    assert obj["shares"] == 1


def test_commit_share_version_1_with_signer(app: typer.Typer, tmp_path: Path) -> None:
    # Prepare: lumina's doc vector (celestia_commitment_vectors.json, lumina-doc-v1-signer)
    path = tmp_path / "data"
    path.write_bytes(bytes.fromhex("736f6d65206461746120746f2073746f7265206f6e20626c6f636b636861696e"))
    args = ["commit", str(path), "-n", "0x0102030405", "--share-version", "1"]
    args += ["--signer", "0x8fbd6a7671496acd389dc678fc26b30691654961", "--json"]

    # Execute
    result = CliRunner().invoke(app, args)

    # Assert
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["commitment_hex"] == (
        "014a4b28762796b7cad1c5fa0dc1b2af214c95dd672626be723902c171531600"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--namespace", "this-is-not-a-namespace"], "namespace must be 0x-hex or hex"),
        (
            ["--namespace", "0x01"],
            "invalid user namespace: invalid data namespace(" + "00" * 28 + "01): reserved",
        ),
        (["--namespace", "zkagg", "--signer", "abcd"], "--signer must be the 20-byte signer address in hex"),
        (
            ["--namespace", "zkagg", "--share-version", "1"],
            "share version 1 requires signer of size 20 bytes",
        ),
        (["--namespace", "zkagg", "--share-version", "2"], "share_version must be one of [0, 1], not 2"),
        (["--namespace", "zkagg", "--signer", "00" * 20], "share version 0 does not support signer"),
    ],
    ids=["bad-namespace", "reserved", "bad-signer", "v1-no-signer", "v2", "v0-signer"],
)
def test_commit_errors_are_one_line(app: typer.Typer, doc_file: Path, args: list[str], message: str) -> None:
    # Execute
    result = CliRunner().invoke(app, ["commit", str(doc_file), *args])

    # Assert: exit code 2 (InvalidArgument), one line on stderr, nothing on stdout
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ")
    assert message in result.stderr


@pytest.mark.parametrize("case", ["missing", "empty", "directory"])
def test_commit_file_errors(app: typer.Typer, tmp_path: Path, case: str) -> None:
    # Prepare
    path = tmp_path / "f"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "directory":
        path.mkdir()
    expected = {
        "missing": f"file must exist, but '{path}' does not",
        "empty": f"file '{path}' is empty: data can not be empty",
        "directory": f"file must be a regular file, but '{path}' is not",
    }[case]

    # Execute
    result = CliRunner().invoke(app, ["commit", str(path), "--namespace", "zkagg"])

    # Assert
    assert result.exit_code == 2
    assert result.stderr == f"error: {expected}\n"


def test_commit_error_with_json_is_json(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["commit", str(tmp_path / "nope"), "--namespace", "zkagg", "--json"])
    assert result.exit_code == 2
    obj = json.loads(result.stdout)
    assert obj["ok"] is False
    assert obj["error"] == "InvalidArgument"


def test_registered_as_zkagg_da_commit(doc_file: Path) -> None:
    # Prepare
    from zkagg.cli.app import app as zkagg_app

    # Execute
    result = CliRunner().invoke(zkagg_app, ["da", "commit", str(doc_file), "--namespace", DOC_NS])

    # Assert
    assert result.exit_code == 0, result.output
    assert DOC_COMMITMENT in result.stdout
