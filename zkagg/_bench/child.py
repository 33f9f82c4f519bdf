"""Measurements in a fresh child process: its own CPU seconds, its own peak memory, an empty cache.

Every measurement of a pipeline runs in a fresh spawned process (:func:`in_child`), so peak memory
is that process's own (``ru_maxrss``) and CPU seconds are its own. Each zkagg child gets an empty
cache root with the SRS files linked in (:func:`fresh_home`), so one-time set-up (the commitment
domain and the rule circuit's keys) is measured every time, and reported apart from the round.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from zkagg._home import zkagg_home
from zkagg._prover.srs import dev_srs

__all__ = ["cpu_seconds", "fresh_home", "in_child"]


def cpu_seconds() -> float:
    """User and system CPU seconds of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _child_main(fn: Callable[..., dict[str, Any]], args: tuple[Any, ...]) -> dict[str, Any]:
    c0 = cpu_seconds()
    out = fn(*args)
    out["child_cpu_s"] = cpu_seconds() - c0
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["load_1min_at_end"] = os.getloadavg()[0]
    return out


def in_child(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run ``fn(*args)`` in a fresh spawned process; add its CPU seconds, peak RSS (MiB) and the load."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_child_main, fn, args).result()


@contextmanager
def fresh_home(logrows: Sequence[int]) -> Iterator[Path]:
    """An empty cache root with this machine's dev SRS files linked in, as this process's ``ZKAGG_HOME``.

    The SRS of every logrows in ``logrows`` is generated first if missing (in the home the process
    started with); every other dev SRS already cached is linked too (circuits that pick their own
    logrows find it). The root is removed on exit; ``ZKAGG_HOME`` is not restored (the child ends).
    """
    home = Path(tempfile.mkdtemp(prefix="zkagg-bench-home-"))
    target = home / "srs" / "dev"
    target.mkdir(parents=True)
    for k in sorted(set(logrows)):
        dev_srs(k, home=zkagg_home())
    for path in sorted((zkagg_home() / "srs" / "dev").glob("k*.srs")):
        meta = path.with_name(f"{path.name}.json")
        if meta.exists():
            os.symlink(path, target / path.name)
            shutil.copyfile(meta, target / meta.name)
    os.environ["ZKAGG_HOME"] = str(home)
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)
