"""Identities and update encryption, built on ``cryptography``.

Two key kinds, each a small wrapper that keeps the ``cryptography`` objects out of the protocol code:

* :class:`SigningKey`: Ed25519 (RFC 8032). Every round message is signed with one; public keys
  travel as their raw 32 bytes. Signatures are 64 bytes.
* :class:`EncryptionKey`: X25519 (RFC 7748). Each shard aggregator holds one; clients encrypt their
  updates to its raw 32-byte public key with :func:`seal`.

:func:`seal` is a sealed box: the sender uses a one-time ephemeral X25519 key (random in :func:`seal`;
for client updates derived from the client's signing key and the box, :func:`ephemeral_for`, so
that the same update sealed twice gives the same bytes and nothing depends on the random number
generator), derives a one-time ChaCha20-Poly1305 key (RFC 8439) with HKDF-SHA256 (RFC 5869) from the shared secret, both public keys
and a domain tag, and authenticates caller-supplied associated data. Because every key is used once,
the 12-byte nonce is fixed at zero. Wire form: ``ephemeral public key (32) | ciphertext | tag (16)``.
The box hides the update and detects any change, but does not say who sent it: in zkagg the client's
Ed25519 signature over the whole :class:`~zkagg._protocol.messages.ClientUpdate` (ciphertext included) does.
For client updates the associated data is :func:`update_aad` (deployment, round, shard, client id),
so a ciphertext copied into another round, shard or client's update no longer decrypts.

Private keys are saved as unencrypted PKCS#8 PEM files created with mode 0600; loading refuses a file
that the group or others can read, and a file holding the other kind of key.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final

from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from zkagg._errors import ArtifactError, InvalidArgument, ProtocolError
from zkagg._wire import Writer

__all__ = [
    "KEY_SIZE",
    "MAX_CLIENT_ID",
    "SEAL_OVERHEAD",
    "SIGNATURE_SIZE",
    "EncryptionKey",
    "Identity",
    "SigningKey",
    "client_id_for",
    "open_sealed",
    "open_with_shared",
    "seal",
    "seal_with",
    "update_aad",
    "verify_ed25519",
]

#: Raw size of an Ed25519 or X25519 public or private key.
KEY_SIZE: Final = 32
#: Size of an Ed25519 signature.
SIGNATURE_SIZE: Final = 64
_TAG_SIZE: Final = 16
#: Bytes :func:`seal` adds to the plaintext: the ephemeral public key and the AEAD tag.
SEAL_OVERHEAD: Final = KEY_SIZE + _TAG_SIZE
_NONCE: Final = bytes(12)
_HKDF_INFO: Final = b"zkagg/seal/v1 x25519-hkdf-sha256-chacha20poly1305"
_AAD_TAG: Final = b"zkagg/update-aad/v1"
_CLIENT_ID_TAG: Final = b"zkagg/client-id/v1\x00"
_EPHEMERAL_TAG: Final = b"zkagg/ephemeral/v1\x00"
_DERIVE_TAG: Final = b"zkagg/insecure-derived-key/v1\x00"
#: Largest client id, in bytes (the wire limit of every message that carries one).
MAX_CLIENT_ID: Final = 64


def _raw_key(name: str, value: object) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise InvalidArgument(f"{name} must be {KEY_SIZE} raw bytes, not {type(value).__name__}")
    raw = bytes(value)
    if len(raw) != KEY_SIZE:
        raise InvalidArgument(f"{name} must be {KEY_SIZE} raw bytes, not {len(raw)} bytes")
    return raw


def _write_private(path: Path, pem: bytes, overwrite: bool) -> None:
    path = Path(path)
    if path.exists() and not overwrite:
        raise InvalidArgument(f"path must not exist (pass overwrite=True to replace it), not {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _read_private(path: Path, kind: str) -> object:
    path = Path(path)
    try:
        mode = path.stat().st_mode
        pem = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"cannot read {kind} key file {str(path)!r}: {exc}") from exc
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ArtifactError(
            f"{kind} key file {str(path)!r} must be readable by its owner only (mode 0600), "
            f"not mode {stat.S_IMODE(mode):04o}"
        )
    try:
        return serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ArtifactError(f"{kind} key file {str(path)!r} is not a PKCS#8 PEM private key: {exc}") from exc


def _pem(key: Ed25519PrivateKey | X25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _private_raw(key: Ed25519PrivateKey | X25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def _public_raw(key: Ed25519PublicKey | X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class SigningKey:
    """An Ed25519 private key.

    Parameters
    ----------
    key
        The ``cryptography`` key; use :meth:`generate`, :meth:`from_bytes` or :meth:`load`.
    """

    def __init__(self, key: Ed25519PrivateKey) -> None:
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidArgument(f"key must be an Ed25519PrivateKey, not {type(key).__name__}")
        self._key = key
        self.public_key: bytes = _public_raw(key.public_key())
        """The raw 32-byte public key."""

    def __repr__(self) -> str:
        return f"SigningKey(public_key={self.public_key.hex()})"

    @classmethod
    def generate(cls) -> SigningKey:
        """Return a fresh random key."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_bytes(cls, raw: bytes) -> SigningKey:
        """Return the key whose 32-byte seed is ``raw`` (RFC 8032 private key)."""
        return cls(Ed25519PrivateKey.from_private_bytes(_raw_key("raw", raw)))

    def to_bytes(self) -> bytes:
        """Return the 32-byte seed. Keep it secret."""
        return _private_raw(self._key)

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``message``."""
        if not isinstance(message, bytes | bytearray | memoryview):
            raise InvalidArgument(f"message must be bytes, not {type(message).__name__}")
        return self._key.sign(bytes(message))

    def save(self, path: Path | str, *, overwrite: bool = False) -> Path:
        """Write the key as PKCS#8 PEM to a new file with mode 0600 and return its path.

        Raises
        ------
        InvalidArgument
            If the file exists and ``overwrite`` is false.
        """
        _write_private(Path(path), _pem(self._key), overwrite)
        return Path(path)

    @classmethod
    def load(cls, path: Path | str) -> SigningKey:
        """Read a key written by :meth:`save`.

        Raises
        ------
        ArtifactError
            If the file is missing, readable by others than its owner, or not an Ed25519 key.
        """
        key = _read_private(Path(path), "Ed25519 signing")
        if not isinstance(key, Ed25519PrivateKey):
            raise ArtifactError(
                f"key file {str(path)!r} must hold an Ed25519 private key, not {type(key).__name__}"
            )
        return cls(key)


def verify_ed25519(public_key: bytes, signature: bytes, message: bytes, *, what: str = "message") -> None:
    """Check an Ed25519 signature.

    Raises
    ------
    ProtocolError
        If the public key is not a valid 32-byte Ed25519 key, the signature is not 64 bytes, or the
        signature does not verify; ``what`` names the signed object in the message.
    """
    if not isinstance(public_key, bytes | bytearray) or len(public_key) != KEY_SIZE:
        raise ProtocolError(f"{what}: signer public key must be {KEY_SIZE} bytes, not {public_key!r}")
    if not isinstance(signature, bytes | bytearray) or len(signature) != SIGNATURE_SIZE:
        raise ProtocolError(f"{what}: signature must be {SIGNATURE_SIZE} bytes, not {signature!r}")
    try:
        Ed25519PublicKey.from_public_bytes(bytes(public_key)).verify(bytes(signature), bytes(message))
    except InvalidSignature as exc:
        raise ProtocolError(
            f"{what}: the signature does not verify under public key {bytes(public_key).hex()}"
        ) from exc
    except ValueError as exc:  # pragma: no cover - every 32-byte string decodes in cryptography 42+
        raise ProtocolError(f"{what}: signer public key {bytes(public_key).hex()} is invalid: {exc}") from exc


class EncryptionKey:
    """An X25519 private key: what a shard aggregator decrypts client updates with.

    Parameters
    ----------
    key
        The ``cryptography`` key; use :meth:`generate`, :meth:`from_bytes` or :meth:`load`.
    """

    def __init__(self, key: X25519PrivateKey) -> None:
        if not isinstance(key, X25519PrivateKey):
            raise InvalidArgument(f"key must be an X25519PrivateKey, not {type(key).__name__}")
        self._key = key
        self.public_key: bytes = _public_raw(key.public_key())
        """The raw 32-byte public key."""

    def __repr__(self) -> str:
        return f"EncryptionKey(public_key={self.public_key.hex()})"

    @classmethod
    def generate(cls) -> EncryptionKey:
        """Return a fresh random key."""
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_bytes(cls, raw: bytes) -> EncryptionKey:
        """Return the key whose raw 32-byte scalar is ``raw``."""
        return cls(X25519PrivateKey.from_private_bytes(_raw_key("raw", raw)))

    def to_bytes(self) -> bytes:
        """Return the raw 32-byte private scalar. Keep it secret."""
        return _private_raw(self._key)

    def save(self, path: Path | str, *, overwrite: bool = False) -> Path:
        """Write the key as PKCS#8 PEM to a new file with mode 0600 and return its path."""
        _write_private(Path(path), _pem(self._key), overwrite)
        return Path(path)

    @classmethod
    def load(cls, path: Path | str) -> EncryptionKey:
        """Read a key written by :meth:`save`.

        Raises
        ------
        ArtifactError
            If the file is missing, readable by others than its owner, or not an X25519 key.
        """
        key = _read_private(Path(path), "X25519 encryption")
        if not isinstance(key, X25519PrivateKey):
            raise ArtifactError(
                f"key file {str(path)!r} must hold an X25519 private key, not {type(key).__name__}"
            )
        return cls(key)

    def exchange(self, peer_public_key: bytes) -> bytes:
        """Return the X25519 shared secret with a peer's raw public key."""
        peer = X25519PublicKey.from_public_bytes(_raw_key("peer_public_key", peer_public_key))
        try:
            return self._key.exchange(peer)
        except ValueError as exc:  # an all-zero shared secret: a low-order peer key
            raise ProtocolError(f"peer public key {peer_public_key.hex()} is a low-order point") from exc


