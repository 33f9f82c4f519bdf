"""Running the DA server: ``zkagg da serve``, a background thread, a child process.

Three ways to put an :class:`~zkagg.da.EmbeddedNode` and its :class:`~zkagg.da._rpc.RPCServer` on
a port, all on the event loop of :func:`new_event_loop` (uvloop when installed, about twice
aiohttp's throughput as measured by ``benchmarks/da_server.py``):

* :func:`serve`, what ``zkagg da serve`` calls: until SIGINT or SIGTERM, on 127.0.0.1:26658 by
  default, as celestia-node binds ``localhost:26658`` (CELESTIA.md §1, celestia-node
  ``nodebuilder/rpc/defaults.go``); ``skip_auth`` is its ``--rpc.skip-auth``;
* :class:`ServerThread`, on a free loopback port in a background thread (tests, benchmarks);
* :func:`spawn_server`, ``zkagg da serve --port 0 --json`` as a child process (the crash test, the
  server benchmark, the multi-process round tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Final

from aiohttp import web

from zkagg._errors import DAConnectionError
from zkagg.da._auth import load_or_create_secret, new_token
from zkagg.da._limits import ConnectionGate, ServerLimits
from zkagg.da._node import EmbeddedNode
from zkagg.da._rpc import RPCServer

__all__ = ["DEFAULT_PORT", "ServerThread", "new_event_loop", "serve", "spawn_server"]

DEFAULT_PORT: Final = 26658


def new_event_loop() -> asyncio.AbstractEventLoop:
    """Return a uvloop event loop when uvloop is installed (about twice aiohttp's throughput)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


class _GatedSite(web.TCPSite):
    """aiohttp's TCP site with every connection behind the server's :class:`ConnectionGate`."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, gate: ConnectionGate) -> None:
        super().__init__(runner, host, port, backlog=1024, reuse_address=True)
        self._gate = gate

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with its runner
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self._gate.factory(server),
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
        )


async def _start(server: RPCServer, host: str, port: int) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(
        server.app,
        access_log=None,
        handle_signals=False,
        shutdown_timeout=2.0,
        keepalive_timeout=server.limits.idle_timeout,
    )
    await runner.setup()
    site = _GatedSite(runner, host, port, server.gate)
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
    limits: ServerLimits | None = None,
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
    limits
        Timeouts and connection limit; celestia-node's by default.
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
        server = RPCServer(node, secret, skip_auth=skip_auth, limits=limits)
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
    limits
        Timeouts and connection limit; celestia-node's by default.

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
        limits: ServerLimits | None = None,
    ) -> None:
        self.home = Path(home)
        self.secret = load_or_create_secret(self.home)
        self.node = EmbeddedNode(self.home, block_time=block_time)
        self.server = RPCServer(
            self.node, None if skip_auth else self.secret, skip_auth=skip_auth, limits=limits
        )
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
