"""Durability: kill -9 the server during a burst of concurrent submissions; no acknowledged blob is lost.

The server runs as a real subprocess (``zkagg da serve --instant``); clients submit from threads
over HTTP; the process is killed with SIGKILL mid-burst, restarted on the same home, and every blob
whose submission was acknowledged must come back byte-identical at its acknowledged height.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from zkagg import DAError
from zkagg.da import Blob, CelestiaClient, Namespace
from zkagg.da._auth import load_or_create_secret, new_token
from zkagg.da._runner import spawn_server


def start_server(home: Path) -> tuple[subprocess.Popen[str], str]:
    """Start ``zkagg da serve --instant --port 0`` and return the process and its URL."""
    return spawn_server(home, instant=True)


@pytest.mark.slow
def test_acknowledged_blobs_survive_kill_9(tmp_path: Path) -> None:
    # Prepare
    home = tmp_path / "node"
    token = new_token(load_or_create_secret(home), "write")
    proc, url = start_server(home)
    acked: list[tuple[int, Blob]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def submitter(worker: int) -> None:
        ns = Namespace.v0(b"crash" + bytes([worker]))
        with CelestiaClient(url, token=token, retries=0, submit_timeout=10) as client:
            for i in range(10_000):
                if stop.is_set():
                    return
                blob = Blob.new(ns, os.urandom(256 + (i * 977) % 6000))
                try:
                    height = client.submit([blob])
                except DAError:
                    return  # the server is gone; this submission was never acknowledged
                with lock:
                    acked.append((height, blob))

    threads = [threading.Thread(target=submitter, args=(w,)) for w in range(16)]
    for t in threads:
        t.start()
    # Execute: kill -9 once the burst is well under way
    deadline = time.monotonic() + 20
    while len(acked) < 150 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    stop.set()
    for t in threads:
        t.join(30)
    proc2, url2 = start_server(home)
    try:
        with CelestiaClient(url2, token=token, retries=0) as client:
            head = client.local_head().height
            # Assert: every acknowledged blob is there, byte for byte, at its height
            assert len(acked) >= 150
            for height, blob in acked:
                assert height <= head
                got = client.get(height, blob.namespace, blob.commitment)
                assert got.data == blob.data and got.commitment == blob.commitment
            # the chain is whole and continues
            for h in range(2, head + 1):
                assert client.get_header(h).last_block_hash == client.get_header(h - 1).hash
            fresh = Blob.new(Namespace.v0(b"after"), b"after the crash")
            assert client.submit([fresh]) == head + 1
    finally:
        proc2.send_signal(signal.SIGTERM)
        proc2.wait(10)
