"""FedAvg (McMahan et al. 2017) with commitments checked and the aggregate verified homomorphically."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flwr.serverapp.strategy import FedAvg

from zkagg._aggregation.spec import AggregationSpec
from zkagg._executors._base import Executor
from zkagg.integrations.flower._base import verified_aggregate_train
from zkagg.integrations.flower._verifier import ZkaggVerifier

__all__ = ["ZkFedAvg"]


class ZkFedAvg(FedAvg):
    """Flower's FedAvg whose replies are checked against their commitments and whose aggregate is verified.

    The weighted mean uses the ``weighted_by_key`` metric as integer sample counts and is checked
    without a SNARK (the exact weighted sum against the combination of the commitments,
    DESIGN.md §3). A reply whose arrays do not match its commitment is dropped
    (``strategy.zkagg.rounds[r].rejected``).

    Parameters
    ----------
    spec
        The agreed spec (rule ``fedavg``); default chunk size 1024, scale 13, logrows 15.
    executor
        Unused by FedAvg (no proofs); accepted for symmetry with the other strategies.
    **kwargs
        Flower's FedAvg arguments (``fraction_train``, ``min_train_nodes``, ...).
    """

    def __init__(
        self, *, spec: AggregationSpec | None = None, executor: Executor | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.zkagg = ZkaggVerifier(
            spec if spec is not None else AggregationSpec(rule="fedavg"), "fedavg", executor
        )

    def configure_train(self, server_round: int, arrays: Any, config: Any, grid: Any) -> Iterable[Any]:
        """Flower's train messages, with the zkagg spec in the config."""
        self.zkagg.add_spec(config)
        return super().configure_train(server_round, arrays, config, grid)

    def aggregate_train(self, server_round: int, replies: Iterable[Any]) -> tuple[Any, Any]:
        """Drop mismatching replies, aggregate the rest, verify the aggregate."""
        return verified_aggregate_train(self, self.zkagg, server_round, replies)
