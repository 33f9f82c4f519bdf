"""Slow clients do not hold the server: celestia-node's timeouts and connection limit (shortened here).

Half-open connections (nothing sent, headers unfinished, body unfinished) are closed within the
header and read timeouts, at most ``max_connections`` are served at once while the rest wait, and a
normal client is answered all along. Everything runs on 127.0.0.1 with bounded waits.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from zkagg import InvalidArgument
from zkagg.da._limits import ServerLimits
from zkagg.da._runner import ServerThread

LIMITS = ServerLimits(
    read_header_timeout=0.5, read_timeout=1.5, idle_timeout=3.0, max_connections=8, max_waiting=64
)
MARGIN = 1.0  # scheduling slack on a loaded CI machine


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    srv = ServerThread(tmp_path, limits=LIMITS)
    yield srv
    srv.stop()


def _connect(srv: ServerThread, payload: bytes = b"") -> socket.socket:
    host, port = srv.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=5)
    if payload:
        sock.sendall(payload)
    return sock


def _closed_after(sock: socket.socket, limit: float) -> float:
    """Seconds until the server closes ``sock`` (fails if it stays open beyond ``limit``)."""
    start = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(4096):
            pass  # a response would be a bug too, but reading on until the close is what matters
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"connection still open after {limit:g} s")
    finally:
        sock.close()
    return time.monotonic() - start


def _served(srv: ServerThread, http: httpx.Client) -> float:
    start = time.monotonic()
    resp = http.post(srv.url, json={"jsonrpc": "2.0", "id": 1, "method": "header.LocalHead", "params": []})
    assert resp.status_code == 200 and resp.json()["result"]["header"]["height"]
    return time.monotonic() - start


@pytest.mark.parametrize(
    ("payload", "limit"),
    [
        (b"", LIMITS.read_header_timeout),
        (
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n",
            LIMITS.read_header_timeout,
        ),
        (
            b'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{"jsonrpc":',
            LIMITS.read_timeout,
        ),
    ],
    ids=["nothing-sent", "unfinished-headers", "unfinished-body"],
)
def test_half_open_connections_are_closed_within_the_timeouts(
    server: ServerThread, payload: bytes, limit: float
) -> None:
    sock = _connect(server, payload)
    elapsed = _closed_after(sock, limit + MARGIN)
    assert elapsed >= limit * 0.8
    assert server.server.gate.timed_out >= 1


def test_connection_limit_holds_and_a_normal_client_is_served_throughout(server: ServerThread) -> None:
    # Prepare: three times the limit of connections that send nothing
    hogs = [_connect(server) for _ in range(3 * LIMITS.max_connections)]
    time.sleep(0.1)
    gate = server.server.gate
    # Execute: a normal client keeps asking while the hogs time out slot by slot
    latencies = []
    with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {server.token('read')}"}) as http:
        deadline = time.monotonic() + 4 * LIMITS.read_header_timeout
        while time.monotonic() < deadline:
            latencies.append(_served(server, http))
    for sock in hogs:
        sock.close()
    # Assert
    assert gate.peak == LIMITS.max_connections
    assert gate.timed_out >= 2 * LIMITS.max_connections
    assert latencies and max(latencies) < 4 * LIMITS.read_header_timeout + MARGIN


def test_connections_beyond_the_waiting_room_are_closed_at_once(tmp_path: Path) -> None:
    limits = ServerLimits(read_header_timeout=5.0, read_timeout=5.0, max_connections=2, max_waiting=2)
    with ServerThread(tmp_path, limits=limits) as srv:
        socks = [_connect(srv) for _ in range(5)]
        try:
            assert _closed_after(socks[-1], 2.0) < 2.0
            assert srv.server.gate.refused >= 1
        finally:
            for sock in socks:
                sock.close()


def test_limits_are_checked() -> None:
    with pytest.raises(InvalidArgument, match="read_header_timeout must be a positive number"):
        ServerLimits(read_header_timeout=0)
    with pytest.raises(InvalidArgument, match="max_connections must be a positive integer"):
        ServerLimits(max_connections=0)
    with pytest.raises(InvalidArgument, match="read_timeout"):
        ServerLimits(read_header_timeout=5, read_timeout=1)
