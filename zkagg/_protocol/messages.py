r"""The signed messages of a round (DESIGN.md §1) and their binary encoding.

========================  ==========================  ========================================
message                   signed by                   posted to (:mod:`zkagg._protocol.sharding`)
========================  ==========================  ========================================
:class:`RoundManifest`    the coordinator             the deployment's control namespace
:class:`ClientUpdate`     the client                  the namespace of the client's shard
:class:`ShardResult`      the shard's aggregator      the control namespace
:class:`GlobalResult`     the coordinator             the control namespace
:class:`SeedReveal`       a shard's aggregator        the control namespace
========================  ==========================  ========================================

Encoding (:mod:`zkagg._wire`): ``"ZKAG" | type (u8) | version (u8) | fields | signature (64)``,
fixed schemas, big-endian integers, length-prefixed byte strings and lists with per-field limits.
Types: 1 manifest (version 2: reveal height and seed anchors), 2 client update (version 2: the
proof of its ephemeral key), 3 shard result (version 2: the excluded updates), 4 global result,
5 seed reveal; the others are at version 1.
Payloads that belong to other parts of zkagg (the aggregation spec, KZG commitments, proofs, the
shard aggregate) are carried as opaque bytes.

Signatures are Ed25519 over ``SHA-256("zkagg/round/v1/signature\0" | name | "\0" | encoding
without the signature)``, where ``name`` is the class name: the header inside the encoding already
separates message types, and the tag keeps these signatures apart from anything else the same key
might sign. Each message carries its signer's public key; :meth:`verify_signature` checks the
signature against it and, given ``expected_key``, that it is the key the verifier trusts for that
role. A valid signature alone says nothing about who the signer is allowed to be: the binding checks
of :mod:`zkagg._protocol.guard` decide that from the manifest.

Decoding raises :class:`~zkagg.ProtocolError` for anything malformed; building a message with bad
field values raises :class:`~zkagg.InvalidArgument`. Both name the field, what it must be and what
it was.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Final, Self, TypeVar

from zkagg._errors import InvalidArgument, ProtocolError
from zkagg._field import MAX_SCALE
from zkagg._protocol.disclosure import DISCLOSURE_SIZE, EPHEMERAL_PROOF_SIZE, prove_ephemeral
from zkagg._protocol.keys import (
    KEY_SIZE,
    MAX_CLIENT_ID,
    SEAL_OVERHEAD,
    SIGNATURE_SIZE,
    EncryptionKey,
    SigningKey,
    client_id_for,
    ephemeral_for,
    open_sealed,
    seal_with,
    update_aad,
    verify_ed25519,
)
from zkagg._wire import MAGIC, Reader, Writer
from zkagg.da import Namespace, PayloadRef

__all__ = [
    "DEPLOYMENT_SIZE",
    "DISCLOSED_REASONS",
    "MAX_SHARDS",
    "NOT_CAUGHT",
    "SEED_VALUE_SIZE",
    "BlobRef",
    "CircuitRef",
    "ClientUpdate",
    "ExcludedUpdate",
    "ExclusionReason",
    "GlobalResult",
    "IncludedUpdate",
    "Message",
    "RoundManifest",
    "SeedReveal",
    "ShardKeys",
    "ShardResult",
    "ShardVerdict",
    "VerdictReason",
    "decode_message",
]

#: A deployment id is 32 bytes (for instance SHA-256 of the deployment's configuration).
DEPLOYMENT_SIZE: Final = 32
#: Most shards a manifest may declare.
MAX_SHARDS: Final = 1024
#: Size of a seed-chain value (an anchor or a reveal): a SHA-256 digest.
SEED_VALUE_SIZE: Final = 32
#: Largest opaque field that names or describes something small (aggregation spec).
MAX_SPEC_BYTES: Final = 64 * 1024
#: Largest commitment list of one client update or of the global model (KZG points, opaque here).
MAX_COMMITMENT_BYTES: Final = 1024 * 1024
#: Largest inline payload (ciphertext, proofs, inline aggregate): Celestia's MaxTxSize, 8 MiB.
MAX_PAYLOAD_BYTES: Final = 8 * 1024 * 1024
MAX_NAME_BYTES: Final = 64
MAX_HASH_BYTES: Final = 64
MAX_CIRCUITS: Final = 64
MAX_INCLUDED: Final = 65536
MAX_DETAIL_BYTES: Final = 1024
MAX_CHUNK_SIZE: Final = 1 << 24
PPM: Final = 1_000_000
_COMMITMENT_SIZE: Final = 32
_NAMESPACE_SIZE: Final = 29
_SIGNATURE_TAG: Final = b"zkagg/round/v1/signature\x00"

_T = TypeVar("_T")


# -- field checks (InvalidArgument when building a message) -----------------------------------------


def _uint(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name} must be an integer in [{lo}, {hi}], not {value!r}")
    if not lo <= value <= hi:
        raise InvalidArgument(f"{name} must be an integer in [{lo}, {hi}], not {value}")
    return value


def _bytes(name: str, value: object, lo: int, hi: int) -> bytes:
    if not isinstance(value, bytes):
        raise InvalidArgument(f"{name} must be bytes, not {type(value).__name__}")
    if not lo <= len(value) <= hi:
        what = f"exactly {lo}" if lo == hi else f"{lo} to {hi}"
        raise InvalidArgument(f"{name} must be {what} bytes long, not {len(value)}")
    return value


def _text(name: str, value: object, lo: int, hi: int) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{name} must be a str, not {type(value).__name__}")
    try:
        n = len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidArgument(f"{name} must be encodable as UTF-8, not {value!r}") from exc
    if not lo <= n <= hi:
        raise InvalidArgument(f"{name} must be {lo} to {hi} bytes long in UTF-8, not {n}")
    return value


def _items(name: str, value: object, kind: type[_T], lo: int, hi: int) -> tuple[_T, ...]:
    if not isinstance(value, tuple):
        raise InvalidArgument(f"{name} must be a tuple of {kind.__name__}, not {type(value).__name__}")
    for i, item in enumerate(value):
        if not isinstance(item, kind):
            raise InvalidArgument(f"{name}[{i}] must be a {kind.__name__}, not {type(item).__name__}")
    if not lo <= len(value) <= hi:
        raise InvalidArgument(f"{name} must have {lo} to {hi} items, not {len(value)}")
    return value


_U64: Final = (1 << 64) - 1


# -- small value types ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlobRef:
    """A blob in a known namespace: its height and its 32-byte share commitment.

    Attributes
    ----------
    height
        Block height, >= 1.
    commitment
        The blob's share commitment (``Blob.commitment``).
    """

    height: int
    commitment: bytes

    def __post_init__(self) -> None:
        _uint("height", self.height, 1, _U64)
        _bytes("commitment", self.commitment, _COMMITMENT_SIZE, _COMMITMENT_SIZE)

    def _write(self, w: Writer, name: str) -> None:
        w.u64(f"{name}.height", self.height)
        w.fixed(f"{name}.commitment", self.commitment, _COMMITMENT_SIZE)

    @classmethod
    def _read(cls, r: Reader, name: str) -> BlobRef:
        return cls(r.u64(f"{name}.height"), r.fixed(f"{name}.commitment", _COMMITMENT_SIZE))


def _write_payload_ref(w: Writer, name: str, ref: PayloadRef) -> None:
    w.u64(f"{name}.height", ref.height)
    w.fixed(f"{name}.namespace", ref.namespace.to_bytes(), _NAMESPACE_SIZE)
    w.fixed(f"{name}.commitment", ref.commitment, _COMMITMENT_SIZE)


def _read_payload_ref(r: Reader, name: str) -> PayloadRef:
    height = r.u64(f"{name}.height")
    namespace = Namespace.from_bytes(r.fixed(f"{name}.namespace", _NAMESPACE_SIZE))
    return PayloadRef(height, namespace, r.fixed(f"{name}.commitment", _COMMITMENT_SIZE))


def _check_payload_ref(name: str, ref: object) -> PayloadRef:
    if not isinstance(ref, PayloadRef):
        raise InvalidArgument(f"{name} must be a PayloadRef, not {type(ref).__name__}")
    _uint(f"{name}.height", ref.height, 1, _U64)
    if not isinstance(ref.namespace, Namespace):
        raise InvalidArgument(f"{name}.namespace must be a Namespace, not {type(ref.namespace).__name__}")
    _bytes(f"{name}.commitment", ref.commitment, _COMMITMENT_SIZE, _COMMITMENT_SIZE)
    return ref


@dataclass(frozen=True)
class CircuitRef:
    """A circuit the round uses: its id and the hash of its verification key."""

    circuit_id: str
    vk_hash: bytes

    def __post_init__(self) -> None:
        _text("circuit_id", self.circuit_id, 1, MAX_NAME_BYTES)
        _bytes("vk_hash", self.vk_hash, 1, MAX_HASH_BYTES)


@dataclass(frozen=True)
class ShardKeys:
    """A shard aggregator's public keys and the anchor of its seed chain.

    Ed25519 signs its results and reveals, X25519 receives updates, and ``seed_anchor`` is the head
    of the hash chain whose values it reveals round by round to seed the cohorts
    (:mod:`zkagg._protocol.seed`).
    """

    signing_key: bytes
    encryption_key: bytes
    seed_anchor: bytes

    def __post_init__(self) -> None:
        _bytes("signing_key", self.signing_key, KEY_SIZE, KEY_SIZE)
        _bytes("encryption_key", self.encryption_key, KEY_SIZE, KEY_SIZE)
        _bytes("seed_anchor", self.seed_anchor, SEED_VALUE_SIZE, SEED_VALUE_SIZE)


@dataclass(frozen=True)
class IncludedUpdate:
    """A client update a shard aggregated: the client and where its ClientUpdate blob is.

    ``height`` and ``commitment`` locate the blob in the shard's namespace, so the coordinator can
    check the inclusion list against what was actually posted.
    """

    client_id: bytes
    height: int
    commitment: bytes

    def __post_init__(self) -> None:
        _bytes("client_id", self.client_id, 1, MAX_CLIENT_ID)
        _uint("height", self.height, 1, _U64)
        _bytes("commitment", self.commitment, _COMMITMENT_SIZE, _COMMITMENT_SIZE)


class ExclusionReason(enum.IntEnum):
    """Why a shard left out a client update that passed the public checks; a u8 on the wire.

    The first three are public: anyone checks them from the update alone. The last three rest on
    the sealed content, and the shard discloses that one box's shared secret with a proof
    (:mod:`zkagg._protocol.disclosure`) so that anyone can open it and check the accusation. The
    shard checks them in this order (:func:`zkagg._protocol.inclusion.screen_update`), so nothing is
    disclosed for an update a public fault already excludes.
    """

    #: The ciphertext's ephemeral key is not in the prime-order group (no X25519 generator makes
    #: one), or the client's proof that it knows the key does not verify for this update.
    BAD_EPHEMERAL_KEY = 1
    #: The update's commitments do not decode, are not in the deployment's commitment domain, or do
    #: not cover the model's number of values.
    BAD_COMMITMENT = 2
    #: The deployment bounds update norms and the update carries no valid norm proof.
    BAD_NORM_PROOF = 3
    #: The ciphertext does not decrypt under its proven shared secret.
    UNDECRYPTABLE = 4
    #: The plaintext is not an update of the model's size and scale, or leaves the range of a model.
    BAD_CONTENT = 5
    #: The plaintext does not match the update's commitments.
    COMMITMENT_MISMATCH = 6


#: The exclusion reasons whose evidence is a disclosure (:data:`DISCLOSURE_SIZE` bytes); the others carry none.
DISCLOSED_REASONS: Final = frozenset(
    {ExclusionReason.UNDECRYPTABLE, ExclusionReason.BAD_CONTENT, ExclusionReason.COMMITMENT_MISMATCH}
)


@dataclass(frozen=True)
class ExcludedUpdate:
    """A client update a shard left out: where its blob is, why, and the evidence anyone can check.

    ``evidence`` is a disclosure of the update's ciphertext (:func:`zkagg._protocol.disclosure.disclose`)
    for the reasons in :data:`DISCLOSED_REASONS`, and empty for the public ones: exactly one form is
    valid for each reason.
    """

    client_id: bytes
    height: int
    commitment: bytes
    reason: ExclusionReason
    evidence: bytes = b""

    def __post_init__(self) -> None:
        _bytes("client_id", self.client_id, 1, MAX_CLIENT_ID)
        _uint("height", self.height, 1, _U64)
        _bytes("commitment", self.commitment, _COMMITMENT_SIZE, _COMMITMENT_SIZE)
        if not isinstance(self.reason, ExclusionReason):
            raise InvalidArgument(f"reason must be an ExclusionReason, not {self.reason!r}")
        size = DISCLOSURE_SIZE if self.reason in DISCLOSED_REASONS else 0
        _bytes(f"evidence of exclusion reason {self.reason.name}", self.evidence, size, size)


class VerdictReason(enum.StrEnum):
    """Why the coordinator accepted or excluded a shard; carried on the wire as the string value."""

    ACCEPTED = "accepted"
    MISSING = "missing"
    LATE = "late"
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad-signature"
    MISBOUND = "misbound"
    REPLAYED = "replayed"
    BAD_INCLUSION = "bad-inclusion"
    BAD_AGGREGATE = "bad-aggregate"
    BAD_QUALITY_PROOF = "bad-quality-proof"
    BELOW_THRESHOLD = "below-threshold"
    WITHHELD = "withheld"
    #: The shard included a client whose update carries no valid norm proof, in a deployment that
    #: sets ``client_norm_bound`` (:func:`zkagg._protocol.guard.verify_client_norm`).
    BAD_NORM_PROOF = "bad-norm-proof"
    #: The shard's aggregate was made under another SRS than the deployment's (its spec names
    #: another SRS hash): whoever made that SRS may have forged its proofs (:mod:`zkagg._protocol.judge`).
    WRONG_SRS = "wrong-srs"
    #: The shard left out an update that passed the public checks without a reason that holds: it
    #: did not account for it, or accused it falsely (:mod:`zkagg._protocol.inclusion`).
    UNJUSTIFIED_EXCLUSION = "unjustified-exclusion"
    #: The shard's aggregator posted, in time and signed, a result that includes no update: none
    #: was posted to its shard, or it excluded every one with a reason judging checked. It adds
    #: nothing to the global model but counts as available (it took part; see ``has_quorum``).
    EMPTY = "empty"


#: Verdicts that say nothing against the shard's aggregator: it was accepted, stayed silent or was
#: late (liveness), its honest model missed the quality threshold, or someone else posted a result
#: in its name. Every other reason names a cheat its aggregator signed, which the audit reports as a
#: finding (:attr:`zkagg._protocol.judge.RoundJudgement.findings`).
NOT_CAUGHT: Final = frozenset(
    {
        VerdictReason.ACCEPTED,
        VerdictReason.MISSING,
        VerdictReason.LATE,
        VerdictReason.BELOW_THRESHOLD,
        VerdictReason.BAD_SIGNATURE,
        VerdictReason.EMPTY,
    }
)


@dataclass(frozen=True)
class ShardVerdict:
    """The coordinator's verdict on one shard.

    Attributes
    ----------
    shard
        The shard index.
    reason
        :attr:`VerdictReason.ACCEPTED`, or why the shard was excluded.
    detail
        A human-readable explanation (may be empty).
    result
        The ShardResult blob judged (control namespace), or ``None`` when there was none.
    """

    shard: int
    reason: VerdictReason
    detail: str = ""
    result: BlobRef | None = None

    def __post_init__(self) -> None:
        _uint("shard", self.shard, 0, MAX_SHARDS - 1)
        if not isinstance(self.reason, VerdictReason):
            raise InvalidArgument(f"reason must be a VerdictReason, not {self.reason!r}")
        _text("detail", self.detail, 0, MAX_DETAIL_BYTES)
        if self.result is not None and not isinstance(self.result, BlobRef):
            raise InvalidArgument(f"result must be a BlobRef or None, not {type(self.result).__name__}")
        if self.accepted and self.result is None:
            raise InvalidArgument(f"result of accepted shard {self.shard} must be a BlobRef, not None")

    @property
    def accepted(self) -> bool:
        """Whether the shard's result enters the global model."""
        return self.reason is VerdictReason.ACCEPTED


