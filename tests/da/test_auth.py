"""celestia-node's JWT auth: token format, the secret file, and what the server does with tokens."""

from __future__ import annotations

import base64
import json
import stat
import time
from pathlib import Path

import httpx
import jwt
import pytest

from zkagg import DAAuthError, InvalidArgument
from zkagg.da import Blob, CelestiaClient, Namespace
from zkagg.da._auth import PERMISSION_SETS, load_or_create_secret, new_token, verify_token
from zkagg.da._runner import ServerThread

LOCAL_HEAD = {"jsonrpc": "2.0", "id": 1, "method": "header.LocalHead", "params": []}


def test_secret_file_is_32_bytes_mode_0600_and_stable(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path)
    path = tmp_path / "keys" / "jwt-secret.jwt"
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(tmp_path) == first


def test_corrupt_secret_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "jwt-secret.jwt").write_bytes(b"short")
    with pytest.raises(InvalidArgument, match="must hold 32 bytes, not 5"):
        load_or_create_secret(tmp_path)


def test_token_claims_are_celestia_nodes(tmp_path: Path) -> None:
    secret = load_or_create_secret(tmp_path)
    token = new_token(secret, "write")
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    claims = jwt.decode(token, secret, algorithms=["HS256"])
    assert header["alg"] == "HS256"
    assert claims["Allow"] == ["public", "read", "write"]
    assert len(base64.b64decode(claims["Nonce"])) == 32
    assert claims["ExpiresAt"] == "0001-01-01T00:00:00Z"
    assert verify_token(secret, token) == list(PERMISSION_SETS["write"])


def test_expired_wrong_secret_and_garbage_tokens_fail(tmp_path: Path) -> None:
    secret = load_or_create_secret(tmp_path)
    expired = new_token(secret, "read", ttl=0.001)
    time.sleep(0.01)
    with pytest.raises(DAAuthError, match="token expired"):
        verify_token(secret, expired)
    with pytest.raises(DAAuthError):
        verify_token(bytes(32), new_token(secret, "read"))
    with pytest.raises(DAAuthError):
        verify_token(secret, "not.a.jwt")
    with pytest.raises(InvalidArgument, match="permission level must be one of"):
        new_token(secret, "root")


def _post(
    server: ServerThread, authorization: str | None, body: object = LOCAL_HEAD, query: str = ""
) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return httpx.post(server.url + "/" + query, json=body, headers=headers)


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-jwt", "Token abc", "bearer x", "Bearer " + new_token(bytes(32), "admin")],
    ids=["garbage", "no-bearer-prefix", "lowercase-bearer", "other-secret"],
)
def test_bad_token_gets_401_with_empty_body(server: ServerThread, authorization: str) -> None:
    resp = _post(server, authorization)
    assert resp.status_code == 401 and resp.content == b""


def test_expired_token_gets_401(server: ServerThread) -> None:
    token = server.token("admin", ttl=0.001)
    time.sleep(0.01)
    resp = _post(server, f"Bearer {token}")
    assert resp.status_code == 401 and resp.content == b""


def test_no_token_gets_public_permission_only(server: ServerThread) -> None:
    # go-jsonrpc's auth.Handler: no token -> default ("public") permissions, then each method refuses.
    resp = _post(server, None)
    assert resp.status_code == 200
    assert resp.json()["error"] == {
        "code": 1,
        "message": "missing permission to invoke 'LocalHead' (need 'read')",
    }


def test_token_as_query_parameter(server: ServerThread) -> None:
    resp = _post(server, None, query=f"?token={server.token('read')}")
    assert "result" in resp.json()


def test_permission_levels(server: ServerThread) -> None:
    blob = {"namespace": base64.b64encode(Namespace.v0(b"auth").to_bytes()).decode(), "data": "aGk="}
    submit = {"jsonrpc": "2.0", "id": 1, "method": "blob.Submit", "params": [[blob], {}]}
    info = {"jsonrpc": "2.0", "id": 1, "method": "node.Info", "params": []}
    read, write, admin = (f"Bearer {server.token(level)}" for level in ("read", "write", "admin"))
    assert _post(server, read, submit).json()["error"]["message"] == (
        "missing permission to invoke 'Submit' (need 'write')"
    )
    assert isinstance(_post(server, write, submit).json()["result"], int)
    assert (
        _post(server, write, info).json()["error"]["message"]
        == "missing permission to invoke 'Info' (need 'admin')"
    )
    assert _post(server, admin, info).json()["result"]["type"] == "Bridge"


def test_client_maps_auth_failures_to_da_auth_error(server: ServerThread) -> None:
    blob = Blob.new(Namespace.v0(b"auth"), b"x")
    with (
        CelestiaClient(server.url, token="garbage", retries=0) as bad,
        pytest.raises(DAAuthError, match="401"),
    ):
        bad.local_head()
    with CelestiaClient(server.url, token=server.token("read"), retries=0) as reader:
        with pytest.raises(DAAuthError, match=r"missing permission to invoke 'Submit' \(need 'write'\)"):
            reader.submit([blob])
        assert reader.local_head().height >= 1
    with CelestiaClient(server.url, token=server.token("write", ttl=0.001), retries=0) as expired:
        time.sleep(0.01)
        with pytest.raises(DAAuthError):
            expired.submit([blob])


def test_client_reads_token_from_environment(server: ServerThread, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELESTIA_NODE_AUTH_TOKEN", server.token("read"))
    with CelestiaClient(server.url, retries=0) as client:
        assert client.local_head().height >= 1


def test_skip_auth_grants_everything(tmp_path: Path) -> None:
    with ServerThread(tmp_path, skip_auth=True) as srv:
        resp = httpx.post(srv.url, json={"jsonrpc": "2.0", "id": 1, "method": "node.Info", "params": []})
        assert resp.json()["result"]["type"] == "Bridge"
        with CelestiaClient(srv.url, token="", retries=0) as client:
            blob = Blob.new(Namespace.v0(b"open"), b"door")
            assert client.get(client.submit([blob]), blob.namespace, blob.commitment).data == b"door"
