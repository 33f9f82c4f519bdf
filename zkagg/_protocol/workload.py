"""The protocol's one door to the workload (:mod:`zkagg._fl`): the digits task a deployment names.

The roles never import :mod:`zkagg._fl` themselves. What they need of the task (vector lengths, the
initial model, local training, probe accuracy, the shard-model quality circuit and its proofs)
comes from here, computed from the deployment's public fields (``hidden``, ``data_seed``,
``probe_size``, ``epochs``, ``lr``). The initial model and local training need torch, which is imported on
first use so that ``import zkagg`` and the CLI stay fast.
"""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import numpy.typing as npt

from zkagg._field import IntArray, dequantize, quantize
from zkagg._fl.data import DIGITS_SAMPLES, DigitsData, dirichlet_partition, load_digits_task
from zkagg._fl.flat import accuracy, param_count
from zkagg._fl.quality import (
    QualityProof,
    QualitySpec,
    model_commitments,
    prove_quality,
    quality_artifacts,
    verify_quality,
)
from zkagg._protocol.deployment import Deployment
from zkagg._protocol.messages import PPM

__all__ = [
    "TASK_SAMPLES",
    "QualityProof",
    "QualitySpec",
    "dirichlet_partition",
    "initial_model",
    "load_digits_task",
    "local_update",
    "model_commitments",
    "n_params",
    "probe_accuracy",
    "prove_quality",
    "quality_artifacts",
    "quality_spec",
    "quality_threshold_ppm",
    "task",
    "verify_quality",
]

#: Samples in the whole task: a client declaring more is lying whatever its data.
TASK_SAMPLES = DIGITS_SAMPLES


def n_params(deployment: Deployment) -> int:
    """Values per model and per update."""
    return param_count(deployment.hidden)


def task(deployment: Deployment) -> DigitsData:
    """The deployment's digits split (seeded by ``data_seed``, ``probe_size`` probe samples)."""
    return load_digits_task(seed=deployment.data_seed, probe_size=deployment.probe_size)


def quality_spec(deployment: Deployment) -> QualitySpec:
    """The shard-model quality circuit's spec: the deployment's probe set, scale, logrows, chunks and SRS.

    With a pinned SRS the spec names it, so shards prove and every verifier checks quality proofs
    with the pinned SRS only (the proof's wire form names no SRS: a proof made under another one
    does not verify).
    """
    return QualitySpec.for_digits(
        task(deployment),
        hidden=deployment.hidden,
        scale=deployment.scale,
        logrows=deployment.logrows,
        chunk_size=deployment.chunk_size,
        # 2 advice columns: measured 1.7x less prove CPU than 4 for the default 16 probe samples
        # (24,163 rows, logrows 15); larger probe sets spill into more columns by themselves.
        num_inner_cols=2,
        srs_sha256=deployment.spec().srs_sha256,
    )


def quality_threshold_ppm(deployment: Deployment, global_q: IntArray) -> int:
    """The quality threshold of a round that starts from ``global_q``, in parts per million.

    The deployment's rule, which everyone recomputes from public data: the probe accuracy of the
    round's global model minus ``quality_margin``, at least ``quality_floor`` (0 without the
    quality gate). The accuracy is numpy's (:func:`zkagg._fl.flat.accuracy`), so every verifier
    gets the same number from the same model.
    """
    if not deployment.quality:
        return 0
    data = task(deployment)
    acc = accuracy(dequantize(global_q, deployment.scale), deployment.hidden, data.x_probe, data.y_probe)
    threshold = max(deployment.quality_floor, acc - deployment.quality_margin)
    return min(PPM, round(threshold * PPM))


def initial_model(deployment: Deployment) -> IntArray:
    """The quantized initial global model (seeded by ``data_seed``)."""
    from zkagg._fl.model import DigitsMLP, get_flat_params  # torch, on first use

    params = get_flat_params(DigitsMLP(deployment.hidden, seed=deployment.data_seed))
    return quantize(np.asarray(params, dtype=np.float64), deployment.scale)


def probe_accuracy(deployment: Deployment, q: IntArray, x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Accuracy of the model ``q / 2**scale`` on ``(x, y)``."""
    return accuracy(dequantize(q, deployment.scale), deployment.hidden, x, y)


def local_update(
    deployment: Deployment,
    global_q: IntArray,
    x: npt.NDArray[np.float32],
    y: npt.NDArray[np.int64],
    *,
    round_: int,
    index: int,
) -> tuple[npt.NDArray[np.float64], int]:
    """Client ``index``'s trained update in round ``round_`` (floats) and its number of samples.

    Deterministic: the training seed is a hash of the deployment's ``data_seed``, the round and the
    client index, and training runs on one thread.
    """
    from zkagg._fl.model import TrainConfig, local_train, torch_threads  # torch, on first use

    seed = int.from_bytes(
        hashlib.sha256(struct.pack(">QQI", deployment.data_seed, round_, index)).digest()[:4], "big"
    )
    with torch_threads(1):
        local = local_train(
            dequantize(global_q, deployment.scale),
            x,
            y,
            hidden=deployment.hidden,
            config=TrainConfig(epochs=deployment.epochs, lr=deployment.lr),
            seed=seed,
        )
    return np.asarray(local.delta, dtype=np.float64), local.n_samples
