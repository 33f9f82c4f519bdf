"""``CelestiaClient``: celestia-node's JSON-RPC API over httpx, as a :class:`~zkagg.da.DABackend`.

Works against a real celestia-node (bridge or light) and against ``zkagg da serve``. What it does
about the problems users hit (CELESTIA.md §10-11):

* the TxConfig is always sent as an object (a null one panics the node);
* heights are accepted as ints or decimal strings and read from headers with ``int()``;
* ``GetAll``'s ``null`` is read as ``[]``;
* every blob received is checked against its commitment (and against the commitment asked for):
  :class:`~zkagg.CommitmentMismatch` otherwise;
* Submit waits for inclusion, which takes several blocks: its timeout is 120 s by default, and it
  is never retried (a retry could pay for the blobs twice); idempotent reads are retried with
  exponential backoff on connection failures and timeouts.

Foreign errors are translated in one place, :func:`translate_error`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpx
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import connect as ws_connect

from zkagg._errors import (
    BlobNotFound,
    CommitmentMismatch,
    DAAuthError,
    DAConnectionError,
    DAError,
    DARPCError,
    InvalidArgument,
)
from zkagg.da._b64 import b64 as _b64
from zkagg.da._backend import Header, TxConfig, parse_height
from zkagg.da._blob import Blob
from zkagg.da._commitment_proof import CommitmentProof
from zkagg.da._namespace import Namespace

__all__ = ["DEFAULT_URL", "CelestiaClient", "RPCFailure", "translate_error"]

DEFAULT_URL: Final = "http://127.0.0.1:26658"
TOKEN_ENV: Final = "CELESTIA_NODE_AUTH_TOKEN"
#: Submit returns after inclusion: several block times (6 s on v8), 15-20 s seen on mocha.
DEFAULT_SUBMIT_TIMEOUT: Final = 120.0
DEFAULT_TIMEOUT: Final = 30.0


@dataclass(frozen=True)
class RPCFailure:
    """A failure reported by the node itself: an HTTP status and, if any, a JSON-RPC error."""

    status: int
    code: int | None = None
    message: str = ""


def translate_error(failure: BaseException | RPCFailure, context: str = "") -> DAError:
    """Map a foreign error (httpx, websockets, OS, or the node's reply) to zkagg's DA errors.

    This is the one boundary where foreign errors become zkagg errors; callers ``raise
    translate_error(exc) from exc``.

    ============================================================  =====================
    foreign error                                                 zkagg error
    ============================================================  =====================
    HTTP 401 (empty body), HTTP 403, WebSocket upgrade refused     ``DAAuthError``
    with 401/403
    code 1 ``missing permission to invoke 'X' (need 'Y')``         ``DAAuthError``
    code 1 ``blob: not found`` (or a message wrapping it)          ``BlobNotFound``
    any other JSON-RPC error                                       ``DARPCError``
    HTTP 5xx without a JSON-RPC body (a proxy's error page)        ``DAConnectionError``
    other HTTP status without a JSON-RPC body                      ``DARPCError``
    ``httpx.TimeoutException`` (connect, read, write, pool)        ``DAConnectionError``
    ``httpx.TransportError`` (connect refused, reset, protocol)    ``DAConnectionError``
    websockets ``ConnectionClosed`` / ``InvalidHandshake``,        ``DAConnectionError``
    ``OSError``, ``TimeoutError``
    ============================================================  =====================
    """
    prefix = f"{context}: " if context else ""
    if isinstance(failure, RPCFailure):
        if failure.code is not None:
            message = failure.message
            if message == "blob: not found" or message.endswith(": blob: not found"):
                return BlobNotFound(message)
            if message.startswith("missing permission to invoke"):
                return DAAuthError(f"{prefix}{message}")
            return DARPCError(message, failure.code)
        if failure.status in (401, 403):
            return DAAuthError(
                f"{prefix}the node refused the token (HTTP {failure.status}): missing, malformed, "
                f"expired or signed with another secret; set --token or {TOKEN_ENV}"
            )
        if failure.status >= 500:
            return DAConnectionError(
                f"{prefix}HTTP {failure.status} without a JSON-RPC reply: {failure.message}"
            )
        return DARPCError(f"{prefix}HTTP {failure.status} without a JSON-RPC reply: {failure.message}", 0)
    if isinstance(failure, httpx.TimeoutException):
        return DAConnectionError(f"{prefix}timed out ({type(failure).__name__}): {failure}")
    if isinstance(failure, httpx.TransportError):
        return DAConnectionError(f"{prefix}cannot reach the DA node ({type(failure).__name__}): {failure}")
    if isinstance(failure, InvalidStatus):
        status = failure.response.status_code
        if status in (401, 403):
            return translate_error(RPCFailure(status), context)
        return DAConnectionError(f"{prefix}WebSocket upgrade refused with HTTP {status}")
    if isinstance(failure, (ConnectionClosed, InvalidHandshake)):
        return DAConnectionError(f"{prefix}WebSocket failed ({type(failure).__name__}): {failure}")
    if isinstance(failure, (OSError, TimeoutError)):
        return DAConnectionError(f"{prefix}cannot reach the DA node ({type(failure).__name__}): {failure}")
    return DAError(f"{prefix}unexpected failure talking to the DA node ({type(failure).__name__}): {failure}")


def _ns(namespace: Namespace, name: str = "namespace") -> str:
    if not isinstance(namespace, Namespace):
        raise InvalidArgument(f"{name} must be a Namespace, not {type(namespace).__name__}")
    return _b64(namespace.to_bytes())


def _commitment(commitment: bytes) -> str:
    if not isinstance(commitment, (bytes, bytearray)) or len(commitment) != 32:
        shown = len(commitment) if isinstance(commitment, (bytes, bytearray)) else type(commitment).__name__
        raise InvalidArgument(f"commitment must be 32 bytes, not {shown}")
    return _b64(bytes(commitment))


def _checked_blob(obj: object, namespace: Namespace | None = None, commitment: bytes | None = None) -> Blob:
    """Parse a Blob JSON and check that it opens its commitment (and the one asked for)."""
    try:
        blob = Blob.from_json(obj, check_commitment=True)
    except InvalidArgument as exc:
        raise CommitmentMismatch(f"the node returned a blob that does not parse: {exc}") from exc
    if commitment is not None and blob.commitment != commitment:
        raise CommitmentMismatch(
            f"the node returned a blob with commitment {_b64(blob.commitment)}, not the requested "
            f"{_b64(commitment)}"
        )
    if namespace is not None and blob.namespace != namespace:
        raise CommitmentMismatch(
            f"the node returned a blob in namespace {blob.namespace}, not the requested {namespace}"
        )
    return blob


class CelestiaClient:
    """A celestia-node JSON-RPC client implementing :class:`~zkagg.da.DABackend`.

    Parameters
    ----------
    url
        The node's RPC address, ``http://127.0.0.1:26658`` by default.
    token
        The JWT (``celestia light auth write``); ``None`` reads ``CELESTIA_NODE_AUTH_TOKEN``.
    timeout
        Seconds for reads.
    submit_timeout
        Seconds for ``blob.Submit``, which returns only after inclusion.
    retries
        Extra attempts for idempotent reads after a connection failure or timeout.
    backoff
        First retry delay in seconds, doubled at each retry.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        submit_timeout: float = DEFAULT_SUBMIT_TIMEOUT,
        retries: int = 3,
        backoff: float = 0.2,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise InvalidArgument(f"url must start with http:// or https://, not {url!r}")
        if retries < 0:
            raise InvalidArgument(f"retries must be >= 0, not {retries}")
        self.url = url.rstrip("/")
        self.token = token if token is not None else (os.environ.get(TOKEN_ENV) or None)
        self.timeout = timeout
        self.submit_timeout = submit_timeout
        self.retries = retries
        self.backoff = backoff
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self._headers = headers
        self._http = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )
        self._ids = itertools.count(1)

    # -- transport --------------------------------------------------------------------------

    def call(
        self, method: str, params: Sequence[Any], *, timeout: float | None = None, idempotent: bool = True
    ) -> Any:
        """Call a JSON-RPC method and return its ``result``.

        Parameters
        ----------
        method
            ``module.Method``, e.g. ``blob.Get``.
        params
            The positional parameters.
        timeout
            Read timeout for this call; the client's default otherwise.
        idempotent
            Whether a failed attempt may be retried (never for ``blob.Submit``).

        Raises
        ------
        DAError
            Translated by :func:`translate_error`.
        """
        body = json.dumps(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)},
            separators=(",", ":"),
        )
        attempts = 1 + (self.retries if idempotent else 0)
        delay = self.backoff
        for attempt in range(attempts):
            try:
                return self._once(method, body, timeout)
            except DAConnectionError:
                if attempt + 1 >= attempts:
                    raise
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, method: str, body: str, timeout: float | None) -> Any:
        try:
            kwargs: dict[str, Any] = {}
            if timeout is not None:
                kwargs["timeout"] = httpx.Timeout(timeout, connect=min(timeout, 10.0))
            response = self._http.post("/", content=body, **kwargs)
        except httpx.HTTPError as exc:
            raise translate_error(exc, method) from exc
        try:
            reply = response.json()
        except (ValueError, RecursionError):  # not JSON, or nested too deep for Python's parser
            reply = None
        if not isinstance(reply, Mapping):
            failure = RPCFailure(response.status_code, None, response.text[:200])
            raise translate_error(failure, method)
        error = reply.get("error")
        if error is not None:
            code = error.get("code", 0) if isinstance(error, Mapping) else 0
            message = str(error.get("message", "")) if isinstance(error, Mapping) else str(error)
            raise translate_error(RPCFailure(response.status_code, int(code), message), method)
        if response.status_code != 200:
            raise translate_error(RPCFailure(response.status_code, None, response.text[:200]), method)
        return reply.get("result")

    # -- blob -------------------------------------------------------------------------------

    def submit(self, blobs: Sequence[Blob], config: TxConfig | None = None) -> int:
        """``blob.Submit``: return the inclusion height. Never retried.

        Raises
        ------
        DAConnectionError
            If the node cannot be reached or does not answer within ``submit_timeout``; the
            blobs may still be included later (check with :meth:`get`).
        """
        if config is None:
            config = TxConfig()
        if not isinstance(config, TxConfig):
            raise InvalidArgument(f"config must be a TxConfig or None, not {type(config).__name__}")
        items = []
        for i, blob in enumerate(blobs):
            if not isinstance(blob, Blob):
                raise InvalidArgument(f"blobs[{i}] must be a Blob, not {type(blob).__name__}")
            items.append(blob.to_json())
        result = self.call(
            "blob.Submit", [items, config.to_json()], timeout=self.submit_timeout, idempotent=False
        )
        return parse_height(result, "blob.Submit result")

    def get(self, height: int | str, namespace: Namespace, commitment: bytes) -> Blob:
        """``blob.Get``; the blob is checked against ``commitment``."""
        h = parse_height(height)
        result = self.call("blob.Get", [h, _ns(namespace), _commitment(commitment)])
        return _checked_blob(result, namespace, bytes(commitment))

    def get_all(self, height: int | str, namespaces: Sequence[Namespace]) -> list[Blob]:
        """``blob.GetAll``; ``null`` is ``[]``; every blob is checked against its commitment."""
        h = parse_height(height)
        wanted = [_ns(ns, f"namespaces[{i}]") for i, ns in enumerate(namespaces)]
        result = self.call("blob.GetAll", [h, wanted])
        if result is None:
            return []
        if not isinstance(result, list):
            raise DARPCError(f"blob.GetAll returned {type(result).__name__}, not a list of blobs", 0)
        allowed = set(namespaces)
        blobs = [_checked_blob(item) for item in result]
        for blob in blobs:
            if blob.namespace not in allowed:
                raise CommitmentMismatch(
                    f"blob.GetAll returned a blob in namespace {blob.namespace}, not asked for"
                )
        return blobs

    def get_proof(self, height: int | str, namespace: Namespace, commitment: bytes) -> list[dict[str, Any]]:
        """``blob.GetProof``: celestia-node ``Proof`` JSON (one NMT proof per row)."""
        h = parse_height(height)
        result = self.call("blob.GetProof", [h, _ns(namespace), _commitment(commitment)])
        if not isinstance(result, list):
            raise DARPCError(f"blob.GetProof returned {type(result).__name__}, not a list of NMT proofs", 0)
        return [dict(p) for p in result]

    def get_commitment_proof(
        self, height: int | str, namespace: Namespace, commitment: bytes
    ) -> dict[str, Any]:
        """``blob.GetCommitmentProof``: the ``CommitmentProof`` JSON, verified before it is returned.

        The proof is checked against ``commitment`` and the data root of the header at ``height``
        (fetched with ``header.GetByHeight``), as celestia-node's ``CommitmentProof.Verify`` does.

        Raises
        ------
        InvalidProof
            If the proof does not verify.
        CommitmentMismatch
            If the node's answer is not a commitment proof at all.
        """
        h = parse_height(height)
        result = self.call("blob.GetCommitmentProof", [h, _ns(namespace), _commitment(commitment)])
        try:
            proof = CommitmentProof.from_json(result)
        except InvalidArgument as exc:
            raise CommitmentMismatch(f"blob.GetCommitmentProof returned a malformed proof: {exc}") from exc
        proof.verify(bytes.fromhex(self.get_header(h).data_hash), bytes(commitment))
        return dict(result)

    def included(
        self, height: int | str, namespace: Namespace, proof: Sequence[Mapping[str, Any]], commitment: bytes
    ) -> bool:
        """``blob.Included``; ``blob: invalid proof`` is read as ``False``."""
        h = parse_height(height)
        if proof is None:
            raise InvalidArgument("proof must be a list of NMT proofs, not None (blob: proof cannot be nil)")
        try:
            result = self.call(
                "blob.Included", [h, _ns(namespace), [dict(p) for p in proof], _commitment(commitment)]
            )
        except DARPCError as exc:
            if exc.rpc_message == "blob: invalid proof":
                return False
            raise
        return bool(result)

    # -- header -----------------------------------------------------------------------------

    def local_head(self) -> Header:
        """``header.LocalHead``."""
        return Header.from_json(self.call("header.LocalHead", []))

    def network_head(self) -> Header:
        """``header.NetworkHead``."""
        return Header.from_json(self.call("header.NetworkHead", []))

    def get_header(self, height: int | str) -> Header:
        """``header.GetByHeight``."""
        return Header.from_json(self.call("header.GetByHeight", [parse_height(height)]))

    def wait_for_height(self, height: int | str, timeout: float = 60.0) -> Header:
        """``header.WaitForHeight``, bounded by ``timeout`` seconds (DAConnectionError after it)."""
        h = parse_height(height)
        return Header.from_json(self.call("header.WaitForHeight", [h], timeout=timeout, idempotent=False))

    # -- node -------------------------------------------------------------------------------

    def node_info(self) -> dict[str, Any]:
        """``node.Info`` (admin)."""
        result = self.call("node.Info", [])
        return dict(result) if isinstance(result, Mapping) else {"info": result}

    def auth_new(self, permissions: Sequence[str]) -> str:
        """``node.AuthNew`` (admin): mint a token with these permissions."""
        return str(self.call("node.AuthNew", [list(permissions)], idempotent=False))

    # -- subscriptions ----------------------------------------------------------------------

    def subscribe(
        self, namespace: Namespace, *, timeout: float | None = None
    ) -> Iterator[tuple[int, list[Blob]]]:
        """``blob.Subscribe`` over WebSocket: yield ``(height, blobs)`` for every new block.

        ``blobs`` may be empty. Closing the generator (``break`` out of the loop) cancels the
        subscription with ``xrpc.cancel`` and closes the connection.

        Parameters
        ----------
        namespace
            The namespace to follow.
        timeout
            Seconds to wait for each block before DAConnectionError; ``None`` waits for ever.
        """
        ns = _ns(namespace)
        ws_url = "ws" + self.url[len("http") :]
        headers = (
            {"Authorization": self._headers["Authorization"]} if "Authorization" in self._headers else {}
        )
        stack = contextlib.ExitStack()
        try:
            ws = stack.enter_context(
                ws_connect(ws_url, additional_headers=headers, open_timeout=self.timeout, max_size=2**25)
            )
        except Exception as exc:
            raise translate_error(exc, "blob.Subscribe") from exc
        req_id = next(self._ids)
        with stack:
            try:
                ws.send(
                    json.dumps({"jsonrpc": "2.0", "id": req_id, "method": "blob.Subscribe", "params": [ns]})
                )
                chan: int | None = None
                while True:
                    frame = json.loads(ws.recv(timeout=timeout if chan is not None else self.timeout))
                    if chan is None and frame.get("id") == req_id:
                        if frame.get("error") is not None:
                            err = frame["error"]
                            raise translate_error(
                                RPCFailure(200, int(err.get("code", 0)), str(err.get("message", ""))),
                                "blob.Subscribe",
                            )
                        chan = int(frame["result"])
                        continue
                    method = frame.get("method")
                    params = frame.get("params") or []
                    if method == "xrpc.ch.close" and params and params[0] == chan:
                        return
                    if method != "xrpc.ch.val" or not params or params[0] != chan:
                        continue
                    value = params[1] or {}
                    blobs = [_checked_blob(b, namespace) for b in value.get("Blobs") or ()]
                    height = value.get("Height")
                    if height is None:
                        height = (value.get("Header") or {}).get("height")
                    yield parse_height(height, "SubscriptionResponse.Height"), blobs
            except DAError:
                raise
            except (ValueError, KeyError, TypeError) as exc:
                raise DARPCError(f"blob.Subscribe: malformed frame from the node: {exc}", 0) from exc
            except Exception as exc:
                raise translate_error(exc, "blob.Subscribe") from exc
            finally:
                with contextlib.suppress(Exception):  # the connection may already be gone
                    ws.send(json.dumps({"jsonrpc": "2.0", "method": "xrpc.cancel", "params": [req_id]}))

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> CelestiaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
