"""The digits model: flat parameters, numpy reference forward pass, local training, reference loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zkagg._errors import InvalidArgument
from zkagg._fl.data import load_digits_task
from zkagg._fl.model import (
    DigitsMLP,
    TrainConfig,
    accuracy,
    forward_numpy,
    get_flat_params,
    local_train,
    param_count,
    param_layout,
    set_flat_params,
    torch_threads,
)
from zkagg._fl.sim import FLConfig, aggregate_updates, run_reference, shard_assignment


def test_layout_is_stable_and_documented() -> None:
    assert param_count(16) == 75 * 16 + 10 == 1210
    assert [(n, s) for n, s, _, _ in param_layout(4)] == [
        ("W1", (4, 64)),
        ("b1", (4,)),
        ("W2", (10, 4)),
        ("b2", (10,)),
    ]


def test_flat_params_round_trip() -> None:
    # Prepare
    model = DigitsMLP(16, seed=1)
    flat = np.random.default_rng(0).normal(size=param_count(16)).astype(np.float32)
    # Execute
    set_flat_params(model, flat)
    back = get_flat_params(model)
    # Assert
    np.testing.assert_array_equal(back, flat)
    np.testing.assert_array_equal(model.fc1.weight.detach().numpy().ravel(), flat[: 16 * 64])
    np.testing.assert_array_equal(model.fc2.bias.detach().numpy(), flat[-10:])


def test_seeded_init_is_deterministic_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = get_flat_params(DigitsMLP(8, seed=5))
    after = torch.rand(1)
    assert torch.equal(before, after)
    np.testing.assert_array_equal(a, get_flat_params(DigitsMLP(8, seed=5)))


def test_numpy_forward_matches_torch() -> None:
    model = DigitsMLP(16, seed=2)
    x = np.random.default_rng(1).random((20, 64)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(forward_numpy(get_flat_params(model), 16, x), ref, atol=1e-5)


def test_set_flat_params_rejects_wrong_length() -> None:
    with pytest.raises(InvalidArgument, match="flat must be a vector of 1210 parameters"):
        set_flat_params(DigitsMLP(16), np.zeros(5))


def test_local_training_improves_accuracy_deterministically() -> None:
    # Prepare
    data = load_digits_task()
    start = get_flat_params(DigitsMLP(16, seed=0))
    x, y = data.x_train[:200], data.y_train[:200]
    # Execute
    with torch_threads(1):
        a = local_train(start, x, y, hidden=16, config=TrainConfig(epochs=3), seed=7)
        b = local_train(start, x, y, hidden=16, config=TrainConfig(epochs=3), seed=7)
    # Assert
    assert a.n_samples == 200
    np.testing.assert_array_equal(a.delta, b.delta)
    before = accuracy(start, 16, data.x_test, data.y_test)
    after = accuracy(start + a.delta, 16, data.x_test, data.y_test)
    assert after > before + 0.4


def test_reference_aggregators() -> None:
    u = np.array([[1.0, 10.0], [3.0, -2.0], [100.0, 0.0]])
    np.testing.assert_allclose(aggregate_updates(u, [1, 1, 2], "fedavg"), [51.0, 2.0])
    np.testing.assert_allclose(aggregate_updates(u, [1, 1, 2], "median"), [3.0, 0.0])
    with pytest.raises(InvalidArgument, match="rule must be one of fedavg, median, not 'krum'"):
        aggregate_updates(u, [1, 1, 1], "krum")


def test_shard_assignment_is_balanced_and_rotates() -> None:
    r1 = shard_assignment(16, 4, 1, 0)
    r2 = shard_assignment(16, 4, 2, 0)
    assert sorted(c for s in r1 for c in s) == list(range(16))
    assert [len(s) for s in r1] == [4, 4, 4, 4]
    assert r1 != r2
    assert r1 == shard_assignment(16, 4, 1, 0)


@pytest.mark.slow
def test_reference_fedavg_reaches_ninety_percent() -> None:
    # Execute: 16 clients in 4 shards, Dirichlet(1.0) label skew
    with torch_threads(1):
        history = run_reference(FLConfig(rounds=5))
    # Assert
    assert history.initial_accuracy < 0.2
    assert history.final_accuracy >= 0.90
    assert all(r.shards_accepted == 4 for r in history.rounds)


@pytest.mark.slow
def test_sign_flipping_clients_break_fedavg_but_not_the_median() -> None:
    # Prepare: 5 of 16 clients (30%) send -10 times their update
    common = {"rounds": 10, "byzantine_fraction": 0.3}
    # Execute
    fedavg = run_reference(FLConfig(rule="fedavg", **common))  # type: ignore[arg-type]
    median = run_reference(FLConfig(rule="median", n_shards=1, **common))  # type: ignore[arg-type]
    gated = run_reference(
        FLConfig(rule="median", quality_threshold=0.3, quality_margin=0.05, **common)  # type: ignore[arg-type]
    )
    # Assert
    assert len(fedavg.byzantine) == 5
    assert fedavg.final_accuracy < 0.5
    assert median.final_accuracy > 0.85  # coordinate-wise median over all 16 clients
    assert gated.final_accuracy > 0.85  # median in 4 shards of 4, shards gated on probe accuracy


def test_updates_on_the_commitment_grid_train_as_well_as_floats() -> None:
    # Execute: the same run with client updates rounded to scale 13, as committed updates are
    floats = run_reference(FLConfig(rounds=3))
    grid = run_reference(FLConfig(rounds=3, quantize_scale=13))
    # Assert
    assert abs(grid.final_accuracy - floats.final_accuracy) <= 0.01


def test_quality_gate_records_its_figures() -> None:
    history = run_reference(
        FLConfig(rounds=2, rule="median", byzantine_fraction=0.3, quality_threshold=0.3, quality_margin=0.05)
    )
    for record in history.rounds:
        assert record.threshold is not None and record.threshold >= 0.3
        assert len(record.shard_probe_accuracy) == 4
        assert record.shards_accepted == sum(a >= record.threshold for a in record.shard_probe_accuracy)


def test_thirty_percent_dropout_still_trains() -> None:
    history = run_reference(FLConfig(rounds=4, dropout=0.3))
    assert history.final_accuracy >= 0.85
