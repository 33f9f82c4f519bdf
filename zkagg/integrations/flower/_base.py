"""The train-round steps the three zkagg strategies share (configure with the spec, verified aggregate)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from zkagg.integrations.flower._verifier import ZkaggVerifier

__all__ = ["verified_aggregate_train"]


def verified_aggregate_train(
    strategy: Any, verifier: ZkaggVerifier, server_round: int, replies: Iterable[Any]
) -> tuple[Any, Any]:
    """Flower's reply checks, then zkagg's; returns ``(arrays, metrics)``.

    Replies that do not match their commitments are dropped, the rest aggregated under the spec's
    rule and the result verified.
    """
    valid, _ = strategy._check_and_log_replies(replies, is_train=True)
    if not valid:
        return None, None
    accepted, _ = verifier.check(server_round, valid, strategy.weighted_by_key)
    arrays = verifier.aggregate(server_round, accepted)
    if arrays is None:
        return None, None
    metrics = strategy.train_metrics_aggr_fn([m.content for m in accepted], strategy.weighted_by_key)
    return arrays, metrics