# -- the signed-message base ------------------------------------------------------------------------


class _Signed:
    """Encoding, signing and verification shared by the round messages (frozen dataclasses)."""

    TYPE: ClassVar[int]
    VERSION: ClassVar[int] = 1
    signature: bytes

    def _write_fields(self, w: Writer) -> None:
        raise NotImplementedError

    @classmethod
    def _read_fields(cls, r: Reader) -> Self:
        raise NotImplementedError

    @property
    def signer_key(self) -> bytes:
        """The Ed25519 public key this message says signed it."""
        raise NotImplementedError

    def _check_signature_field(self) -> None:
        if not isinstance(self.signature, bytes) or len(self.signature) not in (0, SIGNATURE_SIZE):
            raise InvalidArgument(
                f"signature must be {SIGNATURE_SIZE} bytes (or empty before signing), not {self.signature!r}"
            )

    def signing_bytes(self) -> bytes:
        """Return the encoding without the signature: header and every field."""
        w = Writer(self.TYPE, self.VERSION)
        self._write_fields(w)
        return w.getvalue()

    def signing_digest(self) -> bytes:
        """Return what the signature signs: a domain-separated SHA-256 of :meth:`signing_bytes`."""
        name = type(self).__name__.encode("ascii")
        return hashlib.sha256(_SIGNATURE_TAG + name + b"\x00" + self.signing_bytes()).digest()

    def to_bytes(self) -> bytes:
        """Return the message's encoding: :meth:`signing_bytes` then the 64-byte signature.

        Raises
        ------
        InvalidArgument
            If the message is not signed yet.
        """
        if len(self.signature) != SIGNATURE_SIZE:
            raise InvalidArgument(
                f"{type(self).__name__} must be signed before encoding (signature must be "
                f"{SIGNATURE_SIZE} bytes, not {len(self.signature)}); call sign() first"
            )
        return self.signing_bytes() + self.signature

    def message_id(self) -> bytes:
        """Return SHA-256 of :meth:`to_bytes`: what duplicate detection compares."""
        return hashlib.sha256(self.to_bytes()).digest()

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Decode and validate a message; the signature is read, not verified.

        Raises
        ------
        ProtocolError
            If ``data`` is truncated, has trailing bytes, another magic, type or version, a length or
            count above its limit, or a field value outside its domain.
        """
        r = Reader(data, cls.__name__)
        r.header(cls.TYPE, (cls.VERSION,))
        try:
            message = cls._read_fields(r)
            signature = r.fixed("signature", SIGNATURE_SIZE)
            r.finish()
            return dataclasses.replace(message, signature=signature)  # type: ignore[type-var]
        except InvalidArgument as exc:
            raise ProtocolError(f"{cls.__name__}: {exc}") from exc

    def sign(self, key: SigningKey) -> Self:
        """Return a copy signed with ``key``, which must match :attr:`signer_key`.

        Raises
        ------
        InvalidArgument
            If ``key``'s public key is not the message's signer key.
        """
        if not isinstance(key, SigningKey):
            raise InvalidArgument(f"key must be a SigningKey, not {type(key).__name__}")
        if key.public_key != self.signer_key:
            raise InvalidArgument(
                f"key must be the private key of the message's signer {self.signer_key.hex()}, "
                f"not that of {key.public_key.hex()}"
            )
        return dataclasses.replace(self, signature=key.sign(self.signing_digest()))  # type: ignore[type-var]

    def verify_signature(self, expected_key: bytes | None = None) -> None:
        """Check the signature against :attr:`signer_key` (and that it is ``expected_key``, if given).

        Raises
        ------
        ProtocolError
            If the message is unsigned, signed by another key than ``expected_key``, or the signature
            does not verify (any byte of the message changed).
        """
        name = type(self).__name__
        if expected_key is not None and expected_key != self.signer_key:
            raise ProtocolError(
                f"{name} signer must be {bytes(expected_key).hex()}, not {self.signer_key.hex()}"
            )
        if len(self.signature) != SIGNATURE_SIZE:
            raise ProtocolError(f"{name} is not signed (signature is {len(self.signature)} bytes, not 64)")
        verify_ed25519(self.signer_key, self.signature, self.signing_digest(), what=name)


def _read_list(
    r: Reader, name: str, max_count: int, item: Callable[[int], _T], min_count: int = 0
) -> tuple[_T, ...]:
    n = r.count(name, max_count=max_count, min_count=min_count)
    return tuple(item(i) for i in range(n))


# -- RoundManifest ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoundManifest(_Signed):
    """The coordinator's announcement of round ``round``: what to train, how to aggregate, when.

    The coordinator's signature protects every field: the global model the round starts from, the
    aggregation rule and spec, quantization and chunking, the circuits and their verification-key
    hashes (so nobody can swap in a weaker circuit), the number of shards and the seed height (so
    the cohorts cannot be redrawn), the deadlines, quorum and quality threshold, and the shard
    aggregators' keys (so a client encrypts only to the real aggregator). Verifiers must pin
    ``coordinator_key`` from the deployment's configuration, not take it from the manifest.

    Attributes
    ----------
    deployment
        The 32-byte deployment id.
    round
        The round number.
    global_model_commitment
        Commitment or hash of the global model the round starts from (opaque bytes).
    global_model
        Where the global model's payload is (``None`` when clients know it otherwise).
    aggregation_rule
        The rule's name, e.g. ``"fedavg"``, ``"median"``.
    aggregation_spec
        The aggregation work's encoded spec (opaque bytes, up to 64 KiB).
    quantization_scale
        Fixed-point scale of updates, ``0 .. 62`` (:data:`zkagg._field.MAX_SCALE`).
    chunk_size
        Field elements per committed chunk, ``1 .. 2**24``.
    circuits
        The circuits of the round and their verification-key hashes (unique ids).
    num_shards
        Number of shards, ``1 .. 1024``.
    seed_height
        The DA height whose (recomputed) block hash seeds the shard assignment together with the
        shards' reveals (:mod:`zkagg._protocol.seed`); it must be above the manifest's own height so
        that the coordinator cannot choose it.
    reveal_by
        Last height at which a shard's :class:`SeedReveal` counts; ``> seed_height``.
    updates_by
        Last height at which a client update counts; ``> reveal_by``.
    results_by
        Last height at which a shard result counts; ``> updates_by``.
    quorum
        Shards that must make a verified result available (accepted or below the quality
        threshold) for a global model, ``1 .. num_shards`` (:func:`zkagg._protocol.sharding.has_quorum`).
    quality_threshold_ppm
        Least accuracy of a shard model on the probe set, in millionths (``0 .. 1_000_000``).
    coordinator_key
        The coordinator's Ed25519 public key (signs this manifest and the global result).
    shard_keys
        One :class:`ShardKeys` per shard, in shard order.
    signature
        Ed25519 signature by ``coordinator_key`` (empty until :meth:`sign`).
    """

    TYPE: ClassVar[int] = 1
    #: Version 2 added ``reveal_by`` and each shard's ``seed_anchor``.
    VERSION: ClassVar[int] = 2

    deployment: bytes
    round: int
    global_model_commitment: bytes
    global_model: PayloadRef | None
    aggregation_rule: str
    aggregation_spec: bytes
    quantization_scale: int
    chunk_size: int
    circuits: tuple[CircuitRef, ...]
    num_shards: int
    seed_height: int
    reveal_by: int
    updates_by: int
    results_by: int
    quorum: int
    quality_threshold_ppm: int
    coordinator_key: bytes
    shard_keys: tuple[ShardKeys, ...]
    signature: bytes = b""

    def __post_init__(self) -> None:
        _bytes("deployment", self.deployment, DEPLOYMENT_SIZE, DEPLOYMENT_SIZE)
        _uint("round", self.round, 0, _U64)
        _bytes("global_model_commitment", self.global_model_commitment, 0, MAX_COMMITMENT_BYTES)
        if self.global_model is not None:
            _check_payload_ref("global_model", self.global_model)
        _text("aggregation_rule", self.aggregation_rule, 1, MAX_NAME_BYTES)
        _bytes("aggregation_spec", self.aggregation_spec, 0, MAX_SPEC_BYTES)
        _uint("quantization_scale", self.quantization_scale, 0, MAX_SCALE)
        _uint("chunk_size", self.chunk_size, 1, MAX_CHUNK_SIZE)
        _items("circuits", self.circuits, CircuitRef, 0, MAX_CIRCUITS)
        ids = [c.circuit_id for c in self.circuits]
        if len(set(ids)) != len(ids):
            raise InvalidArgument(f"circuits must have unique circuit ids, not {ids}")
        _uint("num_shards", self.num_shards, 1, MAX_SHARDS)
        _uint("seed_height", self.seed_height, 1, _U64)
        _uint("reveal_by", self.reveal_by, self.seed_height + 1, _U64)
        _uint("updates_by", self.updates_by, self.reveal_by + 1, _U64)
        _uint("results_by", self.results_by, self.updates_by + 1, _U64)
        _uint("quorum", self.quorum, 1, self.num_shards)
        _uint("quality_threshold_ppm", self.quality_threshold_ppm, 0, PPM)
        _bytes("coordinator_key", self.coordinator_key, KEY_SIZE, KEY_SIZE)
        _items("shard_keys", self.shard_keys, ShardKeys, self.num_shards, self.num_shards)
        self._check_signature_field()

    @property
    def signer_key(self) -> bytes:
        """The coordinator's key."""
        return self.coordinator_key

    def _write_fields(self, w: Writer) -> None:
        w.fixed("deployment", self.deployment, DEPLOYMENT_SIZE)
        w.u64("round", self.round)
        w.bytes_("global_model_commitment", self.global_model_commitment, max_len=MAX_COMMITMENT_BYTES)
        w.flag("global_model", self.global_model is not None)
        if self.global_model is not None:
            _write_payload_ref(w, "global_model", self.global_model)
        w.str_("aggregation_rule", self.aggregation_rule, min_len=1, max_len=MAX_NAME_BYTES)
        w.bytes_("aggregation_spec", self.aggregation_spec, max_len=MAX_SPEC_BYTES)
        w.u8("quantization_scale", self.quantization_scale)
        w.u32("chunk_size", self.chunk_size)
        w.count("circuits", len(self.circuits), max_count=MAX_CIRCUITS)
        for i, c in enumerate(self.circuits):
            w.str_(f"circuits[{i}].circuit_id", c.circuit_id, min_len=1, max_len=MAX_NAME_BYTES)
            w.bytes_(f"circuits[{i}].vk_hash", c.vk_hash, min_len=1, max_len=MAX_HASH_BYTES)
        w.u16("num_shards", self.num_shards)
        w.u64("seed_height", self.seed_height)
        w.u64("reveal_by", self.reveal_by)
        w.u64("updates_by", self.updates_by)
        w.u64("results_by", self.results_by)
        w.u16("quorum", self.quorum)
        w.u32("quality_threshold_ppm", self.quality_threshold_ppm)
        w.fixed("coordinator_key", self.coordinator_key, KEY_SIZE)
        w.count("shard_keys", len(self.shard_keys), max_count=MAX_SHARDS, min_count=1)
        for i, k in enumerate(self.shard_keys):
            w.fixed(f"shard_keys[{i}].signing_key", k.signing_key, KEY_SIZE)
            w.fixed(f"shard_keys[{i}].encryption_key", k.encryption_key, KEY_SIZE)
            w.fixed(f"shard_keys[{i}].seed_anchor", k.seed_anchor, SEED_VALUE_SIZE)

    @classmethod
    def _read_fields(cls, r: Reader) -> Self:
        deployment = r.fixed("deployment", DEPLOYMENT_SIZE)
        round_ = r.u64("round")
        commitment = r.bytes_("global_model_commitment", max_len=MAX_COMMITMENT_BYTES)
        model = _read_payload_ref(r, "global_model") if r.flag("global_model") else None
        rule = r.str_("aggregation_rule", min_len=1, max_len=MAX_NAME_BYTES)
        spec = r.bytes_("aggregation_spec", max_len=MAX_SPEC_BYTES)
        scale = r.u8("quantization_scale")
        chunk = r.u32("chunk_size")
        circuits = _read_list(
            r,
            "circuits",
            MAX_CIRCUITS,
            lambda i: CircuitRef(
                r.str_(f"circuits[{i}].circuit_id", min_len=1, max_len=MAX_NAME_BYTES),
                r.bytes_(f"circuits[{i}].vk_hash", min_len=1, max_len=MAX_HASH_BYTES),
            ),
        )
        num_shards = r.u16("num_shards")
        seed_height = r.u64("seed_height")
        reveal_by = r.u64("reveal_by")
        updates_by = r.u64("updates_by")
        results_by = r.u64("results_by")
        quorum = r.u16("quorum")
        threshold = r.u32("quality_threshold_ppm")
        coordinator = r.fixed("coordinator_key", KEY_SIZE)
        shard_keys = _read_list(
            r,
            "shard_keys",
            MAX_SHARDS,
            lambda i: ShardKeys(
                r.fixed(f"shard_keys[{i}].signing_key", KEY_SIZE),
                r.fixed(f"shard_keys[{i}].encryption_key", KEY_SIZE),
                r.fixed(f"shard_keys[{i}].seed_anchor", SEED_VALUE_SIZE),
            ),
            min_count=1,
        )
        return cls(
            deployment=deployment,
            round=round_,
            global_model_commitment=commitment,
            global_model=model,
            aggregation_rule=rule,
            aggregation_spec=spec,
            quantization_scale=scale,
            chunk_size=chunk,
            circuits=circuits,
            num_shards=num_shards,
            seed_height=seed_height,
            reveal_by=reveal_by,
            updates_by=updates_by,
            results_by=results_by,
            quorum=quorum,
            quality_threshold_ppm=threshold,
            coordinator_key=coordinator,
            shard_keys=shard_keys,
        )

    def shard_key(self, shard: int) -> ShardKeys:
        """Return the keys of ``shard``.

        Raises
        ------
        ProtocolError
            If ``shard`` is not in ``[0, num_shards)``.
        """
        if isinstance(shard, bool) or not isinstance(shard, int) or not 0 <= shard < self.num_shards:
            raise ProtocolError(f"shard must be in [0, {self.num_shards}) for this manifest, not {shard!r}")
        return self.shard_keys[shard]


