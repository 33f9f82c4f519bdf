"""The digits task: data, fixed splits and a non-IID partition across clients.

The data set is scikit-learn's handwritten digits (``sklearn.datasets.load_digits``): 1,797 grey
8 x 8 images of the digits 0-9 with pixel values 0-16, a copy of the test set of the UCI "Optical
Recognition of Handwritten Digits" data (Alpaydin and Kaynak, 1998). It ships inside the
scikit-learn wheel, so nothing is downloaded at run time.

Preparation (all seeded, so every party derives the same arrays):

* pixels are scaled to ``[0, 1]`` (divided by 16) and flattened to 64 features (row-major);
* a seeded permutation splits the samples into three disjoint parts: a public **probe** set (the
  samples on which shard models prove their accuracy in-circuit, small because every probe sample
  costs circuit rows), a held-out **test** split (reported accuracy) and the **train** split that
  the clients share out;
* :func:`dirichlet_partition` shares the training split among clients with label skew.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from zkagg._errors import InvalidArgument
from zkagg._field import IntArray

__all__ = [
    "DIGITS_CLASSES",
    "DIGITS_FEATURES",
    "DIGITS_SAMPLES",
    "DigitsData",
    "dirichlet_partition",
    "label_skew",
    "load_digits_task",
]

#: Features per sample (8 x 8 pixels) and number of classes of the digits task.
DIGITS_FEATURES = 64
DIGITS_CLASSES = 10
#: Samples in scikit-learn's digits data set (UCI optical digits test set): no client holds more.
DIGITS_SAMPLES = 1797

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class DigitsData:
    """The digits task split into train, test and probe parts (features in ``[0, 1]``).

    Attributes
    ----------
    x_train, y_train
        What the clients share out (features ``float32`` ``[n, 64]``, labels ``int64`` ``[n]``).
    x_test, y_test
        The held-out split on which the global model's accuracy is reported.
    x_probe, y_probe
        The public probe set baked into the shard-model quality circuit.
    seed
        The seed of the split.
    """

    x_train: FloatArray
    y_train: IntArray
    x_test: FloatArray
    y_test: IntArray
    x_probe: FloatArray
    y_probe: IntArray
    seed: int


def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidArgument(f"{name} must be an integer, not {value!r}")
    v = int(value)
    if v < low or (high is not None and v > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise InvalidArgument(f"{name} must be an integer {bound}, not {v}")
    return v


def load_digits_task(*, seed: int = 0, test_size: int = 360, probe_size: int = 40) -> DigitsData:
    """Load scikit-learn's digits and split them with a seeded permutation.

    Parameters
    ----------
    seed
        Seed of the permutation (``numpy.random.default_rng``).
    test_size
        Samples in the held-out test split.
    probe_size
        Samples in the public probe set. The probe is stratified as far as its size allows (the
        first ``probe_size`` samples of a round-robin over the classes of the permutation), so
        that every digit is represented.

    Returns
    -------
    DigitsData
        Disjoint train, test and probe parts.
    """
    from sklearn.datasets import load_digits  # type: ignore[import-untyped]

    seed = _check_int("seed", seed, 0)
    test_size = _check_int("test_size", test_size, 1, 1000)
    probe_size = _check_int("probe_size", probe_size, DIGITS_CLASSES, 400)
    bunch = load_digits()
    x = (np.asarray(bunch.data, dtype=np.float64) / 16.0).astype(np.float32)
    y = np.asarray(bunch.target, dtype=np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    # probe: round-robin over classes in permutation order (stratified, deterministic)
    per_class = [order[y[order] == c] for c in range(DIGITS_CLASSES)]
    probe_list: list[int] = []
    depth = 0
    while len(probe_list) < probe_size:
        for c in range(DIGITS_CLASSES):
            if depth < len(per_class[c]) and len(probe_list) < probe_size:
                probe_list.append(int(per_class[c][depth]))
        depth += 1
    probe = np.asarray(probe_list, dtype=np.int64)
    rest = order[~np.isin(order, probe)]
    test, train = rest[:test_size], rest[test_size:]
    return DigitsData(
        x_train=x[train],
        y_train=y[train],
        x_test=x[test],
        y_test=y[test],
        x_probe=x[probe],
        y_probe=y[probe],
        seed=seed,
    )


def dirichlet_partition(
    labels: npt.ArrayLike,
    n_clients: int,
    *,
    alpha: float,
    seed: int = 0,
    min_samples: int = 8,
) -> list[IntArray]:
    """Share sample indices among clients with Dirichlet label skew.

    For every class ``c`` a vector of client shares ``p_c ~ Dirichlet(alpha * 1)`` is drawn and the
    class's samples (in a seeded random order) are cut in those proportions, the construction of
    Hsu, Qi and Brown, "Measuring the Effects of Non-Identical Data Distribution for Federated
    Visual Classification" (2019). Small ``alpha`` gives each client few classes; large ``alpha``
    tends to IID.

    Every client then gets at least ``min_samples`` samples: while some client has fewer, it takes
    random samples from the client that has the most. (The usual alternative, redrawing until the
    condition holds, may take very many draws at small ``alpha``; topping up always terminates and
    changes little.)

    Parameters
    ----------
    labels
        Integer class labels of the samples to share out.
    n_clients
        Number of clients (at least 1).
    alpha
        Concentration of the Dirichlet prior (``> 0``).
    seed
        Seed of ``numpy.random.default_rng``; the partition is a pure function of the arguments.
    min_samples
        Minimum samples per client; ``n_clients * min_samples`` must not exceed the sample count.

    Returns
    -------
    list of numpy.ndarray
        One sorted ``int64`` index array per client; together they cover every sample once.
    """
    y = np.asarray(labels)
    if y.ndim != 1 or y.size == 0 or not np.issubdtype(y.dtype, np.integer):
        raise InvalidArgument(f"labels must be a non-empty 1-d integer array, not shape {y.shape} {y.dtype}")
    n = _check_int("n_clients", n_clients, 1)
    min_samples = _check_int("min_samples", min_samples, 0)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not np.isfinite(alpha) or alpha <= 0:
        raise InvalidArgument(f"alpha must be a positive finite number, not {alpha!r}")
    if n * min_samples > y.size:
        raise InvalidArgument(
            f"n_clients * min_samples must be at most the number of samples ({y.size}), "
            f"not {n} * {min_samples} = {n * min_samples}"
        )
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in range(n)]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        shares = rng.dirichlet(np.full(n, float(alpha)))
        cuts = (np.cumsum(shares)[:-1] * idx.size).astype(np.int64)
        for client, chunk in enumerate(np.split(idx, cuts)):
            parts[client].extend(int(i) for i in chunk)
    sizes = np.array([len(p) for p in parts])
    while sizes.min() < min_samples:
        poor = int(np.argmin(sizes))
        rich = int(np.argmax(sizes))
        take = int(min(min_samples - sizes[poor], sizes[rich] - min_samples))
        donor = parts[rich]
        chosen = set(rng.choice(len(donor), size=take, replace=False).tolist())
        parts[poor].extend(donor[i] for i in sorted(chosen))
        parts[rich] = [v for i, v in enumerate(donor) if i not in chosen]
        sizes = np.array([len(p) for p in parts])
    return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]


def label_skew(labels: npt.ArrayLike, parts: list[IntArray]) -> float:
    """Mean total-variation distance between each client's label distribution and the global one.

    0 for a perfectly IID partition, approaching 1 when clients hold disjoint rare classes.
    """
    y = np.asarray(labels)
    classes = np.unique(y)
    overall = np.array([(y == c).mean() for c in classes])
    distances = []
    for p in parts:
        if len(p) == 0:
            raise InvalidArgument("parts must all be non-empty to measure label skew")
        local = np.array([(y[p] == c).mean() for c in classes])
        distances.append(0.5 * float(np.abs(local - overall).sum()))
    return float(np.mean(distances))