def _box_key(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=ephemeral_public + recipient_public, info=_HKDF_INFO
    ).derive(shared)


def ephemeral_for(
    sender: SigningKey, recipient_public_key: bytes, plaintext: bytes, aad: bytes
) -> EncryptionKey:
    """The ephemeral key of a box ``sender`` seals: derived from its signing key and the box.

    As EdDSA derives its nonces, so that nothing depends on the random number generator: a
    sender never reuses a key for two different boxes (another recipient, plaintext or associated
    data gives an independent key), and a replayed run seals to the same bytes. The one thing
    this shows: sealing the same plaintext to the same recipient under the same associated data
    twice gives the same box (for a client update, a resubmission its signed message shows anyway).
    """
    if not isinstance(sender, SigningKey):
        raise InvalidArgument(f"sender must be a SigningKey, not {type(sender).__name__}")
    recipient = _raw_key("recipient_public_key", recipient_public_key)
    digest = hashlib.sha512(
        _EPHEMERAL_TAG
        + sender.to_bytes()
        + recipient
        + hashlib.sha256(bytes(aad)).digest()
        + hashlib.sha256(bytes(plaintext)).digest()
    ).digest()
    return EncryptionKey.from_bytes(digest[:32])


def seal(recipient_public_key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt ``plaintext`` to an X25519 public key, authenticating ``aad``.

    Parameters
    ----------
    recipient_public_key
        The recipient's raw 32-byte X25519 public key.
    plaintext
        The bytes to hide.
    aad
        Associated data: not encrypted, not included in the output, but needed, byte for byte, to
        open the box (for client updates, :func:`update_aad`).

    Returns
    -------
    bytes
        ``ephemeral public key (32) | ChaCha20-Poly1305 ciphertext and tag``, ``len(plaintext) + 48``.
    """
    return seal_with(EncryptionKey.generate(), recipient_public_key, plaintext, aad)


def seal_with(ephemeral: EncryptionKey, recipient_public_key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """:func:`seal` with a given ephemeral key: a fresh one per box, never reused.

    For senders that must also prove they know the ephemeral key
    (:func:`zkagg._protocol.disclosure.prove_ephemeral`), and for test vectors.
    """
    recipient = _raw_key("recipient_public_key", recipient_public_key)
    if not isinstance(plaintext, bytes | bytearray | memoryview):
        raise InvalidArgument(f"plaintext must be bytes, not {type(plaintext).__name__}")
    if not isinstance(aad, bytes | bytearray | memoryview):
        raise InvalidArgument(f"aad must be bytes, not {type(aad).__name__}")
    shared = ephemeral.exchange(recipient)
    key = _box_key(shared, ephemeral.public_key, recipient)
    return ephemeral.public_key + ChaCha20Poly1305(key).encrypt(_NONCE, bytes(plaintext), bytes(aad))


def open_sealed(key: EncryptionKey, box: bytes, aad: bytes) -> bytes:
    """Decrypt a :func:`seal` box with the recipient's private key.

    Raises
    ------
    ProtocolError
        If the box is shorter than 48 bytes, or if it does not decrypt: the wrong private key, other
        associated data (a ciphertext moved to another round, shard or client), or changed bytes.
        AEAD cannot tell these apart, and the message says so.
    """
    if not isinstance(key, EncryptionKey):
        raise InvalidArgument(f"key must be an EncryptionKey, not {type(key).__name__}")
    box = _box_bytes(box)
    return open_with_shared(key.exchange(box[:KEY_SIZE]), box, key.public_key, aad)


def _box_bytes(box: object) -> bytes:
    if not isinstance(box, bytes | bytearray | memoryview):
        raise InvalidArgument(f"box must be bytes, not {type(box).__name__}")
    if len(box) < SEAL_OVERHEAD:
        raise ProtocolError(f"sealed box must be at least {SEAL_OVERHEAD} bytes, not {len(box)}")
    return bytes(box)


def open_with_shared(shared: bytes, box: bytes, recipient_public_key: bytes, aad: bytes) -> bytes:
    """Decrypt a :func:`seal` box given the X25519 shared secret of its ephemeral key and recipient.

    What :func:`open_sealed` does after the key exchange; anyone holding a disclosed shared secret
    (:mod:`zkagg._protocol.disclosure`) opens that one box, and no other, with it.

    Raises
    ------
    ProtocolError
        As :func:`open_sealed`.
    """
    box = _box_bytes(box)
    recipient = _raw_key("recipient_public_key", recipient_public_key)
    box_key = _box_key(_raw_key("shared", shared), box[:KEY_SIZE], recipient)
    try:
        return ChaCha20Poly1305(box_key).decrypt(_NONCE, box[KEY_SIZE:], bytes(aad))
    except InvalidTag as exc:
        raise ProtocolError(
            f"sealed box does not decrypt with the key of public key {recipient.hex()}: "
            "wrong recipient key, other associated data (deployment, round, shard or client id), "
            "or a changed ciphertext"
        ) from exc


def update_aad(deployment: bytes, round: int, shard: int, client_id: bytes) -> bytes:
    """Return the associated data that binds an encrypted client update to its place in a deployment.

    ``"zkagg/update-aad/v1" | deployment (32) | round (u64) | shard (u16) | client id (u32 length, bytes)``.
    """
    w = Writer.raw()
    w.fixed("tag", _AAD_TAG, len(_AAD_TAG))
    w.fixed("deployment", deployment, 32)
    w.u64("round", round)
    w.u16("shard", shard)
    w.bytes_("client_id", client_id, min_len=1, max_len=MAX_CLIENT_ID)
    return w.getvalue()


def client_id_for(public_key: bytes) -> bytes:
    r"""Return the self-certifying client id of an Ed25519 public key.

    ``SHA-256("zkagg/client-id/v1\0" | public key)[:16]``: a client cannot claim another client's
    id without its private key. 16 bytes (128 bits) keep accidental collisions out of reach.
    """
    return hashlib.sha256(_CLIENT_ID_TAG + _raw_key("public_key", public_key)).digest()[:16]


@dataclass(frozen=True)
class Identity:
    """A party's keys: an Ed25519 signing key, and for a shard aggregator an X25519 key as well.

    On disk an identity is a directory (mode 0700) holding ``signing.pem`` and, when present,
    ``encryption.pem`` (each mode 0600).

    Attributes
    ----------
    signing
        Signs the party's messages.
    encryption
        Opens the client updates sealed to a shard aggregator; ``None`` for other roles.
    """

    signing: SigningKey
    encryption: EncryptionKey | None = None

    SIGNING_FILE: ClassVar[str] = "signing.pem"
    ENCRYPTION_FILE: ClassVar[str] = "encryption.pem"

    @classmethod
    def generate(cls, *, encryption: bool = False) -> Identity:
        """Return fresh keys; with ``encryption=True`` also an X25519 key (shard aggregators)."""
        return cls(SigningKey.generate(), EncryptionKey.generate() if encryption else None)

    @classmethod
    def derive(cls, seed: bytes, label: str, *, encryption: bool = False) -> Identity:
        """Keys derived from ``seed`` and ``label``: INSECURE, anyone who knows the seed holds them.

        For tests and replayable simulations, whose runs must draw the same cohorts every time.
        """
        if not isinstance(seed, bytes) or not seed:
            raise InvalidArgument(f"seed must be non-empty bytes, not {seed!r:.60}")

        def part(kind: bytes) -> bytes:
            framed = struct.pack(">I", len(seed)) + seed + label.encode()
            return hashlib.sha256(_DERIVE_TAG + kind + framed).digest()

        return cls(
            SigningKey.from_bytes(part(b"signing\x00")),
            EncryptionKey.from_bytes(part(b"encryption\x00")) if encryption else None,
        )

    def save(self, directory: Path | str, *, overwrite: bool = False) -> Path:
        """Write the keys into ``directory`` (created with mode 0700) and return it.

        Raises
        ------
        InvalidArgument
            If a key file exists already and ``overwrite`` is false.
        """
        path = Path(directory)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.signing.save(path / self.SIGNING_FILE, overwrite=overwrite)
        if self.encryption is not None:
            self.encryption.save(path / self.ENCRYPTION_FILE, overwrite=overwrite)
        return path

    @classmethod
    def load(cls, directory: Path | str) -> Identity:
        """Read an identity written by :meth:`save` (``encryption.pem`` is optional).

        Raises
        ------
        ArtifactError
            If ``signing.pem`` is missing, or a key file is unreadable, too open or of the wrong kind.
        """
        path = Path(directory)
        encryption_file = path / cls.ENCRYPTION_FILE
        encryption = EncryptionKey.load(encryption_file) if encryption_file.exists() else None
        return cls(SigningKey.load(path / cls.SIGNING_FILE), encryption)
