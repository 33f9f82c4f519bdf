"""From shard aggregates to the next global model, with exact integer rounding (DESIGN.md §1, step 4).

Rounding is exact and documented: ``round_div(a, b)`` is the integer nearest to ``a / b``, ties away
from zero. A shard's integer update is ``u_k = round_div(A_k, d_k)`` for its exact integer
aggregate ``A_k`` and the rule's divisor ``d_k`` (FedAvg: ``A_k = sum n_i q_i``, ``d_k = sum n_i``;
median: ``d_k = 1``; trimmed mean: ``d_k = N - 2b``). The global update is
``round_div(sum_k A_k, sum_k d_k)`` for FedAvg (exactly FedAvg over every accepted client, checked
homomorphically against all their commitments with :func:`~zkagg.verify_shard` of
:func:`~zkagg.combine_shards`), and ``round_div(sum_k W_k u_k, sum_k W_k)`` for the other rules,
``W_k`` being the shard's total sample count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from zkagg._aggregation.records import ShardAggregate
from zkagg._aggregation.rules import SPEC_RULES, aggregate_to_int, rule_divisor
from zkagg._aggregation.shard import combine_shards, verify_shard
from zkagg._aggregation.spec import AggregationSpec
from zkagg._errors import InvalidArgument
from zkagg._field import IntArray, felt_to_signed
from zkagg._kzg.commit import UpdateCommitment

__all__ = ["MAX_MODEL_QUANTA", "aggregate_ints", "compose_global", "round_div", "shard_model", "shard_update"]

#: The largest magnitude of a model value in quanta. A shard whose model ``g + u_k`` has a value
#: beyond it is refused: committed values have no range of their own (a client and a shard that
#: collude can commit to ``2**100``), and a composed model stays within it whenever every shard's
#: does (a weighted mean of values within the bound, plus at most one quantum of rounding).
#: ``2**53`` quanta is ``2**40`` at scale 13: far beyond any trained model, exact in float64.
MAX_MODEL_QUANTA: Final = 2**53


def round_div(a: Sequence[int] | IntArray, b: int) -> IntArray:
    """Per value, the integer nearest to ``a / b`` (``b > 0``), ties away from zero; exact.

    Raises :class:`~zkagg.InvalidArgument` when a quotient does not fit in 64 bits (a vector no
    honest party produces), rather than overflowing.
    """
    if b < 1:
        raise InvalidArgument(f"divisor must be positive, not {b}")
    out = []
    for j, v in enumerate(int(x) for x in a):
        m = (2 * abs(v) + b) // (2 * b)
        if m >= 2**63:
            raise InvalidArgument(
                f"value {j} divided by {b} is {m.bit_length()} bits long, beyond 64-bit integers"
            )
        out.append(m if v >= 0 else -m)
    return np.asarray(out, dtype=np.int64)


def aggregate_ints(agg: ShardAggregate) -> tuple[list[int], int]:
    """The exact integer aggregate of a (verified) shard aggregate and its divisor."""
    spec = agg.spec
    if spec.rule == "fedavg":
        flat = [felt_to_signed(v) for chunk in agg.sums for v in chunk[: spec.chunk_size]]
        return flat[: agg.length], agg.total_weight
    divisor = rule_divisor(SPEC_RULES[spec.rule], agg.n_clients, agg.weights, spec.beta)
    return aggregate_to_int(agg.aggregate, divisor, spec.scale, agg.length), divisor


def shard_update(agg: ShardAggregate) -> IntArray:
    """The shard's integer model update ``round_div(A, d)`` (see the module docstring)."""
    ints, divisor = aggregate_ints(agg)
    return round_div(ints, divisor)


def shard_model(global_q: IntArray, agg: ShardAggregate) -> IntArray:
    """The shard's model ``g + u_k``, refused when a value lies beyond :data:`MAX_MODEL_QUANTA`.

    Raises
    ------
    InvalidArgument
        A value of the model (or of the update) is out of range; the message names the first.
    """
    update = shard_update(agg)
    if update.size != global_q.size:
        raise InvalidArgument(f"the shard update has {update.size} values, the global model {global_q.size}")
    model = [int(g) + int(u) for g, u in zip(global_q.tolist(), update.tolist(), strict=True)]
    for j, v in enumerate(model):
        if abs(v) > MAX_MODEL_QUANTA:
            raise InvalidArgument(
                f"the shard's model value {j} is {v} quanta, beyond the range of a model (+-2**53)"
            )
    return np.asarray(model, dtype=np.int64)


def compose_global(
    spec: AggregationSpec,
    global_q: IntArray,
    accepted: Sequence[tuple[ShardAggregate, Sequence[UpdateCommitment]]],
) -> IntArray:
    """The next global model from the accepted shards (module docstring); FedAvg checked homomorphically.

    Raises
    ------
    InvalidArgument
        No accepted shard.
    InvalidProof, CommitmentMismatch
        FedAvg: the composed sums do not open the combination of every accepted client commitment.
    """
    if not accepted:
        raise InvalidArgument("accepted must hold at least one shard aggregate")
    if spec.rule == "fedavg":
        combined = combine_shards([a for a, _ in accepted])
        commitments = [c for _, cs in accepted for c in cs]
        verify_shard(spec, commitments, list(combined.weights), combined)
        ints, divisor = aggregate_ints(combined)
        return global_q + round_div(ints, divisor)
    total = [0] * int(global_q.size)
    weight = 0
    for agg, _ in accepted:
        w = agg.total_weight
        weight += w
        for j, v in enumerate(shard_update(agg).tolist()):
            total[j] += w * v
    return global_q + round_div(total, weight)


# -- reading the DA layer --------------------------------------------------------------------------