# -- ClientUpdate -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientUpdate(_Signed):
    """A client's contribution to one round, encrypted to its shard's aggregator.

    The client's signature binds its commitments, sample count, ciphertext and proofs to the
    deployment, round, shard and client id, so a shard aggregator (or anyone) can neither swap the
    ciphertext or the commitments of one update with another's, change the sample count (its
    weight), nor replay the update in another round or shard: any of those changes the signed bytes.
    The ciphertext's associated data (:func:`zkagg._protocol.keys.update_aad`) binds it to the same
    deployment, round, shard and client id, so it cannot be moved into another client's message
    either. Only ``commitments`` (and the proofs) are public.

    Attributes
    ----------
    deployment, round, shard
        Where the update belongs.
    client_id
        1 to 64 bytes; by default :func:`zkagg._protocol.keys.client_id_for` of ``client_key``.
    client_key
        The client's Ed25519 public key.
    commitments
        The update's chunk commitments (opaque bytes from the commitment work, 1 byte to 1 MiB).
    sample_count
        Number of local training samples (the update's weight), >= 1.
    ciphertext
        The quantized update sealed to the shard aggregator (:meth:`encrypt`).
    ephemeral_proof
        The client's proof that it knows the ciphertext's ephemeral key, bound to this update's
        deployment, round, shard and client id (:func:`zkagg._protocol.disclosure.prove_ephemeral`,
        64 bytes): without it, a client could copy another's ephemeral key and make the shard
        disclose that client's shared secret (:mod:`zkagg._protocol.disclosure`).
    proofs
        Optional proofs about the update, opaque bytes here. In a deployment with a
        ``client_norm_bound`` it holds the client's :class:`~zkagg.NormProof` encoding
        (:meth:`~zkagg.NormProof.to_bytes`, versioned by its own header); absent otherwise, and then
        the update encodes exactly as it did before norm proofs existed (presence flag 0).
    signature
        Ed25519 signature by ``client_key``.

    Notes
    -----
    Why the norm proof travels inside the update rather than as a blob of its own: the client's
    signature then binds it to this update's commitments, round and shard (nobody can attach
    another client's proof, or strip the proof without breaking the signature); the shard, the
    coordinator and the auditor find it with the update they already read, with no reference to
    resolve and no separate availability failure to judge (a withheld proof blob would need its own
    rule); and it is small (about 30 KB for the 1,210-parameter model, one k15 proof per 15 chunks),
    far below :data:`MAX_PAYLOAD_BYTES`. Nothing in it needs sealing: its public outputs are the
    exact sums of squares of the chunk groups, so it reveals the update's norm (as the unsalted
    commitments already bind it), not the update.
    """

    TYPE: ClassVar[int] = 2
    #: Version 2 added ``ephemeral_proof``; version 1 updates are refused.
    VERSION: ClassVar[int] = 2

    deployment: bytes
    round: int
    shard: int
    client_id: bytes
    client_key: bytes
    commitments: bytes
    sample_count: int
    ciphertext: bytes
    ephemeral_proof: bytes
    proofs: bytes | None = None
    signature: bytes = b""

    def __post_init__(self) -> None:
        _bytes("deployment", self.deployment, DEPLOYMENT_SIZE, DEPLOYMENT_SIZE)
        _uint("round", self.round, 0, _U64)
        _uint("shard", self.shard, 0, MAX_SHARDS - 1)
        _bytes("client_id", self.client_id, 1, MAX_CLIENT_ID)
        _bytes("client_key", self.client_key, KEY_SIZE, KEY_SIZE)
        _bytes("commitments", self.commitments, 1, MAX_COMMITMENT_BYTES)
        _uint("sample_count", self.sample_count, 1, _U64)
        _bytes("ciphertext", self.ciphertext, SEAL_OVERHEAD, MAX_PAYLOAD_BYTES)
        _bytes("ephemeral_proof", self.ephemeral_proof, EPHEMERAL_PROOF_SIZE, EPHEMERAL_PROOF_SIZE)
        if self.proofs is not None:
            _bytes("proofs", self.proofs, 1, MAX_PAYLOAD_BYTES)
        self._check_signature_field()

    @property
    def signer_key(self) -> bytes:
        """The client's key."""
        return self.client_key

    @classmethod
    def create(
        cls,
        manifest: RoundManifest,
        *,
        shard: int,
        key: SigningKey,
        update: bytes,
        commitments: bytes,
        sample_count: int,
        proofs: bytes | None = None,
        client_id: bytes | None = None,
    ) -> ClientUpdate:
        """Seal ``update`` to the shard's aggregator, fill in the binding fields, and sign.

        Parameters
        ----------
        manifest
            The round's manifest (deployment, round and the aggregator's X25519 key come from it).
        shard
            The client's shard this round (:func:`zkagg._protocol.sharding.assign_shard`).
        key
            The client's signing key.
        update
            The encoded quantized update (plaintext).
        commitments, sample_count, proofs
            As the attributes.
        client_id
            Defaults to :func:`zkagg._protocol.keys.client_id_for` of ``key``'s public key.
        """
        cid = client_id_for(key.public_key) if client_id is None else client_id
        ciphertext, ephemeral_proof = cls.encrypt(
            update,
            sender=key,
            aggregator_key=manifest.shard_key(shard).encryption_key,
            deployment=manifest.deployment,
            round=manifest.round,
            shard=shard,
            client_id=cid,
        )
        return cls(
            deployment=manifest.deployment,
            round=manifest.round,
            shard=shard,
            client_id=cid,
            client_key=key.public_key,
            commitments=commitments,
            sample_count=sample_count,
            ciphertext=ciphertext,
            ephemeral_proof=ephemeral_proof,
            proofs=proofs,
        ).sign(key)

    @staticmethod
    def encrypt(
        update: bytes,
        *,
        sender: SigningKey,
        aggregator_key: bytes,
        deployment: bytes,
        round: int,
        shard: int,
        client_id: bytes,
    ) -> tuple[bytes, bytes]:
        """Seal an encoded update to a shard aggregator's X25519 key, bound to its place.

        Returns the ``ciphertext`` and ``ephemeral_proof`` fields for a ClientUpdate with the same
        deployment, round, shard and client id. The ephemeral key is derived from ``sender``'s
        signing key and the box's content (:func:`zkagg._protocol.keys.ephemeral_for`).
        """
        aad = update_aad(deployment, round, shard, client_id)
        ephemeral = ephemeral_for(sender, aggregator_key, update, aad)
        return seal_with(ephemeral, aggregator_key, update, aad), prove_ephemeral(ephemeral, aad)

    def decrypt(self, key: EncryptionKey) -> bytes:
        """Open ``ciphertext`` with the shard aggregator's key.

        Raises
        ------
        ProtocolError
            If it does not decrypt: another recipient's key, or a ciphertext made for another
            deployment, round, shard or client.
        """
        aad = update_aad(self.deployment, self.round, self.shard, self.client_id)
        try:
            return open_sealed(key, self.ciphertext, aad)
        except ProtocolError as exc:
            raise ProtocolError(
                f"update of client {self.client_id.hex()} (round {self.round}, shard {self.shard}): {exc}"
            ) from exc

    def _write_fields(self, w: Writer) -> None:
        w.fixed("deployment", self.deployment, DEPLOYMENT_SIZE)
        w.u64("round", self.round)
        w.u16("shard", self.shard)
        w.bytes_("client_id", self.client_id, min_len=1, max_len=MAX_CLIENT_ID)
        w.fixed("client_key", self.client_key, KEY_SIZE)
        w.bytes_("commitments", self.commitments, min_len=1, max_len=MAX_COMMITMENT_BYTES)
        w.u64("sample_count", self.sample_count)
        w.bytes_("ciphertext", self.ciphertext, min_len=SEAL_OVERHEAD, max_len=MAX_PAYLOAD_BYTES)
        w.fixed("ephemeral_proof", self.ephemeral_proof, EPHEMERAL_PROOF_SIZE)
        w.flag("proofs", self.proofs is not None)
        if self.proofs is not None:
            w.bytes_("proofs", self.proofs, min_len=1, max_len=MAX_PAYLOAD_BYTES)

    @classmethod
    def _read_fields(cls, r: Reader) -> Self:
        return cls(
            deployment=r.fixed("deployment", DEPLOYMENT_SIZE),
            round=r.u64("round"),
            shard=r.u16("shard"),
            client_id=r.bytes_("client_id", min_len=1, max_len=MAX_CLIENT_ID),
            client_key=r.fixed("client_key", KEY_SIZE),
            commitments=r.bytes_("commitments", min_len=1, max_len=MAX_COMMITMENT_BYTES),
            sample_count=r.u64("sample_count"),
            ciphertext=r.bytes_("ciphertext", min_len=SEAL_OVERHEAD, max_len=MAX_PAYLOAD_BYTES),
            ephemeral_proof=r.fixed("ephemeral_proof", EPHEMERAL_PROOF_SIZE),
            proofs=(r.bytes_("proofs", min_len=1, max_len=MAX_PAYLOAD_BYTES) if r.flag("proofs") else None),
        )


