"""The shard-model quality circuit: a flat parameter vector in, correct probe predictions out.

The graph (built with ``onnx.helper``, opset 13, no exporter involved) takes the shard model's flat
parameter vector ``params`` (``[1, 75 h + 10]``, in the order of :mod:`zkagg._fl.model`:
``W1 [h, 64]``, ``b1``, ``W2 [10, h]``, ``b2``) as its only input, whole or cut into the chunks of
the deployment's commitment domain, so that the whole model is committed with ``polycommit``
visibility: the proof is then bound to the KZG commitments of the parameters (DESIGN.md §3). The public probe set is baked in as constants: features ``X [n, 64]``
and a one-hot label matrix ``Y [n, 10]``. The output is one number, the count of probe samples
the model classifies correctly::

    W1, b1, W2, b2 = Reshape(Slice(params))             # static slices, positive indices only
    logits = Relu(X @ W1^T + b1) @ W2^T + b2            # [n, 10]
    true   = ReduceSum(logits * Y, axis 1)               # the logit of the right class
    other  = ReduceMax(logits - BIG * Y, axis 1)         # the best wrong class
    count  = ReduceSum(Cast(Greater(true, other)))       # [1]

A sample counts as correct only when its label's logit is strictly above every other logit:
``other`` is the larger of the best wrong logit and ``true - BIG``, and ``true > true - BIG`` for any
``BIG > 0``, so ``true > other`` exactly when ``true`` beats every wrong class, whatever the
logits' spread (:data:`WRONG_CLASS_OFFSET` only has to stay positive once quantized). A tie counts
as wrong, so the proven count never exceeds what an exact argmax would give; the graph avoids
``ArgMax``, whose in-circuit index is a witness the prover may pick among tied maxima, and
``Gather`` (DESIGN.md §4: negative indices gave wrong values).

Scales and size (:data:`DEFAULT_RUN_ARGS`): the parameters are the committed input, quantized at
``input_scale`` 13, the scale of the deployment's commitment domain (a resolution of 1/8192); the
probe features are ``k/16`` with ``k`` in 0..16, exact at any scale >= 4, and are quantized at
``param_scale`` like every constant. The comparison works on rescaled logits, so the proven count
can differ from the float count only on samples whose float margin (right logit minus best wrong
logit) is within a few quanta of zero; :func:`margins` reports the margins so tests can tell such
samples apart. Rows (measured with ezkl 23.0.5, hidden 16, parameters in chunks of 1,024): about
3,800 plus 625 per probe sample with 4 advice columns (28,777 for 40 samples: logrows 15, the
deployment default), about 6,300 plus 1,114 per sample with 2 columns (24,163 for 16 samples;
50,899 for 40). At a fixed logrows, ezkl lays rows beyond ``2**logrows`` out in more advice
columns, so a bigger probe still compiles at the domain's logrows, at a cost that grows with the
rows (48 samples, 4 columns: 33,777 rows at logrows 15, a 1.1 GB proving key against 0.8 GB). The
rows grow with ``hidden * 64`` per sample (the first layer dominates) and do not depend on the
scale. Range checks on the inputs stay on: the comparisons depend on the parameters' values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from zkagg._errors import InvalidArgument
from zkagg._fl.data import DIGITS_CLASSES, DIGITS_FEATURES
from zkagg._fl.flat import forward_numpy, param_count, param_layout
from zkagg._prover.artifacts import RunArgs

__all__ = [
    "DEFAULT_RUN_ARGS",
    "WRONG_CLASS_OFFSET",
    "ShardModelCircuit",
    "build_shard_model_onnx",
    "chunk_lengths",
    "correct_count",
    "margins",
]

#: Subtracted from the right class's logit before the max over wrong classes (see the module doc).
WRONG_CLASS_OFFSET = 64.0

#: How the quality circuit is compiled: the parameters are the one committed input (``polycommit``),
#: the count is the one public output, constants (the probe) are fixed in the verification key.
DEFAULT_RUN_ARGS = RunArgs(
    input_visibility="polycommit",
    output_visibility="public",
    param_visibility="fixed",
    input_scale=13,
    param_scale=13,
    logrows=15,
    num_inner_cols=4,
)

_OPSET = 13


@dataclass(frozen=True)
class ShardModelCircuit:
    """A built graph and what it was built from."""

    onnx_bytes: bytes
    hidden: int
    n_probe: int
    n_params: int
    input_lengths: tuple[int, ...]


def _check_probe(
    x_probe: npt.ArrayLike, y_probe: npt.ArrayLike
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    x = np.asarray(x_probe, dtype=np.float32)
    y = np.asarray(y_probe)
    if x.ndim != 2 or x.shape[1] != DIGITS_FEATURES or x.shape[0] == 0:
        raise InvalidArgument(f"x_probe must have shape [n, {DIGITS_FEATURES}] with n >= 1, not {x.shape}")
    if y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise InvalidArgument(f"y_probe must be {x.shape[0]} integer labels, not shape {y.shape} {y.dtype}")
    if y.min() < 0 or y.max() >= DIGITS_CLASSES:
        raise InvalidArgument(
            f"y_probe labels must be in [0, {DIGITS_CLASSES - 1}], not {int(y.min())}..{int(y.max())}"
        )
    if not np.isfinite(x).all():
        raise InvalidArgument("x_probe must be finite")
    return x, y.astype(np.int64)


def chunk_lengths(n_params: int, chunk_size: int | None) -> list[int]:
    """Lengths of the circuit's inputs: ``n_params`` cut into pieces of ``chunk_size`` (last shorter)."""
    if chunk_size is None:
        return [n_params]
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise InvalidArgument(f"chunk_size must be None or a positive integer, not {chunk_size!r}")
    full, rest = divmod(n_params, chunk_size)
    return [chunk_size] * full + ([rest] if rest else [])


