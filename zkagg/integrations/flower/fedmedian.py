"""FedMedian (Yin et al. 2018) with commitments checked and the median proven with EZKL."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flwr.serverapp.strategy import FedMedian

from zkagg._aggregation.spec import AggregationSpec
from zkagg._executors._base import Executor
from zkagg.integrations.flower._base import verified_aggregate_train
from zkagg.integrations.flower._verifier import ZkaggVerifier

__all__ = ["ZkFedMedian"]


class ZkFedMedian(FedMedian):
    """Flower's FedMedian whose replies are checked against their commitments and whose median is proven.

    Every chunk of the coordinate-wise median is proven with zkagg's sign-count circuit over the
    accepted clients' committed chunks (:mod:`zkagg._aggregation.rules`) and the proofs are verified before
    the aggregate is used. For an even number of clients the median is the mean of the two middle
    values rounded down at the spec's scale (Flower's is the float mean).

    Parameters
    ----------
    spec
        The agreed spec (rule ``median``); default chunk size 256, scale 13, logrows 15.
    executor
        Where the chunk proofs run (:mod:`zkagg._executors`, e.g. Ray); default: in this process.
    **kwargs
        Flower's FedMedian arguments.
    """

    def __init__(
        self, *, spec: AggregationSpec | None = None, executor: Executor | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        default = AggregationSpec(rule="median", chunk_size=256)
        self.zkagg = ZkaggVerifier(spec if spec is not None else default, "median", executor)

    def configure_train(self, server_round: int, arrays: Any, config: Any, grid: Any) -> Iterable[Any]:
        """Flower's train messages, with the zkagg spec in the config."""
        self.zkagg.add_spec(config)
        return super().configure_train(server_round, arrays, config, grid)

    def aggregate_train(self, server_round: int, replies: Iterable[Any]) -> tuple[Any, Any]:
        """Drop mismatching replies, prove the median of the rest, verify the proofs."""
        return verified_aggregate_train(self, self.zkagg, server_round, replies)
