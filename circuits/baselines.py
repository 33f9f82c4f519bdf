"""Direct EZKL formulations of the aggregation steps, the baselines of ``benchmarks/robust_circuits.py``.

These compute the aggregate inside the circuit the obvious way, as a model exporter would write it:

* :func:`topk_median_circuit`: ``TopK`` with a constant ``k`` over the stacked ``[N, D]`` client
  values, then a ``Slice`` of its last row (``torch.median`` does not export, ``torch.sort`` exports
  as a data-dependent TopK that ezkl rejects; DESIGN.md §4). About 18 rows per client value.
* :func:`topk_trimmed_mean_circuit`: two constant-k ``TopK`` passes drop the ``b`` largest and ``b``
  smallest values, then the mean of the rest.
* :func:`matmul_fedavg_circuit`: the stacked ``[N, D]`` input times a constant ``[1, N]`` row of
  pre-normalized weights, with ezkl's default run arguments. About 5.5 rows per client value.

They use ``polycommit`` inputs like zkagg's circuits (linking by Poseidon hashes would cost about 41
rows per value, DESIGN.md §4) and default range checks. They are for measurement only: zkagg never
proves with them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zkagg._prover.artifacts import RunArgs
from zkagg.circuits._graph import Circuit, GraphBuilder, check_shape_args
from zkagg.circuits.median import median_rank

__all__ = ["matmul_fedavg_circuit", "topk_median_circuit", "topk_trimmed_mean_circuit"]


def _run_args(scale: int, logrows: int | None, param_scale: int) -> RunArgs:
    return RunArgs(
        input_visibility="polycommit",
        output_visibility="public",
        param_visibility="fixed",
        input_scale=scale,
        param_scale=param_scale,
        logrows=logrows,
        num_inner_cols=2,
    )


def _int64(g: GraphBuilder, values: Sequence[int], stem: str) -> str:
    from onnx import numpy_helper

    name = g.fresh(stem)
    g.initializers.append(numpy_helper.from_array(np.asarray(values, dtype=np.int64), name=name))
    return name


def _topk(g: GraphBuilder, x: str, k: int, *, largest: int) -> str:
    from onnx import helper

    values = g.fresh("topk_values")
    indices = g.fresh("topk_indices")
    g.nodes.append(
        helper.make_node(
            "TopK", [x, _int64(g, [k], "k")], [values, indices], axis=0, largest=largest, sorted=1
        )
    )
    return values


def topk_median_circuit(
    n_clients: int, chunk_size: int, *, scale: int, logrows: int | None = None
) -> Circuit:
    """The median as ``TopK(largest, k = N - rank + 1)`` then the last row: the ``rank``-th smallest.

    Output ``median`` (``[1, D]``, public). ``rank`` is :func:`zkagg.circuits.median.median_rank`.
    """
    check_shape_args(n_clients, chunk_size, min_clients=2)
    g = GraphBuilder("topk_median")
    clients = [g.input(f"client_{i}", [1, chunk_size]) for i in range(n_clients)]
    stacked = g.op("Concat", *clients, axis=0)
    k = n_clients - median_rank(n_clients) + 1
    top = _topk(g, stacked, k, largest=1)
    g.op(
        "Slice",
        top,
        _int64(g, [k - 1], "starts"),
        _int64(g, [k], "ends"),
        _int64(g, [0], "axes"),
        out="median",
    )
    g.output("median", [1, chunk_size])
    return g.circuit(_run_args(scale, logrows, 0), {"n_clients": n_clients, "chunk_size": chunk_size, "k": k})


def topk_trimmed_mean_circuit(
    n_clients: int, chunk_size: int, trim: int, *, scale: int, logrows: int | None = None
) -> Circuit:
    """Trimmed mean by TopK: keep the ``N - trim`` smallest, of those the ``N - 2 trim`` largest, average.

    Output ``trimmed_mean`` (``[1, D]``, public, at the output scale ezkl chooses).
    """
    check_shape_args(n_clients, chunk_size, min_clients=2)
    if not 0 <= 2 * trim < n_clients:
        raise ValueError(f"trim must satisfy 0 <= 2 * trim < n_clients, not {trim}")
    g = GraphBuilder("topk_trimmed_mean")
    clients = [g.input(f"client_{i}", [1, chunk_size]) for i in range(n_clients)]
    stacked = g.op("Concat", *clients, axis=0)
    kept = n_clients - 2 * trim
    low = _topk(g, stacked, n_clients - trim, largest=0) if trim else stacked
    middle = _topk(g, low, kept, largest=1) if trim else low
    total = g.reduce_sum(middle, [0])
    g.op("Mul", total, g.const([[1.0 / kept]], "inv_kept"), out="trimmed_mean")
    g.output("trimmed_mean", [1, chunk_size])
    return g.circuit(
        _run_args(scale, logrows, scale),
        {"n_clients": n_clients, "chunk_size": chunk_size, "trim": trim},
    )


def matmul_fedavg_circuit(
    weights: Sequence[float], chunk_size: int, *, scale: int, logrows: int | None = None
) -> Circuit:
    """FedAvg as ``MatMul(w, X)`` with the stacked clients ``X`` (``[N, D]``) and constant ``w`` (``[1, N]``).

    ``weights`` are normalized here (divided by their sum) and baked into the circuit. One input per
    client (what per-client linking needs), default range checks. Output ``fedavg`` (``[1, D]``, public).
    """
    w = np.asarray(weights, dtype=np.float64)
    check_shape_args(int(w.size), chunk_size)
    if w.ndim != 1 or (w <= 0).any():
        raise ValueError("weights must be a 1-D sequence of positive numbers")
    w = w / w.sum()
    g = GraphBuilder("matmul_fedavg")
    clients = [g.input(f"client_{i}", [1, chunk_size]) for i in range(w.size)]
    stacked = g.op("Concat", *clients, axis=0) if w.size > 1 else clients[0]
    g.op("MatMul", g.const(w.reshape(1, -1), "weights"), stacked, out="fedavg")
    g.output("fedavg", [1, chunk_size])
    return g.circuit(_run_args(scale, logrows, scale), {"n_clients": int(w.size), "chunk_size": chunk_size})
