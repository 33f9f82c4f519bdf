"""Coordinate-wise median, proven by checking a claimed median rather than sorting.

The circuit takes the ``N`` clients' chunks and the claimed median ``m`` (the shard's aggregate for
this chunk), all ``polycommit`` inputs, and outputs one public number, the total violation::

    S = Sign(X - m)                       # [N, D], X the clients' chunks stacked
    c = ReduceSum(S, axis 0); t = ReduceSum(S * S, axis 0)
    violation = ReduceSum(Relu(|c - delta| + t - (N - 1)))

which is 0 exactly when, in every coordinate, ``m`` is the ``rank``-th smallest client value
(:func:`zkagg.circuits._graph.order_statistic_delta`). For odd ``N`` the rank is ``(N + 1) / 2``
and ``delta = 0`` (DESIGN.md §3's measured test). For even ``N`` the median is, as in
:func:`zkagg._aggregate_ref.median_int`, the mean of the two middle values rounded toward minus
infinity, ``floor((x_(N/2) + x_(N/2+1)) / 2)``: the circuit then takes the two middle values
``lower_middle`` and ``upper_middle`` as committed private witnesses, proves their ranks ``N/2``
(``delta = 1``) and ``N/2 + 1`` (``delta = -1``) with the same test, and adds
``|2 (lower_middle + upper_middle - 2 m) - 1| - 1`` per coordinate, a non-negative integer that is 0
exactly when ``lower_middle + upper_middle - 2 m`` is 0 or 1. Ties are handled exactly: the
test counts strictly-above and strictly-below values, so any number of values equal to ``m`` is fine.
A value between two client values is never accepted (it has ``N`` values strictly on either side).

Soundness. A proof with a wrong ``m`` still verifies: only its public output says so, so the
verifier must check that the output is 0 (:func:`zkagg._robust.verify_rule` does). Each ``Relu``
term is a non-negative integer below ``2 N``, so their sum over ``D`` coordinates cannot wrap in the
field and is 0 only if every term is. The circuit works on the committed integers (scale 0, see
:mod:`zkagg.circuits._graph`): ``m`` is a quantized value like the clients'. ``Sign`` is computed by ezkl from a range-checked
decomposition, so it is correct for the prover-chosen ``m``. The inputs keep ezkl's default range
check (``ignore_range_check_inputs_outputs=False``): DESIGN.md §3 forbids dropping it in front of a
comparison with a prover-chosen value. All constants are integers: nothing is rescaled or rounded. Cost: about 8 rows per client value for ``Sign`` plus the input range checks.

The direct formulation (``torch.topk`` with a constant k) is :func:`zkagg.circuits.baselines.topk_median_circuit`.
"""

from __future__ import annotations

from zkagg.circuits._graph import Circuit, GraphBuilder, check_shape_args, integer_run_args

__all__ = ["median_circuit", "median_rank"]


def median_rank(n_clients: int) -> int:
    """The rank (1-based, ascending) of the median of odd ``N``; of the lower middle value for even ``N``."""
    return (n_clients + 1) // 2


def median_circuit(
    n_clients: int,
    chunk_size: int,
    *,
    logrows: int | None,
    range_checked: bool = True,
) -> Circuit:
    """Build the sign-count median check for ``n_clients`` chunks of ``chunk_size`` values.

    Parameters
    ----------
    n_clients
        Number of clients ``N`` (at least 1).
    chunk_size
        Values per chunk ``D``.
    logrows
        The commitment domain's logrows (every linked proof uses it); ``None`` only for measurements.
    range_checked
        Keep ezkl's range checks on inputs and outputs (the default); ``False`` only for measurements.

    Returns
    -------
    Circuit
        Inputs ``client_0 .. client_{N-1}``, for even ``N`` ``lower_middle`` and ``upper_middle``, then
        ``median`` (each ``[1, D]``, ``polycommit``); one public output ``violation`` (``[1, 1]``) that
        must be 0.
    """
    check_shape_args(n_clients, chunk_size)
    g = GraphBuilder("median")
    clients = [g.input(f"client_{i}", [1, chunk_size]) for i in range(n_clients)]
    stacked = g.op("Concat", *clients, axis=0) if n_clients > 1 else clients[0]
    if n_clients % 2:
        m = g.input("median", [1, chunk_size])
        per_coordinate, _ = g.order_statistic_violation(stacked, m, n_clients, median_rank(n_clients))
    else:
        lower = g.input("lower_middle", [1, chunk_size])
        upper = g.input("upper_middle", [1, chunk_size])
        m = g.input("median", [1, chunk_size])
        v_lo, _ = g.order_statistic_violation(stacked, lower, n_clients, n_clients // 2)
        v_hi, _ = g.order_statistic_violation(stacked, upper, n_clients, n_clients // 2 + 1)
        r = g.op("Sub", g.op("Add", lower, upper), g.op("Mul", m, g.const([[2.0]], "two")))
        odd = g.op("Sub", g.op("Mul", r, g.const([[2.0]], "two")), g.const([[1.0]], "one"))
        floor_error = g.op("Sub", g.op("Abs", odd), g.const([[1.0]], "one"))
        per_coordinate = g.op("Add", g.op("Add", v_lo, v_hi), floor_error)
    g.reduce_sum(per_coordinate, [0, 1], out="violation")
    g.output("violation", [1, 1])
    params = {"n_clients": n_clients, "chunk_size": chunk_size, "rank": median_rank(n_clients)}
    return g.circuit(integer_run_args(logrows, range_checked=range_checked), params)
