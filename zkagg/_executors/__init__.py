"""Executors: where shard and chunk proofs run (DESIGN.md §6).

One protocol, :class:`Executor`, three implementations:

* :class:`SerialExecutor`: in this process, one proof after the other (the default);
* :class:`LocalExecutor`: a pool of local worker processes;
* :class:`RayExecutor`: Ray tasks with memory requirements from the circuits' logrows (``ray`` extra).

Chunk proofs of a shard, and the shards of a round, are independent :class:`ProveTask` objects, so
every executor gives the same results; :func:`zkagg._aggregation.rules.prove_rule` and
:func:`zkagg.aggregate_shard` take one as ``executor=``.
"""

from __future__ import annotations

from zkagg._errors import InvalidArgument
from zkagg._executors._base import (
    EXECUTORS,
    PEAK_BYTES_K15,
    Executor,
    ProveTask,
    SerialExecutor,
    TaskResult,
    run_prove_task,
    task_memory_bytes,
)
from zkagg._executors._local import LocalExecutor
from zkagg._executors._ray import RayExecutor

__all__ = [
    "EXECUTORS",
    "PEAK_BYTES_K15",
    "Executor",
    "LocalExecutor",
    "ProveTask",
    "RayExecutor",
    "SerialExecutor",
    "TaskResult",
    "make_executor",
    "run_prove_task",
    "task_memory_bytes",
]


def make_executor(name: str, *, workers: int | None = None, ray_address: str | None = None) -> Executor:
    """The executor called ``name`` (``serial``, ``local`` or ``ray``).

    ``workers`` sizes the local pool (or the CPUs of a local Ray instance); ``ray_address`` is only
    for ``ray``.
    """
    if name not in EXECUTORS:
        raise InvalidArgument(f"executor must be one of {', '.join(EXECUTORS)}, not {name!r}")
    if ray_address is not None and name != "ray":
        raise InvalidArgument(f"ray_address is only for executor 'ray', not {name!r} (got {ray_address!r})")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise InvalidArgument(f"workers must be a positive integer, not {workers!r}")
    if name == "serial":
        if workers not in (None, 1):
            raise InvalidArgument(f"workers must be 1 (or unset) for executor 'serial', not {workers!r}")
        return SerialExecutor()
    if name == "local":
        return LocalExecutor(workers)
    return RayExecutor(ray_address, num_cpus=workers if ray_address is None else None)
