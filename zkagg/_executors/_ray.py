"""Proving tasks as Ray tasks, each reserving the memory its circuit's logrows needs.

Every :class:`~zkagg._executors.ProveTask` becomes one Ray task with ``num_cpus=1`` and
``memory=task.memory_bytes`` (330 MB x 2**(logrows - 15), DESIGN.md §4), so Ray's scheduler never
places more proofs on a node than its memory holds, and spreads the rest over the cluster. Needs
the ``ray`` extra (``pip install 'zkagg[ray]'``).

Connecting: with ``address=None`` and no Ray running in this process, a local Ray instance is
started (and stopped by :meth:`RayExecutor.close`); ``address="auto"`` or ``"ray://host:10001"``
joins a running cluster. When this process already called ``ray.init``, that session is used and
left running.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

from zkagg._errors import InvalidArgument, ProvingError, ZkaggError
from zkagg._executors._base import ProveTask, TaskResult, run_prove_task

__all__ = ["RayExecutor", "import_ray"]

#: Object store of a Ray instance this executor starts itself: proofs are kilobytes.
_OBJECT_STORE_BYTES = 100 * 2**20


def import_ray() -> Any:
    """The ``ray`` module, or :class:`~zkagg.InvalidArgument` naming the extra to install."""
    try:
        import ray
    except ImportError as exc:
        raise InvalidArgument(
            "executor 'ray' needs Ray, which is not installed: pip install 'zkagg[ray]'"
        ) from exc
    return ray


class RayExecutor:
    """Runs tasks as Ray tasks with memory requirements from their logrows.

    Parameters
    ----------
    address
        A Ray cluster to join (``"auto"``, ``"ray://host:10001"``); ``None`` starts a local instance
        unless this process is already connected.
    num_cpus
        CPUs of a local instance this executor starts (default: all).
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None) -> None:
        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise InvalidArgument(
                f"address must be a Ray address such as 'auto' or 'ray://host:10001', not {address!r}"
            )
        if num_cpus is not None and (
            isinstance(num_cpus, bool) or not isinstance(num_cpus, int) or num_cpus < 1
        ):
            raise InvalidArgument(f"num_cpus must be a positive integer, not {num_cpus!r}")
        self._ray = import_ray()
        self.address = address
        self._owns = False
        if not self._ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address is None:
                kwargs["num_cpus"] = num_cpus
                kwargs["object_store_memory"] = _OBJECT_STORE_BYTES
            try:
                self._ray.init(address=address, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise InvalidArgument(
                    f"cannot connect to the Ray cluster at address {address!r}: {exc}"
                ) from exc
            self._owns = True
        self._remote = self._ray.remote(run_prove_task)

    @property
    def workers(self) -> int:
        """CPUs in the cluster (each task takes one)."""
        return int(self._ray.cluster_resources().get("CPU", 1))

    def run(self, tasks: Sequence[ProveTask]) -> list[TaskResult]:
        """Submit every task to Ray and wait for all of them.

        Raises the first failing task's :class:`~zkagg.ZkaggError` as the task raised it, and any
        other task failure (a worker killed for memory, a lost node) as
        :class:`~zkagg.ProvingError` naming the task.
        """
        refs = [
            self._remote.options(num_cpus=1, memory=t.memory_bytes, name=t.label).remote(t) for t in tasks
        ]
        results: list[TaskResult] = []
        for task, ref in zip(tasks, refs, strict=True):
            try:
                results.append(self._ray.get(ref))
            except Exception as exc:
                cause = getattr(exc, "cause", None)
                if isinstance(cause, ZkaggError):
                    raise cause from exc
                raise ProvingError(f"ray task {task.label!r} failed: {type(exc).__name__}: {exc}") from exc
        return results

    def close(self) -> None:
        """Stop the local Ray instance if this executor started it."""
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
