"""FedTrimmedAvg (Yin et al. 2018) with commitments checked and the trimmed mean proven with EZKL."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flwr.serverapp.strategy import FedTrimmedAvg

from zkagg._aggregation.spec import AggregationSpec
from zkagg._errors import InvalidArgument
from zkagg._executors._base import Executor
from zkagg.integrations.flower._base import verified_aggregate_train
from zkagg.integrations.flower._verifier import ZkaggVerifier

__all__ = ["ZkFedTrimmedAvg"]


class ZkFedTrimmedAvg(FedTrimmedAvg):
    """Flower's FedTrimmedAvg whose replies are checked against their commitments and whose result is proven.

    ``floor(beta * N)`` values are cut at each end of every coordinate, as Flower does; the
    trimmed sum of every chunk is proven with zkagg's cut-point circuit (:mod:`zkagg._aggregation.rules`).

    Parameters
    ----------
    beta
        Fraction cut at each end, in ``(0, 0.5)`` (zkagg's spec needs a positive ``beta``).
    spec
        The agreed spec (rule ``trimmed_mean`` with the same ``beta``); default chunk size 256.
    executor
        Where the chunk proofs run; default: in this process.
    **kwargs
        Flower's FedTrimmedAvg arguments.
    """

    def __init__(
        self,
        *,
        beta: float = 0.2,
        spec: AggregationSpec | None = None,
        executor: Executor | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(beta=beta, **kwargs)
        the_spec = (
            spec if spec is not None else AggregationSpec(rule="trimmed_mean", beta=beta, chunk_size=256)
        )
        if the_spec.beta != beta:
            raise InvalidArgument(f"spec.beta must equal beta ({beta!r}), not {the_spec.beta!r}")
        self.zkagg = ZkaggVerifier(the_spec, "trimmed_mean", executor)

    def configure_train(self, server_round: int, arrays: Any, config: Any, grid: Any) -> Iterable[Any]:
        """Flower's train messages, with the zkagg spec in the config."""
        self.zkagg.add_spec(config)
        return super().configure_train(server_round, arrays, config, grid)

    def aggregate_train(self, server_round: int, replies: Iterable[Any]) -> tuple[Any, Any]:
        """Drop mismatching replies, prove the trimmed mean of the rest, verify the proofs."""
        return verified_aggregate_train(self, self.zkagg, server_round, replies)
