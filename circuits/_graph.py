"""Shared plumbing of the circuit builders: a built circuit, and ONNX graph helpers.

Every builder in :mod:`zkagg.circuits` returns a :class:`Circuit`: the ONNX bytes of the step, the
:class:`~zkagg.RunArgs` it must be compiled with, and what each input and output means. The graphs
are written with the ``onnx.helper`` API (opset 17), so every node is visible and checkable; each is
checked against a float reference with onnxruntime in the tests.

Two facts about ezkl 23.0.5 shape all graphs here (DESIGN.md §3-4):

* a ``polycommit`` input is committed column by column, and the proof carries those commitments as
  its leading G1 points, in input order (see :func:`zkagg._kzg.points.proof_input_commitments`), which
  is how a proof is linked to the clients' posted commitments;
* ezkl tracks a fixed-point scale per value and *rescales* (divides, rounding) a product whose scale
  exceeds the input scale. zkagg's circuits therefore work on the committed integers themselves:
  ``input_scale = 0`` and ``param_scale = 0``, the prover feeds the quantized integers (which
  ezkl's quantization at scale 0 leaves unchanged, so the committed field elements are exactly
  the client's), every constant is an integer, and nothing is ever rescaled or rounded. Scales are
  applied outside the circuit, by exact integer arithmetic (:mod:`zkagg._aggregation.rules`).

Signs by lookup. ezkl's ``Sign`` decomposes its argument into range-checked 14-bit limbs (about 8
rows per value). ``Tanh`` is one of ezkl's lookup operations instead: at scale 0 its table maps each
integer ``v`` of the lookup range to ``round(tanh(v))``, which is exactly ``sign(v)`` (``tanh(1) =
0.76``). A halo2 lookup holds only if ``(v, s)`` is a row of the table, whose input column is a
fixed column of the verification key holding at most ``2**logrows`` consecutive small integers
(:func:`lookup_table_bound`), so a looked-up sign is correct *and* bounds ``|v| < 2**logrows``, the
same guarantee the decomposition gives with ``2**28``: a prover cannot make a value that wraps
around the field look small. :func:`sign_run_args` sets the table's range.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zkagg._errors import InvalidArgument
from zkagg._prover.artifacts import RunArgs

__all__ = [
    "OPSET",
    "Circuit",
    "GraphBuilder",
    "check_shape_args",
    "SIGN_METHODS",
    "integer_run_args",
    "lookup_table_bound",
    "order_statistic_delta",
    "sign_run_args",
    "uses_sign_lookup",
]

#: The ONNX opset every builder writes (ReduceSum takes its axes as an input from 13 on).
OPSET = 17


@dataclass(frozen=True)
class Circuit:
    """An aggregation step as an ONNX graph plus the run arguments it must be compiled with.

    Attributes
    ----------
    name
        The step (``median``, ``trimmed_mean``, ``clipped_fedavg``, ``fedavg``, ``norm_bound``, or a
        baseline's name).
    onnx
        The serialized ``ModelProto``.
    run_args
        Visibilities, scales and logrows to compile with (:func:`zkagg.build_circuit`).
    inputs
        Input names in graph order, with shapes.
    outputs
        Output names in graph order, with shapes.
    params
        The parameters the graph was built from (clients, chunk size, scale, rule parameters).
    """

    name: str
    onnx: bytes
    run_args: RunArgs
    inputs: tuple[tuple[str, tuple[int, ...]], ...]
    outputs: tuple[tuple[str, tuple[int, ...]], ...]
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_inputs(self) -> int:
        """Number of graph inputs (each one committed separately when ``polycommit``)."""
        return len(self.inputs)

    def input_index(self, name: str) -> int:
        """Position of the input ``name`` in the graph (and of its commitment in the proof)."""
        for i, (n, _) in enumerate(self.inputs):
            if n == name:
                return i
        raise InvalidArgument(f"circuit {self.name} has no input named {name!r}")


def integer_run_args(logrows: int | None, *, range_checked: bool, decomp_legs: int = 2) -> RunArgs:
    """Run arguments of zkagg's integer circuits: ``polycommit`` inputs, public outputs, scales 0.

    ``range_checked=False`` sets ``ignore_range_check_inputs_outputs``; each builder states why that
    is sound where it does so. ``decomp_legs`` limbs of 14 bits bound range-checked values:
    ``|v| < 2**(14 * decomp_legs)`` (circuits whose outputs are sums of squares need 3).
    """
    return RunArgs(
        input_visibility="polycommit",
        output_visibility="public",
        param_visibility="fixed",
        input_scale=0,
        param_scale=0,
        logrows=logrows,
        num_inner_cols=2,
        ignore_range_check_inputs_outputs=not range_checked,
        decomp_legs=decomp_legs,
    )


#: How a comparison circuit takes signs: ``"lookup"`` (one ``Tanh`` lookup per value, values within
#: :func:`lookup_table_bound`) or ``"decomposition"`` (ezkl's ``Sign``, values below ``2**28``).
SIGN_METHODS = ("lookup", "decomposition")


def lookup_table_bound(logrows: int) -> int:
    """``R``: the largest ``|v|`` a one-column lookup table over ``[-R, R]`` takes at ``logrows``.

    The table (``2 R + 1`` entries plus ezkl's 64 reserved rows) fills one column, so no
    column-selection logic is involved.
    """
    return ((1 << logrows) - 65) // 2


def uses_sign_lookup(method: str) -> bool:
    """Whether ``method`` (one of :data:`SIGN_METHODS`, else :class:`~zkagg.InvalidArgument`) is ``"lookup"``."""
    if method not in SIGN_METHODS:
        raise InvalidArgument(f"method must be one of {', '.join(SIGN_METHODS)}, not {method!r}")
    return method == "lookup"


def sign_run_args(run_args: RunArgs, logrows: int | None, method: str) -> RunArgs:
    """``run_args`` with the lookup table of ``method="lookup"`` (unchanged for ``"decomposition"``).

    ``logrows=None`` (measurements only) sizes the table for logrows 15.
    """
    if not uses_sign_lookup(method):
        return run_args
    bound = lookup_table_bound(15 if logrows is None else logrows)
    return dataclasses.replace(run_args, lookup_range=(-bound, bound))


def check_shape_args(n_clients: int, chunk_size: int, *, min_clients: int = 1) -> None:
    """Validate the common builder arguments, naming the one that is wrong."""
    if isinstance(n_clients, bool) or not isinstance(n_clients, int) or n_clients < min_clients:
        raise InvalidArgument(f"n_clients must be an integer >= {min_clients}, not {n_clients!r}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise InvalidArgument(f"chunk_size must be a positive integer, not {chunk_size!r}")


def order_statistic_delta(n: int, rank: int) -> int:
    """The offset ``delta = n - 2 * rank + 1`` of the sign-count test for the ``rank``-th smallest.

    ``m`` is the ``rank``-th smallest of ``n`` values (1-based, ties allowed) exactly when
    ``#{x < m} <= rank - 1`` and ``#{x > m} <= n - rank``. With ``s_i = sign(x_i - m)``,
    ``c = sum s_i`` and ``t = sum s_i**2`` (so ``#above = (t + c) / 2`` and ``#below = (t - c) / 2``)
    the two conditions are ``t - c <= 2 (rank - 1)`` and ``t + c <= 2 (n - rank)``, that is
    ``|c - delta| + t <= n - 1``. For the median of an odd ``n`` (rank ``(n + 1) / 2``) delta is 0,
    DESIGN.md §3's test; for the lower median of an even ``n`` (rank ``n / 2``) it is 1.
    """
    if not 1 <= rank <= n:
        raise InvalidArgument(f"rank must be in [1, {n}], not {rank}")
    return n - 2 * rank + 1


def float_reference(circuit: Circuit) -> bytes:
    """The circuit's graph as a float model computes what the circuit does on integers.

    A sign lookup is a ``Tanh`` node, whose table holds ``round(tanh(v)) = sign(v)`` at scale 0
    while a float runtime (onnxruntime) computes ``tanh(v)`` itself; this returns the graph with
    every such node replaced by ``Sign``, for checking a circuit against a float reference. Graphs
    without sign lookups come back unchanged.
    """
    import onnx

    model = onnx.load_from_string(circuit.onnx)
    if circuit.params.get("method") == "lookup":
        for node in model.graph.node:
            if node.op_type == "Tanh":
                node.op_type = "Sign"
    return bytes(model.SerializeToString())


class GraphBuilder:
    """A small accumulator of ONNX nodes, constants, inputs and outputs with fresh names."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.inputs: list[tuple[str, tuple[int, ...]]] = []
        self.outputs: list[tuple[str, tuple[int, ...]]] = []
        self._count = 0

    def fresh(self, stem: str) -> str:
        """A new value name."""
        self._count += 1
        return f"{stem}_{self._count}"

    def input(self, name: str, shape: Sequence[int]) -> str:
        """Declare a float graph input."""
        self.inputs.append((name, tuple(int(s) for s in shape)))
        return name

    def output(self, name: str, shape: Sequence[int]) -> None:
        """Declare a graph output (a value produced by some node)."""
        self.outputs.append((name, tuple(int(s) for s in shape)))

    def const(self, value: float | Sequence[Any] | np.ndarray, stem: str = "c") -> str:
        """A float constant (an initializer) of the value's shape."""
        from onnx import numpy_helper

        arr = np.asarray(value, dtype=np.float32)
        name = self.fresh(stem)
        self.initializers.append(numpy_helper.from_array(arr, name=name))
        return name

    def axes(self, axes: Sequence[int]) -> str:
        """An int64 constant of reduction axes."""
        from onnx import numpy_helper

        name = self.fresh("axes")
        self.initializers.append(numpy_helper.from_array(np.asarray(axes, dtype=np.int64), name=name))
        return name

    def op(self, op_type: str, *inputs: str, out: str | None = None, **attrs: Any) -> str:
        """Append a node and return its (single) output name."""
        from onnx import helper

        result = out or self.fresh(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [result], **attrs))
        return result

    def reduce_sum(self, x: str, axes: Sequence[int], *, keepdims: int = 1, out: str | None = None) -> str:
        """``ReduceSum`` over ``axes``."""
        return self.op("ReduceSum", x, self.axes(axes), out=out, keepdims=keepdims)

    def sign(self, x: str, *, lookup: bool) -> str:
        """``sign(x)`` elementwise: ezkl's decomposed ``Sign``, or one ``Tanh`` lookup (module docstring)."""
        return self.op("Tanh" if lookup else "Sign", x)

    def signed_differences(
        self, stacked: str, m: str, n: int, *, pin: bool = False, lookup: bool = False
    ) -> tuple[str, str]:
        """The ``[n, D]`` signs ``sign(x - m)`` and differences ``x - m`` of the rank tests.

        ``pin=True`` also takes the sign of ``0 - m`` in the same operation (one row more of
        ``n + 1``), which bounds ``|m|`` as every compared difference is bounded; the extra row is
        sliced off. ``lookup=True`` takes signs by table lookup (:meth:`sign`).
        """
        if pin:
            width = self.inputs[0][1][1]
            with_zero = self.op("Concat", stacked, self.const(np.zeros((1, width)), "zero_row"), axis=0)
            pinned = self.op("Sub", with_zero, m)
            return self.slice_rows(self.sign(pinned, lookup=lookup), 0, n), self.slice_rows(pinned, 0, n)
        diff = self.op("Sub", stacked, m)
        return self.sign(diff, lookup=lookup), diff

    def sign_counts(self, signs: str) -> tuple[str, str]:
        """Per coordinate ``c = sum s_i`` and ``t = sum s_i**2`` (:func:`order_statistic_delta`)."""
        return self.reduce_sum(signs, [0]), self.reduce_sum(self.op("Mul", signs, signs), [0])

    def order_statistic_violation(
        self, stacked: str, m: str, n: int, rank: int, *, pin: bool = False
    ) -> tuple[str, str, str]:
        """Per-coordinate ``Relu(|c - delta| + t - (n - 1))`` (zero exactly where ``m`` has that rank).

        ``stacked`` is the ``[n, D]`` client values, ``m`` the ``[1, D]`` claimed order statistic.
        Returns the ``[1, D]`` violation, the ``[n, D]`` signs ``sign(x - m)`` and the ``[n, D]``
        differences ``x - m`` (:meth:`signed_differences`, which ``pin`` is passed to); see
        :func:`order_statistic_delta` for the argument. Signs by ezkl's decomposed ``Sign``; the
        lookup form is :meth:`order_statistics_by_lookup`.
        """
        delta = order_statistic_delta(n, rank)
        signs, diff = self.signed_differences(stacked, m, n, pin=pin)
        c, t = self.sign_counts(signs)
        centred = c if delta == 0 else self.op("Sub", c, self.const([[float(delta)]], "delta"))
        excess = self.op("Sub", t, self.const([[float(n - 1)]], "n_minus_1"))
        return self.op("Relu", self.op("Add", self.op("Abs", centred), excess)), signs, diff

    def times(self, x: str, k: int) -> str:
        """``k * x`` for an integer ``k >= 1`` by doubling and adding (``Add`` nodes only, no constant)."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise InvalidArgument(f"k must be a positive integer, not {k!r}")
        result: str | None = None
        power = x
        while k:
            if k & 1:
                result = power if result is None else self.op("Add", result, power)
            k >>= 1
            if k:
                power = self.op("Add", power, power)
        assert result is not None
        return result

    def order_statistics_by_lookup(
        self, stacked: str, claims: Sequence[tuple[str, int]], n: int
    ) -> tuple[str, list[str], list[str]]:
        """The rank test of :meth:`order_statistic_violation` for several claims at once, by sign lookups only.

        ``claims`` are ``(m, rank)`` pairs; the first ``m`` is pinned (``0 - m`` is looked up too).
        Per coordinate the result is ``sum_j s_j * (s_j + 1)`` with ``s_j = sign(|c_j - delta_j| +
        t_j - (n - 1))`` (0 where claim ``j`` has its rank, 2 for each claim that has not), as the
        ``[1, D]`` violation, with every claim's ``[n, D]`` signs and differences.

        Everything is a table lookup, a sum or a product: no ezkl decomposition, so the circuit
        needs no range-check tables. The claims share one ``1 - n`` constant: measured with ezkl
        23.0.5, a graph in which one constant value is added in two such places (one ``1 - n``
        per claim, or a ``-delta`` equal to ``1 - n``) is rewritten into a small einsum that
        brings the range-check tables back, about 25% more proving time at logrows 15. Ranks
        ``1`` and ``n`` (a trimmed mean that trims nothing) still meet that case: correct, slower.
        """
        signs_out, diffs = [], []
        totals = []
        for j, (m, rank) in enumerate(claims):
            signs, diff = self.signed_differences(stacked, m, n, pin=j == 0, lookup=True)
            delta = order_statistic_delta(n, rank)
            c, t = self.sign_counts(signs)
            if delta != 0:
                c = self.op("Add", c, self.const([[float(-delta)]], "minus_delta"))
            totals.append(self.op("Add", self.op("Mul", c, self.sign(c, lookup=True)), t))
            signs_out.append(signs)
            diffs.append(diff)
        stacked_totals = self.op("Concat", *totals, axis=0) if len(totals) > 1 else totals[0]
        over = self.sign(
            self.op("Add", stacked_totals, self.const([[float(1 - n)]], "one_minus_n")), lookup=True
        )
        per_claim = self.op("Add", self.op("Mul", over, over), over)
        return self.reduce_sum(per_claim, [0]), signs_out, diffs

    def slice_rows(self, x: str, start: int, end: int) -> str:
        """Rows ``start:end`` of a 2-D value (``Slice`` on axis 0)."""
        from onnx import numpy_helper

        names = []
        for stem, v in (("starts", start), ("ends", end), ("slice_axes", 0)):
            name = self.fresh(stem)
            self.initializers.append(numpy_helper.from_array(np.asarray([v], dtype=np.int64), name=name))
            names.append(name)
        return self.op("Slice", x, *names)

    def to_bytes(self) -> bytes:
        """The serialized, checked ONNX model."""
        import onnx
        from onnx import TensorProto, helper

        graph = helper.make_graph(
            self.nodes,
            self.name,
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in self.inputs],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in self.outputs],
            initializer=self.initializers,
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="zkagg.circuits"
        )
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        return bytes(model.SerializeToString())

    def circuit(self, run_args: RunArgs, params: Mapping[str, Any]) -> Circuit:
        """Package the graph as a :class:`Circuit`."""
        return Circuit(
            name=self.name,
            onnx=self.to_bytes(),
            run_args=run_args,
            inputs=tuple(self.inputs),
            outputs=tuple(self.outputs),
            params=dict(params),
        )
