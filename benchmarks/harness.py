"""Shared benchmark plumbing: machine description, child-process runs with peak memory, writers.

Benchmarks are programs, not timed tests (CONVENTIONS.md §15): fixed seeds, the machine described
in every output, side-by-side comparisons taken in one run so that ratios survive a noisy machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# One implementation of the machine description, shared with `zkagg bench` (zkagg._bench.machine).
from zkagg._bench.machine import cpu_model as cpu_model
from zkagg._bench.machine import describe_machine as describe_machine

RESULTS = Path(__file__).resolve().parent / "results"


def run_child(
    args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 1800
) -> dict[str, Any]:
    """Run a command, returning wall and CPU seconds, exit code and its last stdout line parsed as JSON.

    Peak memory is not taken here: RUSAGE_CHILDREN's ru_maxrss is the largest of any child so far,
    so each worker reports its own with :func:`peak_rss_mib`.
    """
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(list(args), capture_output=True, text=True, env=env, timeout=timeout)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result: dict[str, Any] = {
        "wall_s": wall,
        "returncode": proc.returncode,
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
    }
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if lines:
        try:
            result["output"] = json.loads(lines[-1])
        except ValueError:
            result["output"] = lines[-1]
    if proc.returncode != 0:
        result["stderr"] = proc.stderr[-2000:]
    return result


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_command(module: str, *args: str) -> list[str]:
    """The command that runs ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def write_results(name: str, payload: dict[str, Any], table: str) -> tuple[Path, Path]:
    """Write ``results/<name>.json`` and ``results/<name>.md`` (with the machine described)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path = RESULTS / f"{name}.json"
    md_path = RESULTS / f"{name}.md"
    json_path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    machine = payload.get("machine", {})
    header = (
        f"# {name}\n\nMachine: {machine.get('cpu')}, {machine.get('cores')} cores, "
        f"{machine.get('memory_gib')} GiB, {machine.get('os')}, Python {machine.get('python')}, "
        f"ezkl {machine.get('versions', {}).get('ezkl')}. Taken {machine.get('date_utc')}.\n\n"
    )
    md_path.write_text(header + table + "\n")
    return json_path, md_path


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """A markdown table from dict rows; ``columns`` are (key, heading)."""
    head = "| " + " | ".join(h for _, h in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = []
    for row in rows:
        cells = []
        for key, _ in columns:
            value = row.get(key)
            cells.append(f"{value:.3g}" if isinstance(value, float) else str(value))
        body.append("| " + " | ".join(cells) + " |")
    return "\n".join([head, rule, *body])
