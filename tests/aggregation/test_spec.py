"""AggregationSpec validation and encoding, and the rule-backend extension point."""

from __future__ import annotations

import numpy as np
import pytest

from zkagg import AggregationSpec, InvalidArgument, ShardAggregate
from zkagg._aggregation.records import ChunkProof
from zkagg._aggregation.rules import RULE_BACKENDS, SPEC_RULES


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"rule": "mean"},
            "rule must be one of fedavg, median, trimmed_mean, clipped_fedavg, fedavg_snark, not 'mean'",
        ),
        ({"rule": "trimmed_mean"}, r"beta must be a number in \(0, 0.5\) for rule trimmed_mean, not None"),
        ({"rule": "trimmed_mean", "beta": 0.5}, r"beta must be a number in \(0, 0.5\)"),
        ({"rule": "median", "beta": 0.1}, "beta is only for rule trimmed_mean, not median"),
        (
            {"rule": "clipped_fedavg"},
            "clip_norm must be a positive finite number for rule clipped_fedavg, not None",
        ),
        ({"rule": "clipped_fedavg", "clip_norm": float("inf")}, "clip_norm must be a positive finite number"),
        ({"clip_norm": 1.0}, "clip_norm is only for rule clipped_fedavg, not fedavg"),
        ({"chunk_size": 1000}, "chunk_size must be a power of two in \\[1, 16384\\] at logrows 15, not 1000"),
        ({"logrows": 14}, r"logrows must be an integer in \[15, 24\], not 14"),
        ({"scale": -1}, r"scale must be an integer in \[0, 62\], not -1"),
    ],
)
def test_spec_validation_names_argument_and_value(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        AggregationSpec(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "spec",
    [
        AggregationSpec(),
        AggregationSpec(rule="median", chunk_size=256, scale=10),
        AggregationSpec(rule="trimmed_mean", beta=0.2, salted=True),
        AggregationSpec(rule="clipped_fedavg", clip_norm=2.5, chunk_size=16384),
    ],
)
def test_spec_round_trips_through_bytes(spec: AggregationSpec) -> None:
    # Execute
    back = AggregationSpec.from_bytes(spec.to_bytes())
    # Assert
    assert back.to_bytes() == spec.to_bytes()
    assert (back.rule, back.beta, back.clip_norm, back.chunk_size) == (
        spec.rule,
        spec.beta,
        spec.clip_norm,
        spec.chunk_size,
    )
    assert back.domain() == spec.domain()


def test_proof_carrying_aggregate_round_trips() -> None:
    # Prepare: the encoding of a proven rule's result (proof bytes are opaque here)
    spec = AggregationSpec(rule="median", chunk_size=64)
    proofs = (ChunkProof(0, "ab" * 32, b"proof-0"), ChunkProof(1, "cd" * 32, b"proof-1" * 50))
    result = ShardAggregate(spec, (1, 1, 1), 100, np.linspace(-1, 1, 100), proofs=proofs)
    # Execute
    back = ShardAggregate.from_bytes(result.to_bytes())
    # Assert
    assert back.proofs == proofs
    assert np.array_equal(back.aggregate, result.aggregate)
    assert back.weights == (1, 1, 1)


def test_fedavg_takes_no_backend() -> None:
    # fedavg is verified homomorphically; every other spec rule has a proven backend
    assert "fedavg" not in RULE_BACKENDS
    assert set(RULE_BACKENDS) == set(SPEC_RULES)


@pytest.mark.parametrize("name", ["fedavg", "fedavg_salted", "median"])
def test_encoding_is_stable_against_golden_vectors(name: str) -> None:
    # Prepare: vectors written by tests/aggregation/make_vectors.py (format version 1)
    import importlib.util
    from pathlib import Path

    here = Path(__file__).parent
    loader = importlib.util.spec_from_file_location("zkagg_make_vectors", here / "make_vectors.py")
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    golden = bytes.fromhex((here / "data" / f"shard_aggregate_v1_{name}.hex").read_text())
    # Execute
    encoded = module.vectors()[name].to_bytes()
    decoded = ShardAggregate.from_bytes(golden)
    # Assert
    assert encoded == golden
    assert decoded.to_bytes() == golden
