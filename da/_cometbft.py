"""CometBFT's block header, validator set and commit for the embedded single-validator chain.

celestia-node's ``ExtendedHeader`` wraps CometBFT's ``Header``, ``ValidatorSet`` and ``Commit``
(celestia-core ``types/block.go``, ``types/validator_set.go``, ``types/vote.go``). The embedded node
is a chain with one validator, so its headers can be what such a chain would produce:

* the block hash is ``Header.Hash()``: the RFC-6962 root over the protobuf encoding of the 14 header
  fields (``cdcEncode`` wraps scalars in gogoproto's ``StringValue``/``Int64Value``/``BytesValue``);
  checked against celestia-node's ``api/docgen/exampledata/extendedHeader.json``;
* ``validators_hash`` is ``ValidatorSet.Hash()``: the RFC-6962 root over each ``SimpleValidator``
  (public key, voting power);
* the commit holds one precommit signed with Ed25519 over CometBFT's ``CanonicalVote`` sign bytes
  (length-delimited protobuf: type, height, round, block ID, timestamp, chain ID), and the next
  header's ``last_commit_hash`` is ``Commit.Hash()`` over the ``CommitSig`` encodings.

What is not modelled: transactions and application state (``app_hash``, ``last_results_hash`` and
``evidence_hash`` are the hash of nothing, ``SHA256("")``), and the serialized block: the part-set
header names one part whose hash is the RFC-6962 leaf hash of the header's field encodings.

The validator key is a **development key** derived from the chain ID (like a devnet's well-known
key): anyone can recompute it, so these signatures show the shape and self-consistency of the chain,
not that a particular operator produced it.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from zkagg._errors import InvalidArgument
from zkagg.da._b64 import b64
from zkagg.da._nmt import rfc6962_root

__all__ = [
    "BLOCK_VERSION",
    "VOTING_POWER",
    "DevValidator",
    "block_hash_from_json",
    "commit_hash",
    "extended_header",
    "format_rfc3339_nanos",
    "header_hash",
    "parse_rfc3339_nanos",
    "validator_set_hash",
    "verify_commit",
    "vote_sign_bytes",
]

#: CometBFT's block protocol version (``version.BlockProtocol``).
BLOCK_VERSION: Final = 11
#: Voting power of the single validator (celestia-node's example header shows 5,000,000,000).
VOTING_POWER: Final = 5_000_000_000
#: ``SignedMsgType`` precommit, ``BlockIDFlag`` commit.
_PRECOMMIT: Final = 2
_BLOCK_ID_FLAG_COMMIT: Final = 2
_EMPTY_HASH: Final = hashlib.sha256(b"").digest()
#: Largest hash or address field of a header that :func:`block_hash_from_json` reads (bytes).
_MAX_HASH_FIELD: Final = 64


# -- protobuf wire encoding (only what these messages use) ----------------------------------------


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _varint_field(number: int, value: int) -> bytes:
    """A varint field; proto3 omits zero. Negative int64 values take ten bytes, as in Go."""
    if value == 0:
        return b""
    return _uvarint(number << 3) + _uvarint(value & 0xFFFF_FFFF_FFFF_FFFF)


def _bytes_field(number: int, value: bytes) -> bytes:
    """A length-delimited field; proto3 omits empty bytes and strings."""
    if not value:
        return b""
    return _uvarint(number << 3 | 2) + _uvarint(len(value)) + value


def _message_field(number: int, encoded: bytes) -> bytes:
    """An embedded message that gogoproto marks non-nullable: always present, even when empty."""
    return _uvarint(number << 3 | 2) + _uvarint(len(encoded)) + encoded


def _sfixed64_field(number: int, value: int) -> bytes:
    if value == 0:
        return b""
    return _uvarint(number << 3 | 1) + struct.pack("<q", value)


def _timestamp(ns: int) -> bytes:
    """``google.protobuf.Timestamp`` (gogoproto ``stdtime``)."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    return _varint_field(1, seconds) + _varint_field(2, nanos)


