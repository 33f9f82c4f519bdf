"""Slow clients must not hold the server: celestia-node's HTTP timeouts and connection limit on aiohttp.

celestia-node's RPC server (``api/rpc/server.go``) runs Go's ``http.Server`` with ReadHeaderTimeout
2 s, ReadTimeout 30 s, IdleTimeout 120 s, and wraps its listener in ``netutil.LimitListener`` (500
connections). aiohttp has none of the first two and no connection limit: its ``keepalive_timeout``
is the idle timeout, the rest is here, as an ``asyncio.Protocol`` that wraps each connection's
aiohttp ``RequestHandler``:

* **connection limit**: at most ``max_connections`` connections are served. As with Go's
  ``LimitListener``, which stops accepting, a connection over the limit waits (reading paused, no
  timer running) and is admitted when a slot frees, oldest first; waiting connections beyond
  ``max_waiting`` are closed at once, so that a flood cannot pile up sockets.
* **ReadHeaderTimeout**: from admission, or from the first byte after a finished request, the
  request line and headers must arrive within ``read_header_timeout`` (so a connection that sends
  nothing, or stops inside its headers, is closed);
* **ReadTimeout**: the whole request, body included, must arrive within ``read_timeout`` of its
  first byte;
* **IdleTimeout**: aiohttp's ``keepalive_timeout`` between requests.

The server (:mod:`zkagg.da._rpc`) reports progress through :meth:`ConnectionGate.headers_read`,
:meth:`~ConnectionGate.body_read`, :meth:`~ConnectionGate.request_done` and
:meth:`~ConnectionGate.hijacked` (a WebSocket upgrade: a long-lived stream, no read timeouts).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from zkagg._errors import InvalidArgument

__all__ = ["ConnectionGate", "ServerLimits"]

_IDLE: Final = "idle"
_HEADERS: Final = "headers"
_BODY: Final = "body"
_HANDLING: Final = "handling"
_STREAM: Final = "stream"


@dataclass(frozen=True)
class ServerLimits:
    """celestia-node's server limits (``api/rpc/server.go``); seconds, and a connection count.

    Parameters
    ----------
    read_header_timeout
        Request line and headers must arrive within this (Go ``ReadHeaderTimeout``, 2 s).
    read_timeout
        The whole request, body included (Go ``ReadTimeout``, 30 s).
    idle_timeout
        Keep-alive connections idle this long are closed (Go ``IdleTimeout``, 120 s).
    max_connections
        Connections served at once (``netutil.LimitListener``, 500); more wait for a slot.
    max_waiting
        Connections that may wait for a slot; beyond this they are closed at once.
    """

    read_header_timeout: float = 2.0
    read_timeout: float = 30.0
    idle_timeout: float = 120.0
    max_connections: int = 500
    max_waiting: int = 1024

    def __post_init__(self) -> None:
        for name in ("read_header_timeout", "read_timeout", "idle_timeout"):
            value = getattr(self, name)
            if not value > 0:
                raise InvalidArgument(f"{name} must be a positive number of seconds, not {value!r}")
        if self.read_timeout < self.read_header_timeout:
            raise InvalidArgument(
                f"read_timeout ({self.read_timeout:g} s) must be at least read_header_timeout "
                f"({self.read_header_timeout:g} s)"
            )
        for name in ("max_connections", "max_waiting"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < (1 if name == "max_connections" else 0)
            ):
                raise InvalidArgument(f"{name} must be a positive integer, not {value!r}")


class _Guarded(asyncio.Protocol):
    """One connection: waits for a slot, then forwards to aiohttp's handler under the timeouts."""

    def __init__(self, gate: ConnectionGate, inner: asyncio.Protocol) -> None:
        self.gate = gate
        self.inner = inner
        self.transport: asyncio.Transport | None = None
        self.state = _IDLE
        self.admitted = False
        self.closed = False
        self._timer: asyncio.TimerHandle | None = None
        self._read_started = 0.0
        self._early: list[bytes] = []

    # -- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are not asyncio.Transport subclasses
        self.gate._arrive(self)

    def data_received(self, data: bytes) -> None:
        if not self.admitted:
            # Reading is paused while waiting, but bytes already read may still be delivered.
            self._early.append(data)
            return
        if self.state == _IDLE:
            self._start_reading()
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        if not self.admitted:
            return None  # a waiting client gave up: close
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._cancel_timer()
        if self.admitted:
            self.inner.connection_lost(exc)
        self.gate._leave(self)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    # -- admission and timers --------------------------------------------------------------------

    def admit(self) -> None:
        """Hand the connection to aiohttp and start the header timer (Go: reading starts)."""
        assert self.transport is not None
        self.admitted = True
        self.inner.connection_made(self.transport)
        self._start_reading()
        early, self._early = self._early, []
        for data in early:
            self.inner.data_received(data)
        if not self.closed:
            self.transport.resume_reading()

    def _start_reading(self) -> None:
        self.state = _HEADERS
        loop = asyncio.get_running_loop()
        self._read_started = loop.time()
        self._arm(self.gate.limits.read_header_timeout)

    def _arm(self, delay: float) -> None:
        self._cancel_timer()
        self._timer = asyncio.get_running_loop().call_later(max(0.0, delay), self._expire)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if self.transport is not None and not self.closed:
            self.gate.timed_out += 1
            self.transport.abort()

    def headers_read(self) -> None:
        if self.state == _HEADERS:
            self.state = _BODY
            left = self._read_started + self.gate.limits.read_timeout - asyncio.get_running_loop().time()
            self._arm(left)

    def body_read(self) -> None:
        if self.state == _BODY:
            self.state = _HANDLING
            self._cancel_timer()

    def request_done(self) -> None:
        if self.state in (_BODY, _HANDLING):
            self.state = _IDLE
            self._cancel_timer()  # idle: aiohttp's keep-alive timeout takes over

    def hijacked(self) -> None:
        self.state = _STREAM
        self._cancel_timer()


