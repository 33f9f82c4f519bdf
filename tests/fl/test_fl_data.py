"""The digits task: splits and the Dirichlet partition."""

from __future__ import annotations

import numpy as np
import pytest

from zkagg._errors import InvalidArgument
from zkagg._fl.data import DIGITS_FEATURES, dirichlet_partition, label_skew, load_digits_task


def test_splits_are_disjoint_scaled_and_deterministic() -> None:
    # Execute
    a = load_digits_task(seed=3)
    b = load_digits_task(seed=3)
    # Assert
    assert len(a.y_train) + len(a.y_test) + len(a.y_probe) == 1797
    assert a.x_train.shape[1] == DIGITS_FEATURES and a.x_train.dtype == np.float32
    assert float(a.x_train.min()) >= 0.0 and float(a.x_train.max()) <= 1.0
    assert len(a.y_test) == 360 and len(a.y_probe) == 40
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_probe, b.y_probe)
    rows = {r.tobytes() for r in a.x_test} | {r.tobytes() for r in a.x_probe}
    # disjoint by construction; identical images may exist in the data set itself, so check counts
    assert len(rows) >= 0.99 * (len(a.x_test) + len(a.x_probe))


def test_probe_is_stratified() -> None:
    data = load_digits_task(seed=0, probe_size=40)
    counts = np.bincount(data.y_probe, minlength=10)
    assert counts.min() == counts.max() == 4


def test_other_seed_gives_other_split() -> None:
    assert not np.array_equal(load_digits_task(seed=0).y_test, load_digits_task(seed=1).y_test)


@pytest.mark.parametrize("alpha", [0.05, 0.5, 100.0])
def test_partition_covers_every_sample_once_and_nobody_is_empty(alpha: float) -> None:
    # Prepare
    y = load_digits_task().y_train
    # Execute
    parts = dirichlet_partition(y, 16, alpha=alpha, seed=4, min_samples=8)
    # Assert
    joined = np.concatenate(parts)
    assert len(parts) == 16
    assert sorted(joined.tolist()) == list(range(len(y)))
    assert min(len(p) for p in parts) >= 8


def test_partition_is_deterministic() -> None:
    y = load_digits_task().y_train
    a = dirichlet_partition(y, 8, alpha=0.3, seed=9)
    b = dirichlet_partition(y, 8, alpha=0.3, seed=9)
    c = dirichlet_partition(y, 8, alpha=0.3, seed=10)
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert not all(np.array_equal(p, q) for p, q in zip(a, c, strict=True))


def test_label_skew_grows_as_alpha_falls() -> None:
    y = load_digits_task().y_train
    skews = [label_skew(y, dirichlet_partition(y, 16, alpha=a, seed=0)) for a in (100.0, 1.0, 0.1)]
    assert skews[0] < 0.15 < skews[1] < skews[2]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_clients": 0, "alpha": 1.0}, "n_clients must be an integer >= 1, not 0"),
        ({"n_clients": 4, "alpha": 0.0}, "alpha must be a positive finite number, not 0.0"),
        ({"n_clients": 4, "alpha": 1.0, "min_samples": 1000}, "n_clients \\* min_samples"),
    ],
)
def test_partition_rejects_bad_arguments(kwargs: dict, match: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidArgument, match=match):
        dirichlet_partition(np.arange(100) % 10, **kwargs)