def _block_id(block_hash: bytes, parts_total: int, parts_hash: bytes) -> bytes:
    """``tendermint.types.BlockID``: hash, then the non-nullable ``PartSetHeader``."""
    return _bytes_field(1, block_hash) + _message_field(
        2, _varint_field(1, parts_total) + _bytes_field(2, parts_hash)
    )


# -- times ---------------------------------------------------------------------------------------


def parse_rfc3339_nanos(text: str) -> int:
    """Parse a UTC RFC 3339 time with up to nine fraction digits into nanoseconds since the epoch.

    Raises
    ------
    InvalidArgument
        If ``text`` is not of the form ``2023-02-25T12:10:28.067566292Z``.
    """
    head, dot, frac = text.removesuffix("Z").partition(".")
    try:
        seconds = int(datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp())
    except ValueError as exc:
        raise InvalidArgument(f"time must be RFC 3339 in UTC (...Z), not {text!r}") from exc
    if not text.endswith("Z") or (dot and not (frac.isdigit() and len(frac) <= 9)):
        raise InvalidArgument(f"time must be RFC 3339 in UTC (...Z), not {text!r}")
    return seconds * 1_000_000_000 + (int(frac.ljust(9, "0")) if frac else 0)


def format_rfc3339_nanos(ns: int) -> str:
    """Format nanoseconds since the epoch as Go's ``time.RFC3339Nano`` in UTC.

    Trailing zeros of the fraction are dropped, as Go does: ``2023-02-25T12:10:28.067566292Z``.
    """
    secs, frac = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        stamp += "." + f"{frac:09d}".rstrip("0")
    return stamp + "Z"


# -- the validator --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DevValidator:
    """The embedded chain's single validator: an Ed25519 key derived from the chain ID.

    Attributes
    ----------
    public_key
        The 32-byte Ed25519 public key.
    address
        CometBFT's validator address: the first 20 bytes of SHA-256 of the public key.
    """

    public_key: bytes
    address: bytes
    _private: Ed25519PrivateKey

    @staticmethod
    @functools.cache
    def for_chain(chain_id: str) -> DevValidator:
        """Return the development validator of ``chain_id`` (deterministic, so anyone can rebuild it)."""
        seed = hashlib.sha256(b"zkagg embedded node dev validator\x00" + chain_id.encode()).digest()
        private = Ed25519PrivateKey.from_private_bytes(seed)
        public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return DevValidator(public, hashlib.sha256(public).digest()[:20], private)

    def sign(self, message: bytes) -> bytes:
        """Sign ``message`` with Ed25519."""
        return self._private.sign(message)

    def to_json(self) -> dict[str, Any]:
        """The validator as tmjson writes it (celestia-node ``validator_set.validators[]``)."""
        return {
            "address": self.address.hex().upper(),
            "pub_key": {"type": "tendermint/PubKeyEd25519", "value": b64(self.public_key)},
            "voting_power": str(VOTING_POWER),
            "proposer_priority": "0",
        }


def validator_set_hash(validators: Sequence[tuple[bytes, int]]) -> bytes:
    """CometBFT ``ValidatorSet.Hash()`` over ``(ed25519 public key, voting power)`` pairs."""
    return rfc6962_root(
        [_message_field(1, _bytes_field(1, key)) + _varint_field(2, power) for key, power in validators]
    )


# -- header and commit hashes ------------------------------------------------------------------------


def header_hash(
    *,
    chain_id: str,
    height: int,
    time_ns: int,
    last_block_id: tuple[bytes, int, bytes],
    last_commit_hash: bytes,
    data_hash: bytes,
    validators_hash: bytes,
    next_validators_hash: bytes,
    consensus_hash: bytes,
    app_hash: bytes,
    last_results_hash: bytes,
    evidence_hash: bytes,
    proposer_address: bytes,
    block_version: int = BLOCK_VERSION,
    app_version: int = 0,
) -> tuple[bytes, list[bytes]]:
    """CometBFT ``Header.Hash()``; returns the hash and the 14 field encodings it is the root of.

    ``last_block_id`` is ``(hash, parts total, parts hash)``.
    """
    fields = [
        _varint_field(1, block_version) + _varint_field(2, app_version),
        _bytes_field(1, chain_id.encode()),
        _varint_field(1, height),
        _timestamp(time_ns),
        _block_id(*last_block_id),
        *(
            _bytes_field(1, value)
            for value in (
                last_commit_hash,
                data_hash,
                validators_hash,
                next_validators_hash,
                consensus_hash,
                app_hash,
                last_results_hash,
                evidence_hash,
                proposer_address,
            )
        ),
    ]
    return rfc6962_root(fields), fields


