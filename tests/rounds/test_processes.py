"""A round with every role in its own process, sharing nothing but the DA server's URL.

The DA node is ``zkagg da serve`` on loopback with 0.2 s blocks; the coordinator is killed with
SIGKILL right after it opens the round and restarted on the same state folder: the round completes
with exactly one global result, and ``zkagg audit`` re-derives it from the DA layer alone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zkagg._protocol.deployment import Deployment
from zkagg._protocol.messages import GlobalResult
from zkagg._protocol.reading import read_range
from zkagg._protocol.sharding import deployment_namespaces
from zkagg.da import CelestiaClient
from zkagg.da._runner import spawn_server

ZKAGG = [sys.executable, "-m", "zkagg.cli.app"]


def start(*args: str, log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([*ZKAGG, *args], stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)


def wait_for_line(path: Path, needle: str, proc: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in path.read_text():
            return
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args!r} exited with {proc.returncode}: {path.read_text()}")
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} did not appear in {path} within {timeout} s: {path.read_text()}")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_separate_processes_with_a_coordinator_killed_mid_round(tmp_path: Path) -> None:
    # Prepare: a DA server with 0.2 s blocks and a deployment of 6 clients in 2 shards
    server, url = spawn_server(tmp_path / "da", instant=False, block_time=0.2, skip_auth=True)
    procs: list[subprocess.Popen[str]] = []
    try:
        subprocess.run(
            [
                *ZKAGG,
                "init",
                str(tmp_path / "dep"),
                "--clients",
                "6",
                "--shards",
                "2",
                "--no-quality",
                "--update-window",
                "150",
                "--result-window",
                "100",
                "--quorum",
                "1",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        dep_file = tmp_path / "dep" / "deployment.json"
        keys = tmp_path / "dep" / "keys"
        common = ["--deployment", str(dep_file), "--da", url, "--rounds", "1", "--timeout", "300"]
        coord_args = [*common, "--keys", str(keys / "coordinator"), "--state", str(tmp_path / "coord")]
        # Execute: every role in its own process
        coord = start("coordinator", *coord_args, log=tmp_path / "coord1.log")
        procs.append(coord)
        for k in range(2):
            procs.append(
                start(
                    "shard",
                    *common,
                    "--keys",
                    str(keys / f"shard-{k}"),
                    "--index",
                    str(k),
                    log=tmp_path / f"shard{k}.log",
                )
            )
        for part in ("0-2", "3-5"):
            procs.append(
                start(
                    "client",
                    *common,
                    "--keys",
                    str(keys),
                    "--index",
                    part,
                    log=tmp_path / f"client{part}.log",
                )
            )
        wait_for_line(tmp_path / "coord1.log", "round 1: manifest at height", coord, 240)
        os.kill(coord.pid, signal.SIGKILL)  # mid-round: opened, not judged
        coord.wait()
        restarted = start("coordinator", *coord_args, log=tmp_path / "coord2.log")
        procs.append(restarted)
        for p in procs[1:]:
            assert p.wait(timeout=400) == 0, (p.args, Path(p.stdout.name if p.stdout else "").name)
        # Assert: one global result with both shards accepted
        log = (tmp_path / "coord2.log").read_text()
        assert "round 1: global result at height" in log, log
        dep = Deployment.load(dep_file)
        control = deployment_namespaces(dep.deployment_id, dep.n_shards).control
        with CelestiaClient(url) as client:
            head = client.local_head().height
            results = [
                p.message
                for p in read_range(client, [control], 1, head)
                if isinstance(p.message, GlobalResult)
            ]
        assert len(results) == 1
        # a shard that drew no client (cohorts are a hash of a block hash) posts an empty result
        drawn = [" aggregated 0 updates" not in (tmp_path / f"shard{k}.log").read_text() for k in range(2)]
        wanted = ["accepted" if d else "empty" for d in drawn]
        assert [v.reason.value for v in results[0].verdicts] == wanted
        assert results[0].global_model is not None
        # ... and the audit reproduces it from the DA layer alone
        audit = subprocess.run(
            [*ZKAGG, "audit", "--da", url, "--namespace", control.hex(), "--json"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert audit.returncode == 0, audit.stdout + audit.stderr
        summary = json.loads(audit.stdout)
        assert summary["ok"] and summary["deployment"] == dep.deployment_id.hex()
        assert [v["reason"] for v in summary["rounds"][0]["verdicts"]] == wanted
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        server.kill()
        server.wait()
