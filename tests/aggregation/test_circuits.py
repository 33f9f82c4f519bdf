"""The circuit graphs against the reference maths, with onnxruntime (no proving: fast)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from zkagg import InvalidArgument
from zkagg._aggregation.reference import fedavg_sum_int, median_int, trim_count, trimmed_mean_int
from zkagg.circuits._graph import SIGN_METHODS, Circuit, float_reference, order_statistic_delta
from zkagg.circuits.baselines import matmul_fedavg_circuit, topk_median_circuit, topk_trimmed_mean_circuit
from zkagg.circuits.clipped_fedavg import clipped_fedavg_circuit
from zkagg.circuits.fedavg import fedavg_circuit
from zkagg.circuits.median import median_circuit
from zkagg.circuits.norm_bound import norm_bound_circuit
from zkagg.circuits.trimmed_mean import trimmed_mean_circuit


def run(circuit: Circuit, feeds: list[np.ndarray]) -> list[np.ndarray]:
    session = ort.InferenceSession(float_reference(circuit))
    named = {
        name: np.asarray(value, dtype=np.float64).astype(np.float32).reshape(shape)
        for (name, shape), value in zip(circuit.inputs, feeds, strict=True)
    }
    return [np.asarray(o, dtype=np.float64) for o in session.run(None, named)]


def median_feeds(x: np.ndarray, m: np.ndarray) -> list[np.ndarray]:
    n = x.shape[0]
    s = np.sort(x, axis=0)
    middles = [] if n % 2 else [s[n // 2 - 1], s[n // 2]]
    return [*x, *middles, m]


def values(rng: np.random.Generator, n: int, d: int, ties: bool) -> np.ndarray:
    x = rng.integers(-3000, 3000, size=(n, d))
    if ties:  # many equal values per coordinate, including at the median
        x = rng.integers(-2, 3, size=(n, d)) * 1000
    return x


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("method", SIGN_METHODS)
def test_median_check_is_zero_exactly_at_the_reference_median(n: int, ties: bool, method: str) -> None:
    # Prepare
    rng = np.random.default_rng(n + 10 * ties)
    x = values(rng, n, 32, ties)
    m = median_int(x)
    circuit = median_circuit(n, 32, logrows=15, method=method)
    # Execute
    honest = run(circuit, median_feeds(x, m))[0]
    off = [run(circuit, median_feeds(x, m + delta))[0] for delta in (-1, 1)]
    # Assert: the reference median passes, one quantum off in one coordinate fails
    assert honest.item() == 0
    single = m.copy()
    single[5] += 1
    assert run(circuit, median_feeds(x, single))[0].item() > 0
    assert all(o.item() > 0 for o in off)


@pytest.mark.parametrize("method", SIGN_METHODS)
def test_median_check_rejects_wrong_middle_values_for_even_n(method: str) -> None:
    # Prepare
    rng = np.random.default_rng(4)
    x = values(rng, 4, 16, False)
    s = np.sort(x, axis=0)
    circuit = median_circuit(4, 16, logrows=15, method=method)
    # Execute: lower middle replaced by the smallest value, median recomputed to match
    forged_m = (s[0] + s[2]) // 2
    out = run(circuit, [*x, s[0], s[2], forged_m])[0]
    # Assert
    assert out.item() > 0


def test_order_statistic_delta() -> None:
    assert order_statistic_delta(7, 4) == 0
    assert order_statistic_delta(8, 4) == 1
    assert order_statistic_delta(8, 5) == -1
    with pytest.raises(InvalidArgument, match="rank"):
        order_statistic_delta(3, 4)


@pytest.mark.parametrize(("n", "beta"), [(5, 0.2), (7, 0.3), (8, 0.25), (4, 0.0)])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("method", SIGN_METHODS)
def test_trimmed_sum_check_is_zero_exactly_at_the_reference(
    n: int, beta: float, ties: bool, method: str
) -> None:
    # Prepare
    rng = np.random.default_rng(n)
    x = values(rng, n, 32, ties)
    b = trim_count(n, beta)
    s = np.sort(x, axis=0)
    total, count = trimmed_mean_int(x, beta) if beta else (list(x.sum(axis=0)), n)
    circuit = trimmed_mean_circuit(n, 32, b, logrows=15, method=method)
    feeds = [*x, s[b], s[n - b - 1], np.asarray(total)]
    # Execute
    honest = run(circuit, feeds)[0]
    wrong_sum = run(circuit, [*feeds[:-1], np.asarray(total) + 1])[0]
    wrong_cut = run(circuit, [*x, s[b] - 1, s[n - b - 1], np.asarray(total)])[0]
    # Assert
    assert count == n - 2 * b
    assert honest.item() == 0
    assert wrong_sum.item() > 0
    assert wrong_cut.item() > 0


def test_fedavg_graph_is_the_exact_weighted_sum() -> None:
    # Prepare
    rng = np.random.default_rng(1)
    x = rng.integers(-3000, 3000, size=(5, 64))
    w = [3, 1, 4, 1, 5]
    # Execute
    out = run(fedavg_circuit(w, 64, logrows=15), list(x))[0]
    # Assert
    assert out.ravel().tolist() == fedavg_sum_int(x, w)


def test_clipped_fedavg_graph_sums_factors_and_squares() -> None:
    # Prepare
    rng = np.random.default_rng(2)
    x = rng.integers(-300, 300, size=(3, 16))
    w = [2, 1, 3]
    factors = np.array([65536, 1000, 30000])
    # Execute
    weighted, squares = run(clipped_fedavg_circuit(w, 16, logrows=15), [*x, factors])
    # Assert
    assert weighted.ravel().tolist() == ((np.array(w) * factors) @ x).tolist()
    assert squares.ravel().tolist() == (x * x).sum(axis=1).tolist()


def test_norm_bound_graph_outputs_sum_of_squares_and_linf_excess() -> None:
    # Prepare
    rng = np.random.default_rng(3)
    x = rng.integers(-100, 100, size=(3, 32))
    # Execute
    total, excess = run(norm_bound_circuit(3, 32, logrows=15, linf_bound=90), list(x))
    # Assert
    assert total.item() == (x * x).sum()
    assert excess.item() == np.maximum(np.abs(x) - 90, 0).sum()


def test_baselines_compute_the_reference() -> None:
    # Prepare
    rng = np.random.default_rng(5)
    x = rng.normal(size=(7, 32))
    # Execute
    med = run(topk_median_circuit(7, 32, scale=13), list(x))[0]
    trimmed = run(topk_trimmed_mean_circuit(7, 32, 2, scale=13), list(x))[0]
    avg = run(matmul_fedavg_circuit([1, 2, 3, 4, 5, 6, 7], 32, scale=13), list(x))[0]
    # Assert
    s = np.sort(x, axis=0)
    np.testing.assert_allclose(med.ravel(), s[3], atol=1e-6)
    np.testing.assert_allclose(trimmed.ravel(), s[2:5].mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(avg.ravel(), np.arange(1, 8) @ x / 28, atol=1e-5)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: median_circuit(0, 16, logrows=15), "n_clients"),
        (lambda: median_circuit(3, 0, logrows=15), "chunk_size"),
        (lambda: trimmed_mean_circuit(4, 16, 2, logrows=15), "trim"),
        (lambda: trimmed_mean_circuit(4, 16, 1, logrows=15, method="sorting"), "method"),
        (lambda: median_circuit(3, 16, logrows=15, method="Sign"), "method"),
        (lambda: fedavg_circuit([1, 0], 16, logrows=15), r"weights\[1\]"),
        (lambda: fedavg_circuit([1, 2.5], 16, logrows=15), r"weights\[1\]"),  # type: ignore[list-item]
        (lambda: norm_bound_circuit(1, 16, logrows=15, linf_bound=-1), "linf_bound"),
    ],
)
def test_builders_name_the_bad_argument(build: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        build()  # type: ignore[operator]


def test_graphs_are_deterministic() -> None:
    # Same parameters, same bytes: the verifier rebuilds the prover's circuit (and its key) from them.
    assert median_circuit(5, 64, logrows=15).onnx == median_circuit(5, 64, logrows=15).onnx
    assert fedavg_circuit([1, 2], 64, logrows=15).onnx != fedavg_circuit([2, 1], 64, logrows=15).onnx


def test_sign_lookup_graphs_differ_from_decomposition_and_carry_the_table() -> None:
    # Prepare / Execute
    lookup = median_circuit(5, 64, logrows=15, method="lookup")
    decomposed = median_circuit(5, 64, logrows=15)
    trimmed = trimmed_mean_circuit(5, 64, 1, logrows=16, method="lookup")
    # Assert: another graph (so another key); the table spans one column of the logrows
    assert lookup.onnx != decomposed.onnx
    assert lookup.run_args.lookup_range == (-16351, 16351)
    assert decomposed.run_args.lookup_range is None
    assert trimmed.run_args.lookup_range == (-32735, 32735)
    assert lookup.run_args.input_visibility == "polycommit"
    assert lookup.run_args.ignore_range_check_inputs_outputs
