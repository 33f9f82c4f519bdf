"""A reference sharded federated-learning loop in plain Python: no proofs, no DA, float maths.

This is the yardstick that the verified protocol must reproduce (up to quantization): the same
clients, the same data, the same rules, in one process. Each round ``r``:

1. clients are assigned to shards by a seeded permutation that changes every round (cohorts
   rotate; the protocol derives its assignment from the DA header instead);
2. every client trains locally from the global parameters (:func:`zkagg._fl.model.local_train`)
   and returns its update; a Byzantine client returns ``attack_scale`` times its honest update
   (``-10``: a scaled sign flip, after Fang et al., "Local Model Poisoning Attacks to
   Byzantine-Robust Federated Learning", USENIX Security 2020);
3. each shard aggregates its cohort's updates with the rule: ``fedavg``, the sample-weighted mean
   (McMahan et al., "Communication-Efficient Learning of Deep Networks from Decentralized Data",
   AISTATS 2017), or ``median``, the coordinate-wise median (Yin et al., "Byzantine-Robust
   Distributed Learning: Towards Optimal Statistical Rates", ICML 2018);
4. optionally, a shard whose shard model (global plus shard aggregate) has probe accuracy below
   the round's threshold is excluded, the check that the quality proof makes verifiable. The
   threshold is a fixed floor (``quality_threshold``), or relative to the current global model
   (``quality_margin``: the global model's probe accuracy minus the margin, never below the
   floor), which the coordinator can compute and put in the round manifest since the global
   model and the probe set are public;
5. the global update is the sample-weighted mean of the accepted shard aggregates (composition is
   linear, DESIGN.md §3), and accuracy is measured on the held-out test split.

With ``dropout`` set, a seeded random ``round(dropout * n_clients)`` clients send nothing in
each round (their shards aggregate the others). With ``quantize_scale`` set, every client update is rounded to the fixed-point grid of that scale
(:func:`zkagg.quantize`) before aggregation, as the verified protocol's committed updates are.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from zkagg._errors import InvalidArgument
from zkagg._field import dequantize, quantize
from zkagg._fl.data import DigitsData, dirichlet_partition, load_digits_task
from zkagg._fl.model import DigitsMLP, TrainConfig, accuracy, get_flat_params, local_train, torch_threads

__all__ = ["FLConfig", "FLHistory", "RoundRecord", "aggregate_updates", "run_reference"]

RULES = ("fedavg", "median")


def aggregate_updates(updates: npt.ArrayLike, weights: npt.ArrayLike, rule: str) -> npt.NDArray[np.float64]:
    """Float reference aggregation of stacked updates ``[n, d]``.

    ``fedavg``: ``sum_i w_i u_i / sum_i w_i``; ``median``: ``numpy.median`` per coordinate
    (the mean of the two middle values for an even count), weights ignored.
    """
    u = np.asarray(updates, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if u.ndim != 2 or u.shape[0] == 0:
        raise InvalidArgument(f"updates must be a non-empty [n, d] array, not shape {u.shape}")
    if w.shape != (u.shape[0],) or (w <= 0).any():
        raise InvalidArgument(f"weights must be {u.shape[0]} positive numbers, not {w!r}")
    if rule == "fedavg":
        return (w @ u) / w.sum()  # type: ignore[no-any-return]
    if rule == "median":
        return np.median(u, axis=0)
    raise InvalidArgument(f"rule must be one of {', '.join(RULES)}, not {rule!r}")


@dataclass(frozen=True)
class FLConfig:
    """A reference run: deployment shape, data, model, training, rule and attack."""

    n_clients: int = 16
    n_shards: int = 4
    rounds: int = 5
    alpha: float = 1.0
    hidden: int = 16
    train: TrainConfig = field(default_factory=TrainConfig)
    rule: str = "fedavg"
    byzantine_fraction: float = 0.0
    attack_scale: float = -10.0
    quality_threshold: float | None = None
    quality_margin: float | None = None
    quantize_scale: int | None = None
    dropout: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_clients", "n_shards", "rounds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgument(f"{name} must be a positive integer, not {value!r}")
        if self.n_shards > self.n_clients:
            raise InvalidArgument(
                f"n_shards must be at most n_clients ({self.n_clients}), not {self.n_shards}"
            )
        if self.rule not in RULES:
            raise InvalidArgument(f"rule must be one of {', '.join(RULES)}, not {self.rule!r}")
        if not 0 <= self.dropout < 1:
            raise InvalidArgument(f"dropout must be in [0, 1), not {self.dropout!r}")
        if not 0 <= self.byzantine_fraction < 1:
            raise InvalidArgument(f"byzantine_fraction must be in [0, 1), not {self.byzantine_fraction!r}")
        if self.quantize_scale is not None and not (
            isinstance(self.quantize_scale, int) and 0 <= self.quantize_scale <= 30
        ):
            raise InvalidArgument(
                f"quantize_scale must be None or an integer in [0, 30], not {self.quantize_scale!r}"
            )
        for name in ("quality_threshold", "quality_margin"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise InvalidArgument(f"{name} must be None or in [0, 1], not {value!r}")

    def threshold(self, global_probe_accuracy: float) -> float | None:
        """The round's quality threshold: the floor, raised to ``global - margin`` when a margin is set."""
        if self.quality_threshold is None and self.quality_margin is None:
            return None
        floor = self.quality_threshold if self.quality_threshold is not None else 0.0
        if self.quality_margin is None:
            return floor
        return max(floor, global_probe_accuracy - self.quality_margin)

    @property
    def n_byzantine(self) -> int:
        """Byzantine clients: ``round(byzantine_fraction * n_clients)``."""
        return round(self.byzantine_fraction * self.n_clients)


