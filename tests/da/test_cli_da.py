"""``zkagg da``: auth, submit, get, head (against the real server on loopback) and their errors."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jwt
import pytest
from typer.testing import CliRunner

from zkagg.cli.app import app
from zkagg.cli.da import default_home, parse_commitment
from zkagg.da import Blob, Namespace
from zkagg.da._runner import ServerThread

runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["da", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_auth_prints_a_token_signed_by_the_home_secret(tmp_path: Path) -> None:
    code, out, _ = run("auth", "write", "--home", str(tmp_path))
    secret = (tmp_path / "keys" / "jwt-secret.jwt").read_bytes()
    assert code == 0
    assert jwt.decode(out.strip(), secret, algorithms=["HS256"])["Allow"] == ["public", "read", "write"]
    code, out, _ = run("auth", "admin", "--home", str(tmp_path), "--json")
    assert code == 0 and json.loads(out)["level"] == "admin"


def test_auth_with_an_unknown_level_is_an_invalid_argument(tmp_path: Path) -> None:
    code, _, err = run("auth", "root", "--home", str(tmp_path))
    assert code == 2 and err.startswith("error: permission level must be one of")


def test_default_home_follows_zkagg_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZKAGG_HOME", str(tmp_path))
    assert default_home() == tmp_path / "da-node"
    monkeypatch.delenv("ZKAGG_HOME")
    assert default_home() == Path("~/.cache/zkagg/da-node").expanduser()


def test_submit_get_head_round_trip(server: ServerThread, tmp_path: Path) -> None:
    # Prepare
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"\x00\x01cli payload\xff" * 100)
    token = server.token("write")
    common = ["--url", server.url, "--token", token]
    # Execute
    code, out, _ = run("submit", "--namespace", "cli-test", str(payload), *common, "--json")
    submitted = json.loads(out)
    out_file = tmp_path / "back.bin"
    get_code, get_out, _ = run(
        "get", str(submitted["height"]), "cli-test", submitted["commitment"], "--out", str(out_file), *common
    )
    hex_code, raw, _ = run("get", str(submitted["height"]), "cli-test", submitted["commitment_hex"], *common)
    head_code, head_out, _ = run("head", *common, "--json")
    text_code, text_out, _ = run("submit", "--namespace", "cli-test", str(payload), *common)
    # Assert
    assert code == get_code == hex_code == head_code == text_code == 0
    expected = Blob.new(Namespace.v0(b"cli-test"), payload.read_bytes()).commitment
    assert submitted["commitment"] == base64.b64encode(expected).decode()
    assert out_file.read_bytes() == payload.read_bytes()
    assert "wrote 1400 bytes" in get_out
    assert "cli payload" in raw
    assert json.loads(head_out)["height"] >= submitted["height"]
    assert text_out.startswith("height ") and "commitment " in text_out


def test_token_from_environment_and_errors_with_exit_codes(server: ServerThread, tmp_path: Path) -> None:
    payload = tmp_path / "p.bin"
    payload.write_bytes(b"data")
    env = {"CELESTIA_NODE_AUTH_TOKEN": server.token("read")}
    # a read token cannot submit: DAAuthError, exit code 11
    code, _, err = run("submit", "--namespace", "cli-ns", str(payload), "--url", server.url, env=env)
    assert code == 11 and "missing permission to invoke 'Submit' (need 'write')" in err
    # not found: BlobNotFound, exit code 12, JSON error on stdout with --json
    code, out, _ = run("get", "1", "cli-ns", "00" * 32, "--url", server.url, "--json", env=env)
    assert code == 12 and json.loads(out) == {
        "ok": False,
        "error": "BlobNotFound",
        "message": "blob: not found",
    }
    # nobody listening: DAConnectionError, exit code 10
    code, _, err = run("head", "--url", "http://127.0.0.1:9", env=env)
    assert code == 10 and err.startswith("error: ")
    # bad arguments: InvalidArgument, exit code 2
    code, _, err = run("get", "0", "cli-ns", "00" * 32, "--url", server.url, env=env)
    assert code == 2 and "height must be" in err
    code, _, err = run("get", "1", "cli-ns", "zz", "--url", server.url, env=env)
    assert code == 2 and "commitment must be 32 bytes" in err
    code, _, err = run(
        "submit", "--namespace", "cli-ns", str(tmp_path / "missing"), "--url", server.url, env=env
    )
    assert code == 2 and "FILE must be a readable file" in err


def test_parse_commitment_forms() -> None:
    raw = bytes(range(32))
    assert parse_commitment(raw.hex()) == raw
    assert parse_commitment("0x" + raw.hex().upper()) == raw
    assert parse_commitment(base64.b64encode(raw).decode()) == raw


def test_commit_and_serve_are_registered() -> None:
    code, out, _ = run("--help")
    assert code == 0
    for command in ("serve", "auth", "submit", "get", "head", "commit"):
        assert command in out