def vote_sign_bytes(
    chain_id: str, height: int, round_: int, block_id: tuple[bytes, int, bytes], time_ns: int
) -> bytes:
    """The bytes a validator signs for a precommit: length-delimited ``CanonicalVote``."""
    block_hash, total, parts_hash = block_id
    canonical_block_id = _bytes_field(1, block_hash) + _message_field(
        2, _varint_field(1, total) + _bytes_field(2, parts_hash)
    )
    vote = (
        _varint_field(1, _PRECOMMIT)
        + _sfixed64_field(2, height)
        + _sfixed64_field(3, round_)
        + _message_field(4, canonical_block_id)
        + _message_field(5, _timestamp(time_ns))
        + _bytes_field(6, chain_id.encode())
    )
    return _uvarint(len(vote)) + vote


def _commit_sig(flag: int, address: bytes, time_ns: int, signature: bytes) -> bytes:
    return (
        _varint_field(1, flag)
        + _bytes_field(2, address)
        + _message_field(3, _timestamp(time_ns))
        + _bytes_field(4, signature)
    )


def commit_hash(signatures: Sequence[Mapping[str, Any]]) -> bytes:
    """CometBFT ``Commit.Hash()`` over the ``commit.signatures`` JSON of a header.

    Raises
    ------
    InvalidArgument
        If a signature entry is malformed.
    """
    from zkagg.da._b64 import unb64

    encoded = []
    for i, sig in enumerate(signatures):
        try:
            address = bytes.fromhex(str(sig.get("validator_address") or ""))
        except ValueError as exc:
            raise InvalidArgument(f"commit.signatures[{i}].validator_address must be hex") from exc
        raw_sig = sig.get("signature")
        signature = unb64(raw_sig, f"commit.signatures[{i}].signature") if raw_sig else b""
        stamp = str(sig.get("timestamp") or "0001-01-01T00:00:00Z")
        encoded.append(
            _commit_sig(int(sig.get("block_id_flag") or 0), address, parse_rfc3339_nanos(stamp), signature)
        )
    return rfc6962_root(encoded)


def _hex(data: bytes) -> str:
    return data.hex().upper()