def build_shard_model_onnx(
    x_probe: npt.ArrayLike, y_probe: npt.ArrayLike, hidden: int, *, chunk_size: int | None = None
) -> ShardModelCircuit:
    """Build the quality graph for a model of width ``hidden`` on a probe set.

    Parameters
    ----------
    x_probe
        Probe features ``[n, 64]`` (public; baked in).
    y_probe
        Probe labels ``[n]`` in 0..9 (public; baked in as a one-hot matrix).
    hidden
        Hidden width of :class:`zkagg._fl.model.DigitsMLP`.
    chunk_size
        ``None``: one input ``params [1, 75 h + 10]``. Otherwise the parameters arrive as the
        chunks of a commitment domain: inputs ``params_0, params_1, ...`` of ``chunk_size`` values
        each (the last one shorter, see :func:`chunk_lengths`), concatenated in the graph. Each
        input is then committed separately, and since zeros appended to a message leave its KZG
        commitment unchanged (DESIGN.md §3), input ``j``'s commitment equals the domain's
        commitment of chunk ``j`` of the zero-padded vector.

    Returns
    -------
    ShardModelCircuit
        The serialized, checked ONNX model with output ``correct [1]``. The bytes are
        deterministic for the same arguments.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    x, y = _check_probe(x_probe, y_probe)
    layout = param_layout(hidden)
    n_params = param_count(hidden)
    n = x.shape[0]
    onehot = np.zeros((n, DIGITS_CLASSES), dtype=np.float32)
    onehot[np.arange(n), y] = 1.0

    inits = [
        numpy_helper.from_array(x, "X"),
        numpy_helper.from_array(onehot, "Y"),
        numpy_helper.from_array((onehot * WRONG_CLASS_OFFSET).astype(np.float32), "Y_offset"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
    ]
    lengths = chunk_lengths(n_params, chunk_size)
    if len(lengths) == 1:
        graph_inputs = [helper.make_tensor_value_info("params", TensorProto.FLOAT, [1, n_params])]
        nodes = []
    else:
        names = [f"params_{j}" for j in range(len(lengths))]
        graph_inputs = [
            helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, length])
            for name, length in zip(names, lengths, strict=True)
        ]
        nodes = [helper.make_node("Concat", names, ["params"], axis=1)]
    for name, shape, start, stop in layout:
        inits += [
            numpy_helper.from_array(np.array([start], dtype=np.int64), f"{name}_start"),
            numpy_helper.from_array(np.array([stop], dtype=np.int64), f"{name}_stop"),
            numpy_helper.from_array(np.array(shape, dtype=np.int64), f"{name}_shape"),
        ]
        nodes += [
            helper.make_node("Slice", ["params", f"{name}_start", f"{name}_stop", "axis1"], [f"{name}_flat"]),
            helper.make_node("Reshape", [f"{name}_flat", f"{name}_shape"], [name]),
        ]
    nodes += [
        helper.make_node("Transpose", ["W1"], ["W1t"], perm=[1, 0]),
        helper.make_node("MatMul", ["X", "W1t"], ["h_lin"]),
        helper.make_node("Add", ["h_lin", "b1"], ["h_pre"]),
        helper.make_node("Relu", ["h_pre"], ["h"]),
        helper.make_node("Transpose", ["W2"], ["W2t"], perm=[1, 0]),
        helper.make_node("MatMul", ["h", "W2t"], ["o_lin"]),
        helper.make_node("Add", ["o_lin", "b2"], ["logits"]),
        helper.make_node("Mul", ["logits", "Y"], ["true_parts"]),
        helper.make_node("ReduceSum", ["true_parts", "axis1"], ["true_logit"], keepdims=0),
        helper.make_node("Sub", ["logits", "Y_offset"], ["wrong_logits"]),
        helper.make_node("ReduceMax", ["wrong_logits"], ["best_wrong"], axes=[1], keepdims=0),
        helper.make_node("Greater", ["true_logit", "best_wrong"], ["is_correct"]),
        helper.make_node("Cast", ["is_correct"], ["correct_f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceSum", ["correct_f"], ["correct"], keepdims=1),
    ]
    graph = helper.make_graph(
        nodes,
        "zkagg_shard_model_quality",
        graph_inputs,
        [helper.make_tensor_value_info("correct", TensorProto.FLOAT, [1])],
        initializer=inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", _OPSET)], producer_name="zkagg.circuits.shard_model"
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return ShardModelCircuit(model.SerializeToString(), int(hidden), int(n), n_params, tuple(lengths))


def margins(
    params: npt.ArrayLike, hidden: int, x_probe: npt.ArrayLike, y_probe: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Per probe sample: the right class's logit minus the best wrong logit (float64 reference)."""
    x, y = _check_probe(x_probe, y_probe)
    logits = forward_numpy(params, hidden, x)
    n = len(y)
    true = logits[np.arange(n), y]
    wrong = logits.copy()
    wrong[np.arange(n), y] = -np.inf
    return true - wrong.max(axis=1)  # type: ignore[no-any-return]


def correct_count(params: npt.ArrayLike, hidden: int, x_probe: npt.ArrayLike, y_probe: npt.ArrayLike) -> int:
    """Reference count of probe samples with a strictly positive margin (what the graph computes)."""
    return int((margins(params, hidden, x_probe, y_probe) > 0).sum())
