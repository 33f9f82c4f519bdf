"""FedAvg as an EZKL circuit, for users who want a SNARK for every step (for example on chain).

zkagg does not need a proof for FedAvg: the shard publishes the exact weighted sum and anyone checks
it against the client commitments with group arithmetic (DESIGN.md §3, ``zkagg._kzg.commit``). This
circuit is the alternative, proving the same exact weighted sum::

    weighted_sum = sum_i n_i * client_i          # n_i integer weights (sample counts), constants

with one ``polycommit`` input per client (what per-client linking needs). Weights are normalized
outside the circuit (DESIGN.md §4: an in-circuit division by their sum costs 1.5-5x rows and is
numerically wrong at N = 64): the circuit keeps the integer weights and the verifier divides the
exact sum by ``sum_i n_i`` and ``2**scale``, the same deterministic rescale as homomorphic FedAvg.
Working on the committed integers (scale 0) means ezkl never rescales the products, so the output is
exact and there is no rounding to bound.

Run arguments (DESIGN.md §3): ``ignore_range_check_inputs_outputs=True`` cuts rows about 4x
(1.5 rows per client value, 16 x 1,024 values fit logrows 15) and is sound here: the output is an
exact sum in the field of committed inputs times public constants, nothing compares or decomposes a
value, and the output is public, so the verifier reads the aggregate itself and can bound it; the
inputs are the clients' committed field elements whatever their size. ``num_inner_cols=2``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zkagg._errors import InvalidArgument
from zkagg.circuits._graph import Circuit, GraphBuilder, check_shape_args, integer_run_args

__all__ = ["check_integer_weights", "fedavg_circuit"]


def check_integer_weights(weights: Sequence[int] | np.ndarray) -> list[int]:
    """Positive integer weights (sample counts) as Python ints, or :class:`~zkagg.InvalidArgument`."""
    values = list(np.asarray(weights).ravel().tolist()) if not isinstance(weights, list) else list(weights)
    if not values:
        raise InvalidArgument("weights must be a non-empty sequence of positive integers")
    out = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or int(v) < 1:
            if isinstance(v, float) and v.is_integer() and v >= 1:
                out.append(int(v))
                continue
            raise InvalidArgument(f"weights[{i}] must be a positive integer (a sample count), not {v!r}")
        out.append(int(v))
    if max(out) >= 2**24:
        raise InvalidArgument(
            f"weights must be below 2**24 (float32 constants are exact there), not {max(out)}"
        )
    return out


def fedavg_circuit(
    weights: Sequence[int] | np.ndarray,
    chunk_size: int,
    *,
    logrows: int | None,
    range_checked: bool = False,
) -> Circuit:
    """Build the weighted-sum circuit for one chunk.

    Parameters
    ----------
    weights
        One positive integer weight per client (sample counts), baked into the circuit.
    chunk_size
        Values per chunk ``D``.
    logrows
        The commitment domain's logrows.
    range_checked
        Keep ezkl's input/output range checks; ``False`` (the default) is sound (module docstring).

    Returns
    -------
    Circuit
        Inputs ``client_0 .. client_{N-1}`` (``[1, D]``, ``polycommit``), output ``weighted_sum``
        (``[1, D]``, public) equal to ``sum_i n_i * client_i`` exactly.
    """
    w = check_integer_weights(weights)
    check_shape_args(len(w), chunk_size)
    g = GraphBuilder("fedavg")
    clients = [g.input(f"client_{i}", [1, chunk_size]) for i in range(len(w))]
    stacked = g.op("Concat", *clients, axis=0) if len(w) > 1 else clients[0]
    weighted = g.op("Mul", stacked, g.const(np.asarray(w, dtype=np.float64).reshape(-1, 1), "weights"))
    g.reduce_sum(weighted, [0], out="weighted_sum")
    g.output("weighted_sum", [1, chunk_size])
    params = {"n_clients": len(w), "chunk_size": chunk_size, "weights": w}
    return g.circuit(integer_run_args(logrows, range_checked=range_checked), params)
