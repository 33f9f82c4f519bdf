"""Today's code reproduces the recorded vectors (data/vectors_v1.json, from tests/protocol/vectors.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.protocol import vectors
from zkagg._protocol.keys import EncryptionKey, client_id_for, open_sealed, seal_with
from zkagg._protocol.messages import decode_message
from zkagg._protocol.sharding import assign_shard, deployment_namespaces


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(vectors.PATH.read_text())
    return loaded


def test_assignment_vectors(data: dict[str, Any]) -> None:
    for v in data["assignment"]:
        got = assign_shard(
            bytes.fromhex(v["seed"]),
            bytes.fromhex(v["deployment"]),
            v["round"],
            bytes.fromhex(v["client_id"]),
            v["num_shards"],
        )
        assert got == v["shard"], v


def test_namespace_and_client_id_vectors(data: dict[str, Any]) -> None:
    ns = data["namespaces"]
    got = deployment_namespaces(bytes.fromhex(ns["deployment"]), len(ns["shards"]))
    assert got.control.hex() == ns["control"]
    assert got.payloads.hex() == ns["payloads"]
    assert [s.hex() for s in got.shards] == ns["shards"]
    cid = data["client_id"]
    assert client_id_for(bytes.fromhex(cid["public_key"])).hex() == cid["client_id"]


@pytest.mark.parametrize("name", list(vectors.build_messages()))
def test_message_vectors(data: dict[str, Any], name: str) -> None:
    # Prepare
    recorded = data["messages"][name]
    encoding = bytes.fromhex(recorded["encoding"])
    # Execute
    decoded = decode_message(encoding)
    rebuilt = vectors.build_messages()[name]
    # Assert
    assert decoded == rebuilt
    assert rebuilt.to_bytes() == encoding
    assert decoded.signing_digest().hex() == recorded["signing_digest"]
    decoded.verify_signature()


def test_sealed_box_vector(data: dict[str, Any]) -> None:
    v = {k: bytes.fromhex(x) for k, x in data["sealed_box"].items()}
    recipient = EncryptionKey.from_bytes(v["recipient_private"])
    ephemeral = EncryptionKey.from_bytes(v["ephemeral_private"])
    assert open_sealed(recipient, v["box"], v["aad"]) == v["plaintext"]
    assert seal_with(ephemeral, recipient.public_key, v["plaintext"], v["aad"]) == v["box"]