class ConnectionGate:
    """Admission and timeouts for every connection of one listening socket.

    Parameters
    ----------
    limits
        The timeouts and the connection limit.

    Attributes
    ----------
    active
        Connections being served.
    waiting
        Connections waiting for a slot.
    timed_out, refused
        Connections closed for a timeout, and connections closed because too many were waiting.
    peak
        The most connections served at once so far.
    """

    def __init__(self, limits: ServerLimits) -> None:
        self.limits = limits
        self.active = 0
        self._waiting: collections.deque[_Guarded] = collections.deque()
        self._by_transport: dict[Any, _Guarded] = {}
        self.timed_out = 0
        self.refused = 0
        self.peak = 0

    @property
    def waiting(self) -> int:
        """Connections waiting for a slot."""
        return len(self._waiting)

    def factory(self, inner: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """Wrap aiohttp's protocol factory (``web.Server``) for ``loop.create_server``."""
        return lambda: _Guarded(self, inner())

    def _arrive(self, conn: _Guarded) -> None:
        assert conn.transport is not None
        self._by_transport[conn.transport] = conn
        if self.active < self.limits.max_connections:
            self.active += 1
            self.peak = max(self.peak, self.active)
            conn.admit()
            return
        if len(self._waiting) >= self.limits.max_waiting:
            self.refused += 1
            conn.transport.abort()
            return
        conn.transport.pause_reading()
        self._waiting.append(conn)

    def _leave(self, conn: _Guarded) -> None:
        self._by_transport.pop(conn.transport, None)
        if not conn.admitted:
            with contextlib.suppress(ValueError):
                self._waiting.remove(conn)
            return
        self.active -= 1
        while self._waiting and self.active < self.limits.max_connections:
            nxt = self._waiting.popleft()
            if not nxt.closed:
                self.active += 1
                self.peak = max(self.peak, self.active)
                nxt.admit()

    def _conn(self, transport: object) -> _Guarded | None:
        return self._by_transport.get(transport)

    def headers_read(self, transport: object) -> None:
        """The request's line and headers are in: the ReadTimeout now bounds the body."""
        conn = self._conn(transport)
        if conn is not None:
            conn.headers_read()

    def body_read(self, transport: object) -> None:
        """The request's body is in: no read timer while it is handled."""
        conn = self._conn(transport)
        if conn is not None:
            conn.body_read()

    def request_done(self, transport: object) -> None:
        """The response is written: the connection is idle until its next request."""
        conn = self._conn(transport)
        if conn is not None:
            conn.request_done()

    def hijacked(self, transport: object) -> None:
        """The connection became a WebSocket: no read timeouts from now on."""
        conn = self._conn(transport)
        if conn is not None:
            conn.hijacked()