# -- ShardResult ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShardResult(_Signed):
    """A shard aggregator's result for one round.

    The aggregator's signature binds the aggregate, the inclusion list (which client updates, at
    which heights and blob commitments) and the quality proof to the deployment, round and shard:
    nobody can graft another shard's or round's aggregate or proof onto this shard, and the
    aggregator cannot later deny which updates it claimed to aggregate. Whether the signer is the
    aggregator the manifest names for the shard is checked by :mod:`zkagg._protocol.guard`.

    Attributes
    ----------
    deployment, round, shard
        Where the result belongs.
    included
        The client updates aggregated (unique client ids, in aggregation order). Empty in an
        *empty* result (:attr:`is_empty`): the aggregator was there but had nothing to aggregate,
        because no update was posted to its shard in time or it excluded every one with a reason;
        such a result carries no aggregate (``b""``) and no quality proof.
    excluded
        Every other update posted to the shard in time that passed the public checks of
        :class:`~zkagg._protocol.guard.MessageGuard`, with the reason it was left out and its
        evidence (:class:`ExcludedUpdate`). Together with ``included`` it must account for every
        such update: one left out of both lists gets the shard excluded
        (:attr:`VerdictReason.UNJUSTIFIED_EXCLUSION`). No client appears in both lists.
    aggregate
        The encoded ShardAggregate inline (bytes), or a :class:`~zkagg.da.PayloadRef` to a large
        payload (:func:`zkagg.da.write_payload`).
    quality_proof
        The proof of the shard model's accuracy on the probe set (opaque, may be empty).
    aggregator_key
        The aggregator's Ed25519 public key.
    signature
        Ed25519 signature by ``aggregator_key``.
    """

    TYPE: ClassVar[int] = 3
    #: Version 2 added ``excluded`` (complete inclusion accounting); version 1 results are refused.
    VERSION: ClassVar[int] = 2

    deployment: bytes
    round: int
    shard: int
    included: tuple[IncludedUpdate, ...]
    aggregate: bytes | PayloadRef
    quality_proof: bytes
    aggregator_key: bytes
    signature: bytes = b""
    excluded: tuple[ExcludedUpdate, ...] = ()

    def __post_init__(self) -> None:
        _bytes("deployment", self.deployment, DEPLOYMENT_SIZE, DEPLOYMENT_SIZE)
        _uint("round", self.round, 0, _U64)
        _uint("shard", self.shard, 0, MAX_SHARDS - 1)
        _items("included", self.included, IncludedUpdate, 0, MAX_INCLUDED)
        _items("excluded", self.excluded, ExcludedUpdate, 0, MAX_INCLUDED)
        ids = [u.client_id for u in self.included] + [u.client_id for u in self.excluded]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise InvalidArgument(
                f"included and excluded must list each client once, not client {dup.hex()} twice"
            )
        if not self.included:
            if self.aggregate != b"" or self.quality_proof != b"":
                raise InvalidArgument(
                    "a result that includes no update must carry no aggregate and no quality proof "
                    "(aggregate b'' inline, quality_proof b'')"
                )
        elif isinstance(self.aggregate, bytes):
            _bytes("aggregate", self.aggregate, 1, MAX_PAYLOAD_BYTES)
        else:
            _check_payload_ref("aggregate", self.aggregate)
        _bytes("quality_proof", self.quality_proof, 0, MAX_PAYLOAD_BYTES)
        _bytes("aggregator_key", self.aggregator_key, KEY_SIZE, KEY_SIZE)
        self._check_signature_field()

    @property
    def signer_key(self) -> bytes:
        """The aggregator's key."""
        return self.aggregator_key

    @property
    def is_empty(self) -> bool:
        """Whether the result includes no update (and so carries no aggregate)."""
        return not self.included

    def _write_fields(self, w: Writer) -> None:
        w.fixed("deployment", self.deployment, DEPLOYMENT_SIZE)
        w.u64("round", self.round)
        w.u16("shard", self.shard)
        w.count("included", len(self.included), max_count=MAX_INCLUDED)
        for i, u in enumerate(self.included):
            w.bytes_(f"included[{i}].client_id", u.client_id, min_len=1, max_len=MAX_CLIENT_ID)
            w.u64(f"included[{i}].height", u.height)
            w.fixed(f"included[{i}].commitment", u.commitment, _COMMITMENT_SIZE)
        w.count("excluded", len(self.excluded), max_count=MAX_INCLUDED)
        for i, x in enumerate(self.excluded):
            w.bytes_(f"excluded[{i}].client_id", x.client_id, min_len=1, max_len=MAX_CLIENT_ID)
            w.u64(f"excluded[{i}].height", x.height)
            w.fixed(f"excluded[{i}].commitment", x.commitment, _COMMITMENT_SIZE)
            w.u8(f"excluded[{i}].reason", int(x.reason))
            w.bytes_(f"excluded[{i}].evidence", x.evidence, max_len=DISCLOSURE_SIZE)
        if isinstance(self.aggregate, bytes):
            w.u8("aggregate kind", 0)
            w.bytes_("aggregate", self.aggregate, max_len=MAX_PAYLOAD_BYTES)
        else:
            w.u8("aggregate kind", 1)
            _write_payload_ref(w, "aggregate", self.aggregate)
        w.bytes_("quality_proof", self.quality_proof, max_len=MAX_PAYLOAD_BYTES)
        w.fixed("aggregator_key", self.aggregator_key, KEY_SIZE)

    @classmethod
    def _read_fields(cls, r: Reader) -> Self:
        deployment = r.fixed("deployment", DEPLOYMENT_SIZE)
        round_ = r.u64("round")
        shard = r.u16("shard")
        included = _read_list(
            r,
            "included",
            MAX_INCLUDED,
            lambda i: IncludedUpdate(
                r.bytes_(f"included[{i}].client_id", min_len=1, max_len=MAX_CLIENT_ID),
                r.u64(f"included[{i}].height"),
                r.fixed(f"included[{i}].commitment", _COMMITMENT_SIZE),
            ),
        )
        excluded = _read_list(r, "excluded", MAX_INCLUDED, lambda i: _read_excluded(r, i))
        kind = r.u8("aggregate kind")
        aggregate: bytes | PayloadRef
        if kind == 0:
            aggregate = r.bytes_("aggregate", max_len=MAX_PAYLOAD_BYTES)
        elif kind == 1:
            aggregate = _read_payload_ref(r, "aggregate")
        else:
            raise ProtocolError(f"ShardResult: aggregate kind must be 0 (inline) or 1 (payload), not {kind}")
        return cls(
            deployment=deployment,
            round=round_,
            shard=shard,
            included=included,
            aggregate=aggregate,
            quality_proof=r.bytes_("quality_proof", max_len=MAX_PAYLOAD_BYTES),
            aggregator_key=r.fixed("aggregator_key", KEY_SIZE),
            excluded=excluded,
        )


