"""Every measured figure quoted in README.md and benchmarks/README.md has a committed source.

A reader who doubts a number should find it in a result file written by a program in
``benchmarks/``. This test extracts the figures of those two files and looks each one up among the
numbers of every file under ``benchmarks/results/``; the failure lists each unsupported figure with
its file and line, so that a figure added later without a source is caught.

**What counts as a figure** (outside fenced code blocks and inline code spans):

* a number with a decimal point (``0.919``, ``35.4``);
* a number followed by a unit: ``s``, ``ms``, ``us``/``microseconds``, ``min``/``minutes``,
  ``x`` (written on the number: ``244x``), ``%``, ``KB``, ``MB``, ``GB``, ``KiB``, ``MiB``, ``GiB``,
  ``CPU-s``; in a range (``7-9 s``) both ends count;
* in a markdown table row, every number of a cell that begins with a number (``35.4``,
  ``**244x**``, ``15 (14,976) each``).

Not figures: version numbers (two dots, or right after a package name or ``>=``), powers written
``2**32``, and the constants of :data:`ALLOWED` (each with its reason). A sentence that contains
"goal" states a target, not a measurement, and is skipped.

**Its source**: a section (from one markdown heading to the next) names the result files its
figures come from: a path or file name under ``benchmarks/results/`` (``fl_rounds.md``,
``results/bench-quick/``; a directory names every file in it, ``X.md`` names ``X.json`` too). A
figure in a section that names none has no source.

**What supports a figure**: some number in one of its section's result files (every number in a
JSON file, every number written in a markdown or text file) that rounds to it at the precision it
is written with (``35.4`` is supported by 35.35 up to 35.45; ``244x`` by 243.5 up to 244.5), after
converting the unit where the results use another (minutes, ms, microseconds and KB against
seconds and bytes; a percentage against a fraction).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "benchmarks/README.md")
RESULTS = REPO / "benchmarks" / "results"

#: Constants that look like figures, each with the reason it is not a measurement: (file, the text
#: around the number as written, reason).
ALLOWED: tuple[tuple[str, str, str], ...] = (
    ("README.md", "about +-2.0 at scale 13", "the sign table's range: a circuit constant"),
    ("README.md", "2 s to send headers, 30 s to read a request, 120 s idle", "celestia-node's server limits"),
    ("README.md", "330 MB x", "the Ray executor's memory reservation per task (DESIGN.md §4)"),
    ("README.md", "-10x", "the sign-flip attack's factor: a scenario parameter"),
    ("benchmarks/README.md", "330 MB reserved", "the Ray executor's memory reservation per task"),
)

_UNIT = r"(?:s|ms|us|microseconds|min|minutes|%|KB|MB|GB|KiB|MiB|GiB|CPU-s)(?![\w-])"
_NUM = r"\d[\d,]*(?:\.\d+)?"
#: A number, or a range of two, optionally followed by a unit or an ``x`` written on it.
_FIGURE = re.compile(
    rf"(?<![\w.])(?P<a>{_NUM})(?:\s*-\s*(?P<b>{_NUM}))?(?P<x>x(?![\w]))?(?:\s*(?P<unit>{_UNIT}))?"
)
_VERSION_WORDS = re.compile(r"(?:Python|ezkl|EZKL|torch|numpy|ray|flwr|Linux|>=|version)\s*$")
_CODE_SPAN = re.compile(r"`[^`]*`")
_POWER = re.compile(r"\d+\*\*\(?[\w\s+-]*\)?")


@dataclass(frozen=True)
class Figure:
    """One quoted figure: where it is, as written, its unit and the result files its section names."""

    file: str
    line: int
    text: str
    unit: str
    sources: tuple[Path, ...] = ()

    @property
    def value(self) -> float:
        return float(self.text.replace(",", ""))

    @property
    def decimals(self) -> int:
        return len(self.text.split(".")[1]) if "." in self.text else 0


def _numbers_in(text: str) -> list[str]:
    return [m.group(0) for m in re.finditer(_NUM, text)]


_RESULT_NAME = re.compile(r"[\w./-]*\.(?:md|json)|[\w./-]*results/[\w./-]*")


def _cited(text: str) -> set[Path]:
    """The files under benchmarks/results/ that ``text`` names."""
    out: set[Path] = set()
    every = [p for p in RESULTS.rglob("*") if p.is_file()]
    for name in _RESULT_NAME.findall(text):
        name = name.rstrip("./")
        tail = name.split("results/", 1)[1] if "results/" in name else name
        if not tail:
            continue
        for p in every:
            rel = p.relative_to(RESULTS).as_posix()
            if rel == tail or rel.startswith(tail + "/") or p.name == tail:
                out.add(p)
    return out | {p.with_suffix(".json") for p in out if p.with_suffix(".json").exists()}


def _sections(lines: list[str]) -> list[tuple[int, tuple[Path, ...]]]:
    """(first line, result files named) of each section of a markdown file's lines, in order."""
    starts = [0] + [i for i, line in enumerate(lines) if line.startswith("#")] + [len(lines)]
    out = []
    for a, b in itertools.pairwise(starts):
        out.append((a + 1, tuple(sorted(_cited("\n".join(lines[a:b]))))))
    return out


