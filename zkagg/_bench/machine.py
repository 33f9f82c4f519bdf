"""The machine a benchmark ran on, named in every output (CONVENTIONS.md §15).

One implementation for ``zkagg bench`` and the scripts in ``benchmarks/`` (``benchmarks/harness.py``
re-exports it): CPU model, cores, memory, OS, Python, the versions of the packages that matter for
the numbers, the load average when the run started and when it was taken. Linux files
(``/proc/cpuinfo``, ``/proc/meminfo``) are read where they exist; elsewhere the fields fall back to
what :mod:`platform` knows, or ``None``.
"""

from __future__ import annotations

import os
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["cpu_model", "describe_machine"]

#: Packages whose versions are recorded with every result.
_VERSIONED = ("zkagg", "ezkl", "onnx", "onnxruntime", "torch", "numpy", "ray", "flwr")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe_machine() -> dict[str, Any]:
    """CPU model, cores, memory, OS, Python and the versions that matter for the numbers."""
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "load_1min_at_start": load,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
