"""Coordinate-wise median, proven by checking a claimed median rather than sorting.

The circuit takes the ``N`` clients' chunks and the claimed median ``m`` (the shard's aggregate for
this chunk), all ``polycommit`` inputs, and outputs one public number, the total violation::

    S = Sign(X - m)                       # [N, D], X the clients' chunks stacked
    c = ReduceSum(S, axis 0); t = ReduceSum(S * S, axis 0)
    violation = ReduceSum(Relu(|c - delta| + t - (N - 1)))

which is 0 exactly when, in every coordinate, ``m`` is the ``rank``-th smallest client value
(:func:`zkagg.circuits._graph.order_statistic_delta`). For odd ``N`` the rank is ``(N + 1) / 2``
and ``delta = 0`` (DESIGN.md §3's measured test). For even ``N`` the median is, as in
:func:`zkagg._aggregation.reference.median_int`, the mean of the two middle values rounded toward minus
infinity, ``floor((x_(N/2) + x_(N/2+1)) / 2)``: the circuit then takes the two middle values
``lower_middle`` and ``upper_middle`` as committed private witnesses, proves their ranks ``N/2``
(``delta = 1``) and ``N/2 + 1`` (``delta = -1``) with the same test, and adds
``|2 (lower_middle + upper_middle - 2 m) - 1| - 1`` per coordinate, a non-negative integer that is 0
exactly when ``lower_middle + upper_middle - 2 m`` is 0 or 1. Ties are handled exactly: the
test counts strictly-above and strictly-below values, so any number of values equal to ``m`` is fine.
A value between two client values is never accepted (it has ``N`` values strictly on either side).

Soundness. A proof with a wrong ``m`` still verifies: only its public output says so, so the
verifier must check that the output is 0 (:func:`zkagg._aggregation.rules.verify_rule` does). Each ``Relu``
term is a non-negative integer below ``2 N``, so their sum over ``D`` coordinates cannot wrap in the
field and is 0 only if every term is. The circuit works on the committed integers (scale 0, see
:mod:`zkagg.circuits._graph`): ``m`` is a quantized value like the clients'. ``Sign`` is computed by ezkl from a range-checked
decomposition, so it is correct for the prover-chosen ``m``. The inputs keep ezkl's default range
check (``ignore_range_check_inputs_outputs=False``): DESIGN.md §3 forbids dropping it in front of a
comparison with a prover-chosen value. All constants are integers: nothing is rescaled or rounded. Cost: about 8 rows per client value for ``Sign`` plus the input range checks.

Sign lookups (``method="lookup"``). Every ``Sign``, ``|.|`` and ``Relu`` becomes a ``Tanh``
table lookup (:mod:`zkagg.circuits._graph`, "Signs by lookup";
:meth:`~zkagg.circuits._graph.GraphBuilder.order_statistics_by_lookup`) and the input range checks
are dropped: a witness exists only if every ``x_i - m`` (for even ``N``, ``x_i - lower_middle``
and ``x_i - upper_middle``), the pinned row ``0 - m`` (``0 - lower_middle``) and the rank totals
are entries of the table, so all of them are below ``2**logrows`` in magnitude and every client
value below ``2**(logrows + 1)``: far from the field's wrap-around, the signs and counts are those
of the signed integers committed. For even ``N`` the floor term is
``r (r - 1) + (r - sign(r))**2`` with ``r = lower_middle + upper_middle - 2 m``: a non-negative
integer, 0 exactly when ``r`` is 0 or 1, and the lookup of ``r`` bounds ``m``. About 4-5 rows per
client value for odd ``N`` (7-9 for even ``N``) instead of 16-18, and no range-check tables. The
shard picks lookups whenever its values fit the table (:func:`zkagg._aggregation.rules.sign_method`).

The direct formulation (``torch.topk`` with a constant k) is :func:`zkagg.circuits.baselines.topk_median_circuit`.
"""

from __future__ import annotations

