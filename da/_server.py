"""``zkagg da serve``: the embedded node behind celestia-node's JSON-RPC API (HTTP and WebSocket).

The envelope, error codes, HTTP statuses and messages are go-jsonrpc's and celestia-node's
(CELESTIA.md §1-3, checked against filecoin-project/go-jsonrpc ``handler.go``/``server.go`` and
celestia-node ``api/rpc/server.go``):

* one listener; POST (or any request without ``Connection: Upgrade``) carries JSON-RPC over HTTP,
  an upgrade switches to WebSocket; ``Content-Type: application/json``;
* a body over 16 MiB: ``-32700 request bigger than maximum 16777216 allowed``; an empty body:
  ``-32600 Invalid request`` (HTTP 400); malformed JSON: ``-32700 Parse error``; a bad ``id``:
  ``-32700 failed to parse ID: ...``; unknown method: ``-32601 method 'x.Y' not found``; wrong
  number of parameters: ``-32602 wrong param count (method 'blob.Get'): 2 != 3``; a parameter that
  does not decode: ``-32700 unmarshaling params for 'blob.Get' (param: *uint64): ...``; all with
  HTTP 500;
* method errors: code 1, HTTP 200, the Go error string (``blob: not found``); an unexpected failure
  is reported as go-jsonrpc reports a recovered panic: code 0, ``fatal error calling ...``, HTTP 500;
* a request without ``id`` is a notification (no reply unless a protocol error occurs); batches;
* auth: ``Authorization: Bearer <jwt>`` or ``?token=``; a bad, expired or un-prefixed token gets
  HTTP 401 with an empty body; no token gets the ``public`` permission only, so every method answers
  ``missing permission to invoke 'Get' (need 'read')`` (go-jsonrpc ``auth.Handler``);
* ``blob.Subscribe`` only over WebSocket, values as ``xrpc.ch.val`` notifications, the end as
  ``xrpc.ch.close``, cancellation by ``xrpc.cancel``; over HTTP ``-32601 ... not supported in this
  mode (no out channel support)``.

Deliberate differences from celestia-node: heights may also be decimal strings (Go accepts only
numbers), and Go's ``encoding/json`` type-error texts are reproduced for common cases only.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import gc
import json
import logging
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from aiohttp import WSMsgType, web

from zkagg import __version__ as _zkagg_version
from zkagg._errors import BlobNotFound, DAAuthError, DARPCError, InvalidArgument, ZkaggError
from zkagg.da._auth import (
    DEFAULT_PERMISSIONS,
    METHOD_PERMISSIONS,
    PERMISSION_SETS,
    TokenVerifier,
    load_or_create_secret,
    new_token,
)
from zkagg.da._backend import Header, TxConfig
from zkagg.da._blob import Blob
from zkagg.da._chain import (
    ERR_INVALID_PROOF,
    ERR_NOT_FOUND,
    future_height_error,
    proofs_equal,
)
from zkagg.da._namespace import Namespace
from zkagg.da._node import EmbeddedNode

__all__ = ["DEFAULT_PORT", "MAX_REQUEST_SIZE", "RPCServer", "ServerThread", "serve", "spawn_server"]

log = logging.getLogger("zkagg.da.server")

DEFAULT_PORT: Final = 26658
#: 2 x appconsts.MaxTxSize (celestia-node api/rpc/server.go).
MAX_REQUEST_SIZE: Final = 16_777_216
#: Bodies beyond this are not even drained: the connection is closed after the error.
_DRAIN_LIMIT: Final = 64 * 1024 * 1024
#: go-jsonrpc's blob.Subscribe buffer: the stream closes when this many messages are unread.
SUBSCRIPTION_BUFFER: Final = 16
#: Longest a getter waits for the block after the head (celestia-node waits; WriteTimeout is 5 min).
NEXT_HEIGHT_WAIT: Final = 300.0
API_VERSION: Final = f"v0.31.4-zkagg.{_zkagg_version}"

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602

_JSON_HEADERS: Final = {"Content-Type": "application/json"}


class RPCError(Exception):
    """A JSON-RPC error to send back: code, message, and the HTTP status go-jsonrpc uses."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        """HTTP status: 200 for method errors, 400 for ``-32600``, 500 for the other protocol errors."""
        if self.code == 1:
            return 200
        return 400 if self.code == INVALID_REQUEST else 500


# -- Go-flavoured JSON decoding -----------------------------------------------------------------


def _json_kind(value: object) -> str:
    """Name the JSON kind as encoding/json does in its errors (``string``, ``number``, ``object``...)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _type_error(value: object, go_type: str, field_path: str | None = None) -> InvalidArgument:
    kind = _json_kind(value)
    if kind == "number":
        kind = f"number {json.dumps(value)}"
    where = f"Go struct field {field_path} of type" if field_path else "Go value of type"
    return InvalidArgument(f"json: cannot unmarshal {kind} into {where} {go_type}")


