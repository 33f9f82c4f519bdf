"""What every executor runs: a self-contained proving task, its memory requirement, and the protocol.

A :class:`ProveTask` carries everything a worker process needs to make one EZKL proof: the circuit
(ONNX bytes and run arguments), the identity of the SRS (``None`` for this machine's dev SRS), the
cache root, and the inputs. A worker compiles the circuit with :func:`zkagg.build_circuit`, a cache
hit whenever it shares the cache root with the process that planned the task (the usual case: a
local pool, or Ray workers on the same machine). Workers on other machines build the keys once in
their own cache; they need the same SRS, so a multi-machine deployment uses a ceremony SRS
registered under the same hash on every machine (a dev SRS is generated per machine, DESIGN.md §3).

Memory: proving peaks at about 330 MB x 2**(logrows - 15) (DESIGN.md §4, ezkl 23.0.5),
:func:`task_memory_bytes`; the Ray executor reserves that much per task so that a node never runs
more proofs at once than its memory holds.
"""

from __future__ import annotations

import os
import resource
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol

from zkagg._errors import InvalidArgument
from zkagg._prover.artifacts import RunArgs, build_circuit
from zkagg._prover.proof import prove
from zkagg._prover.srs import MAX_LOGROWS, MIN_LOGROWS, srs_by_hash

__all__ = [
    "EXECUTORS",
    "PEAK_BYTES_K15",
    "Executor",
    "ProveTask",
    "SerialExecutor",
    "TaskResult",
    "run_prove_task",
    "task_memory_bytes",
]

#: The executor names ``make_executor`` and ``zkagg bench --executor`` accept.
EXECUTORS = ("serial", "local", "ray")
#: Measured peak memory of one proof at logrows 15 (DESIGN.md §4); it doubles with every logrow.
PEAK_BYTES_K15 = 330 * 10**6


def task_memory_bytes(logrows: int) -> int:
    """Peak memory of one proof of a circuit of ``logrows`` (330 MB x 2**(logrows - 15))."""
    if isinstance(logrows, bool) or not isinstance(logrows, int) or not MIN_LOGROWS <= logrows <= MAX_LOGROWS:
        raise InvalidArgument(
            f"logrows must be an integer in [{MIN_LOGROWS}, {MAX_LOGROWS}], not {logrows!r}"
        )
    return PEAK_BYTES_K15 << (logrows - MIN_LOGROWS)


@dataclass(frozen=True)
class ProveTask:
    """One proof to make, with everything a worker process needs.

    Attributes
    ----------
    label
        What the proof is of (``"shard 2 chunk 5"``), for errors and reports.
    onnx
        The circuit's ONNX bytes.
    run_args
        The run arguments it is compiled with (their ``logrows`` must be set).
    inputs
        One list of values per circuit input.
    srs_sha256
        The ceremony SRS to use, by hash; ``None`` for the dev SRS of ``home``.
    home
        The cache root (``ZKAGG_HOME``) the worker uses.
    """

    label: str
    onnx: bytes = field(repr=False)
    run_args: RunArgs
    inputs: list[list[int]] = field(repr=False)
    srs_sha256: str | None
    home: str

    def __post_init__(self) -> None:
        if self.run_args.logrows is None:
            raise InvalidArgument(f"task {self.label!r}: run_args.logrows must be set, not None")

    @property
    def logrows(self) -> int:
        """The circuit's logrows."""
        assert self.run_args.logrows is not None
        return self.run_args.logrows

    @property
    def memory_bytes(self) -> int:
        """The memory one proof of this circuit needs (:func:`task_memory_bytes`)."""
        return task_memory_bytes(self.logrows)


@dataclass(frozen=True)
class TaskResult:
    """A finished task: the proof (:meth:`zkagg.Proof.to_bytes`) and where and how long it ran.

    ``seconds`` is the wall time of build lookup, witness, prove and self-check in the worker;
    ``peak_rss_mib`` the worker process's peak resident memory so far.
    """

    label: str
    proof: bytes = field(repr=False)
    seconds: float
    peak_rss_mib: float
    worker: str


def run_prove_task(task: ProveTask) -> TaskResult:
    """Make the task's proof in this process (what every executor's workers call)."""
    t0 = time.perf_counter()
    srs = None if task.srs_sha256 is None else srs_by_hash(task.srs_sha256, task.logrows, home=task.home)
    artifacts = build_circuit(task.onnx, task.run_args, srs=srs, home=task.home)
    proof = prove(artifacts, task.inputs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker = f"{socket.gethostname()}:{os.getpid()}"
    return TaskResult(task.label, proof.to_bytes(), time.perf_counter() - t0, peak, worker)


class Executor(Protocol):
    """Runs proving tasks; results come back in task order. Implementations: serial, local, Ray.

    Every implementation gives the same results for the same tasks: proofs of the same circuits
    over the same inputs (the proof bytes themselves are randomized by ezkl, their statements are
    not). Errors raised by a task (:class:`~zkagg.ZkaggError`) reach the caller unchanged.
    """

    name: str

    @property
    def workers(self) -> int:
        """How many tasks may run at once."""
        ...

    def run(self, tasks: Sequence[ProveTask]) -> list[TaskResult]:
        """Run ``tasks`` (possibly in parallel) and return their results in order."""
        ...

    def close(self) -> None:
        """Release workers (idempotent)."""
        ...


class SerialExecutor:
    """Runs every task in this process, one after the other (the default: no worker start-up)."""

    name = "serial"

    @property
    def workers(self) -> int:
        """Always 1."""
        return 1

    def run(self, tasks: Sequence[ProveTask]) -> list[TaskResult]:
        """Prove each task in order."""
        return [run_prove_task(t) for t in tasks]

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
