"""Benchmark: ``zkagg da serve --instant`` under 32 concurrent clients doing submit+get pairs.

Starts the server as a subprocess on 127.0.0.1 (a fresh home, auth on, instant blocks), then 32
asyncio clients (aiohttp, one keep-alive connection each) each loop: ``blob.Submit`` of one 4 KiB
blob, then ``blob.Get`` of it, checking the bytes. A pair's latency is submit + get. Bounded: a
fixed number of pairs after a warm-up, or a time limit. Writes ``benchmarks/results/da_server.json``
and ``.md`` with the machine described.

Usage::

    python benchmarks/da_server.py [--pairs 4000] [--clients 32] [--size 4096] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.harness import cpu_model
from zkagg.da import Blob, Namespace
from zkagg.da._auth import load_or_create_secret, new_token
from zkagg.da._runner import new_event_loop, spawn_server

RESULTS = Path(__file__).resolve().parent / "results"


def fsync_probe(folder: Path, count: int = 200) -> dict[str, float]:
    """Latency of 32 KiB write + fsync on the benchmark's disk: the floor under each commit."""
    path = folder / "fsync-probe"
    times = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for _ in range(count):
            os.write(fd, os.urandom(32 * 1024))
            t0 = time.perf_counter()
            os.fsync(fd)
            times.append((time.perf_counter() - t0) * 1e3)
    finally:
        os.close(fd)
        path.unlink()
    return {
        "p50": round(statistics.median(times), 2),
        "p99": round(percentile(times, 99), 2),
        "max": round(max(times), 2),
    }


