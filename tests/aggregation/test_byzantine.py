"""Byzantine robustness on synthetic data (reference maths): 30% sign-flipped, 10x-scaled clients."""

from __future__ import annotations

import numpy as np
import pytest

from zkagg._aggregation.reference import byzantine_updates, clipped_fedavg, fedavg, median, trimmed_mean


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_median_and_trimmed_mean_stay_close_while_fedavg_does_not(seed: int) -> None:
    # Prepare: 20 clients around a common true update, 6 of them Byzantine
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=1000)
    honest = truth + 0.1 * rng.normal(size=(20, 1000))
    attacked, bad = byzantine_updates(honest, 0.3, seed=seed)
    reference = fedavg(honest[~bad])
    scale = np.linalg.norm(reference)
    # Execute
    errors = {
        "fedavg": np.linalg.norm(fedavg(attacked) - reference) / scale,
        "median": np.linalg.norm(median(attacked) - reference) / scale,
        "trimmed_mean": np.linalg.norm(trimmed_mean(attacked, 0.3) - reference) / scale,
        "clipped_fedavg": np.linalg.norm(clipped_fedavg(attacked, float(1.1 * scale)) - reference) / scale,
    }
    # Assert
    assert errors["fedavg"] > 2.0  # dragged past the origin: -10 * 0.3 + 0.7 = -2.3 times the truth
    assert errors["median"] < 0.5
    assert errors["trimmed_mean"] < 0.1
    assert errors["clipped_fedavg"] < errors["fedavg"]