_B64_ALPHABET: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


_B64_STRICT: Final = re.compile(rb"\A(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z")


def go_b64decode(value: object, go_type: str = "[]uint8", field_path: str | None = None) -> bytes:
    """Decode a Go ``[]byte`` JSON field: standard base64 with padding; ``null`` is empty.

    Raises
    ------
    InvalidArgument
        ``illegal base64 data at input byte N`` (Go's ``base64.CorruptInputError``) or a type error.
    """
    if value is None:
        return b""
    if not isinstance(value, str):
        raise _type_error(value, go_type, field_path)
    raw = value.encode("utf-8", "surrogatepass")
    if b"\r" in raw or b"\n" in raw:
        raw = raw.replace(b"\r", b"").replace(b"\n", b"")  # Go skips newlines
    if _B64_STRICT.match(raw):
        return binascii.a2b_base64(raw)
    raise InvalidArgument(f"illegal base64 data at input byte {_b64_error_offset(raw)}")


def _b64_error_offset(raw: bytes) -> int:
    """Where Go's decoder reports malformed base64 (the slow path, for the message only)."""
    body = raw.rstrip(b"=")
    for i, ch in enumerate(body):
        if ch not in _B64_ALPHABET:
            return i
    # A truncated or over-padded final quantum: Go reports the offset where it starts.
    return (len(body) // 4) * 4


def _decode_height(value: object) -> int:
    """``uint64``; decimal strings are accepted too (a documented leniency)."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise _type_error(value, "uint64")
    if isinstance(value, int):
        if 0 <= value < 1 << 64:
            return value
        raise _type_error(value, "uint64")
    if isinstance(value, float):
        if value.is_integer() and 0 <= value < 2.0**64:
            return int(value)
        raise _type_error(value, "uint64")
    if isinstance(value, str) and value.isascii() and value.isdigit() and int(value) < 1 << 64:
        return int(value)
    raise _type_error(value, "uint64")


def _decode_namespace(value: object) -> Namespace:
    raw = go_b64decode(value, "[]uint8")
    return Namespace.from_bytes(raw)


def _decode_commitment(value: object) -> bytes:
    return go_b64decode(value, "blob.Commitment")


def _decode_blob(value: object) -> Blob:
    """celestia-node ``blob.Blob.UnmarshalJSON``: rebuild and validate; the commitment is recomputed."""
    if value is None:
        raise InvalidArgument("blob must not be null")
    if not isinstance(value, dict):
        raise _type_error(value, "blob.jsonBlob")
    ns_raw = go_b64decode(value.get("namespace"), "[]uint8", "jsonBlob.namespace")
    data = go_b64decode(value.get("data"), "[]uint8", "jsonBlob.data")
    version = value.get("share_version", 0)
    if version is None:
        version = 0
    if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version < 1 << 32:
        raise _type_error(version, "uint32", "jsonBlob.share_version")
    go_b64decode(value.get("commitment"), "blob.Commitment", "jsonBlob.commitment")
    signer = go_b64decode(value.get("signer"), "[]uint8", "jsonBlob.signer") or None
    index = value.get("index")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
        raise _type_error(index, "int", "jsonBlob.index")
    namespace = Namespace.from_bytes(ns_raw)
    return Blob.new(namespace, data, version, signer)


def _decode_blobs(value: object) -> list[Blob]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _type_error(value, "[]*blob.Blob")
    return [_decode_blob(item) for item in value]


def _decode_tx_config(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _type_error(value, "state.TxConfig")
    for key in ("gas_price", "max_gas_price"):
        if (
            key in value
            and value[key] is not None
            and (isinstance(value[key], bool) or not isinstance(value[key], (int, float)))
        ):
            raise _type_error(value[key], "float64", f"TxConfig.{key}")
    for key in ("gas", "tx_priority"):
        if (
            key in value
            and value[key] is not None
            and (isinstance(value[key], bool) or not isinstance(value[key], int) or value[key] < 0)
        ):
            raise _type_error(value[key], "uint64" if key == "gas" else "int", f"TxConfig.{key}")
    return value


def _decode_namespaces(value: object) -> list[Namespace]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _type_error(value, "[]share.Namespace")
    return [_decode_namespace(v) for v in value]


def _decode_proof(value: object) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise _type_error(value, "blob.Proof")
    out = []
    for item in value:
        if item is not None and not isinstance(item, dict):
            raise _type_error(item, "nmt.Proof")
        out.append(item or {})
    return out


def _decode_permissions(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _type_error(value, "[]auth.Permission")
    for item in value:
        if not isinstance(item, str):
            raise _type_error(item, "auth.Permission")
    return list(value)


@dataclass(frozen=True)
class _Method:
    params: tuple[tuple[str, Callable[[object], Any]], ...]
    channel: bool = False


#: celestia-node's methods: the Go type of each positional parameter (for error messages) and its
#: decoder. The context argument is implicit.
_METHODS: Final[dict[str, _Method]] = {
    "blob.Submit": _Method((("*[]*blob.Blob", _decode_blobs), ("**state.TxConfig", _decode_tx_config))),
    "blob.Get": _Method(
        (
            ("*uint64", _decode_height),
            ("*share.Namespace", _decode_namespace),
            ("*blob.Commitment", _decode_commitment),
        )
    ),
    "blob.GetAll": _Method((("*uint64", _decode_height), ("*[]share.Namespace", _decode_namespaces))),
    "blob.GetProof": _Method(
        (
            ("*uint64", _decode_height),
            ("*share.Namespace", _decode_namespace),
            ("*blob.Commitment", _decode_commitment),
        )
    ),
    "blob.Included": _Method(
        (
            ("*uint64", _decode_height),
            ("*share.Namespace", _decode_namespace),
            ("**blob.Proof", _decode_proof),
            ("*blob.Commitment", _decode_commitment),
        )
    ),
    "blob.GetCommitmentProof": _Method(
        (
            ("*uint64", _decode_height),
            ("*share.Namespace", _decode_namespace),
            ("*[]uint8", _decode_commitment),
        )
    ),
    "blob.Subscribe": _Method((("*share.Namespace", _decode_namespace),), channel=True),
    "header.LocalHead": _Method(()),
    "header.NetworkHead": _Method(()),
    "header.GetByHeight": _Method((("*uint64", _decode_height),)),
    "header.WaitForHeight": _Method((("*uint64", _decode_height),)),
    "node.Info": _Method(()),
    "node.Ready": _Method(()),
    "node.AuthNew": _Method((("*[]auth.Permission", _decode_permissions),)),
}


# -- the server ---------------------------------------------------------------------------------


@dataclass(eq=False)
class _Subscription:
    namespace: Namespace
    queue: asyncio.Queue[Header | None] = field(default_factory=lambda: asyncio.Queue(SUBSCRIPTION_BUFFER))
    task: asyncio.Task[None] | None = None


class _WSConn:
    """One WebSocket connection: its permissions, its write lock and its channels."""

    def __init__(self, ws: web.WebSocketResponse, perms: list[str]) -> None:
        self.ws = ws
        self.perms = perms
        self.lock = asyncio.Lock()
        self.next_chan = 0
        self.channels: dict[Any, tuple[int, _Subscription]] = {}  # request id -> (chan id, sub)
        self.tasks: set[asyncio.Task[None]] = set()

    async def send(self, obj: object) -> None:
        text = json.dumps(obj, separators=(",", ":"))
        async with self.lock:
            if not self.ws.closed:
                await self.ws.send_str(text)


class RPCServer:
    """The JSON-RPC front of an :class:`~zkagg.da.EmbeddedNode` (an aiohttp application).

    Parameters
    ----------
    node
        The node that stores blocks; the server registers itself as a block listener.
    secret
        The 32-byte JWT secret (:func:`~zkagg.da._auth.load_or_create_secret`); required unless
        ``skip_auth``.
    skip_auth
        Grant every caller every permission (celestia-node ``--rpc.skip-auth``).
    """

    def __init__(self, node: EmbeddedNode, secret: bytes | None, *, skip_auth: bool = False) -> None:
        if secret is None and not skip_auth:
            raise InvalidArgument("secret must be the node's 32-byte JWT secret unless skip_auth is set")
        self.node = node
        self.secret = secret
        self.skip_auth = skip_auth
        self._verify = TokenVerifier(secret) if secret is not None else None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._block_event: asyncio.Event | None = None
        self._subscriptions: set[_Subscription] = set()
        self._closing = False
        self._head = node.local_head().height
        self.app = web.Application(client_max_size=MAX_REQUEST_SIZE)
        self.app.router.add_route("*", "/{tail:.*}", self._handle)
        self.app.on_startup.append(self._on_startup)
        self.app.on_shutdown.append(self._on_shutdown)

    # -- lifecycle and block notifications ---------------------------------------------------------

    async def _on_startup(self, _app: web.Application) -> None:
        self._loop = asyncio.get_running_loop()
        self._block_event = asyncio.Event()
        self._head = self.node.local_head().height
        self.node.add_listener(self._listener)

    async def _on_shutdown(self, _app: web.Application) -> None:
        self._closing = True
        if self._block_event is not None:
            self._block_event.set()
        self.node.remove_listener(self._listener)
        for sub in list(self._subscriptions):
            if sub.task is not None:
                sub.task.cancel()

    def _listener(self, header: Header) -> None:
        """Forward a new block to the event loop (runs in the producer thread)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._on_block, header)

    def _on_block(self, header: Header) -> None:
        self._head = max(self._head, header.height)
        if self._block_event is not None:
            self._block_event.set()
            self._block_event = asyncio.Event()
        for sub in list(self._subscriptions):
            try:
                sub.queue.put_nowait(header)
            except asyncio.QueueFull:
                # go-jsonrpc / celestia-node: close the stream before the buffer overflows.
                self._subscriptions.discard(sub)
                with contextlib.suppress(asyncio.QueueFull):
                    sub.queue.get_nowait()
                    sub.queue.put_nowait(None)

    async def _wait_height(self, height: int, timeout: float | None) -> bool:
        """Wait until ``height`` is stored; ``False`` on timeout."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self.node.local_head().height < height:
            if self._closing:
                raise RPCError(1, "the node is shutting down")
            event = self._block_event
            assert event is not None
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return False
            try:
                await asyncio.wait_for(event.wait(), left)
            except TimeoutError:
                return False
        return True

    # -- HTTP --------------------------------------------------------------------------------------

    def _permissions(self, request: web.Request) -> list[str] | None:
        """Return the caller's permissions, or ``None`` for a token that must get HTTP 401."""
        token = request.headers.get("Authorization", "")
        if not token:
            query_token = request.query.get("token", "")
            token = f"Bearer {query_token}" if query_token else ""
        if not token:
            return list(PERMISSION_SETS["admin"] if self.skip_auth else DEFAULT_PERMISSIONS)
        if not token.startswith("Bearer "):
            return None  # go-jsonrpc refuses a header without the prefix, even with auth skipped
        if self.skip_auth:
            return list(PERMISSION_SETS["admin"])  # celestia-node: any token passes with skip-auth
        assert self._verify is not None
        try:
            return list(self._verify(token[len("Bearer ") :]))
        except DAAuthError as exc:
            log.warning("token refused (originating from %s): %s", request.remote, exc)
            return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        perms = self._permissions(request)
        if perms is None:
            return web.Response(status=401)
        if "upgrade" in request.headers.get("Connection", "").lower():
            return await self._handle_ws(request, perms)
        return await self._handle_http(request, perms)

    async def _read_body(self, request: web.Request) -> bytes | None:
        """Read at most MAX_REQUEST_SIZE bytes; ``None`` when the body is larger."""
        chunks: list[bytes] = []
        size = 0
        too_big = request.content_length is not None and request.content_length > MAX_REQUEST_SIZE
        while True:
            chunk = await request.content.read(1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_REQUEST_SIZE:
                too_big = True
            if too_big:
                if size > _DRAIN_LIMIT:
                    break
                continue
            chunks.append(chunk)
        return None if too_big else b"".join(chunks)

    async def _handle_http(self, request: web.Request, perms: list[str]) -> web.StreamResponse:
        body = await self._read_body(request)
        if body is None:
            error = RPCError(PARSE_ERROR, f"request bigger than maximum {MAX_REQUEST_SIZE} allowed")
            resp = self._error_response(None, error)
            return web.Response(status=error.status, text=_dumps(resp), headers=_JSON_HEADERS)
        text = body.strip()
        if not text:
            error = RPCError(INVALID_REQUEST, "Invalid request")
            return web.Response(
                status=400, text=_dumps(self._error_response(None, error)), headers=_JSON_HEADERS
            )
        if text[:1] == b"[" and text[-1:] == b"]":
            return await self._handle_batch(text, perms)
        try:
            req = _loads_bounded(text)
        except (ValueError, RecursionError):
            req = None
        if not isinstance(req, dict) or not _request_shape_ok(req):
            error = RPCError(PARSE_ERROR, "Parse error")
            return web.Response(
                status=500, text=_dumps(self._error_response(None, error)), headers=_JSON_HEADERS
            )
        status, reply = await self._call(req, perms, None)
        if reply is None:
            return web.Response(status=status, headers=_JSON_HEADERS)
        return web.Response(status=status, text=_dumps(reply), headers=_JSON_HEADERS)

    async def _handle_batch(self, text: bytes, perms: list[str]) -> web.Response:
        try:
            reqs = _loads_bounded(text)
        except (ValueError, RecursionError):
            reqs = None
        if not isinstance(reqs, list) or not all(isinstance(r, dict) and _request_shape_ok(r) for r in reqs):
            error = RPCError(PARSE_ERROR, "Parse error")
            return web.Response(
                status=500, text=_dumps(self._error_response(None, error)), headers=_JSON_HEADERS
            )
        if not reqs:
            error = RPCError(INVALID_REQUEST, "Invalid request")
            return web.Response(
                status=400, text=_dumps(self._error_response(None, error)), headers=_JSON_HEADERS
            )
        replies = []
        for req in reqs:
            _status, reply = await self._call(req, perms, None)
            if reply is not None:
                replies.append(reply)
        return web.Response(status=200, text=_dumps(replies), headers=_JSON_HEADERS)

    @staticmethod
    def _error_response(req_id: object, error: RPCError) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": req_id, "error": {"code": error.code, "message": error.message}}

    # -- dispatch ----------------------------------------------------------------------------------

    async def _call(
        self, req: dict[str, Any], perms: list[str], conn: _WSConn | None
    ) -> tuple[int, dict[str, Any] | None]:
        """Run one request; return the HTTP status and the reply (``None`` for a notification)."""
        req_id = req.get("id")
        if isinstance(req_id, bool) or not isinstance(req_id, (str, int, float, type(None))):
            go_type = {"dict": "map[string]interface {}", "list": "[]interface {}", "bool": "bool"}
            error = RPCError(
                PARSE_ERROR, f"failed to parse ID: invalid id type: {go_type[type(req_id).__name__]}"
            )
            return error.status, self._error_response(None, error)
        try:
            result = await self._invoke(req, perms, conn)
        except RPCError as error:
            if error.code == 1 and req_id is None:
                return 200, None  # a notification gets no reply, even for a method error
            return error.status, self._error_response(req_id, error)
        if req_id is None:
            return 200, None
        return 200, {"jsonrpc": "2.0", "id": req_id, "result": result}

    async def _invoke(self, req: dict[str, Any], perms: list[str], conn: _WSConn | None) -> Any:
        method_name = req.get("method")
        name = method_name if isinstance(method_name, str) else ""
        method = _METHODS.get(name)
        if method is None:
            raise RPCError(METHOD_NOT_FOUND, f"method '{name}' not found")
        if method.channel and conn is None:
            raise RPCError(
                METHOD_NOT_FOUND, f"method '{name}' not supported in this mode (no out channel support)"
            )
        raw_params = req.get("params")
        if raw_params is None:
            raw_params = []
        if not isinstance(raw_params, list):
            raise RPCError(
                PARSE_ERROR,
                f"unmarshaling param array: json: cannot unmarshal {_json_kind(raw_params)} "
                "into Go value of type []jsonrpc.param",
            )
        if len(raw_params) != len(method.params):
            raise RPCError(
                INVALID_PARAMS,
                f"wrong param count (method '{name}'): {len(raw_params)} != {len(method.params)}",
            )
        args: list[Any] = []
        for raw, (go_type, decode) in zip(raw_params, method.params, strict=True):
            try:
                args.append(decode(raw))
            except (InvalidArgument, ZkaggError) as exc:
                raise RPCError(
                    PARSE_ERROR, f"unmarshaling params for '{name}' (param: {go_type}): {exc}"
                ) from exc
        need = METHOD_PERMISSIONS[name]
        if need not in perms:
            raise RPCError(1, f"missing permission to invoke '{name.split('.', 1)[1]}' (need '{need}')")
        try:
            handler: Callable[..., Awaitable[Any]] = getattr(self, "_m_" + name.replace(".", "_"))
            if method.channel:
                assert conn is not None
                return await handler(conn, req.get("id"), *args)
            return await handler(*args)
        except RPCError:
            raise
        except BlobNotFound as exc:
            raise RPCError(1, str(exc) or ERR_NOT_FOUND) from exc
        except DARPCError as exc:
            raise RPCError(exc.code, exc.rpc_message) from exc
        except ZkaggError as exc:
            raise RPCError(1, str(exc)) from exc
        except Exception as exc:
            log.exception("panic in rpc method %r", name)
            raise RPCError(0, f"fatal error calling '{name}': panic in rpc method '{name}': {exc}") from exc

    # -- heights -----------------------------------------------------------------------------------

    async def _existing_height(self, height: int) -> int:
        """celestia-node's header-service rules: 0 refused, head+1 waited for, beyond refused."""
        if height == 0:
            raise RPCError(1, "height is equal to 0")
        head = self.node.local_head().height
        if height > head + 1:
            raise future_height_error(head, height)
        if height == head + 1 and not await self._wait_height(height, NEXT_HEIGHT_WAIT):
            raise future_height_error(self.node.local_head().height, height)
        return height

    # -- methods (celestia-node names) -------------------------------------------------------------

    async def _m_blob_Submit(self, blobs: list[Blob], config: dict[str, Any] | None) -> int:
        if config is None:
            # celestia-node dereferences the nil *TxConfig and the RPC layer reports the panic.
            raise RPCError(
                0,
                "fatal error calling 'blob.Submit': panic in rpc method 'blob.Submit': "
                "runtime error: invalid memory address or nil pointer dereference",
            )
        try:
            tx_config = TxConfig.from_json(config)
        except InvalidArgument as exc:
            raise RPCError(
                PARSE_ERROR, f"unmarshaling params for 'blob.Submit' (param: **state.TxConfig): {exc}"
            ) from exc
        future = self.node.submit_future(blobs, tx_config)
        height: int = await asyncio.wrap_future(future)
        return height

    async def _m_blob_Get(self, height: int, namespace: Namespace, commitment: bytes) -> dict[str, object]:
        await self._existing_height(height)
        if len(commitment) != 32:
            raise RPCError(1, ERR_NOT_FOUND)
        return self.node.get(height, namespace, commitment).to_json()

    async def _m_blob_GetAll(
        self, height: int, namespaces: list[Namespace]
    ) -> list[dict[str, object]] | None:
        await self._existing_height(height)
        blobs = self.node.get_all(height, namespaces)
        return [b.to_json() for b in blobs] or None

    async def _proof(self, height: int, namespace: Namespace, commitment: bytes) -> list[dict[str, Any]]:
        await self._existing_height(height)
        if len(commitment) != 32:
            raise RPCError(1, ERR_NOT_FOUND)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.node.get_proof, height, namespace, commitment)

    async def _m_blob_GetProof(
        self, height: int, namespace: Namespace, commitment: bytes
    ) -> list[dict[str, Any]]:
        return await self._proof(height, namespace, commitment)

    async def _m_blob_Included(
        self, height: int, namespace: Namespace, proof: list[dict[str, Any]] | None, commitment: bytes
    ) -> bool:
        if proof is None:
            raise RPCError(1, "blob: proof cannot be nil")
        try:
            expected = await self._proof(height, namespace, commitment)
        except (BlobNotFound, RPCError) as exc:
            if isinstance(exc, BlobNotFound) or exc.message == ERR_NOT_FOUND:
                return False
            raise
        if not proofs_equal(expected, proof):
            raise RPCError(1, ERR_INVALID_PROOF)
        return True

    async def _m_blob_GetCommitmentProof(
        self, height: int, namespace: Namespace, commitment: bytes
    ) -> dict[str, Any]:
        if height == 0:
            raise RPCError(1, "height cannot be equal to 0")
        await self._existing_height(height)
        if len(commitment) != 32:
            raise RPCError(1, ERR_NOT_FOUND)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.node.get_commitment_proof, height, namespace, commitment)

    async def _m_header_LocalHead(self) -> dict[str, Any]:
        return self.node.local_head().to_json()

    async def _m_header_NetworkHead(self) -> dict[str, Any]:
        return self.node.network_head().to_json()

    async def _m_header_GetByHeight(self, height: int) -> dict[str, Any]:
        await self._existing_height(height)
        return self.node.get_header(height).to_json()

    async def _m_header_WaitForHeight(self, height: int) -> dict[str, Any]:
        if height == 0:
            raise RPCError(1, "height is equal to 0")
        await self._wait_height(height, None)
        return self.node.get_header(height).to_json()

    async def _m_node_Info(self) -> dict[str, Any]:
        return {"type": "Bridge", "api_version": API_VERSION}

    async def _m_node_Ready(self) -> bool:
        return True

    async def _m_node_AuthNew(self, permissions: list[str]) -> str:
        if self.secret is None:
            raise RPCError(1, "auth is disabled on this node (--skip-auth): no secret to sign tokens")
        return new_token(self.secret, permissions)

    # -- WebSocket ---------------------------------------------------------------------------------

    async def _handle_ws(self, request: web.Request, perms: list[str]) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=MAX_REQUEST_SIZE, heartbeat=None)
        await ws.prepare(request)
        conn = _WSConn(ws, perms)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT and msg.type != WSMsgType.BINARY:
                    break
                data = msg.data if isinstance(msg.data, str) else msg.data.decode("utf-8", "replace")
                task = asyncio.create_task(self._ws_frame(conn, data))
                conn.tasks.add(task)
                task.add_done_callback(conn.tasks.discard)
        finally:
            for _chan, sub in list(conn.channels.values()):
                self._end_subscription(sub)
            for task in list(conn.tasks):
                task.cancel()
        return ws

    async def _ws_frame(self, conn: _WSConn, text: str) -> None:
        try:
            req = _loads_bounded(text)
        except (ValueError, RecursionError):
            req = None
        if not isinstance(req, dict) or not _request_shape_ok(req):
            await conn.send(self._error_response(None, RPCError(PARSE_ERROR, "Parse error")))
            return
        if req.get("method") == "xrpc.cancel":
            params = req.get("params")
            if isinstance(params, list) and params:
                entry = conn.channels.get(_norm_id(params[0]))
                if entry is not None:
                    self._end_subscription(entry[1])
            return
        _status, reply = await self._call(req, conn.perms, conn)
        if reply is not None:
            await conn.send(reply)

    def _end_subscription(self, sub: _Subscription) -> None:
        self._subscriptions.discard(sub)
        with contextlib.suppress(asyncio.QueueFull):
            sub.queue.put_nowait(None)

    async def _m_blob_Subscribe(self, conn: _WSConn, req_id: object, namespace: Namespace) -> int:
        conn.next_chan += 1
        chan = conn.next_chan
        sub = _Subscription(namespace)
        conn.channels[_norm_id(req_id)] = (chan, sub)
        self._subscriptions.add(sub)
        sub.task = asyncio.create_task(self._pump(conn, chan, sub, req_id))
        return chan

    async def _pump(self, conn: _WSConn, chan: int, sub: _Subscription, req_id: object) -> None:
        """Send one ``xrpc.ch.val`` per new block, then ``xrpc.ch.close``."""
        await asyncio.sleep(0)  # let the call's response (the channel ID) go out first
        try:
            while True:
                header = await sub.queue.get()
                if header is None:
                    break
                blobs = self.node.get_all(header.height, [sub.namespace])
                raw = dict(header.to_json().get("header") or {})
                raw["height"] = header.height  # encoding/json of RawHeader: a number
                value = {
                    "Blobs": [b.to_json() for b in blobs] or None,
                    "Height": header.height,
                    "Header": raw,
                }
                await conn.send({"jsonrpc": "2.0", "method": "xrpc.ch.val", "params": [chan, value]})
        except (ConnectionError, RuntimeError):
            return
        finally:
            self._subscriptions.discard(sub)
            conn.channels.pop(_norm_id(req_id), None)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await conn.send({"jsonrpc": "2.0", "method": "xrpc.ch.close", "params": [chan]})