def extended_header(
    *,
    chain_id: str,
    height: int,
    time_ns: int,
    data_hash: bytes,
    row_roots: Sequence[bytes],
    column_roots: Sequence[bytes],
    previous: Mapping[str, Any] | None,
    app_version: int,
) -> dict[str, Any]:
    """Build a signed ExtendedHeader JSON (tmjson) for the block at ``height``.

    Parameters
    ----------
    previous
        The previous block's ExtendedHeader JSON (its commit gives ``last_block_id`` and
        ``last_commit_hash``), or ``None`` for the first block.
    """
    validator = DevValidator.for_chain(chain_id)
    last_block_id: tuple[bytes, int, bytes] = (b"", 0, b"")
    last_block_json: dict[str, Any] = {"hash": "", "parts": {"total": 0, "hash": ""}}
    last_commit = _EMPTY_HASH  # the hash of an empty commit, as at height 1
    if previous is not None:
        commit = previous.get("commit") or {}
        block_id = commit.get("block_id") or {}
        parts = block_id.get("parts") or {}
        last_block_id = (
            bytes.fromhex(str(block_id.get("hash") or "")),
            int(parts.get("total") or 0),
            bytes.fromhex(str(parts.get("hash") or "")),
        )
        last_block_json = {
            "hash": _hex(last_block_id[0]),
            "parts": {"total": last_block_id[1], "hash": _hex(last_block_id[2])},
        }
        last_commit = commit_hash(commit.get("signatures") or [])
    vals_hash = validator_set_hash([(validator.public_key, VOTING_POWER)])
    consensus = _EMPTY_HASH
    block_hash, fields = header_hash(
        chain_id=chain_id,
        height=height,
        time_ns=time_ns,
        last_block_id=last_block_id,
        last_commit_hash=last_commit,
        data_hash=data_hash,
        validators_hash=vals_hash,
        next_validators_hash=vals_hash,
        consensus_hash=consensus,
        app_hash=_EMPTY_HASH,
        last_results_hash=_EMPTY_HASH,
        evidence_hash=_EMPTY_HASH,
        proposer_address=validator.address,
        app_version=app_version,
    )
    parts_hash = rfc6962_root([b"".join(fields)])
    block_id_tuple = (block_hash, 1, parts_hash)
    signature = validator.sign(vote_sign_bytes(chain_id, height, 0, block_id_tuple, time_ns))
    stamp = format_rfc3339_nanos(time_ns)
    block_id_json = {"hash": _hex(block_hash), "parts": {"total": 1, "hash": _hex(parts_hash)}}
    return {
        "header": {
            "version": {"block": str(BLOCK_VERSION), "app": str(app_version)},
            "chain_id": chain_id,
            "height": str(height),
            "time": stamp,
            "last_block_id": last_block_json,
            "last_commit_hash": _hex(last_commit),
            "data_hash": _hex(data_hash),
            "validators_hash": _hex(vals_hash),
            "next_validators_hash": _hex(vals_hash),
            "consensus_hash": _hex(consensus),
            "app_hash": _hex(_EMPTY_HASH),
            "last_results_hash": _hex(_EMPTY_HASH),
            "evidence_hash": _hex(_EMPTY_HASH),
            "proposer_address": _hex(validator.address),
        },
        "validator_set": {"validators": [validator.to_json()], "proposer": validator.to_json()},
        "commit": {
            "height": str(height),
            "round": 0,
            "block_id": block_id_json,
            "signatures": [
                {
                    "block_id_flag": _BLOCK_ID_FLAG_COMMIT,
                    "validator_address": _hex(validator.address),
                    "timestamp": stamp,
                    "signature": b64(signature),
                }
            ],
        },
        "dah": {"row_roots": [b64(r) for r in row_roots], "column_roots": [b64(c) for c in column_roots]},
    }


def _field(obj: Mapping[str, Any], key: str, where: str) -> object:
    value = obj.get(key)
    if value is None:
        raise InvalidArgument(f"{where}.{key} is missing")
    return value


def _hex_field(obj: Mapping[str, Any], key: str, where: str) -> bytes:
    if key not in obj:
        raise InvalidArgument(f"{where}.{key} is missing")
    value = obj[key] if obj[key] is not None else ""
    if not isinstance(value, str) or len(value) > 2 * _MAX_HASH_FIELD:
        raise InvalidArgument(
            f"{where}.{key} must be hex of at most {_MAX_HASH_FIELD} bytes, not {value!r:.80}"
        )
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise InvalidArgument(f"{where}.{key} must be hex, not {value!r:.80}") from exc


def _int_field(obj: Mapping[str, Any], key: str, where: str, default: int | None = None) -> int:
    value: object = obj.get(key)
    if value is None and default is not None:
        return default
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 64:
        raise InvalidArgument(f"{where}.{key} must be an unsigned 64-bit integer, not {value!r:.80}")
    return value


