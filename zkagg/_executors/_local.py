"""A pool of local worker processes (the default parallel executor).

Workers are started with the ``spawn`` method: ezkl runs its own threads, and forking a process
that has them is unsafe. Each worker imports zkagg once (about a second) and then proves task after
task; keys are read from the shared cache. On one machine, parallel proofs only pay when cores are
free: DESIGN.md §4 measured two proofs in two processes on 2 cores slower than in series, because
ezkl already uses every core. The pool is for machines with many cores; Ray is for many machines.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType

from zkagg._errors import InvalidArgument
from zkagg._executors._base import ProveTask, TaskResult, run_prove_task

__all__ = ["LocalExecutor"]


class LocalExecutor:
    """Runs tasks in a pool of ``workers`` spawned processes on this machine.

    Parameters
    ----------
    workers
        Processes in the pool (default: the number of CPUs).
    """

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        if workers is None:
            workers = os.cpu_count() or 1
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise InvalidArgument(f"workers must be a positive integer, not {workers!r}")
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None

    @property
    def workers(self) -> int:
        """Processes in the pool."""
        return self._workers

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers, mp_context=multiprocessing.get_context("spawn")
            )
        return self._pool

    def run(self, tasks: Sequence[ProveTask]) -> list[TaskResult]:
        """Submit every task and wait for all; the first task error is raised (the others finish)."""
        pool = self._ensure_pool()
        futures: list[Future[TaskResult]] = [pool.submit(run_prove_task, t) for t in tasks]
        return [f.result() for f in futures]

    def close(self) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