def _dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _norm_id(value: object) -> object:
    """go-jsonrpc keys ids as float64 when numeric."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


#: Deepest JSON nesting accepted. json.loads recurses in C; with a raised recursion limit (py_ecc
#: raises it to 100000 on import) a deeply nested body would overflow a server thread's C stack.
MAX_JSON_DEPTH: Final = 256
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _json_depth_ok(raw: bytes) -> bool:
    """Whether the nesting depth of ``raw`` stays within :data:`MAX_JSON_DEPTH` (brackets in strings ignored)."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return True  # the common case: a request has a handful of brackets
    depth = 0
    for token in _JSON_TOKEN.finditer(raw):
        char = token.group()[:1]
        if char in (b"[", b"{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif char in (b"]", b"}"):
            depth -= 1
    return True


def _loads_bounded(text: bytes | str) -> Any:
    """``json.loads`` that refuses nesting deeper than :data:`MAX_JSON_DEPTH` with ``ValueError``."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if not _json_depth_ok(raw):
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return json.loads(text)


def _request_shape_ok(req: dict[str, Any]) -> bool:
    """Whether encoding/json could decode ``req`` into go-jsonrpc's ``request`` struct."""
    method = req.get("method")
    if method is not None and not isinstance(method, str):
        return False
    version = req.get("jsonrpc")
    if version is not None and not isinstance(version, str):
        return False
    meta = req.get("meta")
    return meta is None or (isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values()))


