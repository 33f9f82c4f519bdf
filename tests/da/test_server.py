"""The JSON-RPC server speaks celestia-node's protocol: envelope, errors, codes, HTTP statuses.

Every bad input is answered with the error celestia-node (go-jsonrpc) gives, and the server keeps
serving afterwards. Raw HTTP and WebSocket, no client library in between.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import connect

from zkagg._errors import InvalidArgument
from zkagg.da import Blob, Namespace
from zkagg.da import _rpc as rpc_module
from zkagg.da._account import DEV_ADDRESS, DEV_BALANCE_UTIA
from zkagg.da._auth import METHOD_PERMISSIONS
from zkagg.da._b64 import unb64
from zkagg.da._params import MAX_JSON_DEPTH, go_b64decode, loads_bounded
from zkagg.da._runner import ServerThread

_METHOD_NAMES = set(METHOD_PERMISSIONS) - {"header.WaitForHeight"}

NS = Namespace.v0(b"srv-tests")
NS_B64 = base64.b64encode(NS.to_bytes()).decode()
DATA_B64 = base64.b64encode(b"hello celestia").decode()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.fixture
def rpc(server: ServerThread) -> Iterator[Any]:
    """POST one JSON-RPC body with an admin token; return (status, parsed body or raw text)."""
    headers = {"Authorization": f"Bearer {server.token('admin')}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:

        def call(body: object, raw: bool = False) -> tuple[int, Any]:
            content = body if isinstance(body, (bytes, str)) else json.dumps(body)
            resp = http.post("/", content=content)
            if raw:
                return resp.status_code, resp
            return resp.status_code, (resp.json() if resp.content else None)

        yield call


def req(method: str, *params: object, id: object = 1) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": id, "method": method, "params": list(params)}


def submit_body(*blobs: dict[str, object], config: object = None) -> dict[str, object]:
    return req("blob.Submit", list(blobs), {} if config is None else config)


def assert_error(answer: tuple[int, Any], status: int, code: int, message: str) -> None:
    got_status, body = answer
    assert (got_status, body["error"]["code"], body["error"]["message"]) == (status, code, message)
    assert body["jsonrpc"] == "2.0"


def assert_still_serving(rpc: Any) -> None:
    status, body = rpc(req("header.LocalHead"))
    assert status == 200 and int(body["result"]["header"]["height"]) >= 1


# -- the happy path in the raw protocol -----------------------------------------------------------


def test_submit_and_get_in_celestia_node_json(rpc: Any) -> None:
    # Prepare: a blob as other clients send it: null index and signer, no commitment
    blob = {"namespace": NS_B64, "data": DATA_B64, "share_version": 0, "index": None, "signer": None}
    # Execute
    status, submitted = rpc(submit_body(blob))
    height = submitted["result"]
    commitment = Blob.new(NS, b"hello celestia").commitment
    status_get, got = rpc(req("blob.Get", height, NS_B64, b64(commitment)))
    # Assert
    assert status == status_get == 200
    assert isinstance(height, int)
    assert got["result"] == {
        "namespace": NS_B64,
        "data": DATA_B64,
        "share_version": 0,
        "commitment": b64(commitment),
        "index": got["result"]["index"],
    }
    assert got["result"]["index"] >= 0


def test_responses_are_json_with_content_type(server: ServerThread) -> None:
    resp = httpx.post(
        server.url, json=req("header.LocalHead"), headers={"Authorization": f"Bearer {server.token('read')}"}
    )
    assert resp.headers["content-type"].startswith("application/json")
    header = resp.json()["result"]
    assert isinstance(header["header"]["height"], str)
    assert header["header"]["data_hash"] == header["header"]["data_hash"].upper()
    assert set(header) >= {"header", "validator_set", "commit", "dah"}


def test_get_all_null_when_empty_and_height_as_string(rpc: Any) -> None:
    _, submitted = rpc(submit_body({"namespace": NS_B64, "data": DATA_B64}))
    height = submitted["result"]
    other = b64(Namespace.v0(b"nobodyhere").to_bytes())
    status, body = rpc(req("blob.GetAll", str(height), [other]))
    assert (status, body["result"]) == (200, None)
    _, found = rpc(req("blob.GetAll", height, [NS_B64, other]))
    assert [b["data"] for b in found["result"]] == [DATA_B64]


def test_proof_and_included_over_rpc(rpc: Any) -> None:
    data = os.urandom(5000)
    commitment = b64(Blob.new(NS, data).commitment)
    _, submitted = rpc(submit_body({"namespace": NS_B64, "data": b64(data)}))
    height = submitted["result"]
    _, proof = rpc(req("blob.GetProof", height, NS_B64, commitment))
    assert rpc(req("blob.Included", height, NS_B64, proof["result"], commitment))[1]["result"] is True
    # A proof of another blob: celestia-node answers (true, ErrInvalidProof) -> the error.
    tampered = [dict(p, start=p.get("start", 0) + 1) for p in proof["result"]]
    assert_error(
        rpc(req("blob.Included", height, NS_B64, tampered, commitment)), 200, 1, "blob: invalid proof"
    )
    # A missing blob: false, no error.
    assert rpc(req("blob.Included", height, NS_B64, proof["result"], b64(bytes(32))))[1]["result"] is False
    # A null proof.
    assert_error(
        rpc(req("blob.Included", height, NS_B64, None, commitment)), 200, 1, "blob: proof cannot be nil"
    )


def test_commitment_proof_and_ready_over_rpc(rpc: Any) -> None:
    data = os.urandom(3000)
    commitment = b64(Blob.new(NS, data).commitment)
    height = rpc(submit_body({"namespace": NS_B64, "data": b64(data)}))[1]["result"]
    status, body = rpc(req("blob.GetCommitmentProof", height, NS_B64, commitment))
    assert status == 200 and set(body["result"]) >= {"subtree_roots", "subtree_root_proofs", "row_proof"}
    assert_error(
        rpc(req("blob.GetCommitmentProof", 0, NS_B64, commitment)), 200, 1, "height cannot be equal to 0"
    )
    assert rpc(req("node.Ready"))[1]["result"] is True


def test_node_info_and_auth_new(server: ServerThread, rpc: Any) -> None:
    _, info = rpc(req("node.Info"))
    assert info["result"]["type"] == "Bridge" and info["result"]["api_version"].startswith("v0.")
    _, minted = rpc(req("node.AuthNew", ["public", "read"]))
    resp = httpx.post(
        server.url, json=req("header.LocalHead"), headers={"Authorization": f"Bearer {minted['result']}"}
    )
    assert resp.status_code == 200 and "result" in resp.json()


def test_batch_and_notification(rpc: Any) -> None:
    status, body = rpc(
        [req("header.LocalHead", id=1), req("x.Y", id="two"), req("header.LocalHead", id=None)]
    )
    assert status == 200
    assert [r["id"] for r in body] == [1, "two"]
    assert body[1]["error"] == {"code": -32601, "message": "method 'x.Y' not found"}
    status, resp = rpc({"jsonrpc": "2.0", "method": "header.LocalHead", "params": []}, raw=True)
    assert status == 200 and resp.content == b""


def test_get_by_height_waits_for_the_next_block(server: ServerThread, rpc: Any) -> None:
    head = int(rpc(req("header.LocalHead"))[1]["result"]["header"]["height"])
    blob = Blob.new(NS, b"next")
    timer = threading.Timer(0.3, lambda: server.node.submit([blob]))
    timer.start()
    status, body = rpc(req("header.GetByHeight", head + 1))
    timer.join()
    assert status == 200 and body["result"]["header"]["height"] == str(head + 1)
    assert_error(rpc(req("header.GetByHeight", 0)), 200, 1, "height is equal to 0")
    far = rpc(req("header.GetByHeight", head + 100))
    assert far[1]["error"]["message"].startswith("header: given height is from the future: networkHeight: ")


# -- every bad input --------------------------------------------------------------------------------

BAD_INPUTS: list[tuple[str, object, int, int, str]] = [
    ("malformed JSON", b'{"jsonrpc":"2.0","id":1,"method":', 500, -32700, "Parse error"),
    ("not an object", b'"blob.Get"', 500, -32700, "Parse error"),
    ("deeply nested object", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, 500, -32700, "Parse error"),
    ("deeply nested batch", b"[" * 100_000 + b"]" * 100_000, 500, -32700, "Parse error"),
    ("invalid UTF-8", b'{"id":1,"method":"\xff"}', 500, -32700, "Parse error"),
    ("empty body", b"   ", 400, -32600, "Invalid request"),
    ("empty batch", b"[]", 400, -32600, "Invalid request"),
    ("unknown method", req("blob.Nope"), 500, -32601, "method 'blob.Nope' not found"),
    (
        "subscribe over HTTP",
        req("blob.Subscribe", NS_B64),
        500,
        -32601,
        "method 'blob.Subscribe' not supported in this mode (no out channel support)",
    ),
    (
        "wrong param count",
        req("blob.Get", 1, NS_B64),
        500,
        -32602,
        "wrong param count (method 'blob.Get'): 2 != 3",
    ),
    (
        "params not an array",
        {"jsonrpc": "2.0", "id": 1, "method": "blob.Get", "params": {"height": 1}},
        500,
        -32700,
        "unmarshaling param array: json: cannot unmarshal object into Go value of type []jsonrpc.param",
    ),
    (
        "bad id type",
        {"jsonrpc": "2.0", "id": [1], "method": "header.LocalHead", "params": []},
        500,
        -32700,
        "failed to parse ID: invalid id type: []interface {}",
    ),
    (
        "bad base64 namespace",
        submit_body({"namespace": "AAAA$AAA", "data": DATA_B64}),
        500,
        -32700,
        "unmarshaling params for 'blob.Submit' (param: *[]*blob.Blob): illegal base64 data at input byte 4",
    ),
    (
        "bad base64 data",
        submit_body({"namespace": NS_B64, "data": "aGVsbG8"}),
        500,
        -32700,
        "unmarshaling params for 'blob.Submit' (param: *[]*blob.Blob): illegal base64 data at input byte 4",
    ),
    (
        "namespace of 28 bytes",
        submit_body({"namespace": b64(bytes(28)), "data": DATA_B64}),
        500,
        -32700,
        "unmarshaling params for 'blob.Submit' (param: *[]*blob.Blob): "
        "invalid namespace length: 28. Must be 29 bytes",
    ),
    (
        "reserved namespace",
        submit_body({"namespace": b64(bytes(28) + b"\x04"), "data": DATA_B64}),
        500,
        -32700,
        "unmarshaling params for 'blob.Submit' (param: *[]*blob.Blob): invalid user namespace: invalid data "
        "namespace(0000000000000000000000000000000000000000000000000000000004): reserved data is forbidden",
    ),
    (
        "empty data",
        submit_body({"namespace": NS_B64, "data": ""}),
        500,
        -32700,
        "unmarshaling params for 'blob.Submit' (param: *[]*blob.Blob): data can not be empty",
    ),
    (
        "height of the wrong type",
        req("blob.Get", True, NS_B64, b64(bytes(32))),
        500,
        -32700,
        "unmarshaling params for 'blob.Get' (param: *uint64): "
        "json: cannot unmarshal bool into Go value of type uint64",
    ),
    (
        "negative height",
        req("header.GetByHeight", -5),
        500,
        -32700,
        "unmarshaling params for 'header.GetByHeight' (param: *uint64): "
        "json: cannot unmarshal number -5 into Go value of type uint64",
    ),
    (
        "bad base64 commitment",
        req("blob.Get", 1, NS_B64, "!!"),
        500,
        -32700,
        "unmarshaling params for 'blob.Get' (param: *blob.Commitment): illegal base64 data at input byte 0",
    ),
    (
        "null TxConfig (celestia-node panics on the nil pointer)",
        submit_body({"namespace": NS_B64, "data": DATA_B64}, config=None) | {"params": [[], None]},
        500,
        0,
        "fatal error calling 'blob.Submit': panic in rpc method 'blob.Submit': "
        "runtime error: invalid memory address or nil pointer dereference",
    ),
    ("no blobs", submit_body(), 200, 1, "state: no blobs provided"),
    ("blob not found", req("blob.Get", 1, NS_B64, b64(bytes(32))), 200, 1, "blob: not found"),
    ("height zero", req("blob.Get", 0, NS_B64, b64(bytes(32))), 200, 1, "height is equal to 0"),
]


@pytest.mark.parametrize(
    ("case", "body", "status", "code", "message"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_gets_celestia_node_error(
    rpc: Any, case: str, body: object, status: int, code: int, message: str
) -> None:
    assert_error(rpc(body), status, code, message)
    assert_still_serving(rpc)


def test_oversized_submission_gets_max_tx_size_error(rpc: Any) -> None:
    blob: dict[str, object] = {"namespace": NS_B64, "data": b64(b"\x07" * (8 * 1024 * 1024))}
    status, body = rpc(submit_body(blob))
    assert status == 200 and body["error"]["code"] == 1
    assert body["error"]["message"].startswith(
        "tx size 8389139 bytes is larger than the application's configured MaxTxSize"
    )
    assert_still_serving(rpc)


def test_oversized_body_is_refused(rpc: Any) -> None:
    body = b'{"jsonrpc":"2.0","id":1,"method":"header.LocalHead","params":[],"pad":"' + b"x" * (
        16 * 1024 * 1024
    )
    body += b'"}'
    assert_error(rpc(body), 500, -32700, "request bigger than maximum 16777216 allowed")
    assert_still_serving(rpc)


def test_go_base64_offsets() -> None:
    assert go_b64decode("aGk=") == b"hi"
    assert go_b64decode(None) == b""
    for text, offset in [("a$==", 1), ("abc", 0), ("abcde===", 4), ("aGk=aGk=", 3)]:
        with pytest.raises(Exception, match=f"illegal base64 data at input byte {offset}"):
            go_b64decode(text)


@pytest.mark.parametrize("text", ["", "aGk=", "aGk", "aGk==", "aGVsbG8=", "aGVsbG8==", "AAAA=", "a$==", "é"])
def test_server_and_json_base64_decoders_accept_the_same(text: str) -> None:
    # Both wrap zkagg.da._b64.b64decode_strict (Go's StdEncoding): only their error wording differs.
    try:
        expected: bytes | None = go_b64decode(text)
    except InvalidArgument as exc:
        assert str(exc).startswith("illegal base64 data at input byte ")
        expected = None
    try:
        got: bytes | None = unb64(text, "field")
    except InvalidArgument as exc:
        assert str(exc) == f"field must be standard base64, not {text!r}"
        got = None
    assert got == expected


# -- WebSocket ----------------------------------------------------------------------------------------


def _ws(server: ServerThread, level: str = "read") -> Any:
    return connect(
        "ws" + server.url[4:], additional_headers={"Authorization": f"Bearer {server.token(level)}"}
    )


def test_websocket_calls_and_subscription(server: ServerThread) -> None:
    # Prepare
    ns = Namespace.v0(os.urandom(10))
    blob = Blob.new(ns, b"streamed")
    with _ws(server) as ws:
        # Execute: an ordinary call, then a subscription
        ws.send(json.dumps(req("header.LocalHead", id=7)))
        head = json.loads(ws.recv(timeout=10))
        ws.send(json.dumps(req("blob.Subscribe", b64(ns.to_bytes()), id=8)))
        opened = json.loads(ws.recv(timeout=10))
        chan = opened["result"]
        server.node.submit([blob])
        values: list[dict[str, Any]] = []
        while not any(v["Blobs"] for v in values):
            frame = json.loads(ws.recv(timeout=10))
            assert frame["method"] == "xrpc.ch.val" and frame["params"][0] == chan
            values.append(frame["params"][1])
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "xrpc.cancel", "params": [8]}))
        closed = json.loads(ws.recv(timeout=10))
        while closed.get("method") == "xrpc.ch.val":
            closed = json.loads(ws.recv(timeout=10))
    # Assert
    assert head["id"] == 7 and "header" in head["result"]
    assert opened["id"] == 8 and isinstance(chan, int)
    last = values[-1]
    assert set(last) == {"Blobs", "Height", "Header"}
    assert last["Blobs"][0]["data"] == b64(b"streamed")
    assert last["Header"]["height"] == last["Height"]
    assert closed == {"jsonrpc": "2.0", "method": "xrpc.ch.close", "params": [chan]}


def test_websocket_bad_frames_and_permissions(server: ServerThread) -> None:
    with _ws(server, "read") as ws:
        ws.send("{nope")
        assert json.loads(ws.recv(timeout=10))["error"] == {"code": -32700, "message": "Parse error"}
        ws.send(json.dumps(submit_body({"namespace": NS_B64, "data": DATA_B64})))
        answer = json.loads(ws.recv(timeout=10))
        assert answer["error"] == {
            "code": 1,
            "message": "missing permission to invoke 'Submit' (need 'write')",
        }
        ws.send(json.dumps(req("header.NetworkHead", id=3)))
        assert json.loads(ws.recv(timeout=10))["id"] == 3


# -- the server never dies on bad input -----------------------------------------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from([*sorted(_METHOD_NAMES), "blob.Nope", ""]),
    params=st.lists(_json, max_size=5) | _json,
    rid=st.none() | st.integers() | st.text(max_size=5) | st.lists(st.integers(), max_size=2),
)
def test_random_calls_get_json_rpc_answers(
    rpc: Any, monkeypatch: pytest.MonkeyPatch, method: str, params: object, rid: object
) -> None:
    monkeypatch.setattr(rpc_module, "NEXT_HEIGHT_WAIT", 0.05)  # head+1 waits; keep it short here
    body: dict[str, object] = {"jsonrpc": "2.0", "method": method, "params": params}
    if rid is not None:
        body["id"] = rid
    status, reply = rpc(body)
    assert status in (200, 400, 500)
    if reply is not None:
        assert reply["jsonrpc"] == "2.0" and ("result" in reply or "error" in reply)
        if "error" in reply:
            assert reply["error"]["code"] in (1, 0, -32700, -32600, -32601, -32602)
            # code 0 is a recovered panic: only the null TxConfig, which panics celestia-node too
            assert reply["error"]["code"] != 0 or "nil pointer dereference" in reply["error"]["message"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300))
def test_random_bytes_get_json_rpc_answers(rpc: Any, body: bytes) -> None:
    status, resp = rpc(body, raw=True)
    assert status in (200, 400, 500)
    if resp.content:
        resp.json()
    assert_still_serving(rpc)


def test_deep_nesting_is_refused_even_with_a_raised_recursion_limit() -> None:
    # py_ecc raises the recursion limit to 100000 on import; json.loads would then recurse in C past
    # a thread's stack. The server bounds the depth itself, so it answers instead of crashing.
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    outcome: list[object] = []
    try:
        body = b'{"a":' * 100_000 + b"1" + b"}" * 100_000

        def parse() -> None:
            try:
                loads_bounded(body)
            except ValueError as exc:
                outcome.append(exc)

        worker = threading.Thread(target=parse)
        worker.start()
        worker.join(30)
    finally:
        sys.setrecursionlimit(old)
    assert len(outcome) == 1 and f"deeper than {MAX_JSON_DEPTH}" in str(outcome[0])
    assert loads_bounded('{"s": "[[[[", "n": [[1]]}') == {"s": "[[[[", "n": [[1]]}


# -- the methods a foreign client reaches for beyond blobs ------------------------------------------


def test_header_lookups_and_their_errors(rpc: Any) -> None:
    _, head = rpc(req("header.LocalHead"))
    block_hash = head["result"]["commit"]["block_id"]["hash"]
    height = int(head["result"]["header"]["height"])
    _, by_hash = rpc(req("header.GetByHash", block_hash.lower()))
    assert by_hash["result"]["header"]["height"] == str(height)
    assert_error(rpc(req("header.GetByHash", "00" * 32)), 200, 1, "header: not found")
    _, tail = rpc(req("header.Tail"))
    assert tail["result"]["header"]["height"] == "1"
    assert_error(
        rpc(req("header.GetRangeByHeight", head["result"], height)),
        200,
        1,
        f"header/store: invalid range({height + 1},{height})",
    )
    _, sync = rpc(req("header.SyncState"))
    assert (sync["result"]["from_height"], sync["result"]["to_hash"]) == (1, block_hash)
    assert rpc(req("header.SyncWait"))[1]["result"] is None
    assert_error(
        rpc(req("header.Subscribe")),
        500,
        -32601,
        "method 'header.Subscribe' not supported in this mode (no out channel support)",
    )


def test_state_share_and_auth_methods(rpc: Any, server: ServerThread) -> None:
    assert rpc(req("state.AccountAddress"))[1]["result"] == DEV_ADDRESS
    assert rpc(req("state.Balance"))[1]["result"] == {"denom": "utia", "amount": str(DEV_BALANCE_UTIA)}
    assert rpc(req("state.BalanceForAddress", DEV_ADDRESS))[1]["result"]["amount"] == str(DEV_BALANCE_UTIA)
    assert rpc(req("share.SharesAvailable", 1))[1]["result"] is None
    assert_error(rpc(req("share.GetEDS", 1)), 200, 1, "share: data not available")
    assert_error(
        rpc(req("share.GetSamples", {"header": {"height": "1"}}, [{"row": 0, "col": 0}])),
        200,
        1,
        "share: data not available",
    )
    _, minted = rpc(req("node.AuthNewWithExpiry", ["public", "read"], 60_000_000_000))
    assert rpc(req("node.AuthVerify", minted["result"]))[1]["result"] == ["public", "read"]
    # admin methods need admin: a read token gets celestia-node's permission error
    with httpx.Client(base_url=server.url, timeout=30) as http:
        body = http.post(
            "/",
            json=req("node.AuthVerify", minted["result"]),
            headers={"Authorization": f"Bearer {minted['result']}"},
        ).json()
    assert body["error"] == {"code": 1, "message": "missing permission to invoke 'AuthVerify' (need 'admin')"}