def _mapping(obj: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = obj.get(key)
    if not isinstance(value, Mapping):
        raise InvalidArgument(f"{where}.{key} must be an object, not {type(value).__name__}")
    return value


def block_hash_from_json(header: Mapping[str, Any]) -> bytes:
    """Recompute CometBFT ``Header.Hash()`` from an ExtendedHeader JSON's ``header`` fields.

    The JSON is what a celestia-node (or the embedded node's server) returns for
    ``header.GetByHeight``; every field of the hash is in its ``header`` object, so the block hash
    need not be taken from ``commit.block_id.hash`` on trust. Untrusted input: anything malformed
    is an :class:`~zkagg.InvalidArgument` naming the field, never another exception.

    Raises
    ------
    InvalidArgument
        If a field of the hash is missing or malformed.
    """
    if not isinstance(header, Mapping):
        raise InvalidArgument(f"header must be a JSON object, not {type(header).__name__}")
    hdr = _mapping(header, "header", "ExtendedHeader")
    version = hdr.get("version") or {}
    if not isinstance(version, Mapping):
        raise InvalidArgument(f"header.version must be an object, not {type(version).__name__}")
    chain_id = _field(hdr, "chain_id", "header")
    time = _field(hdr, "time", "header")
    if not isinstance(chain_id, str) or len(chain_id) > 50:
        raise InvalidArgument(
            f"header.chain_id must be a string of at most 50 characters, not {chain_id!r:.80}"
        )
    if not isinstance(time, str) or len(time) > 40:
        raise InvalidArgument(f"header.time must be an RFC 3339 string, not {time!r:.80}")
    last = _mapping(hdr, "last_block_id", "header")
    parts = last.get("parts") or {}
    if not isinstance(parts, Mapping):
        raise InvalidArgument(f"header.last_block_id.parts must be an object, not {type(parts).__name__}")
    computed, _ = header_hash(
        chain_id=chain_id,
        height=_int_field(hdr, "height", "header"),
        time_ns=parse_rfc3339_nanos(time),
        last_block_id=(
            _hex_field(last, "hash", "header.last_block_id"),
            _int_field(parts, "total", "header.last_block_id.parts", 0),
            _hex_field(parts, "hash", "header.last_block_id.parts"),
        ),
        **{
            name: _hex_field(hdr, name, "header")
            for name in (
                "last_commit_hash",
                "data_hash",
                "validators_hash",
                "next_validators_hash",
                "consensus_hash",
                "app_hash",
                "last_results_hash",
                "evidence_hash",
                "proposer_address",
            )
        },
        block_version=_int_field(version, "block", "header.version", 0),
        app_version=_int_field(version, "app", "header.version", 0),
    )
    return computed


def verify_commit(header: Mapping[str, Any]) -> None:
    """Check an ExtendedHeader's block hash, validator set hash and commit signatures.

    Verifies what a light client checks of a single-validator header: the block hash is the header's
    hash, ``validators_hash`` matches the set, and each committing signature is valid Ed25519 over
    the canonical precommit.

    Raises
    ------
    InvalidArgument
        If a check fails, naming the field.
    """
    from zkagg.da._b64 import unb64

    hdr = header["header"]
    commit = header["commit"]
    vals = header["validator_set"]["validators"]
    keys = [(unb64(v["pub_key"]["value"], "pub_key.value"), int(v["voting_power"])) for v in vals]
    if _hex(validator_set_hash(keys)) != hdr["validators_hash"]:
        raise InvalidArgument("header.validators_hash does not match validator_set")
    computed = block_hash_from_json(header)
    block_id = commit["block_id"]
    if _hex(computed) != block_id["hash"]:
        raise InvalidArgument(f"commit.block_id.hash is not the header's hash {_hex(computed)}")
    block_id_tuple = (computed, int(block_id["parts"]["total"]), bytes.fromhex(block_id["parts"]["hash"]))
    by_address = {hashlib.sha256(key).digest()[:20].hex().upper(): key for key, _ in keys}
    for i, sig in enumerate(commit["signatures"]):
        if int(sig["block_id_flag"]) != _BLOCK_ID_FLAG_COMMIT:
            continue
        key = by_address.get(sig["validator_address"])
        if key is None:
            raise InvalidArgument(f"commit.signatures[{i}] is by a validator outside the set")
        message = vote_sign_bytes(
            hdr["chain_id"],
            int(commit["height"]),
            int(commit["round"]),
            block_id_tuple,
            parse_rfc3339_nanos(sig["timestamp"]),
        )
        try:
            Ed25519PublicKey.from_public_bytes(key).verify(unb64(sig["signature"], "signature"), message)
        except Exception as exc:
            raise InvalidArgument(f"commit.signatures[{i}].signature does not verify") from exc
