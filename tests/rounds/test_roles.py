"""The roles one step at a time: what a shard aggregator refuses, and role set-up errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zkagg._aggregation.compose import round_div
from zkagg._errors import InvalidArgument, ProtocolError
from zkagg._fl.data import dirichlet_partition, load_digits_task
from zkagg._kzg.commit import commit_update
from zkagg._protocol.client import ClientParty
from zkagg._protocol.coordinator import Coordinator
from zkagg._protocol.deployment import DeploymentKeys
from zkagg._protocol.messages import ClientUpdate
from zkagg._protocol.reading import Ticker
from zkagg._protocol.seed import fetch_seed
from zkagg._protocol.shard import ShardAggregator
from zkagg._protocol.sharding import assign_shard, deployment_namespaces
from zkagg._protocol.vectors import decode_vector, encode_vector
from zkagg.da import Blob, EmbeddedNode


def test_round_div_is_nearest_with_ties_away_from_zero() -> None:
    assert round_div([7, -7, 5, -5, 4, -4, 0], 2).tolist() == [4, -4, 3, -3, 2, -2, 0]
    assert round_div([10**30 + 1], 10**30).tolist() == [1]
    with pytest.raises(InvalidArgument, match="divisor must be positive, not 0"):
        round_div([1], 0)


def test_vector_encoding_round_trip_and_errors() -> None:
    q = np.array([-3, 0, 2**40], dtype=np.int64)
    values, scale = decode_vector(encode_vector(q, 13))
    assert values.tolist() == q.tolist() and scale == 13
    with pytest.raises(ProtocolError, match="3 values need 24 bytes, not 23"):
        decode_vector(encode_vector(q, 13)[:-1])
    with pytest.raises(InvalidArgument, match="values must be a 1-D integer array"):
        encode_vector(np.zeros(3), 13)


def test_shard_refuses_an_update_that_does_not_match_its_commitment(tmp_path: Path) -> None:
    # Prepare: a deployment of 4 clients in 1 shard on an embedded node, round 1 opened
    keys = DeploymentKeys.generate(4, 1)
    dep = keys.deployment(quality=False, update_window=20, result_window=20, quorum=1)
    data = load_digits_task(seed=0, probe_size=dep.probe_size)
    parts = dirichlet_partition(data.y_train, 4, alpha=1.0, seed=0)
    with EmbeddedNode(tmp_path / "da", block_time=None) as node:
        tick = Ticker.for_deployment(node, dep)
        coordinator = Coordinator(dep, keys.coordinator, node, state_dir=tmp_path / "c", advance=tick)
        manifest, _ = coordinator.open_round(1)
        tick(manifest.reveal_by)
        for i in range(3):
            ClientParty(
                dep, i, keys.clients[i], node, data.x_train[parts[i]], data.y_train[parts[i]]
            ).run_round(manifest)
        # client 3 seals one update but commits to another
        seed = fetch_seed(node, manifest, 10)
        cid = ClientParty(dep, 3, keys.clients[3], node, data.x_train[:1], data.y_train[:1]).client_id
        assert assign_shard(seed, dep.deployment_id, 1, cid, 1) == 0
        q = np.ones(1210, dtype=np.int64)
        liar = ClientUpdate.create(
            manifest,
            shard=0,
            key=keys.clients[3].signing,
            update=encode_vector(q, dep.scale),
            commitments=commit_update(dep.spec(), np.zeros(1210)).to_bytes(),
            sample_count=10,
        )
        node.submit([Blob.new(deployment_namespaces(dep.deployment_id, 1).shard(0), liar.to_bytes())])
        tick(manifest.updates_by)
        # Execute
        report = ShardAggregator(dep, 0, keys.shards[0], node).run_round(manifest)
        outcome = coordinator.close_round(1)
        coordinator.close()
    # Assert
    assert report.included == 3
    assert len(report.rejected) == 1 and "does not match its commitment" in report.rejected[0]
    assert [v.reason.value for v in outcome.global_result.verdicts] == ["accepted"]


def test_roles_refuse_keys_of_another_party(tmp_path: Path) -> None:
    keys = DeploymentKeys.generate(2, 1)
    dep = keys.deployment(quality=False)
    with EmbeddedNode(tmp_path / "da", block_time=None) as node:
        with pytest.raises(InvalidArgument, match="identity is not client 1's key"):
            ClientParty(dep, 1, keys.clients[0], node, np.zeros((1, 64)), np.zeros(1))
        with pytest.raises(InvalidArgument, match="attack must be one of sign-flip, scaled or None"):
            ClientParty(dep, 0, keys.clients[0], node, np.zeros((1, 64)), np.zeros(1), attack="noise")
        with pytest.raises(InvalidArgument, match="identity is not shard 0's aggregator keys"):
            ShardAggregator(dep, 0, keys.clients[0], node)
        with pytest.raises(InvalidArgument, match="attack must be one of tamper-aggregate"):
            ShardAggregator(dep, 0, keys.shards[0], node, attack="sleep")
        with pytest.raises(InvalidArgument, match="identity is not the coordinator key"):
            Coordinator(dep, keys.shards[0], node, state_dir=tmp_path / "c")
        coordinator = Coordinator(dep, keys.coordinator, node, state_dir=tmp_path / "c")
        try:
            with pytest.raises(ProtocolError, match="round 2 cannot open before round 1 is closed"):
                coordinator.open_round(2)
            with pytest.raises(ProtocolError, match="round 1 was never opened"):
                coordinator.close_round(1)
        finally:
            coordinator.close()
