"""Coordinate-wise trimmed mean (Yin et al. 2018), proven by checking claimed cut points.

Yin, Chen, Ramchandran and Bartlett, "Byzantine-Robust Distributed Learning: Towards Optimal
Statistical Rates", ICML 2018: per coordinate, drop the ``b = floor(beta * N)`` largest and the
``b`` smallest of the ``N`` client values and average the remaining ``N - 2b``.

The circuit proves the exact **trimmed sum** ``T`` (an integer in quanta); the mean is the public,
deterministic rescale ``T / ((N - 2b) * 2**scale)`` done by the verifier, as for FedAvg. It takes
the clients' chunks, the claimed cut points ``lower`` and ``upper`` (private witnesses, committed
but never opened) and the claimed ``trimmed_sum``, all ``polycommit`` inputs, and outputs one public
total violation that the verifier requires to be 0::

    S_lo = Sign(X - lower), S_hi = Sign(X - upper)                    # [N, D]
    v_lo = Relu(|sum S_lo - delta_lo| + sum S_lo**2 - (N - 1))        # lower is the (b+1)-th smallest
    v_hi = Relu(|sum S_hi - delta_hi| + sum S_hi**2 - (N - 1))        # upper is the (N-b)-th smallest
    C2   = 2X + (lower - X)(1 - S_lo) - (X - upper)(1 + S_hi)         # 2 * clip(X, lower, upper)
    e    = |ReduceSum(C2, axis 0) - 2b (lower + upper) - 2 trimmed_sum|
    violation = ReduceSum(v_lo + v_hi + e)

Why it is sound (argument, also tested):

1. ``v_lo = 0`` in a coordinate iff ``lower`` is exactly the ``(b+1)``-th smallest client value,
   and ``v_hi = 0`` iff ``upper`` is the ``(N-b)``-th smallest (the order-statistic test of
   :func:`zkagg.circuits._graph.order_statistic_delta`, ties included).
2. ``(lower - x)(1 - s_lo) = 2 relu(lower - x)`` and ``(x - upper)(1 + s_hi) = 2 relu(x - upper)``
   for ``s = sign`` exactly, so ``C2 = 2 clip(x, lower, upper)`` (polynomial identities, no rounding).
3. With ``lower = x_(b+1)`` and ``upper = x_(N-b)``, the ``b`` smallest values clip to ``lower``, the
   ``b`` largest to ``upper`` and the middle ``N - 2b`` are unchanged (values equal to a cut point
   clip to themselves), so ``sum clip(x_i) = b lower + T + b upper``: ``e = 0`` iff
   ``trimmed_sum = T``.
4. Every term is a non-negative integer: ``v`` below ``2N``, and ``e`` below ``2**28`` because ezkl's
   ``Abs`` decomposes its argument into range-checked limbs (a claimed sum further off has no witness
   at all). Their sum over ``D`` coordinates cannot wrap in the field, so it is 0 only if every term
   is. The inputs keep ezkl's range checks (the cut points are prover-chosen and compared).

Cost: two ``Sign`` per client value (about 16 rows) plus products and sums, against two ``TopK``
passes in the direct formulation (:func:`zkagg.circuits.baselines.topk_trimmed_mean_circuit`).
"""

from __future__ import annotations

from zkagg._errors import InvalidArgument
from zkagg.circuits._graph import Circuit, GraphBuilder, check_shape_args, integer_run_args

__all__ = ["trim_count", "trimmed_mean_circuit"]


def trim_count(n_clients: int, beta: float) -> int:
    """``b = floor(beta * N)``: values dropped at each end; requires ``0 <= beta < 0.5``."""
    if isinstance(beta, bool) or not isinstance(beta, int | float) or not 0 <= beta < 0.5:
        raise InvalidArgument(f"beta must be a number in [0, 0.5), not {beta!r}")
    b = int(beta * n_clients)
    if 2 * b >= n_clients:  # pragma: no cover - beta < 0.5 prevents it
        raise InvalidArgument(f"beta={beta} trims every one of {n_clients} clients")
    return b


def trimmed_mean_circuit(
    n_clients: int,
    chunk_size: int,
    trim: int,
    *,
    logrows: int | None,
    range_checked: bool = True,
) -> Circuit:
    """Build the cut-point check of the trimmed sum for one chunk.

    Parameters
    ----------
    n_clients
        Number of clients ``N``.
    chunk_size
        Values per chunk ``D``.
    trim
        ``b``: values dropped at each end (:func:`trim_count`), ``0 <= 2b < N``.
    logrows
        The commitment domain's logrows.
    range_checked
        Keep ezkl's input/output range checks (the default); ``False`` only for measurements.

    Returns
    -------
    Circuit
        Inputs ``client_0 .. client_{N-1}``, ``lower``, ``upper``, ``trimmed_sum`` (each ``[1, D]``,
        ``polycommit``) and one public output ``violation`` (``[1, 1]``) that must be 0.
    """
    check_shape_args(n_clients, chunk_size)
    if isinstance(trim, bool) or not isinstance(trim, int) or not 0 <= 2 * trim < n_clients:
        raise InvalidArgument(f"trim must be an integer with 0 <= 2 * trim < {n_clients}, not {trim!r}")
    g = GraphBuilder("trimmed_mean")
    clients = [g.input(f"client_{i}", [1, chunk_size]) for i in range(n_clients)]
    lower = g.input("lower", [1, chunk_size])
    upper = g.input("upper", [1, chunk_size])
    claimed = g.input("trimmed_sum", [1, chunk_size])
    x = g.op("Concat", *clients, axis=0) if n_clients > 1 else clients[0]
    v_lo, s_lo = g.order_statistic_violation(x, lower, n_clients, trim + 1)
    v_hi, s_hi = g.order_statistic_violation(x, upper, n_clients, n_clients - trim)
    one = g.const([[1.0]], "one")
    two = g.const([[2.0]], "two")
    up_lo = g.op("Mul", g.op("Sub", lower, x), g.op("Sub", one, s_lo))  # 2 relu(lower - x)
    down_hi = g.op("Mul", g.op("Sub", x, upper), g.op("Add", one, s_hi))  # 2 relu(x - upper)
    clip2 = g.op("Sub", g.op("Add", g.op("Mul", x, two), up_lo), down_hi)
    total2 = g.reduce_sum(clip2, [0])
    if trim:
        cuts = g.op("Mul", g.op("Add", lower, upper), g.const([[float(2 * trim)]], "two_b"))
        total2 = g.op("Sub", total2, cuts)
    error = g.op("Abs", g.op("Sub", total2, g.op("Mul", claimed, two)))
    per_coordinate = g.op("Add", g.op("Add", v_lo, v_hi), error)
    g.reduce_sum(per_coordinate, [0, 1], out="violation")
    g.output("violation", [1, 1])
    params = {"n_clients": n_clients, "chunk_size": chunk_size, "trim": trim}
    return g.circuit(integer_run_args(logrows, range_checked=range_checked), params)
