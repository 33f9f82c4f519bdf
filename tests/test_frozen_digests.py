"""Digests of circuit graphs and encodings, recorded before the package was reorganised into wings.

A move of code must not change what it builds: every ONNX graph below is what keys are derived
from (a different graph is a different verification key), and every encoding is what is signed
and posted (the spec, shard aggregate and message encodings have golden vectors of their own in
tests/aggregation/data and tests/protocol/data). The values were computed at commit 72e1bba, before the renovation of issue 11.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from zkagg._aggregation.norm import norm_circuit
from zkagg._aggregation.rules import rule_circuit
from zkagg._fl.data import load_digits_task
from zkagg._kzg.commit import CommitmentDomain
from zkagg._protocol.vectors import encode_vector
from zkagg.circuits.shard_model import build_shard_model_onnx

DOMAIN = CommitmentDomain(15, 64, 13, "ab" * 32, False)
WEIGHTS = [3, 1, 2, 5, 4]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("rule", "kwargs", "digest"),
    [
        ("median", {"method": "lookup"}, "89801843d1c67100a70db586cf40cbe4084a13d101808ebffc71917ccfce923f"),
        (
            "median",
            {"method": "decomposition"},
            "5b3f557ee7745b2ee4333bfbe97baa5cd5d3a2c042d2633f1a5383763354863a",
        ),
        (
            "trimmed_mean",
            {"beta": 0.2, "method": "lookup"},
            "3ed018c0fa28420a94a6dc44ace8d910e9caa8dae536c5143e77d06e738101e1",
        ),
        ("fedavg", {"weights": WEIGHTS}, "ce0b15f4ea8bb61b094293828e12e581394dd92c7df76151b2087a4cfd35a86f"),
        (
            "clipped_fedavg",
            {"weights": WEIGHTS},
            "9534eb2c46b1f3a030c68dd7f6edcb79144004d094b638464dc6b28bf889dae2",
        ),
    ],
)
def test_rule_circuit_graphs_are_unchanged(rule: str, kwargs: dict[str, object], digest: str) -> None:
    circuit = rule_circuit(rule, DOMAIN, 5, **kwargs)  # type: ignore[arg-type]

    assert _sha(circuit.onnx) == digest


@pytest.mark.parametrize(
    ("method", "digest"),
    [
        ("lookup", "2541df7b366dd3ecef02f941cda600a7bff513eb0582a0bdfadcc16e095f754e"),
        ("decomposition", "cff89890efa66bc7af7d97299535fdf0d03c74824f53ebd8061eebde0416ea9c"),
    ],
)
def test_norm_circuit_graphs_are_unchanged(method: str, digest: str) -> None:
    circuit = norm_circuit(DOMAIN, 2, None, range_checked=True, method=method)

    assert _sha(circuit.onnx) == digest


def test_shard_model_graph_is_unchanged() -> None:
    data = load_digits_task(seed=0, probe_size=16)

    built = build_shard_model_onnx(data.x_probe, data.y_probe, 16, chunk_size=1024)

    assert _sha(built.onnx_bytes) == "aab96f26b23c737dbbd8385df0c0241d9ced41d2dc2596c137b06e89eaa730e8"


def test_encodings_are_unchanged() -> None:
    vector = encode_vector(np.arange(-5, 6, dtype=np.int64), 13)

    assert _sha(vector) == "c8067ab9206024cb25aa60bd9b00ab4a62aa3992b7de3bda6cba0666215419db"
    assert DOMAIN.domain_id().hex() == "efd53f474dd3dc8f574a31f90d72341b067cf7333c6e9d302de54a55a30c1c1b"
