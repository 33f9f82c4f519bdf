"""The outputs of ``zkagg bench``: results.json, the markdown report (report.md) and the plots.

The report names the machine (CONVENTIONS.md §15) and shows every section a run measured as one
markdown table: zkagg against each EZKL baseline (the headline ratios against the keys-once
baseline and the goals of :data:`zkagg._bench.measure.GOALS`), the pipelines side by side, the sweep, the executors,
monolithic versus sharded proving and the quality model. Timings are wall seconds on a shared
machine, so the report asks for ratios within one run, not comparisons across runs. The plots are
drawn by :mod:`zkagg._bench.plots`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from zkagg._bench.measure import BASELINES, HEADLINE_BASELINE, BenchResults
from zkagg._bench.plots import draw_plots

__all__ = ["headline_ratio", "report_markdown", "write_outputs"]

#: (key, heading) of each table's columns.
Columns = Sequence[tuple[str, str]]

COMPARISON_COLUMNS: Columns = (
    ("rule", "rule"),
    ("clients", "clients"),
    ("length", "values"),
    ("baseline", "baseline"),
    ("baseline_end_to_end_s", "baseline round s"),
    ("zkagg_end_to_end_s", "zkagg round s"),
    ("speedup_end_to_end", "speedup (wall)"),
    ("baseline_end_to_end_cpu_s", "baseline round CPU s"),
    ("zkagg_end_to_end_cpu_s", "zkagg round CPU s"),
    ("speedup_cpu", "speedup (CPU)"),
    ("zkagg_total_s", "zkagg total s"),
    ("speedup_total", "speedup (total)"),
    ("baseline_one_time_s", "baseline one-time setup s"),
    ("zkagg_one_time_s", "zkagg one-time setup s"),
    ("goal", "goal"),
    ("goal_met", "met"),
)
HEADLINE_COLUMNS: Columns = (
    ("rule", "rule"),
    ("pipeline", "pipeline"),
    ("numpy_s", "numpy s"),
    ("flower_s", "Flower s"),
    ("one_time_s", "one-time setup s (not in the round)"),
    ("round_setup_s", "setup in the round s"),
    ("commit_s_max", "commit s (slowest client)"),
    ("prove_s", "prove/aggregate s"),
    ("verify_s", "verify s"),
    ("end_to_end_s", "round s"),
    ("end_to_end_cpu_s", "round CPU s"),
    ("logrows", "logrows"),
    ("rows", "rows"),
    ("proof_bytes", "proof bytes"),
    ("da_bytes", "DA bytes"),
    ("peak_rss_mib", "peak MiB"),
)
SWEEP_COLUMNS: Columns = (
    ("rule", "rule"),
    ("shards", "shards"),
    ("clients", "clients/shard"),
    ("length", "values"),
    ("chunk_size", "chunk"),
    ("logrows", "logrows"),
    ("rows", "rows"),
    ("setup_s", "setup s"),
    ("commit_s_max", "commit s"),
    ("prove_s", "prove s"),
    ("verify_s", "verify s"),
    ("end_to_end_s", "end to end s"),
    ("proofs", "proofs"),
    ("proof_bytes", "proof bytes"),
    ("da_bytes", "DA bytes"),
    ("peak_rss_mib", "peak MiB"),
    ("error", "note"),
)
EXECUTOR_COLUMNS: Columns = (
    ("executor", "executor"),
    ("workers", "workers"),
    ("shards", "shards"),
    ("proofs", "proofs"),
    ("prove_s", "prove s"),
    ("speedup_vs_serial", "speedup"),
)
QUALITY_COLUMNS: Columns = (
    ("prune", "pruned"),
    ("scale", "scale"),
    ("nonzero", "non-zero params"),
    ("test_accuracy", "test accuracy"),
    ("probe_accuracy_proven", "proven probe accuracy"),
    ("logrows", "logrows"),
    ("rows", "rows"),
    ("prove_s", "prove s"),
    ("verify_s", "verify s"),
)
#: (row label, key) of the monolithic-versus-sharded table: ``monolithic_<key>`` and ``sharded_<key>``
#: of the summary (logrows, which differ in name and show "(each)", come first).
MONOLITHIC_ROWS = (
    ("total CPU s (setup + prove)", "cpu_s"),
    ("prove CPU s", "prove_cpu_s"),
    ("critical path s (shards on separate machines)", "critical_path_s"),
    ("critical path CPU s", "critical_path_cpu_s"),
    ("peak memory MiB", "peak_mib"),
    ("verification s", "verify_s"),
)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return "" if v is None else str(v)


def _table(rows: Sequence[dict[str, Any]], columns: Columns) -> str:
    head = "| " + " | ".join(h for _, h in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(_fmt(r.get(k)) for k, _ in columns) + " |" for r in rows]
    return "\n".join([head, rule, *body])


def _section(title: str, table: str, *, intro: str | None = None, note: str | None = None) -> list[str]:
    """A ``## title`` section: the intro, the table and the note, each followed by a blank line."""
    return [
        f"## {title}",
        "",
        *([intro, ""] if intro is not None else []),
        table,
        "",
        *([note, ""] if note is not None else []),
    ]