def figures(file: str, root: Path = REPO) -> Iterator[Figure]:
    """The figures of ``root / file`` by the rules of this module."""
    fenced = False
    lines = (root / file).read_text().splitlines()
    sections = _sections(lines)
    for lineno, raw in enumerate(lines, start=1):
        sources = next(src for start, src in reversed(sections) if start <= lineno)
        if raw.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        line = _POWER.sub(" ", _CODE_SPAN.sub(" ", raw))
        for _, snippet, _ in (a for a in ALLOWED if a[0] == file):
            line = line.replace(snippet, " ")
        if line.lstrip().startswith("|"):
            cells = [c.strip().strip("*").strip() for c in line.strip().strip("|").split("|")]
            for cell in cells:
                if re.match(r"\d", cell):
                    for n in _numbers_in(cell):
                        if n.count(".") <= 1:
                            yield Figure(file, lineno, n, "", sources)
            continue
        for sentence in re.split(r"(?<=[.;:!?])\s+", line):
            if "goal" in sentence.lower():
                continue
            for m in _FIGURE.finditer(sentence):
                if _VERSION_WORDS.search(sentence[: m.start()]) or re.match(r"\.\d", sentence[m.end() :]):
                    continue
                unit = m.group("unit") or ("x" if m.group("x") else "")
                for part in (m.group("a"), m.group("b")):
                    if part is None:
                        continue
                    if "." in part or unit:
                        yield Figure(file, lineno, part, unit, sources)


def _collect(value: object, into: set[float]) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        if math.isfinite(value):
            into.add(float(value))
    elif isinstance(value, str):
        into.update(float(n.replace(",", "")) for n in _numbers_in(value))
    elif isinstance(value, dict):
        for v in value.values():
            _collect(v, into)
    elif isinstance(value, list):
        for v in value:
            _collect(v, into)


def recorded_numbers(paths: tuple[Path, ...]) -> list[float]:
    """Every number in ``paths`` (JSON values, numbers in markdown or text)."""
    found: set[float] = set()
    for path in paths:
        if path.suffix == ".json":
            _collect(json.loads(path.read_text()), found)
        elif path.suffix in (".md", ".txt", ".csv"):
            _collect(path.read_text(), found)
    return sorted(found)


#: How a recorded number converts to the unit a figure is written in (seconds and bytes recorded).
_CONVERSIONS = {
    "min": (1 / 60,),
    "minutes": (1 / 60,),
    "ms": (1.0, 1e3),
    "us": (1.0, 1e6),
    "microseconds": (1.0, 1e6),
    "%": (1.0, 100.0),
    "KB": (1.0, 1e-3, 1 / 1024),
    "MB": (1.0, 1e-6, 1 / 2**20),
}


def supported(fig: Figure, recorded: list[float]) -> bool:
    """Whether some recorded number rounds to ``fig`` at the precision it is written with."""
    half = 0.5 * 10 ** (-fig.decimals) + 1e-9
    return any(
        abs(r * factor - fig.value) <= half for factor in _CONVERSIONS.get(fig.unit, (1.0,)) for r in recorded
    )


def test_every_quoted_figure_has_a_committed_source() -> None:
    # Prepare
    cache: dict[tuple[Path, ...], list[float]] = {}
    # Execute
    missing = [
        f
        for file in DOCS
        for f in figures(file)
        if not supported(f, cache.setdefault(f.sources, recorded_numbers(f.sources)))
    ]
    # Assert
    listing = "\n".join(
        f"  {f.file}:{f.line}: {f.text}{f.unit}"
        + ("" if f.sources else " (its section names no result file)")
        for f in missing
    )
    assert not missing, (
        f"{len(missing)} figure(s) quoted without a committed source under benchmarks/results/ "
        f"(re-word, remove, or record them with a program in benchmarks/; tests/test_figures.py "
        f"defines the rules):\n{listing}"
    )


def test_the_rules_find_figures_and_skip_versions_goals_and_code(tmp_path: Path) -> None:
    # Prepare
    (tmp_path / "doc.md").write_text(
        "# A\n"
        "On Python 3.11 with ezkl 23.0.5, 8 clients took 35.4 s and 12 minutes (`--scale 13.5`).\n"
        "Our goal is 100x. FedAvg was 244x faster; 7-9 s per client; 2**32 values.\n"
        "```\nzkagg bench --length 7.5\n```\n"
        "## B (`fl_rounds.md`)\n"
        "| rule | s |\n|---|---|\n| median | 6.87 (4 x 1.5) |\n"
    )
    # Execute
    found = list(figures("doc.md", root=tmp_path))
    # Assert: what counts, with its unit and its section's sources
    assert [(f.text, f.unit) for f in found] == [
        ("35.4", "s"),
        ("12", "minutes"),
        ("244", "x"),
        ("7", "s"),
        ("9", "s"),
        ("6.87", ""),
        ("4", ""),
        ("1.5", ""),
    ]
    assert found[0].sources == ()
    assert {p.name for p in found[-1].sources} == {"fl_rounds.md", "fl_rounds.json"}
    # rounding at the written precision, and unit conversions
    assert supported(Figure("f", 1, "35.4", "s"), [35.43])
    assert not supported(Figure("f", 1, "35.4", "s"), [35.46])
    assert supported(Figure("f", 1, "0.92", ""), [0.9191])
    assert not supported(Figure("f", 1, "0.919", ""), [0.9141])
    assert supported(Figure("f", 1, "21", "minutes"), [1262.0])
    assert not supported(Figure("f", 1, "21", "minutes"), [21.0])
    assert supported(Figure("f", 1, "36", "%"), [0.3612])