from zkagg.circuits._graph import (
    Circuit,
    GraphBuilder,
    check_shape_args,
    integer_run_args,
    sign_run_args,
    uses_sign_lookup,
)

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
    method: str = "decomposition",
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
        Ignored by ``method="lookup"``, whose lookups bound every compared value instead.
    method
        How signs are taken (:data:`zkagg.circuits._graph.SIGN_METHODS`): ``"decomposition"``
        (ezkl's ``Sign`` and input range checks, values below ``2**28``) or ``"lookup"`` (one
        ``Tanh`` table lookup per value and the claimed statistic pinned by a lookup of ``0 - m``;
        about 4x fewer rows; every difference and the statistic within
        :func:`~zkagg.circuits._graph.lookup_table_bound` of ``logrows``).

    Returns
    -------
    Circuit
        Inputs ``client_0 .. client_{N-1}``, for even ``N`` ``lower_middle`` and ``upper_middle``, then
        ``median`` (each ``[1, D]``, ``polycommit``); one public output ``violation`` (``[1, 1]``) that
        must be 0.
    """
    check_shape_args(n_clients, chunk_size)
    lookup = uses_sign_lookup(method)
    g = GraphBuilder("median")
    clients = [g.input(f"client_{i}", [1, chunk_size]) for i in range(n_clients)]
    stacked = g.op("Concat", *clients, axis=0) if n_clients > 1 else clients[0]
    if lookup and n_clients % 2:
        m = g.input("median", [1, chunk_size])
        per_coordinate, _, _ = g.order_statistics_by_lookup(stacked, [(m, median_rank(n_clients))], n_clients)
    elif lookup:
        lower = g.input("lower_middle", [1, chunk_size])
        upper = g.input("upper_middle", [1, chunk_size])
        m = g.input("median", [1, chunk_size])
        claims = [(lower, n_clients // 2), (upper, n_clients // 2 + 1)]
        v, _, _ = g.order_statistics_by_lookup(stacked, claims, n_clients)
        # r = lower + upper - 2m must be 0 or 1: r (r - 1) + (r - sign(r))**2 is a non-negative
        # integer, 0 exactly there, and the sign lookup bounds r (hence m).
        r = g.op("Sub", g.op("Add", lower, upper), g.op("Add", m, m))
        off = g.op("Sub", r, g.sign(r, lookup=True))
        floor_error = g.op("Add", g.op("Sub", g.op("Mul", r, r), r), g.op("Mul", off, off))
        per_coordinate = g.op("Add", v, floor_error)
    elif n_clients % 2:
        m = g.input("median", [1, chunk_size])
        per_coordinate, _, _ = g.order_statistic_violation(stacked, m, n_clients, median_rank(n_clients))
    else:
        lower = g.input("lower_middle", [1, chunk_size])
        upper = g.input("upper_middle", [1, chunk_size])
        m = g.input("median", [1, chunk_size])
        v_lo, _, _ = g.order_statistic_violation(stacked, lower, n_clients, n_clients // 2)
        v_hi, _, _ = g.order_statistic_violation(stacked, upper, n_clients, n_clients // 2 + 1)
        r = g.op("Sub", g.op("Add", lower, upper), g.op("Mul", m, g.const([[2.0]], "two")))
        odd = g.op("Sub", g.op("Mul", r, g.const([[2.0]], "two")), g.const([[1.0]], "one"))
        floor_error = g.op("Sub", g.op("Abs", odd), g.const([[1.0]], "one"))
        per_coordinate = g.op("Add", g.op("Add", v_lo, v_hi), floor_error)
    g.reduce_sum(per_coordinate, [0, 1], out="violation")
    g.output("violation", [1, 1])
    params: dict[str, int | str] = {
        "n_clients": n_clients,
        "chunk_size": chunk_size,
        "rank": median_rank(n_clients),
    }
    if lookup:
        params["method"] = method
    run_args = integer_run_args(logrows, range_checked=range_checked and not lookup)
    return g.circuit(sign_run_args(run_args, logrows, method), params)