def _monolithic_table(summary: dict[str, Any]) -> str:
    rows = [
        ("logrows", str(summary["monolithic_logrows"]), f"{summary['shard_logrows']} (each)"),
        *(
            (label, _fmt(summary.get(f"monolithic_{k}")), _fmt(summary.get(f"sharded_{k}")))
            for label, k in MONOLITHIC_ROWS
        ),
    ]
    return "\n".join(
        ["| | monolithic | sharded |", "|---|---|---|", *(f"| {a} | {b} | {c} |" for a, b, c in rows)]
    )


def report_markdown(res: BenchResults) -> str:
    """The markdown report of a run (names the machine)."""
    m = res.machine
    v = m.get("versions", {})
    lines = [
        "# zkagg bench",
        "",
        f"Machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('memory_gib')} GiB, {m.get('os')}, "
        f"Python {m.get('python')}; ezkl {v.get('ezkl')}, torch {v.get('torch')}, numpy {v.get('numpy')}, "
        f"ray {v.get('ray')}, flwr {v.get('flwr')}. Load average (1 min) at start {_fmt(m.get('load_1min_at_start'))}, "
        f"at end {_fmt(m.get('load_1min_at_end'))}. "
        f"Taken {m.get('date_utc')}; the run took {res.elapsed_s:.0f} s.",
        "",
        "Timings are wall seconds on a shared machine: compare within this run (ratios), not across runs.",
        "",
    ]
    if res.comparisons:
        lines += _section(
            "zkagg against EZKL used directly (same shard workload, same run)",
            _table(res.comparisons, COMPARISON_COLUMNS),
            intro=f"The headline baseline is `{HEADLINE_BASELINE}` (what a competent EZKL user runs every "
            "round). Round = a round's latency (clients commit in parallel, so the slowest commitment "
            "counts); CPU = CPU seconds of the measuring process (ezkl's threads included) over the "
            "same phases, which load on a shared machine distorts less than wall time. Total = every "
            "client's commitment added up. One-time setup (not in the round): the baseline's settings, "
            "calibration, compile and keys; zkagg's commitment domain and rule keys. Baselines: "
            + "; ".join(f"`{k}`: {v}" for k, v in BASELINES.items())
            + ".",
        )
    lines += _section(
        "Side by side: native, EZKL baselines, zkagg",
        _table(res.headline, HEADLINE_COLUMNS),
        note="One-time setup is once per deployment (zkagg) or per circuit shape (the keys-once "
        "baselines); `ezkl-every-round` redoes it in every round. The keys-once rows report the "
        "last of the rounds proven on the same keys; `ezkl-every-round` is the one-time phases plus "
        "the first round of the same measurement. EZKL DA bytes: the proof file plus 64 bytes per "
        "client (its posted hash or commitment). zkagg DA bytes: the clients' commitments and the "
        "shard result as written by `zkagg.da.write_payload` (blob data).",
    )
    if res.sweep:
        lines += _section("Sweep (zkagg)", _table(res.sweep, SWEEP_COLUMNS))
    if res.executors:
        lines += _section("Executors on the same shard proofs", _table(res.executors, EXECUTOR_COLUMNS))
    if res.monolithic:
        lines += _section(
            "Monolithic versus sharded (proven FedAvg)",
            _monolithic_table(res.monolithic["summary"]),
            intro=f"{res.monolithic['total_clients']} clients x {res.monolithic['length']} values: one circuit "
            f"versus {res.monolithic['shards']} shard circuits plus homomorphic composition.",
        )
    if res.quality:
        lines += _section(
            "Pruning and quantization against proof cost (shard-level quality model)",
            _table(res.quality, QUALITY_COLUMNS),
        )
    return "\n".join(lines)


def write_outputs(res: BenchResults, out: Path) -> list[Path]:
    """Write results.json, report.md and the PNG plots into ``out``; return the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "results.json", out / "report.md"]
    paths[0].write_text(json.dumps(asdict(res), indent=2, sort_keys=True, default=str) + "\n")
    paths[1].write_text(report_markdown(res) + "\n")
    paths += draw_plots(res, out)
    return paths


def headline_ratio(res: BenchResults, rule: str, baseline: str = HEADLINE_BASELINE) -> float | None:
    """The end-to-end speedup of zkagg over ``baseline`` for ``rule`` in this run (or None)."""
    for c in res.comparisons:
        if c["rule"] == rule and c["baseline"] == baseline:
            return float(c["speedup_end_to_end"])
    return None
