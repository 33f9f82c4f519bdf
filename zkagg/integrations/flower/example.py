"""An offline Flower app with a zkagg strategy: softmax regression on scikit-learn's digits.

Runs in Flower's simulation (Ray backend, local, no network)::

    python -m zkagg.integrations.flower.example --rule fedavg --clients 4 --rounds 2 --liar 1

Each simulated client trains a softmax regression (numpy, full-batch gradient descent, so the
result is deterministic) on its slice of the digits training set (``partition-id::num-partitions``),
commits to the arrays it replies with (:func:`~zkagg.integrations.flower.commit_arrays`) and sends
them. The client whose partition id is the train config's ``"zkagg-example-liar"`` sends different
arrays than the ones it committed to (every value shifted by 0.25): the strategy drops it and
aggregates the others.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")

from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp

from zkagg._aggregation.spec import AggregationSpec
from zkagg._errors import InvalidArgument
from zkagg.integrations.flower._records import commit_arrays, spec_from_config
from zkagg.integrations.flower.fedavg import ZkFedAvg
from zkagg.integrations.flower.fedmedian import ZkFedMedian
from zkagg.integrations.flower.fedtrimmedavg import ZkFedTrimmedAvg

__all__ = [
    "LIAR_KEY",
    "ExampleOutcome",
    "client_app",
    "initial_arrays",
    "local_fit",
    "make_server_app",
    "run_example",
]

#: Train-config key naming the partition that lies (example only).
LIAR_KEY = "zkagg-example-liar"
#: How far the liar's arrays are from what it committed to.
TAMPER = 0.25
_FEATURES, _CLASSES = 64, 10


def _partition(
    partition_id: int, num_partitions: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    from zkagg._fl.data import load_digits_task

    data = load_digits_task(seed=0)
    x = np.asarray(data.x_train, dtype=np.float64)[partition_id::num_partitions]
    y = np.asarray(data.y_train, dtype=np.int64)[partition_id::num_partitions]
    return x, y


def initial_arrays() -> ArrayRecord:
    """The global model before round 1: zero weights and biases."""
    from flwr.app import Array

    return ArrayRecord(
        {
            "w": Array(np.zeros((_FEATURES, _CLASSES), dtype=np.float32)),
            "b": Array(np.zeros(_CLASSES, dtype=np.float32)),
        }
    )


def local_fit(
    w: npt.ArrayLike,
    b: npt.ArrayLike,
    partition_id: int,
    num_partitions: int,
    *,
    steps: int = 20,
    lr: float = 0.5,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], int]:
    """Full-batch gradient descent on one partition's cross-entropy: new ``w``, ``b`` and sample count."""
    x, y = _partition(partition_id, num_partitions)
    wf = np.asarray(w, dtype=np.float64).copy()
    bf = np.asarray(b, dtype=np.float64).copy()
    onehot = np.eye(_CLASSES)[y]
    for _ in range(steps):
        logits = x @ wf + bf
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        grad = (p - onehot) / len(y)
        wf -= lr * (x.T @ grad)
        bf -= lr * grad.sum(axis=0)
    return wf.astype(np.float32), bf.astype(np.float32), len(y)


client_app = ClientApp()


@client_app.train()
def train(msg: Message, context: Context) -> Message:
    """Train locally, commit to the reply's arrays, and reply (the liar then changes them)."""
    from flwr.app import Array

    pid = int(context.node_config["partition-id"])
    parts = int(context.node_config["num-partitions"])
    arrays = cast(ArrayRecord, msg.content["arrays"])
    config = cast(ConfigRecord, msg.content["config"])
    spec = spec_from_config(config)
    w, b, n = local_fit(arrays["w"].numpy(), arrays["b"].numpy(), pid, parts)
    reply = ArrayRecord({"w": Array(w), "b": Array(b)})
    zk = commit_arrays(reply, spec)
    if config.get(LIAR_KEY, -1) == pid:
        reply = ArrayRecord({"w": Array(w + np.float32(TAMPER)), "b": Array(b + np.float32(TAMPER))})
    content = RecordDict({"arrays": reply, "metrics": MetricRecord({"num-examples": n}), "zkagg": zk})
    return Message(content=content, reply_to=msg)


