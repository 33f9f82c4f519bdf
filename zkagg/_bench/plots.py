"""The PNG plots of ``zkagg bench`` (matplotlib, the optional ``bench`` extra).

One function per figure, each drawn from :class:`zkagg._bench.measure.BenchResults` or skipped
when the run did not measure its section: ``end_to_end.png`` (the three pipelines per rule, log
scale), ``phases.png`` (where a round's time goes: setup in the round, commit, prove, verify),
``sweep.png`` (proving cost across the sweep), ``monolithic_vs_sharded.png`` and ``quality.png``
(pruning and scale against proof cost). matplotlib is imported when the plots are drawn, with the
non-interactive Agg backend, so that the rest of the package does not need it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zkagg._bench.measure import BenchResults
from zkagg._errors import InvalidArgument

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["draw_plots"]

PIPELINES = ("native", "ezkl-every-round", "ezkl-keys-once", "ezkl-polycommit", "zkagg")
#: (row key, legend) of the stacked phases, bottom first.
PHASES = (
    ("round_setup_s", "settings, calibrate, compile, keys (in the round)"),
    ("commit_s_max", "commit"),
    ("prove_s", "prove"),
    ("verify_s", "verify"),
)


def draw_plots(res: BenchResults, out: Path) -> list[Path]:
    """Draw every plot ``res`` has data for into ``out``; return the paths written, in a fixed order."""
    try:
        import matplotlib
    except ImportError as exc:
        raise InvalidArgument(
            "zkagg bench draws its plots with matplotlib: pip install 'zkagg[bench]'"
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures: tuple[tuple[str, Callable[[BenchResults], Figure | None]], ...] = (
        ("end_to_end.png", _end_to_end),
        ("phases.png", _phases),
        ("sweep.png", _sweep),
        ("monolithic_vs_sharded.png", _monolithic),
        ("quality.png", _quality),
    )
    paths = []
    for name, draw in figures:
        fig = draw(res)
        if fig is None:
            continue
        fig.tight_layout()
        paths.append(out / name)
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths


def _subplots(ncols: int = 1, *, figsize: tuple[float, float]) -> tuple[Figure, Any]:
    """A figure and its axes (one ``Axes``, or an array of ``ncols`` of them), as ``plt.subplots``."""
    import matplotlib.pyplot as plt  # the optional extra; draw_plots checked it and chose Agg

    return plt.subplots(1, ncols, figsize=figsize)


def _end_to_end(res: BenchResults) -> Figure:
    rules = list(dict.fromkeys(r["rule"] for r in res.headline))
    fig, ax = _subplots(figsize=(8, 4))
    width = 0.16
    for k, p in enumerate(PIPELINES):
        ys = [
            next((r["end_to_end_s"] for r in res.headline if r["rule"] == rule and r["pipeline"] == p), 0)
            for rule in rules
        ]
        ax.bar([i + (k - 2) * width for i in range(len(rules))], ys, width, label=p)
    ax.set_yscale("log")
    ax.set_xticks(range(len(rules)), rules)
    ax.set_ylabel("end to end, seconds (log)")
    ax.set_title("One shard round: native vs EZKL used directly vs zkagg")
    ax.legend()
    return fig


def _phases(res: BenchResults) -> Figure:
    rows = [r for r in res.headline if r["pipeline"] != "native"]
    fig, ax = _subplots(figsize=(9, 4.5))
    labels = [f"{r['rule']}\n{r['pipeline']}" for r in rows]
    bottom = np.zeros(len(rows))
    for key, name in PHASES:
        vals = np.array([float(r.get(key) or 0.0) for r in rows])
        ax.bar(labels, vals, bottom=bottom, label=name)
        bottom += vals
    ax.set_ylabel("seconds")
    ax.set_title("Where a round's time goes (one-time setup not shown)")
    ax.tick_params(axis="x", labelsize=7)
    ax.legend()
    return fig


def _sweep(res: BenchResults) -> Figure | None:
    proven = [r for r in res.sweep if r["rule"] != "fedavg" and "error" not in r]
    if not proven:
        return None
    fig, ax = _subplots(figsize=(7, 4))
    for rule in dict.fromkeys(r["rule"] for r in proven):
        pts = sorted(
            (r["clients"] * r["length"] * r["shards"], r["prove_s"]) for r in proven if r["rule"] == rule
        )
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=rule)
    ax.set_xlabel("client values proven")
    ax.set_ylabel("prove seconds")
    ax.set_title("zkagg proving cost across the sweep")
    ax.legend()
    return fig


def _monolithic(res: BenchResults) -> Figure | None:
    if not res.monolithic:
        return None
    s = res.monolithic["summary"]
    fig, axes = _subplots(ncols=3, figsize=(9, 3.2))
    for ax, (key, title) in zip(
        axes,
        [("cpu_s", "total CPU s"), ("critical_path_s", "critical path s"), ("peak_mib", "peak MiB")],
        strict=True,
    ):
        ax.bar(["monolithic", "sharded"], [s[f"monolithic_{key}"], s[f"sharded_{key}"]])
        ax.set_title(title)
    return fig


def _quality(res: BenchResults) -> Figure | None:
    if not res.quality:
        return None
    fig, ax = _subplots(figsize=(6, 4))
    for scale in dict.fromkeys(r["scale"] for r in res.quality):
        same = [r for r in res.quality if r["scale"] == scale]
        ax.scatter([r["prove_s"] for r in same], [r["test_accuracy"] for r in same], label=f"scale {scale}")
        for r in same:
            ax.annotate(f"{r['prune']:.0%}", (r["prove_s"], r["test_accuracy"]), fontsize=7)
    ax.set_xlabel("prove seconds")
    ax.set_ylabel("test accuracy")
    ax.set_title("Quality model: pruning/scale vs proof cost")
    ax.legend()
    return fig
