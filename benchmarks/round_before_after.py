"""An honest round before and after a change: the same ``zkagg run`` on two source trees, interleaved.

Usage::

    .venv/bin/python -m benchmarks.round_before_after --base 2040df0 [--rounds 2] [--repeats 2] [--out NAME]

Both revisions (``--head`` defaults to ``HEAD``: committed code, so the working tree may change
while it runs) are exported with ``git archive`` into a temporary folder and laid out as installed
(``zkagg/{circuits,da,cli}`` linked to the top-level folders, as ``scripts/check`` does for mypy).
Each repetition runs one child per tree, alternating which goes first, with the same
:class:`~zkagg._protocol.run.RunConfig` (the default honest deployment unless ``--config`` says
otherwise) on a fresh embedded node; every child reports its wall seconds and its own CPU seconds
(user + system, which a loaded machine distorts far less than wall time) and the wall seconds of
its rounds alone (without the one-time set-up: circuit keys are cached in ``$ZKAGG_HOME`` and shared
by both trees when the circuits are the same, so whichever runs first pays for them). The result is
the ratio after / before of the medians. Issue 12 asks that hardening make no honest round more than 10%
slower.

Writes benchmarks/results/round_before_after.json and .md, with the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.harness import describe_machine, markdown_table, run_child, write_results

ROOT = Path(__file__).resolve().parent.parent

#: Runs in each tree: only APIs that exist on both sides (``RunConfig`` and ``run_deployment``).
CHILD = """
import json, resource, sys, time
from zkagg._protocol.run import RunConfig, run_deployment
config = json.loads(sys.argv[1])
t0 = time.perf_counter()
report = run_deployment(RunConfig(**config))
wall = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({
    "wall_s": wall,
    "rounds_s": wall - report.setup_seconds,
    "cpu_s": usage.ru_utime + usage.ru_stime,
    "prove_s": sum(r.prove_seconds for r in report.rounds),
    "verify_s": sum(r.verify_seconds for r in report.rounds),
    "accuracy": report.final_accuracy,
    "accepted": [r.shards_accepted for r in report.rounds],
}))
"""


def _installed_layout(tree: Path, out: Path) -> Path:
    """A folder to put on PYTHONPATH whose ``zkagg`` package has ``tree``'s da/, cli/ and circuits/."""
    package = out / "zkagg"
    package.mkdir(parents=True)
    for entry in (tree / "zkagg").iterdir():
        (package / entry.name).symlink_to(entry)
    for name in ("circuits", "da", "cli"):
        (package / name).symlink_to(tree / name)
    return out


def _export(rev: str, into: Path, name: str) -> Path:
    archive = into / f"{name}.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), rev], check=True)
    tree = into / name
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def _run(layout: Path, config: dict[str, Any]) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(layout))
    done = run_child([sys.executable, "-c", CHILD, json.dumps(config)], env=env, timeout=7200)
    if done["returncode"] != 0 or not isinstance(done.get("output"), dict):
        raise SystemExit(f"a child run failed ({done['returncode']}):\n{done.get('stderr', '')}")
    out = dict(done["output"])
    out["cpu_total_s"] = done["cpu_s"]  # the child and any process it spawned, as the parent saw them
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", required=True, help="git revision before the change")
    parser.add_argument("--head", default="HEAD", help="git revision after the change (default HEAD)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per run (default 2)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per tree (default 2)")
    parser.add_argument("--config", default="{}", help="extra RunConfig fields as JSON (default: none)")
    parser.add_argument(
        "--out", default="round_before_after", help="results name (benchmarks/results/NAME.json/.md)"
    )
    args = parser.parse_args()
    config = {"rounds": args.rounds, **json.loads(args.config)}
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", args.head],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    base_rev = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", args.base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as scratch:
        base = _installed_layout(_export(args.base, Path(scratch), "base"), Path(scratch) / "base-layout")
        here = _installed_layout(_export(args.head, Path(scratch), "head"), Path(scratch) / "head-layout")
        for i in range(args.repeats):
            order = [("before", base), ("after", here)] if i % 2 == 0 else [("after", here), ("before", base)]
            for side, layout in order:
                print(f"repeat {i + 1}/{args.repeats}: {side}", file=sys.stderr, flush=True)
                runs[side].append(_run(layout, config))
    summary = {
        side: {
            "wall_s": statistics.median(r["wall_s"] for r in rs),
            "rounds_s": statistics.median(r["rounds_s"] for r in rs),
            "cpu_s": statistics.median(r["cpu_s"] for r in rs),
            "verify_s": statistics.median(r["verify_s"] for r in rs),
        }
        for side, rs in runs.items()
    }
    ratios = {
        key: summary["after"][key] / summary["before"][key]
        for key in ("wall_s", "rounds_s", "cpu_s", "verify_s")
    }
    rows = [
        {"side": f"before ({base_rev})", **summary["before"]},
        {"side": f"after ({head})", **summary["after"]},
        {"side": "after / before", **ratios},
    ]
    table = markdown_table(
        rows,
        [
            ("side", "tree"),
            ("wall_s", "wall s"),
            ("rounds_s", "rounds s (no set-up)"),
            ("cpu_s", "CPU s"),
            ("verify_s", "coordinator verify s"),
        ],
    )
    note = (
        f"\n\nThe same run on both trees ({json.dumps(config)} over the RunConfig defaults), {args.repeats} "
        f"runs each, interleaved; medians. Load average (1, 5, 15 min) at start {load_before}, at end "
        f"{os.getloadavg()}. CPU seconds are the child's own (user + system).\n"
    )
    write_results(
        args.out,
        {
            "machine": describe_machine(),
            "base": base_rev,
            "head": head,
            "config": config,
            "runs": runs,
            "summary": summary,
            "ratios": ratios,
            "load_start": load_before,
            "load_end": os.getloadavg(),
        },
        table + note,
    )
    print(table)


if __name__ == "__main__":
    main()
