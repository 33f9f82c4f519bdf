"""Attack switches for fault tests, benchmarks and ``zkagg run``: how a Byzantine party cheats.

Nothing here is used by an honest party. Each attack is the cheat the protocol must catch: the
tests and ``zkagg run --byzantine-*`` switch them on to show which party refuses what.
"""

from __future__ import annotations

import dataclasses
from typing import Final

import numpy as np
import numpy.typing as npt

from zkagg._aggregation.records import ShardAggregate
from zkagg._errors import InvalidArgument
from zkagg._field import FIELD_MODULUS

__all__ = ["CLIENT_ATTACKS", "NORM_EVASIONS", "SHARD_ATTACKS", "attacked_update", "tamper_aggregate"]

CLIENT_ATTACKS: Final = ("sign-flip", "scaled")
#: What a Byzantine client does when its attacked update exceeds the deployment's norm bound and no
#: valid proof exists: ``forge`` posts a (valid) norm proof of its clipped honest update, which is
#: bound to other commitments than the ones it posts; ``omit`` posts no proof.
NORM_EVASIONS: Final = ("forge", "omit")
SHARD_ATTACKS: Final = (
    "tamper-aggregate",
    "replay",
    "withhold",
    "include-unproven",
    "censor",
    "withhold-reveal",
)


def attacked_update(
    attack: str | None, scale: float, honest: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """What a client with ``attack`` posts instead of its ``honest`` update (Fang et al., USENIX Security 2020).

    ``sign-flip`` posts ``-scale`` times the honest update, ``scaled`` ``+scale`` times; ``None`` the
    honest update itself.
    """
    if attack is None:
        return honest
    if attack == "sign-flip":
        return -scale * honest
    if attack == "scaled":
        return scale * honest
    raise InvalidArgument(f"attack must be one of {', '.join(CLIENT_ATTACKS)} or None, not {attack!r}")


def tamper_aggregate(agg: ShardAggregate) -> ShardAggregate:
    """One aggregate value changed by one quantum, consistently (the encoding stays well formed)."""
    if agg.spec.rule == "fedavg":
        sums = [list(c) for c in agg.sums]
        sums[0][0] = (sums[0][0] + agg.total_weight) % FIELD_MODULUS
        tampered = dataclasses.replace(agg, sums=tuple(tuple(c) for c in sums))
        return ShardAggregate.from_bytes(tampered.to_bytes())  # recomputes the float aggregate
    values = np.array(agg.aggregate, dtype=np.float64)
    values[0] += 2.0**-agg.spec.scale
    return dataclasses.replace(agg, aggregate=values)
