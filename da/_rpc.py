"""The embedded node's JSON-RPC server: celestia-node's API over HTTP and WebSocket (aiohttp).

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

Parameters are decoded as Go decodes them by :mod:`zkagg.da._params`; :mod:`zkagg.da._runner` runs
this server (``zkagg da serve``, a test thread, a child process).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import WSMsgType, web

from zkagg import __version__ as _zkagg_version
from zkagg._errors import BlobNotFound, DAAuthError, DARPCError, InvalidArgument, ZkaggError
from zkagg.da._account import DEV_ADDRESS, DEV_BALANCE_UTIA, bech32_decode
from zkagg.da._auth import (
    DEFAULT_PERMISSIONS,
    METHOD_PERMISSIONS,
    PERMISSION_SETS,
    TokenVerifier,
    new_token,
    verify_token,
)
from zkagg.da._backend import Header, TxConfig
from zkagg.da._blob import Blob
from zkagg.da._chain import (
    ERR_INVALID_PROOF,
    ERR_NOT_FOUND,
    future_height_error,
    proofs_equal,
)
from zkagg.da._limits import ConnectionGate, ServerLimits
from zkagg.da._namespace import Namespace
from zkagg.da._node import EmbeddedNode
from zkagg.da._params import (
    decode_any,
    decode_blobs,
    decode_commitment,
    decode_duration,
    decode_header,
    decode_height,
    decode_hex,
    decode_int,
    decode_namespace,
    decode_namespaces,
    decode_permissions,
    decode_proof,
    decode_string,
    decode_tx_config,
    json_kind,
    loads_bounded,
    request_shape_ok,
)

__all__ = ["MAX_REQUEST_SIZE", "RPCError", "RPCServer"]

log = logging.getLogger("zkagg.da.server")

#: 2 x appconsts.MaxTxSize (celestia-node api/rpc/server.go).
MAX_REQUEST_SIZE: Final = 16_777_216
#: Bodies beyond this are not even drained: the connection is closed after the error.
_DRAIN_LIMIT: Final = 64 * 1024 * 1024
#: go-jsonrpc's blob.Subscribe buffer: the stream closes when this many messages are unread.
SUBSCRIPTION_BUFFER: Final = 16
#: Longest a getter waits for the block after the head (celestia-node waits; WriteTimeout is 5 min).
NEXT_HEIGHT_WAIT: Final = 300.0
API_VERSION: Final = f"v0.31.4-zkagg.{_zkagg_version}"
#: Most headers one ``header.GetRangeByHeight`` returns (a bound on the reply's size).
MAX_HEADER_RANGE: Final = 512
#: go-header ``ErrNotFound``; celestia-node share getters' ``ErrNotAvailable``.
ERR_HEADER_NOT_FOUND: Final = "header: not found"
ERR_SHARE_NOT_AVAILABLE: Final = "share: data not available"

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


# -- the method table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Method:
    params: tuple[tuple[str, Callable[[object], Any]], ...]
    channel: bool = False


#: celestia-node's methods: the Go type of each positional parameter (for error messages) and its
#: decoder. The context argument is implicit.
_METHODS: Final[dict[str, _Method]] = {
    "blob.Submit": _Method((("*[]*blob.Blob", decode_blobs), ("**state.TxConfig", decode_tx_config))),
    "blob.Get": _Method(
        (
            ("*uint64", decode_height),
            ("*share.Namespace", decode_namespace),
            ("*blob.Commitment", decode_commitment),
        )
    ),
    "blob.GetAll": _Method((("*uint64", decode_height), ("*[]share.Namespace", decode_namespaces))),
    "blob.GetProof": _Method(
        (
            ("*uint64", decode_height),
            ("*share.Namespace", decode_namespace),
            ("*blob.Commitment", decode_commitment),
        )
    ),
    "blob.Included": _Method(
        (
            ("*uint64", decode_height),
            ("*share.Namespace", decode_namespace),
            ("**blob.Proof", decode_proof),
            ("*blob.Commitment", decode_commitment),
        )
    ),
    "blob.GetCommitmentProof": _Method(
        (
            ("*uint64", decode_height),
            ("*share.Namespace", decode_namespace),
            ("*[]uint8", decode_commitment),
        )
    ),
    "blob.Subscribe": _Method((("*share.Namespace", decode_namespace),), channel=True),
    "header.LocalHead": _Method(()),
    "header.NetworkHead": _Method(()),
    "header.GetByHeight": _Method((("*uint64", decode_height),)),
    "header.WaitForHeight": _Method((("*uint64", decode_height),)),
    "header.GetByHash": _Method((("*header.Hash", decode_hex),)),
    "header.GetRangeByHeight": _Method(
        (("**header.ExtendedHeader", decode_header), ("*uint64", decode_height))
    ),
    "header.SyncState": _Method(()),
    "header.SyncWait": _Method(()),
    "header.Tail": _Method(()),
    "header.Subscribe": _Method((), channel=True),
    "state.AccountAddress": _Method(()),
    "state.Balance": _Method(()),
    "state.BalanceForAddress": _Method((("*state.Address", decode_string),)),
    "share.SharesAvailable": _Method((("*uint64", decode_height),)),
    "share.GetShare": _Method((("*uint64", decode_height), ("*int", decode_int), ("*int", decode_int))),
    "share.GetSamples": _Method(
        (("**header.ExtendedHeader", decode_header), ("*[]shwap.SampleCoords", decode_any))
    ),
    "share.GetEDS": _Method((("*uint64", decode_height),)),
    "share.GetRange": _Method((("*uint64", decode_height), ("*int", decode_int), ("*int", decode_int))),
    "share.GetNamespaceData": _Method((("*uint64", decode_height), ("*share.Namespace", decode_namespace))),
    "node.Info": _Method(()),
    "node.Ready": _Method(()),
    "node.AuthNew": _Method((("*[]auth.Permission", decode_permissions),)),
    "node.AuthNewWithExpiry": _Method(
        (("*[]auth.Permission", decode_permissions), ("*time.Duration", decode_duration))
    ),
    "node.AuthVerify": _Method((("*string", decode_string),)),
}


# -- the server ---------------------------------------------------------------------------------


@dataclass(eq=False)
class _Subscription:
    namespace: Namespace | None  # None: header.Subscribe (every ExtendedHeader)
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
    limits
        Timeouts and connection limit (:class:`~zkagg.da._limits.ServerLimits`, celestia-node's
        by default), enforced by :attr:`gate` on the sockets :mod:`zkagg.da._runner` opens.
    """

    def __init__(
        self,
        node: EmbeddedNode,
        secret: bytes | None,
        *,
        skip_auth: bool = False,
        limits: ServerLimits | None = None,
    ) -> None:
        if secret is None and not skip_auth:
            raise InvalidArgument("secret must be the node's 32-byte JWT secret unless skip_auth is set")
        self.node = node
        self.secret = secret
        self.skip_auth = skip_auth
        self.limits = limits or ServerLimits()
        self.gate = ConnectionGate(self.limits)
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
        transport = request.transport
        self.gate.headers_read(transport)
        try:
            perms = self._permissions(request)
            if perms is None:
                return web.Response(status=401)
            if "upgrade" in request.headers.get("Connection", "").lower():
                self.gate.hijacked(transport)
                return await self._handle_ws(request, perms)
            return await self._handle_http(request, perms)
        finally:
            self.gate.request_done(transport)

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
        self.gate.body_read(request.transport)
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
            req = loads_bounded(text)
        except (ValueError, RecursionError):
            req = None
        if not isinstance(req, dict) or not request_shape_ok(req):
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
            reqs = loads_bounded(text)
        except (ValueError, RecursionError):
            reqs = None
        if not isinstance(reqs, list) or not all(isinstance(r, dict) and request_shape_ok(r) for r in reqs):
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
                f"unmarshaling param array: json: cannot unmarshal {json_kind(raw_params)} "
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

    async def _m_header_GetByHash(self, block_hash: bytes) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        header = await loop.run_in_executor(None, self.node.header_by_hash, block_hash)
        if header is None:
            raise RPCError(1, ERR_HEADER_NOT_FOUND)
        return header.to_json()

    async def _m_header_GetRangeByHeight(self, from_height: int, to: int) -> list[dict[str, Any]]:
        # go-header: the headers in [from.Height()+1, to), read through GetByHeight(to-1).
        start = from_height + 1
        if start >= to:
            raise RPCError(1, f"header/store: invalid range({start},{to})")
        await self._existing_height(to - 1)
        if to - start > MAX_HEADER_RANGE:
            raise RPCError(1, f"header/store: invalid range({start},{to}): more than {MAX_HEADER_RANGE}")
        return [self.node.get_header(h).to_json() for h in range(start, to)]

    async def _m_header_SyncState(self) -> dict[str, Any]:
        # go-header sync.State: a single-node chain is always synced to its own head.
        tail, head = self.node.get_header(1), self.node.local_head()
        return {
            "id": 1,
            "height": head.height,
            "from_height": tail.height,
            "to_height": head.height,
            "from_hash": tail.hash,
            "to_hash": head.hash,
            "start": tail.time,
            "end": head.time,
        }

    async def _m_header_SyncWait(self) -> None:
        return None

    async def _m_header_Tail(self) -> dict[str, Any]:
        # The first retained header: the embedded node prunes nothing, so height 1.
        return self.node.get_header(1).to_json()

    async def _m_state_AccountAddress(self) -> str:
        return DEV_ADDRESS

    async def _m_state_Balance(self) -> dict[str, str]:
        return {"denom": "utia", "amount": str(DEV_BALANCE_UTIA)}

    async def _m_state_BalanceForAddress(self, address: str) -> dict[str, str]:
        try:
            bech32_decode(address)
        except InvalidArgument as exc:
            raise RPCError(
                PARSE_ERROR,
                f"unmarshaling params for 'state.BalanceForAddress' (param: *state.Address): {exc}",
            ) from exc
        amount = DEV_BALANCE_UTIA if address == DEV_ADDRESS else 0
        return {"denom": "utia", "amount": str(amount)}

    async def _m_share_SharesAvailable(self, height: int) -> None:
        await self._existing_height(height)  # every share of every block is stored here

    async def _share_unavailable(self, height: int) -> None:
        # The embedded node stores blobs and their square, but its parity quadrants are copies, not
        # Reed-Solomon (DESIGN.md §5): it serves no erasure-coded shares or samples, and answers as
        # celestia-node does when it cannot retrieve them.
        await self._existing_height(height)
        raise RPCError(1, ERR_SHARE_NOT_AVAILABLE)

    async def _m_share_GetShare(self, height: int, _row: int, _col: int) -> None:
        await self._share_unavailable(height)

    async def _m_share_GetSamples(self, height: int, _indices: object) -> None:
        await self._share_unavailable(height)

    async def _m_share_GetEDS(self, height: int) -> None:
        await self._share_unavailable(height)

    async def _m_share_GetRange(self, height: int, _start: int, _end: int) -> None:
        await self._share_unavailable(height)

    async def _m_share_GetNamespaceData(self, height: int, _namespace: Namespace) -> None:
        await self._share_unavailable(height)

    async def _m_node_Info(self) -> dict[str, Any]:
        return {"type": "Bridge", "api_version": API_VERSION}

    async def _m_node_Ready(self) -> bool:
        return True

    async def _m_node_AuthNew(self, permissions: list[str]) -> str:
        return new_token(self._signing_secret(), permissions)

    async def _m_node_AuthNewWithExpiry(self, permissions: list[str], ttl_ns: int) -> str:
        if ttl_ns <= 0:
            raise RPCError(1, f"ttl must be positive, got {ttl_ns}ns")
        return new_token(self._signing_secret(), permissions, ttl_ns / 1e9)

    async def _m_node_AuthVerify(self, token: str) -> list[str]:
        try:
            return verify_token(self._signing_secret(), token)
        except DAAuthError as exc:
            raise RPCError(1, str(exc)) from exc

    def _signing_secret(self) -> bytes:
        if self.secret is None:
            raise RPCError(1, "auth is disabled on this node (--skip-auth): no secret to sign tokens")
        return self.secret

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
            req = loads_bounded(text)
        except (ValueError, RecursionError):
            req = None
        if not isinstance(req, dict) or not request_shape_ok(req):
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
        return self._subscribe(conn, req_id, namespace)

    async def _m_header_Subscribe(self, conn: _WSConn, req_id: object) -> int:
        return self._subscribe(conn, req_id, None)

    def _subscribe(self, conn: _WSConn, req_id: object, namespace: Namespace | None) -> int:
        conn.next_chan += 1
        chan = conn.next_chan
        sub = _Subscription(namespace)
        conn.channels[_norm_id(req_id)] = (chan, sub)
        self._subscriptions.add(sub)
        sub.task = asyncio.create_task(self._pump(conn, chan, sub, req_id))
        return chan

    def _blob_event(self, header: Header, namespace: Namespace) -> dict[str, Any]:
        """celestia-node's ``blob.SubscriptionResponse`` for one block."""
        blobs = self.node.get_all(header.height, [namespace])
        raw = dict(header.to_json().get("header") or {})
        raw["height"] = header.height  # encoding/json of RawHeader: a number
        return {"Blobs": [b.to_json() for b in blobs] or None, "Height": header.height, "Header": raw}

    async def _pump(self, conn: _WSConn, chan: int, sub: _Subscription, req_id: object) -> None:
        """Send one ``xrpc.ch.val`` per new block, then ``xrpc.ch.close``."""
        await asyncio.sleep(0)  # let the call's response (the channel ID) go out first
        try:
            while True:
                header = await sub.queue.get()
                if header is None:
                    break
                value = header.to_json() if sub.namespace is None else self._blob_event(header, sub.namespace)
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
