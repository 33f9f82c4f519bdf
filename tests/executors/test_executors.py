"""Executors: the same shard proven in this process, in a local process pool and as Ray tasks.

Real EZKL proofs (median circuit, logrows 15, two chunks) and a real local Ray instance. Ray is an
optional extra that the README's set-up installs: a missing install fails here, it does not skip.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from zkagg import AggregationSpec, InvalidArgument, aggregate_shard, commit_update, verify_shard
from zkagg._aggregation.rules import plan_rule
from zkagg._executors import (
    LocalExecutor,
    SerialExecutor,
    make_executor,
    task_memory_bytes,
)

SPEC = AggregationSpec(rule="median", chunk_size=64, scale=13)
N_CLIENTS, LENGTH = 3, 100  # two chunks of 64


@pytest.fixture(scope="module")
def shard() -> tuple[np.ndarray, list[bytes]]:
    rng = np.random.default_rng(5)
    updates = rng.normal(scale=0.3, size=(N_CLIENTS, LENGTH))
    return updates, [commit_update(SPEC, x) for x in updates]  # type: ignore[misc]


@pytest.fixture(scope="module")
def serial_result(shard: tuple[np.ndarray, list[object]]) -> object:
    """The reference: the serial executor (the default path is tested in tests/aggregation)."""
    updates, _ = shard
    with SerialExecutor() as executor:
        return aggregate_shard(SPEC, updates, executor=executor)


@pytest.fixture(scope="module")
def ray_executor() -> Iterator[object]:
    import ray  # the optional extra, imported only by the test that needs it

    from zkagg._executors import RayExecutor

    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=80 * 2**20, log_to_driver=False)
    try:
        yield RayExecutor()
    finally:
        ray.shutdown()


def _check_same(result: object, reference: object, shard: tuple[np.ndarray, list[object]]) -> None:
    _, commitments = shard
    verify_shard(SPEC, commitments, None, result)  # type: ignore[arg-type]
    assert np.array_equal(result.aggregate, reference.aggregate)  # type: ignore[attr-defined]
    assert [p.circuit_id for p in result.proofs] == [p.circuit_id for p in reference.proofs]  # type: ignore[attr-defined]
    assert [p.chunk for p in result.proofs] == [0, 1]  # type: ignore[attr-defined]


@pytest.mark.slow
def test_local_pool_gives_the_same_result(
    shard: tuple[np.ndarray, list[object]], serial_result: object
) -> None:
    # Prepare
    updates, _ = shard
    # Execute
    with LocalExecutor(workers=2) as executor:
        result = aggregate_shard(SPEC, updates, executor=executor)
    # Assert
    _check_same(result, serial_result, shard)


@pytest.mark.slow
def test_ray_tasks_give_the_same_result(
    shard: tuple[np.ndarray, list[object]], serial_result: object, ray_executor: object
) -> None:
    # Prepare
    updates, _ = shard
    # Execute
    result = aggregate_shard(SPEC, updates, executor=ray_executor)  # type: ignore[arg-type]
    # Assert
    _check_same(result, serial_result, shard)


@pytest.mark.slow
def test_ray_task_errors_reach_the_caller_unchanged(ray_executor: object) -> None:
    # Prepare: a task whose inputs do not fit the circuit (too few values)
    import dataclasses

    q = np.zeros((N_CLIENTS, 64), dtype=np.int64)
    task = plan_rule("median", SPEC.domain(), q).tasks("shard 0")[0]
    bad = dataclasses.replace(task, inputs=[[0] * 3 for _ in task.inputs])
    # Execute / Assert
    with pytest.raises(InvalidArgument, match="must have 64 values"):
        ray_executor.run([bad])  # type: ignore[attr-defined]


def test_tasks_reserve_memory_from_their_logrows() -> None:
    # Prepare
    q = np.zeros((N_CLIENTS, 64), dtype=np.int64)
    # Execute
    tasks = plan_rule("median", SPEC.domain(), q).tasks("shard 3")
    # Assert
    assert [t.label for t in tasks] == ["shard 3 chunk 0"]
    assert tasks[0].memory_bytes == 330 * 10**6
    assert task_memory_bytes(17) == 4 * 330 * 10**6


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "dask"}, "executor must be one of serial, local, ray, not 'dask'"),
        ({"name": "local", "workers": 0}, "workers must be a positive integer, not 0"),
        ({"name": "serial", "workers": 4}, "workers must be 1 .* for executor 'serial', not 4"),
        ({"name": "local", "ray_address": "auto"}, "ray_address is only for executor 'ray', not 'local'"),
    ],
)
def test_bad_executor_arguments_name_the_argument(kwargs: dict[str, object], message: str) -> None:
    # Execute / Assert
    with pytest.raises(InvalidArgument, match=message):
        make_executor(**kwargs)  # type: ignore[arg-type]


def test_memory_of_an_impossible_logrows_is_refused() -> None:
    # Execute / Assert
    with pytest.raises(InvalidArgument, match=r"logrows must be an integer in \[15, 24\], not 14"):
        task_memory_bytes(14)
