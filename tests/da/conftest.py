"""Fixtures of the DA tests: every backend behind one parametrized fixture, a real server on loopback.

The server is the embedded node's real aiohttp server on 127.0.0.1 with a free port, started in a
thread (the crash test starts it as a subprocess); the client reaches it over real HTTP/WebSocket.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from zkagg.da import CelestiaClient, DABackend, EmbeddedNode, MemoryBackend, Namespace
from zkagg.da._runner import ServerThread

BACKENDS = ["memory", "embedded", "client"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """The embedded node's JSON-RPC server on loopback (instant blocks, auth on)."""
    srv = ServerThread(tmp_path_factory.mktemp("da-node"), block_time=None)
    yield srv
    srv.stop()


@pytest.fixture
def write_client(server: ServerThread) -> Iterator[CelestiaClient]:
    with CelestiaClient(server.url, token=server.token("write"), retries=0) as client:
        yield client


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DABackend]:
    """Each DA backend in turn: in memory, the embedded node in-process, the client to the server."""
    if request.param == "memory":
        be: DABackend = MemoryBackend()
    elif request.param == "embedded":
        be = EmbeddedNode(tmp_path / "node", block_time=None)
    else:
        srv: ServerThread = request.getfixturevalue("server")
        be = CelestiaClient(srv.url, token=srv.token("write"), retries=0)
    yield be
    be.close()


@pytest.fixture
def namespace() -> Namespace:
    """A fresh version-0 namespace, so tests sharing a server do not see each other's blobs."""
    return Namespace.v0(b"\x7a" + os.urandom(9))
