"""The deployment file: round trip, id, validation, keys."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from zkagg._errors import ArtifactError, InvalidArgument
from zkagg._protocol.deployment import Deployment, DeploymentKeys
from zkagg._protocol.keys import Identity, client_id_for
from zkagg._protocol.messages import ShardKeys
from zkagg._protocol.run import RunConfig, run_deployment


@pytest.fixture(scope="module")
def keys() -> DeploymentKeys:
    return DeploymentKeys.generate(6, 2)


def test_round_trip_and_id(keys: DeploymentKeys, tmp_path: Path) -> None:
    # Prepare
    dep = keys.deployment(rule="median", update_window=10)
    # Execute
    loaded = Deployment.load(dep.save(tmp_path / "deployment.json"))
    # Assert
    assert loaded == dep
    assert loaded.deployment_id == dep.deployment_id
    assert len(dep.deployment_id) == 32
    assert dep.quorum == 2  # a majority of 2 shards
    assert dep.client_index(client_id_for(keys.clients[4].signing.public_key)) == 4
    assert (
        dep.client_registry[client_id_for(keys.clients[0].signing.public_key)]
        == keys.clients[0].signing.public_key
    )


def test_id_changes_with_every_parameter(keys: DeploymentKeys) -> None:
    dep = keys.deployment()
    for change in ({"rule": "median"}, {"scale": 12}, {"quorum": 1}, {"name": "other"}, {"epochs": 3}):
        assert keys.deployment(**change).deployment_id != dep.deployment_id, change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rule": "krum"}, "rule must be one of"),
        ({"rule": "trimmed_mean"}, "beta must be a number in"),
        ({"quorum": 3}, r"quorum must be an integer in \[1, 2\], not 3"),
        ({"probe_size": 5}, r"probe_size must be an integer in \[10, 400\], not 5"),
        ({"update_window": 0}, "update_window must be an integer"),
        ({"lr": -1.0}, r"lr must be a number in \(0.0, 10.0\], not -1.0"),
        ({"quality": "yes"}, "quality must be true or false"),
        ({"name": ""}, "name must be a string of 1 to 64 bytes"),
        ({"client_norm_bound": 0}, r"client_norm_bound must be a number in \(0.0, 1000000000.0\], not 0"),
        (
            {"client_norm_bound": -1.0},
            r"client_norm_bound must be a number in \(0.0, 1000000000.0\], not -1.0",
        ),
        ({"client_norm_bound": float("nan")}, "client_norm_bound must be a number in .*, not nan"),
        ({"client_norm_bound": True}, "client_norm_bound must be a number in .*, not True"),
        ({"client_norm_bound": "1"}, "client_norm_bound must be a number in .*, not '1'"),
        (
            {"client_norm_bound": 1.0, "chunk_size": 4096},
            "client_norm_bound cannot be proven in this deployment: .*use a smaller chunk_size",
        ),
    ],
)
def test_bad_parameters_are_named(keys: DeploymentKeys, change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        keys.deployment(**change)


def test_more_shards_than_clients() -> None:
    keys = DeploymentKeys.generate(2, 3)
    with pytest.raises(
        InvalidArgument, match=r"number of shards \(3\) must be at most the number of clients \(2\)"
    ):
        keys.deployment()


def test_duplicate_client_keys(keys: DeploymentKeys) -> None:
    dep = keys.deployment()
    with pytest.raises(InvalidArgument, match="client_keys must be distinct"):
        dataclasses.replace(dep, client_keys=(dep.client_keys[0], dep.client_keys[0]))


def test_unregistered_client(keys: DeploymentKeys) -> None:
    with pytest.raises(InvalidArgument, match="is not registered in this deployment"):
        keys.deployment().client_index(b"\x01" * 16)


def test_bad_files(keys: DeploymentKeys, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="does not exist"):
        Deployment.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="is not readable JSON"):
        Deployment.load(tmp_path / "bad.json")
    obj = keys.deployment().to_json()
    with pytest.raises(InvalidArgument, match="deployment format must be"):
        Deployment.from_json({**obj, "format": "other/9"})
    with pytest.raises(InvalidArgument, match=r"unknown fields \['colour'\]"):
        Deployment.from_json({**obj, "colour": "red"})
    with pytest.raises(InvalidArgument, match="deployment keys are malformed"):
        Deployment.from_json({**obj, "client_keys": ["zz"]})
    with pytest.raises(InvalidArgument, match="must be a JSON object"):
        Deployment.from_json([1, 2])
    assert json.loads(keys.deployment().canonical_bytes())["format"] == "zkagg-deployment/1"


def test_keys_save_each_party_apart(keys: DeploymentKeys, tmp_path: Path) -> None:
    root = keys.save(tmp_path / "keys")
    assert sorted(p.name for p in root.iterdir()) == [
        "client-0",
        "client-1",
        "client-2",
        "client-3",
        "client-4",
        "client-5",
        "coordinator",
        "shard-0",
        "shard-1",
    ]
    shard = Identity.load(root / "shard-1")
    assert shard.encryption is not None and shard.signing.public_key == keys.shards[1].signing.public_key
    assert Identity.load(root / "client-2").encryption is None
    with pytest.raises(InvalidArgument):
        keys.save(tmp_path / "keys")  # no silent overwrite


#: The id of this deployment: a deployment without a norm bound must keep its canonical form, hence
#: its id. Recorded before client norm bounds existed (commit 8ef82df, d46b4b93...), and again when
#: issue 12 put each shard's seed anchor and the reveal window into every deployment (on purpose:
#: a deployment without anchors cannot seed cohorts that no single party chooses).
_FROZEN_ID = "ee3ee3d87136cba865807af999f6ea127580ac129e5522c8280130c36c8983d2"


def _fixed_keys(**params: object) -> Deployment:
    return Deployment(
        coordinator_key=b"\x01" * 32,
        shard_keys=(ShardKeys(b"\x02" * 32, b"\x03" * 32, b"\x06" * 32),),
        client_keys=(b"\x04" * 32, b"\x05" * 32),
        name="frozen",
        **params,  # type: ignore[arg-type]
    )


def test_a_deployment_without_norm_bound_keeps_its_id() -> None:
    # Execute
    dep = _fixed_keys(quality_margin=0.1)
    # Assert
    assert dep.client_norm_bound is None
    assert "client_norm_bound" not in json.loads(dep.canonical_bytes())
    assert dep.deployment_id.hex() == _FROZEN_ID
    assert (
        Deployment.from_json({**dep.to_json(), "client_norm_bound": None}).deployment_id.hex() == _FROZEN_ID
    )


def test_norm_bound_is_part_of_the_id_and_round_trips(tmp_path: Path) -> None:
    # Execute
    dep = _fixed_keys(client_norm_bound=2)
    loaded = Deployment.load(dep.save(tmp_path / "deployment.json"))
    # Assert: stored as a float, so that 2 and 2.0 name the same deployment
    assert dep.client_norm_bound == 2.0 and isinstance(dep.client_norm_bound, float)
    assert json.loads(dep.canonical_bytes())["client_norm_bound"] == 2.0
    assert dep.deployment_id.hex() != _FROZEN_ID
    assert dep.deployment_id == _fixed_keys(client_norm_bound=2.0).deployment_id
    assert dep.deployment_id != _fixed_keys(client_norm_bound=2.5).deployment_id
    assert loaded == dep and loaded.deployment_id == dep.deployment_id


def test_derived_keys_are_the_same_for_a_seed_and_differ_per_party_and_seed() -> None:
    one, two = DeploymentKeys.generate(3, 2, seed=b"s"), DeploymentKeys.generate(3, 2, seed=b"s")
    other = DeploymentKeys.generate(3, 2, seed=b"t")
    assert one.deployment() == two.deployment() != other.deployment()
    publics = [
        one.coordinator.signing.public_key,
        *(p.signing.public_key for p in (*one.shards, *one.clients)),
    ]
    assert len(set(publics)) == len(publics)
    assert all(s.encryption is not None for s in one.shards) and one.clients[0].encryption is None


@pytest.mark.parametrize("seed", [b"", "text"])
def test_a_bad_key_seed_is_named(seed: object) -> None:
    with pytest.raises(InvalidArgument, match="seed must be non-empty bytes, not"):
        DeploymentKeys.generate(2, 1, seed=seed)  # type: ignore[arg-type]


def test_run_keys_must_fit_the_config(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"keys must be for 2 clients and 1 shards .*, not 3 and 1"):
        run_deployment(RunConfig(clients=2, shards=1), state_dir=tmp_path, keys=DeploymentKeys.generate(3, 1))
    assert list(tmp_path.iterdir()) == []  # refused before anything was made
