"""FedAvg with per-client L2 norm clipping to ``C``, proven chunk by chunk.

Each client's whole update is scaled by ``f_i = min(1, C / ||x_i||_2)`` before the weighted average
(as in DP-FedAvg, McMahan et al. 2018, "Learning Differentially Private Recurrent Language Models").
The norm is a property of the whole update, not of one chunk, so the clip factors are computed once
and fed to every chunk's proof as a committed input, and each chunk's proof also outputs the
clients' partial sums of squares so that the verifier can recompute the factors itself::

    weighted_sum   = sum_i n_i * f_i * client_i                      # [1, D], exact integers
    sum_of_squares = [client_i . client_i for each i]                 # [1, N], exact integers

All values are the committed integers (scale 0, see :mod:`zkagg.circuits._graph`); ``f_i`` is
carried as the integer ``floor(2**F * min(1, C / ||x_i||))`` with ``F`` fixed bits
(:func:`zkagg._aggregation.rules.clip_factors`), ``n_i`` are integer sample counts baked in as constants, so
nothing is rescaled or rounded in the circuit. The clipped mean is the deterministic rescale
``weighted_sum / (2**F * sum_i n_i * 2**scale)``.

Soundness: the verifier (``zkagg._aggregation.rules.verify_rule``) (1) adds each client's partial sums over all
chunks (the exact ``||x_i||**2`` in quanta), (2) recomputes the factors with exact integer
arithmetic, (3) checks that every chunk proof's committed ``factors`` input is the commitment of
exactly those factors, and (4) reads the aggregate from the public output. The inputs keep ezkl's
range checks, with three 14-bit limbs (``|x| < 2**42``; the outputs, sums of squares, need the
width) so that no square wraps around the field modulus (see :mod:`zkagg.circuits.norm_bound`). Compared with an in-circuit ``Sqrt``/``Reciprocal``/``Clip``
(about 9x FedAvg's rows, DESIGN.md §4) the circuit is products and sums only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zkagg.circuits._graph import Circuit, GraphBuilder, check_shape_args, integer_run_args
from zkagg.circuits.fedavg import check_integer_weights

__all__ = ["clipped_fedavg_circuit"]


def clipped_fedavg_circuit(
    weights: Sequence[int] | np.ndarray,
    chunk_size: int,
    *,
    logrows: int | None,
    range_checked: bool = True,
) -> Circuit:
    """Build the clipped weighted-sum circuit for one chunk.

    Parameters
    ----------
    weights
        One positive integer weight per client (sample counts).
    chunk_size
        Values per chunk ``D``.
    logrows
        The commitment domain's logrows.
    range_checked
        Keep ezkl's input range checks (required for soundness; ``False`` only for measurements).

    Returns
    -------
    Circuit
        Inputs ``client_0 .. client_{N-1}`` (``[1, D]``) and ``factors`` (``[1, N]``), all
        ``polycommit``; public outputs ``weighted_sum`` (``[1, D]``) and ``sum_of_squares`` (``[1, N]``).
    """
    w = check_integer_weights(weights)
    n = len(w)
    check_shape_args(n, chunk_size)
    g = GraphBuilder("clipped_fedavg")
    clients = [g.input(f"client_{i}", [1, chunk_size]) for i in range(n)]
    factors = g.input("factors", [1, n])
    x = g.op("Concat", *clients, axis=0) if n > 1 else clients[0]
    scaled = g.op(
        "Mul",
        g.op("Transpose", factors, perm=[1, 0]),
        g.const(np.asarray(w, dtype=np.float64).reshape(-1, 1), "weights"),
    )
    g.reduce_sum(g.op("Mul", x, scaled), [0], out="weighted_sum")
    g.output("weighted_sum", [1, chunk_size])
    squares = [g.op("MatMul", c, g.op("Transpose", c, perm=[1, 0])) for c in clients]
    if n > 1:
        g.op("Concat", *squares, axis=1, out="sum_of_squares")
    else:
        g.op("Identity", squares[0], out="sum_of_squares")
    g.output("sum_of_squares", [1, n])
    params = {"n_clients": n, "chunk_size": chunk_size, "weights": w}
    return g.circuit(integer_run_args(logrows, range_checked=range_checked, decomp_legs=3), params)