@dataclass(frozen=True)
class RoundRecord:
    """One round: test accuracy after it, shards accepted, wall seconds, the gate's figures.

    ``threshold`` is the round's quality threshold (``None`` without a gate) and
    ``shard_probe_accuracy`` each shard model's probe accuracy, in shard order (empty without a
    gate).
    """

    round: int
    test_accuracy: float
    shards_accepted: int
    seconds: float
    threshold: float | None = None
    shard_probe_accuracy: tuple[float, ...] = ()


@dataclass
class FLHistory:
    """What a reference run produced."""

    config: FLConfig
    rounds: list[RoundRecord]
    params: npt.NDArray[np.float32]
    initial_accuracy: float
    byzantine: list[int]

    @property
    def final_accuracy(self) -> float:
        """Test accuracy after the last round."""
        return self.rounds[-1].test_accuracy

    @property
    def seconds(self) -> float:
        """Wall seconds over all rounds."""
        return sum(r.seconds for r in self.rounds)


def shard_assignment(n_clients: int, n_shards: int, round_number: int, seed: int) -> list[list[int]]:
    """Seeded, rotating, balanced assignment of clients to shards for one round."""
    order = np.random.default_rng([seed, 7919, round_number]).permutation(n_clients)
    return [sorted(int(c) for c in part) for part in np.array_split(order, n_shards)]


def run_reference(config: FLConfig | None = None, *, data: DigitsData | None = None) -> FLHistory:
    """Run the reference loop for ``config.rounds`` rounds; deterministic for a given seed.

    Torch runs on one thread meanwhile (:func:`zkagg._fl.model.torch_threads`): the model is so
    small that more threads only add synchronization, which on a loaded machine costs tenfold.
    """
    with torch_threads(1):
        return _run_reference(config, data)


def _run_reference(config: FLConfig | None, data: DigitsData | None) -> FLHistory:
    cfg = config if config is not None else FLConfig()
    task = data if data is not None else load_digits_task(seed=cfg.seed)
    parts = dirichlet_partition(task.y_train, cfg.n_clients, alpha=cfg.alpha, seed=cfg.seed)
    byzantine = sorted(
        int(c)
        for c in np.random.default_rng([cfg.seed, 104729]).choice(
            cfg.n_clients, size=cfg.n_byzantine, replace=False
        )
    )
    model = DigitsMLP(cfg.hidden, seed=cfg.seed)
    params = get_flat_params(model)
    initial = accuracy(params, cfg.hidden, task.x_test, task.y_test)
    records: list[RoundRecord] = []
    for r in range(1, cfg.rounds + 1):
        t0 = time.perf_counter()
        shard_aggs: list[npt.NDArray[np.float64]] = []
        shard_weights: list[float] = []
        threshold = cfg.threshold(accuracy(params, cfg.hidden, task.x_probe, task.y_probe))
        probe_accs: list[float] = []
        dropped = set(
            np.random.default_rng([cfg.seed, 15485863, r])
            .choice(cfg.n_clients, size=round(cfg.dropout * cfg.n_clients), replace=False)
            .tolist()
        )
        for shard in shard_assignment(cfg.n_clients, cfg.n_shards, r, cfg.seed):
            deltas, counts = [], []
            for c in (c for c in shard if c not in dropped):
                upd = local_train(
                    params,
                    task.x_train[parts[c]],
                    task.y_train[parts[c]],
                    hidden=cfg.hidden,
                    config=cfg.train,
                    seed=cfg.seed * 1_000_003 + r * 1009 + c,
                    model=model,
                )
                delta = upd.delta * cfg.attack_scale if c in byzantine else upd.delta
                if cfg.quantize_scale is not None:
                    delta = dequantize(quantize(delta, cfg.quantize_scale), cfg.quantize_scale)
                deltas.append(delta)
                counts.append(upd.n_samples)
            if not deltas:
                continue  # every client of this shard dropped out: the shard has nothing to post
            agg = aggregate_updates(np.stack(deltas), counts, cfg.rule)
            if threshold is not None:
                shard_acc = accuracy(params + agg, cfg.hidden, task.x_probe, task.y_probe)
                probe_accs.append(shard_acc)
                if shard_acc < threshold:
                    continue
            shard_aggs.append(agg)
            shard_weights.append(float(sum(counts)))
        if shard_aggs:
            step = aggregate_updates(np.stack(shard_aggs), shard_weights, "fedavg")
            params = (params + step).astype(np.float32)
        acc = accuracy(params, cfg.hidden, task.x_test, task.y_test)
        records.append(
            RoundRecord(r, acc, len(shard_aggs), time.perf_counter() - t0, threshold, tuple(probe_accs))
        )
    return FLHistory(cfg, records, params, initial, byzantine)