def _read_excluded(r: Reader, i: int) -> ExcludedUpdate:
    client_id = r.bytes_(f"excluded[{i}].client_id", min_len=1, max_len=MAX_CLIENT_ID)
    height = r.u64(f"excluded[{i}].height")
    commitment = r.fixed(f"excluded[{i}].commitment", _COMMITMENT_SIZE)
    code = r.u8(f"excluded[{i}].reason")
    try:
        reason = ExclusionReason(code)
    except ValueError as exc:
        raise ProtocolError(
            f"excluded[{i}].reason must be one of {[int(x) for x in ExclusionReason]}, not {code}"
        ) from exc
    evidence = r.bytes_(f"excluded[{i}].evidence", max_len=DISCLOSURE_SIZE)
    return ExcludedUpdate(client_id, height, commitment, reason, evidence)


# -- GlobalResult -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GlobalResult(_Signed):
    """The coordinator's outcome of a round: a verdict per shard and, with quorum, the global model.

    The coordinator's signature binds the verdicts (each with the ShardResult blob it judged) and
    the global model's reference and commitment to the deployment and round, so the outcome of one
    round cannot be replayed as another's, and an auditor can hold the coordinator to every verdict.

    Attributes
    ----------
    deployment, round
        Where the result belongs.
    verdicts
        One :class:`ShardVerdict` per judged shard, in strictly increasing shard order.
    global_model
        Where the composed global model is, or ``None`` when the round failed (below quorum, or
        no shard accepted).
    global_model_commitment
        Its commitment (opaque; empty exactly when ``global_model`` is ``None``).
    coordinator_key
        The coordinator's Ed25519 public key.
    signature
        Ed25519 signature by ``coordinator_key``.
    """

    TYPE: ClassVar[int] = 4

    deployment: bytes
    round: int
    verdicts: tuple[ShardVerdict, ...]
    global_model: PayloadRef | None
    global_model_commitment: bytes
    coordinator_key: bytes
    signature: bytes = b""

    def __post_init__(self) -> None:
        _bytes("deployment", self.deployment, DEPLOYMENT_SIZE, DEPLOYMENT_SIZE)
        _uint("round", self.round, 0, _U64)
        _items("verdicts", self.verdicts, ShardVerdict, 1, MAX_SHARDS)
        shards = [v.shard for v in self.verdicts]
        if any(a >= b for a, b in itertools.pairwise(shards)):
            raise InvalidArgument(f"verdicts must be in strictly increasing shard order, not shards {shards}")
        if self.global_model is not None:
            _check_payload_ref("global_model", self.global_model)
        _bytes("global_model_commitment", self.global_model_commitment, 0, MAX_COMMITMENT_BYTES)
        if (self.global_model is None) != (len(self.global_model_commitment) == 0):
            raise InvalidArgument(
                "global_model_commitment must be empty exactly when global_model is None, not "
                f"{len(self.global_model_commitment)} bytes with global_model={self.global_model!r}"
            )
        _bytes("coordinator_key", self.coordinator_key, KEY_SIZE, KEY_SIZE)
        self._check_signature_field()

    @property
    def signer_key(self) -> bytes:
        """The coordinator's key."""
        return self.coordinator_key

    @property
    def accepted_shards(self) -> tuple[int, ...]:
        """The shards whose verdict is :attr:`VerdictReason.ACCEPTED`, in order."""
        return tuple(v.shard for v in self.verdicts if v.accepted)

    def _write_fields(self, w: Writer) -> None:
        w.fixed("deployment", self.deployment, DEPLOYMENT_SIZE)
        w.u64("round", self.round)
        w.count("verdicts", len(self.verdicts), max_count=MAX_SHARDS, min_count=1)
        for i, v in enumerate(self.verdicts):
            w.u16(f"verdicts[{i}].shard", v.shard)
            w.str_(f"verdicts[{i}].reason", v.reason.value, min_len=1, max_len=MAX_NAME_BYTES)
            w.str_(f"verdicts[{i}].detail", v.detail, max_len=MAX_DETAIL_BYTES)
            w.flag(f"verdicts[{i}].result", v.result is not None)
            if v.result is not None:
                v.result._write(w, f"verdicts[{i}].result")
        w.flag("global_model", self.global_model is not None)
        if self.global_model is not None:
            _write_payload_ref(w, "global_model", self.global_model)
        w.bytes_("global_model_commitment", self.global_model_commitment, max_len=MAX_COMMITMENT_BYTES)
        w.fixed("coordinator_key", self.coordinator_key, KEY_SIZE)

    @classmethod
    def _read_fields(cls, r: Reader) -> Self:
        deployment = r.fixed("deployment", DEPLOYMENT_SIZE)
        round_ = r.u64("round")

        def verdict(i: int) -> ShardVerdict:
            shard = r.u16(f"verdicts[{i}].shard")
            text = r.str_(f"verdicts[{i}].reason", min_len=1, max_len=MAX_NAME_BYTES)
            try:
                reason = VerdictReason(text)
            except ValueError as exc:
                raise ProtocolError(
                    f"GlobalResult: verdicts[{i}].reason must be one of "
                    f"{[r.value for r in VerdictReason]}, not {text!r}"
                ) from exc
            detail = r.str_(f"verdicts[{i}].detail", max_len=MAX_DETAIL_BYTES)
            result = BlobRef._read(r, f"verdicts[{i}].result") if r.flag(f"verdicts[{i}].result") else None
            return ShardVerdict(shard, reason, detail, result)

        verdicts = _read_list(r, "verdicts", MAX_SHARDS, verdict, min_count=1)
        model = _read_payload_ref(r, "global_model") if r.flag("global_model") else None
        return cls(
            deployment=deployment,
            round=round_,
            verdicts=verdicts,
            global_model=model,
            global_model_commitment=r.bytes_("global_model_commitment", max_len=MAX_COMMITMENT_BYTES),
            coordinator_key=r.fixed("coordinator_key", KEY_SIZE),
        )