@client_app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    """Accuracy of the global model on this partition."""
    pid = int(context.node_config["partition-id"])
    parts = int(context.node_config["num-partitions"])
    arrays = cast(ArrayRecord, msg.content["arrays"])
    x, y = _partition(pid, parts)
    pred = np.argmax(x @ arrays["w"].numpy() + arrays["b"].numpy(), axis=1)
    metrics = MetricRecord({"accuracy": float(np.mean(pred == y)), "num-examples": len(y)})
    return Message(content=RecordDict({"metrics": metrics}), reply_to=msg)


@dataclass
class ExampleOutcome:
    """What a run left: the strategy (with its per-round zkagg records) and Flower's result."""

    strategy: Any
    result: Any = None


def make_strategy(rule: str, n_clients: int, spec: AggregationSpec | None = None) -> Any:
    """The zkagg strategy for ``rule`` sampling all ``n_clients`` nodes every round."""
    common: dict[str, Any] = {
        "min_train_nodes": n_clients,
        "min_evaluate_nodes": n_clients,
        "min_available_nodes": n_clients,
    }
    if rule == "fedavg":
        return ZkFedAvg(spec=spec, **common)
    if rule == "median":
        return ZkFedMedian(spec=spec, **common)
    if rule == "trimmed_mean":
        return ZkFedTrimmedAvg(spec=spec, **common)
    raise InvalidArgument(f"rule must be one of fedavg, median, trimmed_mean, not {rule!r}")


def make_server_app(strategy: Any, rounds: int, liar: int | None, outcome: ExampleOutcome) -> ServerApp:
    """A ServerApp running ``strategy`` for ``rounds`` rounds; the result lands in ``outcome``."""
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        config = ConfigRecord({LIAR_KEY: -1 if liar is None else liar})
        outcome.result = strategy.start(
            grid=grid, initial_arrays=initial_arrays(), num_rounds=rounds, train_config=config
        )

    return app


def run_example(
    rule: str = "fedavg",
    *,
    n_clients: int = 4,
    rounds: int = 1,
    liar: int | None = None,
    spec: AggregationSpec | None = None,
    num_cpus: int = 2,
) -> ExampleOutcome:
    """Run the app in Flower's simulation (local Ray, no network) and return what it left."""
    from flwr.simulation import run_simulation

    if isinstance(n_clients, bool) or not isinstance(n_clients, int) or n_clients < 2:
        raise InvalidArgument(f"n_clients must be an integer >= 2, not {n_clients!r}")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise InvalidArgument(f"rounds must be a positive integer, not {rounds!r}")
    if liar is not None and not 0 <= liar < n_clients:
        raise InvalidArgument(f"liar must be a partition id in [0, {n_clients}), not {liar!r}")
    outcome = ExampleOutcome(make_strategy(rule, n_clients, spec))
    run_simulation(
        server_app=make_server_app(outcome.strategy, rounds, liar, outcome),
        client_app=client_app,
        num_supernodes=n_clients,
        backend_config={
            "init_args": {
                "num_cpus": num_cpus,
                "include_dashboard": False,
                "object_store_memory": 80 * 2**20,
                "log_to_driver": False,
            },
            "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
        },
    )
    if outcome.result is None:
        raise InvalidArgument("the Flower simulation ended without a result (see Flower's log above)")
    return outcome


def main(argv: list[str] | None = None, run: Callable[..., ExampleOutcome] = run_example) -> None:
    """Command line: run the example and print what the strategy accepted and rejected."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rule", default="fedavg", choices=["fedavg", "median", "trimmed_mean"])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--liar", type=int, default=None)
    args = parser.parse_args(argv)
    outcome = run(args.rule, n_clients=args.clients, rounds=args.rounds, liar=args.liar)
    for r, record in sorted(outcome.strategy.zkagg.rounds.items()):
        print(
            f"round {r}: accepted nodes {record.accepted}; rejected {[(x.node_id, x.reason) for x in record.rejected]}"
        )


if __name__ == "__main__":
    main()
