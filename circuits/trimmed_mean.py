"""Coordinate-wise trimmed mean (Yin et al. 2018), proven by checking claimed cut points.

Yin, Chen, Ramchandran and Bartlett, "Byzantine-Robust Distributed Learning: Towards Optimal
Statistical Rates", ICML 2018: per coordinate, drop the ``b = floor(beta * N)`` largest and the
``b`` smallest of the ``N`` client values and average the remaining ``N - 2b``.

The circuit proves the exact **trimmed sum** ``T`` (an integer in quanta); the mean is the public,
deterministic rescale ``T / ((N - 2b) * 2**scale)`` done by the verifier, as for FedAvg. It takes
the clients' chunks, the claimed cut points ``lower`` and ``upper`` (private witnesses, committed
but never opened) and the claimed ``trimmed_sum``, all ``polycommit`` inputs, and outputs one public
total violation that the verifier requires to be 0::

    D_lo = X - lower, D_hi = X - upper                                # [N, D]
    S_lo = Sign([D_lo; -lower]) without its last row, S_hi = Sign(D_hi)
    v_lo = Relu(|sum S_lo - delta_lo| + sum S_lo**2 - (N - 1))        # lower is the (b+1)-th smallest
    v_hi = Relu(|sum S_hi - delta_hi| + sum S_hi**2 - (N - 1))        # upper is the (N-b)-th smallest
    e    = |(N - 2b)(lower + upper) + sum (D_lo S_lo - D_hi S_hi) - 2 trimmed_sum|
    violation = ReduceSum(v_lo + v_hi + e)

Why it is sound (argument, also tested):

1. ``v_lo = 0`` in a coordinate iff ``lower`` is exactly the ``(b+1)``-th smallest client value,
   and ``v_hi = 0`` iff ``upper`` is the ``(N-b)``-th smallest (the order-statistic test of
   :func:`zkagg.circuits._graph.order_statistic_delta`, ties included).
2. ``d * sign(d) = |d|`` exactly, so the sum is ``sum_i |x_i - lower| - |x_i - upper|``, and for
   ``lower <= upper`` every term is ``2 clip(x_i, lower, upper) - lower - upper``. With
   ``lower = x_(b+1)`` and ``upper = x_(N-b)`` the ``b`` smallest values clip to ``lower``, the
   ``b`` largest to ``upper`` and the middle ``N - 2b`` are unchanged (values equal to a cut point
   clip to themselves), so ``sum_i 2 clip(x_i) = 2 (b lower + T + b upper)`` and ``e = 0`` iff
   ``trimmed_sum = T``: ``(N - 2b)(lower + upper) + sum_i (2 clip(x_i) - lower - upper) = 2T``.
3. Every term is a non-negative integer: ``v`` below ``2N``, and ``e`` below ``2**28`` because ezkl's
   ``Abs`` decomposes its argument into range-checked limbs (a claimed sum further off has no witness
   at all). Their sum over ``D`` coordinates cannot wrap in the field, so it is 0 only if every term
   is.
4. Without input range checks (``range_checked=False``, the default). DESIGN.md §3 forbids dropping
   them in front of a comparison with a prover-chosen value *when nothing else bounds it*. Here
   every compared quantity is bounded by the comparison itself: ezkl's ``Sign`` decomposes its
   argument into two range-checked 14-bit limbs and a sign, so a witness exists only if
   ``|x_i - lower| < 2**28`` and ``|x_i - upper| < 2**28`` for every client, and the extra row
   ``0 - lower`` gives ``|lower| < 2**28``. Hence every client value, both cut points and their
   differences are integers in ``(-2**30, 2**30)``, far from the field's wrap-around, and the
   signs, counts and absolute values of points 1-2 are those of the signed integers the clients
   committed (a client that commits a huge field element makes the shard unprovable, exactly as the
   input range check would). ``trimmed_sum`` is bound by ``e`` and by the verifier, which compares
   its commitment with the published aggregate. ``range_checked=True`` keeps ezkl's input checks
   as well (redundant; about 6 rows per value more).
5. With ``method="lookup"`` every sign is a ``Tanh`` table lookup instead (:mod:`zkagg.circuits._graph`,
   "Signs by lookup"), and so is every ``|.|`` and ``Relu``
   (:meth:`~zkagg.circuits._graph.GraphBuilder.order_statistics_by_lookup`): the rank tests give
   0 or 2 per claim and coordinate, and ``e = E * sign(E)`` for ``E = (N - 2b)(lower + upper) +
   sum (D_lo S_lo - D_hi S_hi) - 2 trimmed_sum``. A witness exists only if every looked-up value
   (``x_i - lower``, ``0 - lower``, ``x_i - upper``, the centred counts, the rank totals and
   ``E``) is an entry of the table, so ``|.| < 2**logrows`` in place of ``2**28``, with exact
   signs; point 4's argument holds with the smaller bound, and ``trimmed_sum`` is bounded through
   ``E``. Every term is again a non-negative integer far below the modulus. Constants are few and
   distinct and ``(N - 2b)(lower + upper)`` is built from additions (``GraphBuilder.times``), so
   ezkl lays the graph out without its decomposition tables.

Cost: two ``Sign`` per client value (about 23 rows) plus products and sums, against two ``TopK``
passes in the direct formulation (:func:`zkagg.circuits.baselines.topk_trimmed_mean_circuit`):
27-31 rows per client value against 30. With lookups 10-12.5 rows per client value (15 to 5
clients) and no range-check tables; the shard picks lookups whenever its values fit the table
(:func:`zkagg._aggregation.rules.sign_method`).
"""

