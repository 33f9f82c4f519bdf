"""zkagg's Flower strategies: a real Flower simulation (local Ray, offline) and the proven rules.

Flower is an optional extra that the README's set-up installs: a missing install fails here, it does
not skip.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord, Message, Metadata, MetricRecord, RecordDict

from zkagg import AggregationSpec, InvalidArgument, verify_shard
from zkagg.integrations.flower import (
    ZkFedAvg,
    ZkFedMedian,
    ZkFedTrimmedAvg,
    commit_arrays,
    spec_from_config,
)
from zkagg.integrations.flower.example import initial_arrays, local_fit, run_example


@pytest.mark.slow
def test_simulation_rejects_a_client_whose_reply_does_not_match_its_commitment() -> None:
    # Prepare: three simulated clients, partition 1 replies with other arrays than it committed to
    n_clients, liar = 3, 1
    # Execute
    outcome = run_example("fedavg", n_clients=n_clients, rounds=1, liar=liar)
    # Assert: exactly one reply rejected, for its commitment, and two accepted
    record = outcome.strategy.zkagg.rounds[1]
    assert len(record.rejected) == 1
    assert "do not match its commitment at round 1, chunk 0" in record.rejected[0].reason
    assert len(record.accepted) == n_clients - 1
    # And the aggregate is the weighted mean of the honest clients' models (recomputed here)
    start = initial_arrays()
    fits = [
        local_fit(start["w"].numpy(), start["b"].numpy(), p, n_clients) for p in range(n_clients) if p != liar
    ]
    total = sum(n for _, _, n in fits)
    want_w = sum(w.astype(np.float64) * n for w, _, n in fits) / total
    want_b = sum(b.astype(np.float64) * n for _, b, n in fits) / total
    got = outcome.result.arrays
    assert np.allclose(got["w"].numpy(), want_w, atol=2**-12)
    assert np.allclose(got["b"].numpy(), want_b, atol=2**-12)
    # And the kept zkagg result verifies against the accepted commitments
    verify_shard(outcome.strategy.zkagg.spec, record.commitments, record.weights, record.result)


def _reply(node: int, arrays: ArrayRecord, n: int, zk: object | None) -> Message:
    """A train reply from ``node`` as the server receives it (metadata set as Flower's runtime would)."""
    content = RecordDict({"arrays": arrays, "metrics": MetricRecord({"num-examples": n})})
    if zk is not None:
        content["zkagg"] = zk  # type: ignore[assignment]
    metadata = Metadata(
        run_id=1,
        message_id=f"reply-{node}",
        src_node_id=node,
        dst_node_id=0,
        reply_to_message_id=f"ins-{node}",
        group_id="1",
        created_at=time.time(),
        ttl=3600.0,
        message_type="train",
    )
    # A reply as the SuperLink hands it to the strategy: flwr's public overloads do not take metadata.
    return Message(content=content, metadata=metadata)  # type: ignore[call-overload,no-any-return]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("strategy", "reference"),
    [
        (ZkFedMedian(spec=AggregationSpec(rule="median", chunk_size=64)), lambda x: np.median(x, axis=0)),
        (
            ZkFedTrimmedAvg(beta=0.2, spec=AggregationSpec(rule="trimmed_mean", beta=0.2, chunk_size=64)),
            lambda x: np.sort(x, axis=0)[1:-1].mean(axis=0),
        ),
    ],
    ids=["median", "trimmed_mean"],
)
def test_proven_rules_drop_bad_replies_and_prove_the_rest(strategy: object, reference: object) -> None:
    # Prepare: five honest replies, one without a commitment, one whose arrays were changed
    rng = np.random.default_rng(3)
    spec = strategy.zkagg.spec  # type: ignore[attr-defined]
    models = rng.normal(scale=0.2, size=(5, 40)).astype(np.float32)
    replies = []
    for i, m in enumerate(models):
        arrays = ArrayRecord({"layer": Array(m.reshape(4, 10))})
        replies.append(_reply(10 + i, arrays, 20 + i, commit_arrays(arrays, spec)))
    replies.append(_reply(20, ArrayRecord({"layer": Array(models[0].reshape(4, 10))}), 5, None))
    committed = ArrayRecord({"layer": Array(models[1].reshape(4, 10))})
    changed = ArrayRecord({"layer": Array((models[1] + 1).reshape(4, 10))})
    replies.append(_reply(21, changed, 5, commit_arrays(committed, spec)))
    # Execute
    arrays, metrics = strategy.aggregate_train(1, replies)  # type: ignore[attr-defined]
    # Assert
    record = strategy.zkagg.rounds[1]  # type: ignore[attr-defined]
    assert record.accepted == [10, 11, 12, 13, 14]
    assert [r.node_id for r in record.rejected] == [20, 21]
    assert "carries no commitment" in record.rejected[0].reason
    assert "do not match its commitment" in record.rejected[1].reason
    assert len(record.result.proofs) == 1
    got = arrays["layer"].numpy().ravel()
    assert np.allclose(got, reference(models.astype(np.float64)), atol=2**-12)  # type: ignore[operator]
    assert metrics is not None


def test_a_spec_of_another_rule_is_refused() -> None:
    # Execute / Assert
    with pytest.raises(InvalidArgument, match=r"spec\.rule must be 'fedavg' for this strategy, not 'median'"):
        ZkFedAvg(spec=AggregationSpec(rule="median"))


def test_trimmed_mean_beta_must_agree_with_the_spec() -> None:
    # Execute / Assert
    with pytest.raises(InvalidArgument, match=r"spec.beta must equal beta \(0.1\), not 0.2"):
        ZkFedTrimmedAvg(beta=0.1, spec=AggregationSpec(rule="trimmed_mean", beta=0.2))


def test_a_client_without_the_spec_is_told_what_is_missing() -> None:
    # Execute / Assert
    with pytest.raises(InvalidArgument, match="no 'zkagg-spec' entry"):
        spec_from_config({})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_clients": 1}, "n_clients must be an integer >= 2, not 1"),
        ({"rounds": 0}, "rounds must be a positive integer, not 0"),
        ({"n_clients": 3, "liar": 3}, r"liar must be a partition id in \[0, 3\), not 3"),
    ],
)
def test_example_arguments_are_checked(kwargs: dict[str, int], message: str) -> None:
    # Execute / Assert
    with pytest.raises(InvalidArgument, match=message):
        run_example("fedavg", **kwargs)  # type: ignore[arg-type]