def start_server(home: Path) -> tuple[subprocess.Popen[str], str]:
    """Start ``zkagg da serve --instant --port 0`` and return the process and its URL."""
    return spawn_server(home, instant=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


async def drive(
    url: str, token: str, blobs: list[Blob], clients: int, warmup: int, max_seconds: float
) -> dict[str, Any]:
    queue: asyncio.Queue[tuple[int, Blob]] = asyncio.Queue()
    for i, blob in enumerate(blobs):
        queue.put_nowait((i, blob))
    pair_ms: list[float] = []
    submit_ms: list[float] = []
    get_ms: list[float] = []
    heights: set[int] = set()
    errors = 0
    measured_start = 0.0
    measured_end = 0.0
    deadline = time.perf_counter() + max_seconds
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def worker(wid: int) -> None:
        nonlocal errors, measured_start, measured_end
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(url, headers=headers, connector=connector) as session:
            while time.perf_counter() < deadline:
                try:
                    i, blob = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                if i == warmup:
                    measured_start = time.perf_counter()
                ns = base64.b64encode(blob.namespace.to_bytes()).decode()
                body = {"jsonrpc": "2.0", "id": i, "method": "blob.Submit", "params": [[blob.to_json()], {}]}
                t0 = time.perf_counter()
                async with session.post("/", data=json.dumps(body)) as resp:
                    reply = await resp.json()
                t1 = time.perf_counter()
                height = reply.get("result")
                if not isinstance(height, int):
                    errors += 1
                    continue
                commitment = base64.b64encode(blob.commitment).decode()
                body = {"jsonrpc": "2.0", "id": i, "method": "blob.Get", "params": [height, ns, commitment]}
                async with session.post("/", data=json.dumps(body)) as resp:
                    got = await resp.json()
                t2 = time.perf_counter()
                result = got.get("result") or {}
                if base64.b64decode(result.get("data", "")) != blob.data:
                    errors += 1
                    continue
                if i >= warmup:
                    submit_ms.append((t1 - t0) * 1e3)
                    get_ms.append((t2 - t1) * 1e3)
                    pair_ms.append((t2 - t0) * 1e3)
                    heights.add(height)
                    measured_end = time.perf_counter()

    await asyncio.gather(*(worker(w) for w in range(clients)))
    elapsed = measured_end - measured_start
    return {
        "pairs": len(pair_ms),
        "errors": errors,
        "elapsed_s": round(elapsed, 3),
        "pairs_per_s": round(len(pair_ms) / elapsed, 1) if elapsed > 0 else 0.0,
        "pair_latency_ms": {
            "p50": round(statistics.median(pair_ms), 2),
            "p90": round(percentile(pair_ms, 90), 2),
            "p99": round(percentile(pair_ms, 99), 2),
            "max": round(max(pair_ms), 2),
        },
        "submit_latency_ms": {
            "p50": round(statistics.median(submit_ms), 2),
            "p99": round(percentile(submit_ms, 99), 2),
        },
        "get_latency_ms": {
            "p50": round(statistics.median(get_ms), 2),
            "p99": round(percentile(get_ms, 99), 2),
        },
        "blocks": len(heights),
        "blobs_per_block": round(len(pair_ms) / max(1, len(heights)), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=4000, help="measured submit+get pairs")
    parser.add_argument("--warmup", type=int, default=200, help="pairs before measuring")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--size", type=int, default=4096, help="blob size in bytes")
    parser.add_argument("--max-seconds", type=float, default=90.0)
    parser.add_argument("--seed", type=int, default=20260822)
    parser.add_argument("--repeat", type=int, default=3, help="runs, each on a fresh server")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    namespaces = [Namespace.v0(f"bench{c:02d}".encode()) for c in range(args.clients)]
    total = args.warmup + args.pairs
    blobs = [Blob.new(namespaces[i % args.clients], rng.randbytes(args.size)) for i in range(total)]

    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="zkagg-da-bench-") as tmp:
        fsync_ms = fsync_probe(Path(tmp))
    gc.collect()
    gc.freeze()  # the pre-built blobs stay out of the load generator's collections
    runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="zkagg-da-bench-") as tmp:
            home = Path(tmp) / "node"
            token = new_token(load_or_create_secret(home), "write")
            proc, url = start_server(home)
            try:
                with asyncio.Runner(loop_factory=new_event_loop) as loop:
                    runs.append(
                        loop.run(drive(url, token, blobs, args.clients, args.warmup, args.max_seconds))
                    )
            finally:
                proc.terminate()
                proc.wait(10)
    runs_by_rate = sorted(runs, key=lambda r: r["pairs_per_s"])
    result = runs_by_rate[len(runs) // 2]  # the median run

    machine = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "aiohttp": aiohttp.__version__,
        "sqlite": sqlite3.sqlite_version,
        "event_loop": type(new_event_loop()).__module__.split(".")[0],
        "fsync_32k_ms": fsync_ms,
        "loadavg_1_5_15_before": load_before,
    }
    goal = {"pairs_per_s": 300, "p99_ms": 100}

    def met(r: dict[str, Any]) -> bool:
        return (
            r["pairs_per_s"] >= goal["pairs_per_s"]
            and r["pair_latency_ms"]["p99"] < goal["p99_ms"]
            and not r["errors"]
        )

    report = {
        "benchmark": "da_server",
        "setup": {
            "clients": args.clients,
            "blob_bytes": args.size,
            "warmup_pairs": args.warmup,
            "requested_pairs": args.pairs,
            "repeat": args.repeat,
            "server": "zkagg da serve --instant (subprocess, JWT auth on, SQLite WAL synchronous=FULL)",
            "client": "aiohttp, one keep-alive connection per client, same machine",
            "seed": args.seed,
        },
        "machine": machine,
        "result": result,
        "runs": runs,
        "goal": goal,
        "goal_met": met(result),
        "goal_met_runs": sum(met(r) for r in runs),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "da_server.json").write_text(json.dumps(report, indent=2) + "\n")
    lat = result["pair_latency_ms"]
    sub, get = result["submit_latency_ms"], result["get_latency_ms"]
    md = [
        "# DA server benchmark: submit+get pairs",
        "",
        f"`zkagg da serve --instant` on 127.0.0.1, {args.clients} concurrent clients, {args.size}-byte "
        f"blobs, {args.pairs} measured pairs after {args.warmup} warm-up pairs per run, {args.repeat} runs "
        f"(seed {args.seed}). The load generator runs on the same machine and competes for its cores; "
        "every Submit is acknowledged only after its block is fsynced (SQLite WAL, synchronous=FULL).",
        "",
        "| machine | |",
        "|---|---|",
        f"| CPU | {machine['cpu']} |",
        f"| cores | {machine['cores']} |",
        f"| Python | {machine['python']} ({machine['event_loop']} event loop) |",
        f"| aiohttp / SQLite | {machine['aiohttp']} / {machine['sqlite']} |",
        f"| disk: 32 KiB write + fsync | p50 {fsync_ms['p50']} ms, p99 {fsync_ms['p99']} ms, "
        f"max {fsync_ms['max']} ms |",
        f"| load average before the runs (1/5/15 min) | {' / '.join(str(x) for x in load_before)} |",
        "",
        "Median run (by pairs/s):",
        "",
        "| metric | value | goal |",
        "|---|---|---|",
        f"| pairs/s | {result['pairs_per_s']} | >= {goal['pairs_per_s']} |",
        f"| pair latency p50 | {lat['p50']} ms | |",
        f"| pair latency p90 | {lat['p90']} ms | |",
        f"| pair latency p99 | {lat['p99']} ms | < {goal['p99_ms']} ms |",
        f"| pair latency max | {lat['max']} ms | |",
        f"| submit p50 / p99 | {sub['p50']} / {sub['p99']} ms | |",
        f"| get p50 / p99 | {get['p50']} / {get['p99']} ms | |",
        f"| blocks (group commits) | {result['blocks']} ({result['blobs_per_block']} blobs/block) | |",
        f"| errors | {result['errors']} | 0 |",
        "",
        "All runs:",
        "",
        "| run | pairs/s | p50 ms | p99 ms | max ms | blobs/block |",
        "|---|---|---|---|---|---|",
        *(
            f"| {i + 1} | {r['pairs_per_s']} | {r['pair_latency_ms']['p50']} | "
            f"{r['pair_latency_ms']['p99']} | {r['pair_latency_ms']['max']} | {r['blobs_per_block']} |"
            for i, r in enumerate(runs)
        ),
        "",
        f"Goal met by the median run: **{'yes' if report['goal_met'] else 'no'}** "
        f"({report['goal_met_runs']} of {len(runs)} runs meet it).",
        "",
        "Latency tails come from the disk (each block waits for its fsync; see the probe above) and",
        "from whatever else runs on the two cores: runs are repeated on fresh servers and all are shown.",
        "",
    ]
    (args.out / "da_server.md").write_text("\n".join(md))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
