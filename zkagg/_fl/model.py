"""The digits model as one flat parameter vector: torch training, numpy reference forward pass.

The model is a two-layer perceptron ``64 -> hidden -> 10`` with a ReLU, the logits unnormalized::

    logits = relu(x @ W1.T + b1) @ W2.T + b2

Everything outside local training treats its parameters as ONE flat float vector, in this stable
order (torch's own layout, row-major):

    ========  =============  ============================
    name      shape          slice of the flat vector
    ========  =============  ============================
    W1        [hidden, 64]   [0, 64 h)
    b1        [hidden]       [64 h, 65 h)
    W2        [10, hidden]   [65 h, 75 h)
    b2        [10]           [75 h, 75 h + 10)
    ========  =============  ============================

so ``param_count(hidden) = 75 * hidden + 10`` (1,210 at hidden 16). That vector is what a client's
update is (new minus global), what shards aggregate, what is committed (KZG) and what the
shard-model quality circuit (:mod:`zkagg.circuits.shard_model`) takes as its one input.

Local training is plain mini-batch SGD on the cross-entropy, seeded per call
(``torch.Generator``), so a client's update is a deterministic function of the global parameters,
its data, the hyperparameters and the seed (on one CPU thread count).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from zkagg._errors import InvalidArgument
from zkagg._fl.data import DIGITS_CLASSES, DIGITS_FEATURES
from zkagg._fl.flat import accuracy, check_hidden, forward_numpy, param_count, param_layout

__all__ = [
    "DigitsMLP",
    "LocalUpdate",
    "TrainConfig",
    "accuracy",
    "forward_numpy",
    "get_flat_params",
    "local_train",
    "param_count",
    "param_layout",
    "set_flat_params",
    "torch_threads",
]

FloatVector = npt.NDArray[np.float32]


class DigitsMLP(torch.nn.Module):
    """``64 -> hidden -> 10`` perceptron with a ReLU; initialized from ``torch.manual_seed(seed)``."""

    def __init__(self, hidden: int = 16, *, seed: int = 0) -> None:
        super().__init__()
        self.hidden = check_hidden(hidden)
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        self.fc1 = torch.nn.Linear(DIGITS_FEATURES, self.hidden)
        self.fc2 = torch.nn.Linear(self.hidden, DIGITS_CLASSES)
        torch.random.set_rng_state(generator_state)  # leave the caller's global RNG untouched

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[n, 10]`` of features ``[n, 64]``."""
        return self.fc2(torch.relu(self.fc1(x)))  # type: ignore[no-any-return]

    def _tensors(self) -> list[torch.Tensor]:
        return [self.fc1.weight, self.fc1.bias, self.fc2.weight, self.fc2.bias]


def get_flat_params(model: DigitsMLP) -> FloatVector:
    """The model's parameters as one ``float32`` vector in the documented order (a copy)."""
    with torch.no_grad():
        return torch.cat([t.detach().reshape(-1) for t in model._tensors()]).numpy().astype(np.float32)


def set_flat_params(model: DigitsMLP, flat: npt.ArrayLike) -> None:
    """Load a flat vector (the order of :func:`get_flat_params`) into the model, in place."""
    vec = np.asarray(flat, dtype=np.float32)
    need = param_count(model.hidden)
    if vec.shape != (need,):
        raise InvalidArgument(
            f"flat must be a vector of {need} parameters (hidden {model.hidden}), not shape {vec.shape}"
        )
    if not np.isfinite(vec).all():
        raise InvalidArgument(f"flat must be finite, but flat[{int(np.argmax(~np.isfinite(vec)))}] is not")
    with torch.no_grad():
        for tensor, (_, shape, start, stop) in zip(model._tensors(), param_layout(model.hidden), strict=True):
            tensor.copy_(torch.from_numpy(vec[start:stop].reshape(shape).copy()))


@dataclass(frozen=True)
class TrainConfig:
    """Local training hyperparameters (mini-batch SGD with momentum on the cross-entropy)."""

    epochs: int = 10
    lr: float = 0.05
    momentum: float = 0.9
    batch_size: int = 16

    def __post_init__(self) -> None:
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise InvalidArgument(f"epochs must be a positive integer, not {self.epochs!r}")
        if not isinstance(self.lr, int | float) or not 0 < self.lr <= 10:
            raise InvalidArgument(f"lr must be a number in (0, 10], not {self.lr!r}")
        if not isinstance(self.momentum, int | float) or not 0 <= self.momentum < 1:
            raise InvalidArgument(f"momentum must be a number in [0, 1), not {self.momentum!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise InvalidArgument(f"batch_size must be a positive integer, not {self.batch_size!r}")


@dataclass(frozen=True)
class LocalUpdate:
    """A client's result: ``delta`` = trained minus global parameters, and its sample count."""

    delta: FloatVector
    n_samples: int


def local_train(
    global_params: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    hidden: int,
    config: TrainConfig | None = None,
    seed: int = 0,
    model: DigitsMLP | None = None,
) -> LocalUpdate:
    """Train from ``global_params`` on one client's data; return the update and the sample count.

    Parameters
    ----------
    global_params
        Flat parameters to start from.
    x, y
        The client's features ``[n, 64]`` and labels ``[n]`` (``n >= 1``).
    hidden
        Hidden width of the model.
    config
        Hyperparameters (default :class:`TrainConfig` ``()``).
    seed
        Seed of the batch order; vary it per client and per round.
    model
        A model of width ``hidden`` to train in (reused to save allocations); overwritten.
    """
    cfg = config if config is not None else TrainConfig()
    features = torch.as_tensor(np.asarray(x, dtype=np.float32)).reshape(-1, DIGITS_FEATURES)
    labels = torch.as_tensor(np.asarray(y, dtype=np.int64)).reshape(-1)
    if features.shape[0] != labels.shape[0] or labels.shape[0] == 0:
        raise InvalidArgument(
            f"x and y must hold the same positive number of samples, not {features.shape[0]} and {labels.shape[0]}"
        )
    start = np.asarray(global_params, dtype=np.float32)
    net = model if model is not None else DigitsMLP(hidden)
    if net.hidden != hidden:
        raise InvalidArgument(f"model must have hidden width {hidden}, not {net.hidden}")
    set_flat_params(net, start)
    net.train()
    optimizer = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    generator = torch.Generator().manual_seed(seed)
    n = labels.shape[0]
    for _ in range(cfg.epochs):
        order = torch.randperm(n, generator=generator)
        for begin in range(0, n, cfg.batch_size):
            batch = order[begin : begin + cfg.batch_size]
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(features[batch]), labels[batch])
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
    return LocalUpdate(delta=get_flat_params(net) - start, n_samples=int(n))


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run a block with ``torch.set_num_threads(n)``, restoring the previous count after."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