from __future__ import annotations

from zkagg._errors import InvalidArgument
from zkagg.circuits._graph import (
    Circuit,
    GraphBuilder,
    check_shape_args,
    integer_run_args,
    sign_run_args,
    uses_sign_lookup,
)

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
    range_checked: bool = False,
    method: str = "decomposition",
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
        Also keep ezkl's input/output range checks (redundant, module docstring point 4).
    method
        How signs are taken (:data:`zkagg.circuits._graph.SIGN_METHODS`): ``"decomposition"``
        (ezkl's ``Sign``, values below ``2**28``) or ``"lookup"`` (one ``Tanh`` table lookup per
        value, |.| and Relu, about 2.5x fewer rows; every difference and cut point within
        :func:`~zkagg.circuits._graph.lookup_table_bound` of ``logrows``).

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
    if uses_sign_lookup(method):
        ranks = [(lower, trim + 1), (upper, n_clients - trim)]
        v, (s_lo, s_hi), (d_lo, d_hi) = g.order_statistics_by_lookup(x, ranks, n_clients)
        spread = g.reduce_sum(g.op("Sub", g.op("Mul", d_lo, s_lo), g.op("Mul", d_hi, s_hi)), [0])
        cuts = g.times(g.op("Add", lower, upper), n_clients - 2 * trim)
        error = g.op("Sub", g.op("Add", cuts, spread), g.op("Add", claimed, claimed))
        # |error| = error * sign(error), a lookup that also bounds the claimed sum.
        per_coordinate = g.op("Add", v, g.op("Mul", error, g.sign(error, lookup=True)))
    else:
        v_lo, s_lo, d_lo = g.order_statistic_violation(x, lower, n_clients, trim + 1, pin=True)
        v_hi, s_hi, d_hi = g.order_statistic_violation(x, upper, n_clients, n_clients - trim)
        # sum_i |x_i - lower| - sum_i |x_i - upper|, with |d| = d * sign(d) exactly.
        spread = g.reduce_sum(g.op("Sub", g.op("Mul", d_lo, s_lo), g.op("Mul", d_hi, s_hi)), [0])
        cuts = g.op("Mul", g.op("Add", lower, upper), g.const([[float(n_clients - 2 * trim)]], "kept"))
        twice = g.op("Mul", claimed, g.const([[2.0]], "two"))
        error = g.op("Abs", g.op("Sub", g.op("Add", cuts, spread), twice))
        per_coordinate = g.op("Add", g.op("Add", v_lo, v_hi), error)
    g.reduce_sum(per_coordinate, [0, 1], out="violation")
    g.output("violation", [1, 1])
    params = {"n_clients": n_clients, "chunk_size": chunk_size, "trim": trim, "method": method}
    return g.circuit(
        sign_run_args(integer_run_args(logrows, range_checked=range_checked), logrows, method), params
    )