# -- running it ----------------------------------------------------------------------------------


def new_event_loop() -> asyncio.AbstractEventLoop:
    """Return a uvloop event loop when uvloop is installed (about twice aiohttp's throughput)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


async def _start(server: RPCServer, host: str, port: int) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(server.app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024, reuse_address=True)
    await site.start()
    address = runner.addresses[0]
    bound_port = address[1]
    shown = f"[{host}]" if ":" in host else host
    return runner, f"http://{shown}:{bound_port}"


def serve(
    home: Path,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    block_time: float | None = 6.0,
    skip_auth: bool = False,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run the node and its server until SIGINT or SIGTERM (what ``zkagg da serve`` calls).

    Parameters
    ----------
    home
        The node's folder (blocks, ``keys/jwt-secret.jwt``).
    host, port
        Where to listen; 127.0.0.1:26658 by default, as celestia-node binds ``localhost``.
    block_time
        Seconds between blocks, ``None`` for instant mode.
    skip_auth
        Serve without authentication.
    on_ready
        Called with the server's URL once it listens.
    """
    home = Path(home).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    secret = None if skip_auth else load_or_create_secret(home)
    node = EmbeddedNode(home, block_time=block_time)
    # A server process: keep start-up objects out of the collector and collect young objects less
    # often, which removes most 10-20 ms collector pauses from request latency.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 50)

    async def main() -> None:
        server = RPCServer(node, secret, skip_auth=skip_auth)
        runner, url = await _start(server, host, port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        if on_ready is not None:
            on_ready(url)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    try:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(main())
    finally:
        node.close()


class ServerThread:
    """The node and its server on loopback in a background thread (for tests and benchmarks).

    Parameters
    ----------
    home
        The node's folder.
    port
        0 for a free port (the default).
    block_time
        ``None`` (the default here) for instant mode.
    skip_auth
        Serve without authentication.

    Examples
    --------
    >>> with ServerThread(tmp_path) as srv:  # doctest: +SKIP
    ...     client = CelestiaClient(srv.url, token=srv.token("write"))
    """

    def __init__(
        self,
        home: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        block_time: float | None = None,
        skip_auth: bool = False,
    ) -> None:
        self.home = Path(home)
        self.secret = load_or_create_secret(self.home)
        self.node = EmbeddedNode(self.home, block_time=block_time)
        self.server = RPCServer(self.node, None if skip_auth else self.secret, skip_auth=skip_auth)
        self.url = ""
        self._loop = new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(
            target=self._run, args=(host, port), name="zkagg-da-server", daemon=True
        )
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            self.node.close()
            raise self._error
        if not self.url:
            raise RuntimeError("the DA server did not start within 30 s")

    def _run(self, host: str, port: int) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._runner, self.url = self._loop.run_until_complete(_start(self.server, host, port))
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    def token(self, level: str = "admin", ttl: float | None = None) -> str:
        """Mint a token for this server (``read``, ``write``, ``admin`` or ``public``)."""
        return new_token(self.secret, level, ttl)

    def stop(self) -> None:
        """Stop the server and close the node."""
        if self._thread.is_alive():
            if self._runner is not None:
                done = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
                with contextlib.suppress(Exception):
                    done.result(30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
        self.node.close()

    def __enter__(self) -> ServerThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_CLI_ENTRY: Final = "import sys; from zkagg.cli.app import main; sys.argv[0] = 'zkagg'; main()"


def spawn_server(
    home: Path, *, instant: bool = True, block_time: float | None = None, skip_auth: bool = False
) -> tuple[subprocess.Popen[str], str]:
    """Start ``zkagg da serve --port 0 --json`` as a child process and return it with its URL.

    The child binds a free loopback port and prints one JSON line with its URL once it listens.
    Used by the crash test, the server benchmark and the multi-process round tests, which need a
    real process (to ``kill -9``, or to share between processes). ``block_time`` (with
    ``instant=False``) sets the block cadence; ``skip_auth`` serves without JWT authentication.

    Raises
    ------
    DAConnectionError
        The child exited before it listened.
    """
    from zkagg._errors import DAConnectionError

    args = [sys.executable, "-c", _CLI_ENTRY, "da", "serve", "--home", str(home), "--port", "0", "--json"]
    if instant:
        args.append("--instant")
    elif block_time is not None:
        args += ["--block-time", str(block_time)]
    if skip_auth:
        args.append("--skip-auth")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        proc.wait()
        raise DAConnectionError(f"zkagg da serve (home {home}) exited before listening")
    return proc, str(json.loads(line)["url"])
