"""The quality graph agrees with numpy and onnxruntime (no proving here)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from zkagg._errors import InvalidArgument
from zkagg._fl.data import load_digits_task
from zkagg._fl.flat import forward_numpy, param_count
from zkagg.circuits.shard_model import (
    build_shard_model_onnx,
    chunk_lengths,
    correct_count,
    margins,
)


def _run(model_bytes: bytes, params: np.ndarray) -> float:
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    feeds, offset = {}, 0
    for inp in session.get_inputs():
        length = inp.shape[1]
        feeds[inp.name] = params[offset : offset + length].reshape(1, -1).astype(np.float32)
        offset += length
    assert offset == params.size
    return float(session.run(None, feeds)[0][0])


@pytest.mark.parametrize("chunk_size", [None, 1024, 256])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_graph_counts_like_numpy(chunk_size: int | None, seed: int) -> None:
    # Prepare: random parameters of a magnitude that gives varied predictions
    data = load_digits_task(probe_size=40)
    params = (np.random.default_rng(seed).normal(size=param_count(16)) * 0.5).astype(np.float32)
    circuit = build_shard_model_onnx(data.x_probe, data.y_probe, 16, chunk_size=chunk_size)
    # Execute
    count = _run(circuit.onnx_bytes, params)
    # Assert
    assert count == correct_count(params, 16, data.x_probe, data.y_probe)
    argmax_count = int((forward_numpy(params, 16, data.x_probe).argmax(1) == data.y_probe).sum())
    assert count == argmax_count  # no exact ties with random floats


def test_graph_counts_a_trained_model_like_argmax() -> None:
    from zkagg._fl.sim import FLConfig, run_reference

    data = load_digits_task(probe_size=40)
    params = run_reference(FLConfig(rounds=1), data=data).params
    circuit = build_shard_model_onnx(data.x_probe, data.y_probe, 16, chunk_size=1024)
    assert _run(circuit.onnx_bytes, params) == correct_count(params, 16, data.x_probe, data.y_probe)


def test_ties_count_as_wrong() -> None:
    data = load_digits_task(probe_size=20)
    zeros = np.zeros(param_count(8), dtype=np.float32)  # every logit is 0: all tie
    circuit = build_shard_model_onnx(data.x_probe, data.y_probe, 8)
    assert _run(circuit.onnx_bytes, zeros) == 0
    assert (margins(zeros, 8, data.x_probe, data.y_probe) == 0).all()


def test_graph_is_deterministic_and_checked() -> None:
    data = load_digits_task(probe_size=40)
    a = build_shard_model_onnx(data.x_probe, data.y_probe, 16, chunk_size=1024)
    b = build_shard_model_onnx(data.x_probe, data.y_probe, 16, chunk_size=1024)
    assert a.onnx_bytes == b.onnx_bytes
    assert a.input_lengths == (1024, 186)
    model = onnx.load_from_string(a.onnx_bytes)
    onnx.checker.check_model(model, full_check=True)
    ops = {n.op_type for n in model.graph.node}
    assert "ArgMax" not in ops and "Gather" not in ops  # see the module docstring


def test_chunk_lengths() -> None:
    assert chunk_lengths(1210, None) == [1210]
    assert chunk_lengths(1210, 1024) == [1024, 186]
    assert chunk_lengths(1024, 512) == [512, 512]
    with pytest.raises(InvalidArgument, match="chunk_size must be None or a positive integer, not 0"):
        chunk_lengths(10, 0)


def test_bad_probe_is_refused() -> None:
    with pytest.raises(InvalidArgument, match=r"x_probe must have shape \[n, 64\]"):
        build_shard_model_onnx(np.zeros((4, 63)), np.zeros(4, dtype=np.int64), 16)
    with pytest.raises(InvalidArgument, match=r"y_probe labels must be in \[0, 9\]"):
        build_shard_model_onnx(np.zeros((2, 64)), np.array([0, 10]), 16)


def test_default_run_args_are_the_default_quality_spec() -> None:
    from zkagg._fl.quality import QualitySpec
    from zkagg.circuits.shard_model import DEFAULT_RUN_ARGS

    spec = QualitySpec.for_digits(load_digits_task())
    assert spec.run_args() == DEFAULT_RUN_ARGS
    assert DEFAULT_RUN_ARGS.input_visibility == "polycommit"
    assert spec.n_probe == 40 and spec.input_lengths == [1024, 186]


def test_spec_description_names_the_probe() -> None:
    from zkagg._fl.quality import QualitySpec

    a = QualitySpec.for_digits(load_digits_task()).describe()
    b = QualitySpec.for_digits(load_digits_task(seed=1)).describe()
    assert a["n_probe"] == b["n_probe"] == 40 and a["logrows"] == 15 and a["scale"] == 13
    assert a["probe_sha256"] != b["probe_sha256"] and a["fingerprint"] != b["fingerprint"]
