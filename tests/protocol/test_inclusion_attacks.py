"""Attacks on the inclusion screen (issue 12, attack 4), without a DA layer: real keys and boxes.

What a faulty client can put in an update, and whether the shard's :func:`screen_update` and
judging's :func:`check_exclusion` reach the same verdict, with work the deployment fixes.
"""

from __future__ import annotations

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from nacl import bindings as sodium

from zkagg._errors import ProtocolError
from zkagg._kzg.commit import UpdateCommitment, commit_update
from zkagg._protocol import guard as guard_module
from zkagg._protocol import workload
from zkagg._protocol.deployment import Deployment, DeploymentKeys
from zkagg._protocol.disclosure import _lift, _u_of, check_ephemeral, prove_ephemeral
from zkagg._protocol.guard import verify_client_norm
from zkagg._protocol.inclusion import Fault, check_exclusion, screen_update
from zkagg._protocol.keys import EncryptionKey, _box_key, client_id_for, seal_with, update_aad
from zkagg._protocol.messages import ClientUpdate, ExclusionReason
from zkagg._protocol.vectors import encode_vector

#: A point of order 8 on edwards25519 (libsodium's list of small-order points).
_ORDER_8 = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")


def _update(
    keys: DeploymentKeys,
    dep: Deployment,
    commitments: bytes,
    ciphertext: bytes,
    proofs: bytes | None,
    ephemeral_proof: bytes = b"\x01" * 64,
) -> ClientUpdate:
    signing = keys.clients[0].signing
    return ClientUpdate(
        deployment=dep.deployment_id,
        round=1,
        shard=0,
        client_id=client_id_for(signing.public_key),
        client_key=signing.public_key,
        commitments=commitments,
        sample_count=10,
        ciphertext=ciphertext,
        ephemeral_proof=ephemeral_proof,
        proofs=proofs,
    ).sign(signing)


def _aad(keys: DeploymentKeys, dep: Deployment) -> bytes:
    return update_aad(dep.deployment_id, 1, 0, client_id_for(keys.clients[0].signing.public_key))


def test_an_inflated_commitment_is_refused_before_any_norm_proof_is_verified(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A norm proof holds one EZKL proof per group of chunks of the *commitment*. A client that
    # commits to 64 groups of zero chunks can repeat one real proof of a zero group 64 times and
    # the proof is valid: measured, 40 repeats cost every verifier 4.1 s (0.1 s each) and an 8 MiB
    # update holds about 430 of them, against one proof (0.1 s) for the deployment's model.
    # The commitment's length must be compared with the model's before the proofs are read.
    keys = DeploymentKeys.generate(2, 1)
    dep = keys.deployment(client_norm_bound=1.0, quality=False)
    n = workload.n_params(dep)
    domain = dep.spec().domain()
    zero = commit_update(dep.spec(), np.zeros(n))
    groups = 64
    inflated = UpdateCommitment(domain, groups * 15 * dep.chunk_size, (zero.points[0],) * (groups * 15))
    ephemeral = EncryptionKey.generate()
    box = seal_with(
        ephemeral,
        dep.shard_keys[0].encryption_key,
        encode_vector(np.zeros(n, dtype=np.int64), dep.scale),
        _aad(keys, dep),
    )
    update = _update(
        keys, dep, inflated.to_bytes(), box, b"not parsed", prove_ephemeral(ephemeral, _aad(keys, dep))
    )
    verified: list[int] = []
    monkeypatch.setattr(guard_module, "verify_norm", lambda *a, **k: verified.append(1))
    # Execute
    shard_key = keys.shards[0].encryption
    assert shard_key is not None
    found = screen_update(dep, np.zeros(n, dtype=np.int64), update, shard_key)
    # Assert: a public fault, found with no proof verified, and judging agrees
    assert isinstance(found, Fault)
    assert found.reason is ExclusionReason.BAD_COMMITMENT and found.evidence == b""
    assert f"covers {inflated.length} values, not the model's {n}" in found.detail
    recipient = dep.shard_keys[0].encryption_key
    global_q = np.zeros(n, dtype=np.int64)
    assert check_exclusion(dep, global_q, update, ExclusionReason.BAD_COMMITMENT, b"", recipient) is None
    assert "BAD_COMMITMENT fault first" in str(
        check_exclusion(dep, global_q, update, ExclusionReason.BAD_NORM_PROOF, b"", recipient)
    )
    with pytest.raises(ProtocolError, match=f"covers {inflated.length} values, not the model's {n}"):
        verify_client_norm(dep, update)
    assert verified == []


def _torsioned_box(recipient: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """A box whose ephemeral key is an honest one plus a point of order 8: X25519 cannot tell."""
    ephemeral = EncryptionKey.generate()
    shared = ephemeral.exchange(recipient)  # clamped scalars are multiples of 8: the torsion vanishes
    u = _u_of(sodium.crypto_core_ed25519_add(_lift(ephemeral.public_key, "e"), _ORDER_8))
    return u + ChaCha20Poly1305(_box_key(shared, u, recipient)).encrypt(bytes(12), plaintext, aad)


def test_a_torsioned_ephemeral_key_that_decrypts_is_refused_publicly_by_both_sides() -> None:
    # A box the shard's X25519 opens, with an ephemeral key outside the prime-order group: the
    # shard must not include it (a disclosure could not be checked), and must not open it either.
    keys = DeploymentKeys.generate(2, 1)
    dep = keys.deployment(quality=False)
    n = workload.n_params(dep)
    q = np.zeros(n, dtype=np.int64)
    recipient = dep.shard_keys[0].encryption_key
    box = _torsioned_box(recipient, encode_vector(q, dep.scale), _aad(keys, dep))
    update = _update(keys, dep, commit_update(dep.spec(), np.zeros(n)).to_bytes(), box, None)
    shard_key = keys.shards[0].encryption
    assert shard_key is not None
    assert update.decrypt(shard_key) == encode_vector(q, dep.scale)  # X25519 opens it
    with pytest.raises(ProtocolError, match="prime-order group"):
        check_ephemeral(box, _aad(keys, dep), b"\x01" * 64)
    found = screen_update(dep, q, update, shard_key)
    assert isinstance(found, Fault) and found.reason is ExclusionReason.BAD_EPHEMERAL_KEY
    assert check_exclusion(dep, q, update, ExclusionReason.BAD_EPHEMERAL_KEY, b"", recipient) is None