# -- SeedReveal -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedReveal(_Signed):
    """A shard aggregator's contribution to a round's assignment seed: the next value of its seed chain.

    ``value`` must be ``v_r = H^(L - r)(s)`` for the chain whose anchor ``H^L(s)`` the deployment
    names for the shard, so that ``H^r(value)`` is the anchor; the value is fixed when the keys are
    made, so the shard cannot choose it, only reveal or withhold it. Whether it is, and whether it
    was posted in the manifest's ``(seed_height, reveal_by]``, is checked by
    :func:`zkagg._protocol.seed.check_reveal`; the signature says which aggregator revealed.

    Attributes
    ----------
    deployment, round, shard
        Where the reveal belongs.
    value
        The 32-byte chain value of ``round``.
    aggregator_key
        The shard aggregator's Ed25519 public key.
    signature
        Ed25519 signature by ``aggregator_key``.
    """

    TYPE: ClassVar[int] = 5

    deployment: bytes
    round: int
    shard: int
    value: bytes
    aggregator_key: bytes
    signature: bytes = b""

    def __post_init__(self) -> None:
        _bytes("deployment", self.deployment, DEPLOYMENT_SIZE, DEPLOYMENT_SIZE)
        _uint("round", self.round, 0, _U64)
        _uint("shard", self.shard, 0, MAX_SHARDS - 1)
        _bytes("value", self.value, SEED_VALUE_SIZE, SEED_VALUE_SIZE)
        _bytes("aggregator_key", self.aggregator_key, KEY_SIZE, KEY_SIZE)
        self._check_signature_field()

    @property
    def signer_key(self) -> bytes:
        """The aggregator's key."""
        return self.aggregator_key

    def _write_fields(self, w: Writer) -> None:
        w.fixed("deployment", self.deployment, DEPLOYMENT_SIZE)
        w.u64("round", self.round)
        w.u16("shard", self.shard)
        w.fixed("value", self.value, SEED_VALUE_SIZE)
        w.fixed("aggregator_key", self.aggregator_key, KEY_SIZE)

    @classmethod
    def _read_fields(cls, r: Reader) -> Self:
        return cls(
            deployment=r.fixed("deployment", DEPLOYMENT_SIZE),
            round=r.u64("round"),
            shard=r.u16("shard"),
            value=r.fixed("value", SEED_VALUE_SIZE),
            aggregator_key=r.fixed("aggregator_key", KEY_SIZE),
        )


#: Any of the round messages.
Message = RoundManifest | ClientUpdate | ShardResult | GlobalResult | SeedReveal

_BY_TYPE: Final[dict[int, type[RoundManifest | ClientUpdate | ShardResult | GlobalResult | SeedReveal]]] = {
    RoundManifest.TYPE: RoundManifest,
    ClientUpdate.TYPE: ClientUpdate,
    ShardResult.TYPE: ShardResult,
    GlobalResult.TYPE: GlobalResult,
    SeedReveal.TYPE: SeedReveal,
}


def decode_message(data: bytes) -> Message:
    """Decode any round message by its type byte (the fifth byte).

    Raises
    ------
    ProtocolError
        If ``data`` is not a zkagg round message of a known type, or does not decode.
    """
    r = Reader(data, "message")
    magic = r.fixed("magic", 4)
    if magic != MAGIC:
        raise ProtocolError(f"message: magic must be {MAGIC!r}, not {magic!r}")
    kind = r.u8("type")
    cls = _BY_TYPE.get(kind)
    if cls is None:
        raise ProtocolError(f"message: type must be one of {sorted(_BY_TYPE)}, not {kind}")
    return cls.from_bytes(data)
