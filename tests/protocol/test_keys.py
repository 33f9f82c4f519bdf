"""Ed25519 identities on disk, and sealed client updates bound to deployment, round, shard, client."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from tests.protocol.conftest import DEPLOYMENT, Deployment, encryption_key, signing_key
from zkagg._errors import ArtifactError, InvalidArgument, ProtocolError
from zkagg._protocol.keys import (
    SEAL_OVERHEAD,
    EncryptionKey,
    Identity,
    SigningKey,
    client_id_for,
    open_sealed,
    seal,
    update_aad,
    verify_ed25519,
)


def test_rfc8032_test_vector_1() -> None:
    # RFC 8032 §7.1, TEST 1 (empty message)
    key = SigningKey.from_bytes(
        bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    )
    assert key.public_key.hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    signature = key.sign(b"")
    assert signature.hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    verify_ed25519(key.public_key, signature, b"")


def test_signature_failures_are_protocol_errors() -> None:
    key = signing_key("a")
    signature = key.sign(b"message")
    with pytest.raises(ProtocolError, match="msg: the signature does not verify under public key"):
        verify_ed25519(key.public_key, signature, b"messagf", what="msg")
    with pytest.raises(ProtocolError, match="signature must be 64 bytes"):
        verify_ed25519(key.public_key, signature[:-1], b"message")
    with pytest.raises(ProtocolError, match="signer public key must be 32 bytes"):
        verify_ed25519(key.public_key[:31], signature, b"message")


@pytest.mark.parametrize("kind", [SigningKey, EncryptionKey])
def test_save_and_load_owner_only(tmp_path: Path, kind: type[SigningKey] | type[EncryptionKey]) -> None:
    # Prepare
    key = kind.generate()
    path = tmp_path / "keys" / "id.pem"
    # Execute
    key.save(path)
    loaded = kind.load(path)
    # Assert
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert loaded.public_key == key.public_key
    assert loaded.to_bytes() == key.to_bytes()
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    with pytest.raises(InvalidArgument, match="path must not exist"):
        key.save(path)
    kind.generate().save(path, overwrite=True)
    assert kind.load(path).public_key != key.public_key


def test_load_refuses_open_permissions_other_kinds_and_garbage(tmp_path: Path) -> None:
    path = SigningKey.generate().save(tmp_path / "sign.pem")
    os.chmod(path, 0o644)
    with pytest.raises(
        ArtifactError, match=r"must be readable by its owner only \(mode 0600\), not mode 0644"
    ):
        SigningKey.load(path)
    os.chmod(path, 0o600)
    with pytest.raises(ArtifactError, match="must hold an X25519 private key, not Ed25519PrivateKey"):
        EncryptionKey.load(path)
    x = EncryptionKey.generate().save(tmp_path / "x.pem")
    with pytest.raises(ArtifactError, match="must hold an Ed25519 private key, not X25519PrivateKey"):
        SigningKey.load(x)
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"not a key")
    junk.chmod(0o600)
    with pytest.raises(ArtifactError, match="is not a PKCS#8 PEM private key"):
        SigningKey.load(junk)
    with pytest.raises(ArtifactError, match="cannot read Ed25519 signing key file"):
        SigningKey.load(tmp_path / "missing.pem")


def test_raw_key_sizes() -> None:
    with pytest.raises(InvalidArgument, match="raw must be 32 raw bytes, not 31 bytes"):
        SigningKey.from_bytes(bytes(31))
    with pytest.raises(InvalidArgument, match="recipient_public_key must be 32 raw bytes, not str"):
        seal("k", b"", b"")  # type: ignore[arg-type]


def test_seal_round_trip_and_size() -> None:
    # Prepare
    key = encryption_key("aggregator")
    aad = update_aad(DEPLOYMENT, 3, 1, b"client")
    # Execute
    box = seal(key.public_key, b"update bytes", aad)
    # Assert
    assert len(box) == len(b"update bytes") + SEAL_OVERHEAD
    assert open_sealed(key, box, aad) == b"update bytes"
    assert seal(key.public_key, b"update bytes", aad) != box  # a fresh ephemeral key every time
    assert open_sealed(key, seal(key.public_key, b"", aad), aad) == b""


def test_open_fails_on_wrong_key_moved_aad_and_changed_bytes() -> None:
    key = encryption_key("aggregator")
    aad = update_aad(DEPLOYMENT, 3, 1, b"client")
    box = seal(key.public_key, b"update bytes", aad)
    with pytest.raises(ProtocolError, match="sealed box does not decrypt with the key of public key"):
        open_sealed(encryption_key("other aggregator"), box, aad)
    for moved in (
        update_aad(DEPLOYMENT, 4, 1, b"client"),  # another round
        update_aad(DEPLOYMENT, 3, 2, b"client"),  # another shard
        update_aad(DEPLOYMENT, 3, 1, b"client2"),  # another client
        update_aad(bytes(32), 3, 1, b"client"),  # another deployment
    ):
        with pytest.raises(ProtocolError, match="other associated data"):
            open_sealed(key, box, moved)
    for i in range(len(box)):
        changed = bytearray(box)
        changed[i] ^= 0x80
        with pytest.raises(ProtocolError):
            open_sealed(key, bytes(changed), aad)
    with pytest.raises(ProtocolError, match="sealed box must be at least 48 bytes, not 47"):
        open_sealed(key, box[:47], aad)


def test_low_order_ephemeral_key_is_refused() -> None:
    key = encryption_key("aggregator")
    with pytest.raises(ProtocolError, match="low-order point"):
        open_sealed(key, bytes(32) + bytes(16), b"")


def test_client_update_decrypts_only_in_place(deployment: Deployment) -> None:
    # Prepare
    manifest = deployment.manifest()
    client = deployment.clients[0]
    update = deployment.update(manifest, client, plaintext=b"weights")
    own = deployment.decryptors[update.shard]
    # Execute / Assert
    assert update.decrypt(own) == b"weights"
    other = deployment.decryptors[(update.shard + 1) % deployment.num_shards]
    with pytest.raises(ProtocolError, match=f"update of client {update.client_id.hex()}"):
        update.decrypt(other)
    # The ciphertext copied into another client's update (re-signed by that client) fails to open.
    thief = deployment.clients[1]
    import dataclasses

    stolen = dataclasses.replace(
        update, client_id=client_id_for(thief.public_key), client_key=thief.public_key, signature=b""
    ).sign(thief)
    with pytest.raises(ProtocolError, match="other associated data"):
        stolen.decrypt(own)


def test_client_id_is_bound_to_the_key() -> None:
    a, b = signing_key("a"), signing_key("b")
    assert len(client_id_for(a.public_key)) == 16
    assert client_id_for(a.public_key) == client_id_for(a.public_key) != client_id_for(b.public_key)


def test_wrapping_refuses_foreign_types() -> None:
    with pytest.raises(InvalidArgument, match="key must be an Ed25519PrivateKey, not X25519PrivateKey"):
        SigningKey(X25519PrivateKey.generate())  # type: ignore[arg-type]


def test_identity_directory(tmp_path: Path) -> None:
    # Prepare
    aggregator = Identity.generate(encryption=True)
    client = Identity.generate()
    # Execute
    aggregator.save(tmp_path / "agg")
    client.save(tmp_path / "client")
    loaded_agg = Identity.load(tmp_path / "agg")
    loaded_client = Identity.load(tmp_path / "client")
    # Assert
    assert stat.S_IMODE((tmp_path / "agg").stat().st_mode) == 0o700
    assert loaded_agg.signing.public_key == aggregator.signing.public_key
    assert loaded_agg.encryption is not None and aggregator.encryption is not None
    assert loaded_agg.encryption.public_key == aggregator.encryption.public_key
    assert loaded_client.encryption is None
    with pytest.raises(InvalidArgument, match="path must not exist"):
        client.save(tmp_path / "client")
    with pytest.raises(ArtifactError, match="cannot read Ed25519 signing key file"):
        Identity.load(tmp_path / "nobody")
