"""What every zkagg Flower strategy does with a round's replies: check, aggregate, verify.

1. **Check** each reply's arrays against the commitment in its ``"zkagg"`` record
   (:mod:`._records`): the commitment must decode, be in the spec's commitment domain, cover as many
   values as the arrays, and equal the commitment of the arrays' quantized values chunk by chunk.
   A reply that fails is dropped and recorded in :attr:`RoundRecord.rejected` with the reason;
   it never reaches the aggregate.
2. **Aggregate** the accepted replies with :func:`zkagg.aggregate_shard` under the spec's rule
   (exact weighted sums for FedAvg; median and trimmed mean proven chunk by chunk with EZKL,
   optionally on an executor such as Ray).
3. **Verify** the result against the accepted clients' commitments with :func:`zkagg.verify_shard`
   (homomorphically for FedAvg, the chunk proofs for median and trimmed mean); the verified
   :class:`~zkagg.ShardAggregate` (and its encoding, which anyone can re-verify from the posted
   commitments) is kept per round in :attr:`ZkaggVerifier.rounds`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from logging import INFO, WARNING
from typing import Any

from zkagg._aggregation.records import ShardAggregate
from zkagg._aggregation.shard import aggregate_shard, verify_shard
from zkagg._aggregation.spec import AggregationSpec
from zkagg._errors import CommitmentMismatch, InvalidArgument, ZkaggError
from zkagg._executors._base import Executor
from zkagg._kzg.commit import UpdateCommitment, commit_update
from zkagg.integrations.flower._records import (
    COMMITMENT_KEY,
    RECORD_KEY,
    SPEC_KEY,
    flatten_arrays,
    unflatten_arrays,
)

__all__ = ["Rejection", "RoundRecord", "ZkaggVerifier"]


@dataclass(frozen=True)
class Rejection:
    """A reply that was dropped: the node it came from and why."""

    node_id: int
    reason: str


@dataclass
class RoundRecord:
    """What a zkagg strategy decided in one round."""

    accepted: list[int] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    commitments: list[UpdateCommitment] = field(default_factory=list)
    weights: list[int] = field(default_factory=list)
    result: ShardAggregate | None = None


class ZkaggVerifier:
    """The zkagg side of a Flower strategy (one per strategy instance)."""

    def __init__(self, spec: AggregationSpec, rule: str, executor: Executor | None = None) -> None:
        if not isinstance(spec, AggregationSpec):
            raise InvalidArgument(f"spec must be a zkagg.AggregationSpec, not {type(spec).__name__}")
        if spec.rule != rule:
            raise InvalidArgument(f"spec.rule must be {rule!r} for this strategy, not {spec.rule!r}")
        self.spec = spec
        self.executor = executor
        self.rounds: dict[int, RoundRecord] = {}

    def add_spec(self, config: Any) -> None:
        """Put the encoded spec in a train config (clients commit in its domain)."""
        config[SPEC_KEY] = self.spec.to_bytes()

    def check(
        self, server_round: int, replies: Sequence[Any], weighted_by_key: str
    ) -> tuple[list[Any], RoundRecord]:
        """Split replies into accepted and rejected ones (see the module docstring)."""
        from flwr.supercore import log

        record = RoundRecord()
        accepted = []
        domain = self.spec.domain()
        for msg in replies:
            node = int(msg.metadata.src_node_id)
            try:
                commitment, weight = self._check_one(msg, server_round, weighted_by_key, domain)
            except ZkaggError as exc:
                record.rejected.append(Rejection(node, str(exc)))
                log(WARNING, "zkagg: rejected the reply of node %d in round %d: %s", node, server_round, exc)
                continue
            accepted.append(msg)
            record.accepted.append(node)
            record.commitments.append(commitment)
            record.weights.append(weight)
        log(
            INFO,
            "zkagg: round %d accepted %d replies, rejected %d",
            server_round,
            len(accepted),
            len(record.rejected),
        )
        self.rounds[server_round] = record
        return accepted, record

    def _check_one(
        self, msg: Any, server_round: int, weighted_by_key: str, domain: Any
    ) -> tuple[UpdateCommitment, int]:
        content = msg.content
        if (
            RECORD_KEY not in content.config_records
            or COMMITMENT_KEY not in content.config_records[RECORD_KEY]
        ):
            raise CommitmentMismatch(
                f"the reply carries no commitment (a ConfigRecord {RECORD_KEY!r} with key {COMMITMENT_KEY!r})"
            )
        commitment = UpdateCommitment.from_bytes(bytes(content.config_records[RECORD_KEY][COMMITMENT_KEY]))
        domain.require_same(commitment.domain, "the reply's commitment")
        arrays = next(iter(content.array_records.values()))
        flat, _ = flatten_arrays(arrays)
        if commitment.length != flat.size:
            raise CommitmentMismatch(
                f"the commitment covers {commitment.length} values, the arrays hold {flat.size}"
            )
        actual = commit_update(self.spec, flat)
        for j, (posted, got) in enumerate(zip(commitment.points, actual.points, strict=True)):
            if posted != got:
                raise CommitmentMismatch(
                    f"the reply's arrays do not match its commitment at round {server_round}, chunk {j}"
                )
        metrics = next(iter(content.metric_records.values()))
        raw = metrics[weighted_by_key]
        if isinstance(raw, bool) or not isinstance(raw, int | float) or raw < 1 or int(raw) != raw:
            raise InvalidArgument(
                f"{weighted_by_key!r} must be a positive whole number of examples, not {raw!r}"
            )
        return commitment, int(raw)

    def aggregate(self, server_round: int, accepted: Sequence[Any]) -> Any:
        """The verified aggregate of the accepted replies as an ``ArrayRecord`` (or ``None``)."""
        record = self.rounds[server_round]
        if not accepted:
            return None
        layout = None
        updates = []
        for msg in accepted:
            flat, lay = flatten_arrays(next(iter(msg.content.array_records.values())))
            if layout is not None and lay != layout:
                raise InvalidArgument(
                    "every accepted reply must hold arrays of the same keys, shapes and dtypes"
                )
            layout = lay
            updates.append(flat)
        assert layout is not None
        weights = record.weights if self.spec.rule == "fedavg" else None
        result = aggregate_shard(
            self.spec, updates, weights, commitments=record.commitments, executor=self.executor
        )
        verify_shard(self.spec, record.commitments, weights, ShardAggregate.from_bytes(result.to_bytes()))
        record.result = result
        return unflatten_arrays(result.aggregate, layout)
