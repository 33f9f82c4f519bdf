"""Client validity: the squared L2 norm (and optionally an L-infinity bound) of committed chunks.

One proof covers ``K`` consecutive chunks of a client's update, each a ``polycommit`` input (so the
proof is bound to the client's posted chunk commitments), and outputs one public integer, the
partial sum of squares of those chunks in quanta squared::

    sum_of_squares = sum_k MatMul(chunk_k, Transpose(chunk_k))          # exact, scale 0

and, when an L-infinity bound ``B`` (in quanta) is given, a second public output that must be 0::

    linf_violation = sum_k ReduceSum(Relu(|chunk_k| - B))

The verifier adds the partial sums over all proofs of the update and compares the total with
``bound**2`` at the right scale, ``sum <= floor(bound**2 * 4**scale)`` (all integers:
:mod:`zkagg._aggregation.norm`).

Range checks and soundness. A sum of squares in the field is only meaningful if no square wraps
around the modulus: a client could commit to a huge field element ``x`` whose square is small. The
inputs therefore keep ezkl's range check, with three 14-bit limbs (``decomp_legs=3``) because the
same check applies to the output, a sum of squares well above ``2**28``: every ``|x| < 2**42``
quanta, every square below ``2**84`` and any sum of fewer than ``2**160`` of them exact. That
range check is most of the cost (about 6.5 of 7.5 rows per value). ``lookup_bound=R`` replaces it
with one table lookup per value over ``[-R, R]`` (``Sigmoid`` at scale 0, ezkl's lookup op; its
output only keeps the node alive and is a public count the verifier ignores) with
``ignore_range_check_inputs_outputs``: a looked-up value must equal an entry of the table's fixed
input column (at most ``2**logrows`` small integers), which bounds every ``|x| < 2**logrows`` and
keeps every sum exact (about 2 rows per value; argument in :mod:`zkagg._aggregation.norm`).
``range_checked=False`` without ``lookup_bound`` exists only to measure. The L-infinity
term uses ezkl's decomposed ``Abs`` and ``Relu``: each term is a non-negative integer below
``2**42`` and their sum cannot wrap.
"""

from __future__ import annotations

import dataclasses

from zkagg._errors import InvalidArgument
from zkagg.circuits._graph import (
    Circuit,
    GraphBuilder,
    check_shape_args,
    integer_run_args,
    lookup_table_bound,
)

__all__ = ["norm_bound_circuit"]


def norm_bound_circuit(
    n_chunks: int,
    chunk_size: int,
    *,
    logrows: int | None,
    linf_bound: int | None = None,
    range_checked: bool = True,
    lookup_bound: int | None = None,
) -> Circuit:
    """Build the partial norm circuit over ``n_chunks`` chunks of ``chunk_size`` values.

    Parameters
    ----------
    n_chunks
        Chunks per proof ``K`` (each its own committed input).
    chunk_size
        Values per chunk.
    logrows
        The commitment domain's logrows.
    linf_bound
        L-infinity bound in quanta (``round(bound * 2**scale)``), or ``None`` for the L2 part only.
    range_checked
        Keep ezkl's input range checks (required for soundness, see the module docstring) unless
        ``lookup_bound`` replaces them.
    lookup_bound
        ``R``: range-check every input by one lookup into a table over ``[-R, R]`` instead of
        ezkl's decomposition (``range_checked`` must be ``False``; see the module docstring). The
        table must fit one column: ``2 R + 1 + 64 <= 2**logrows``.

    Returns
    -------
    Circuit
        Inputs ``chunk_0 .. chunk_{K-1}`` (``[1, D]``, ``polycommit``); outputs ``sum_of_squares``
        (``[1, 1]``) and, with ``linf_bound``, ``linf_violation`` (``[1, 1]``, must be 0).
    """
    check_shape_args(n_chunks, chunk_size)
    if linf_bound is not None and (
        isinstance(linf_bound, bool) or not isinstance(linf_bound, int) or not 0 <= linf_bound < 2**24
    ):
        raise InvalidArgument(
            f"linf_bound must be None or an integer in [0, 2**24) quanta, not {linf_bound!r}"
        )
    g = GraphBuilder("norm_bound")
    chunks = [g.input(f"chunk_{k}", [1, chunk_size]) for k in range(n_chunks)]
    squares = [g.op("MatMul", c, g.op("Transpose", c, perm=[1, 0])) for c in chunks]
    total = squares[0]
    for s in squares[1:]:
        total = g.op("Add", total, s)
    g.op("Identity", total, out="sum_of_squares")
    g.output("sum_of_squares", [1, 1])
    if linf_bound is not None:
        bound = g.const([[float(linf_bound)]], "linf_bound")
        excess = [g.reduce_sum(g.op("Relu", g.op("Sub", g.op("Abs", c), bound)), [0, 1]) for c in chunks]
        violation = excess[0]
        for e in excess[1:]:
            violation = g.op("Add", violation, e)
        g.op("Identity", violation, out="linf_violation")
        g.output("linf_violation", [1, 1])
    if lookup_bound is not None:
        if range_checked:
            raise InvalidArgument(
                "lookup_bound replaces the decomposition range checks: pass range_checked=False"
            )
        if isinstance(lookup_bound, bool) or not isinstance(lookup_bound, int) or lookup_bound < 1:
            raise InvalidArgument(f"lookup_bound must be a positive integer, not {lookup_bound!r}")
        if logrows is not None and lookup_bound > lookup_table_bound(logrows):
            raise InvalidArgument(
                f"lookup_bound must be at most {lookup_table_bound(logrows)} at logrows {logrows} "
                f"(its table must fit one column), not {lookup_bound}"
            )
        # One table lookup per value: Sigmoid at scale 0 is a lookup over [-R, R] whose rounded
        # output (0 or 1) only keeps the node alive; its count is a public output the verifier ignores.
        looked = [g.reduce_sum(g.op("Sigmoid", c), [0, 1]) for c in chunks]
        count = looked[0]
        for e in looked[1:]:
            count = g.op("Add", count, e)
        g.op("Identity", count, out="range_lookups")
        g.output("range_lookups", [1, 1])
    params = {
        "n_chunks": n_chunks,
        "chunk_size": chunk_size,
        "linf_bound": linf_bound,
        "lookup_bound": lookup_bound,
    }
    run_args = integer_run_args(logrows, range_checked=range_checked, decomp_legs=3)
    if lookup_bound is not None:
        run_args = dataclasses.replace(run_args, lookup_range=(-lookup_bound, lookup_bound))
    return g.circuit(run_args, params)
