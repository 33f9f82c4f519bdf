"""Payloads larger than one blob: pieces plus a manifest blob.

A single Celestia submission is limited by ``MaxTxSize`` (8 MiB since app v6, CIP-38; see
``shared/da/CELESTIA.md`` §8), and a block by the 256 x 256 square. :func:`write_payload` cuts a
payload into pieces (1 MiB by default), submits them in groups that fit one submission, then
submits a small *manifest* blob listing every piece; the manifest's ``(height, namespace,
commitment)`` is the :class:`PayloadRef` that names the whole payload. :func:`read_payload` fetches
the manifest, then every piece, and checks each piece's length and SHA-256 and then the whole
payload's, so a backend that returns wrong data is caught.

Manifest format (version 1): canonical JSON, UTF-8, keys sorted, no spaces::

    {"chunk_size":1048576,"kind":"zkagg.da.payload","length":N,"pieces":[
      {"commitment":"<hex 32 B>","height":H,"length":L,"sha256":"<hex>"}, ...],
     "sha256":"<hex of the whole payload>","version":1}

The same payload written with the same chunk size to the same heights gives the same manifest
bytes, hence the same manifest commitment; the reader refuses a manifest that is not in canonical
form.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from zkagg._errors import ArtifactError, CommitmentMismatch, InvalidArgument
from zkagg.da._blob import COMMITMENT_SIZE, Blob
from zkagg.da._namespace import Namespace

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_SUBMISSION_BYTES",
    "MANIFEST_KIND",
    "MANIFEST_VERSION",
    "MAX_TX_SIZE",
    "Manifest",
    "PayloadBackend",
    "PayloadRef",
    "PieceRef",
    "read_manifest",
    "read_payload",
    "write_payload",
]

MANIFEST_KIND: Final = "zkagg.da.payload"
MANIFEST_VERSION: Final = 1
#: celestia-app ``MaxTxSize`` (app v6+): the whole PayForBlobs transaction, blobs included.
MAX_TX_SIZE: Final = 8 * 1024 * 1024
DEFAULT_CHUNK_SIZE: Final = 1024 * 1024
#: Blob data per submission: 7 MiB leaves 1 MiB of ``MaxTxSize`` for the transaction's encoding.
DEFAULT_MAX_SUBMISSION_BYTES: Final = 7 * 1024 * 1024


class PayloadBackend(Protocol):
    """The part of the DA backend protocol (``zkagg.da._backend.DABackend``) payloads need."""

    def submit(self, blobs: Sequence[Blob]) -> int:
        """Submit ``blobs`` in one transaction; return the height that includes them."""
        ...

    def get(self, height: int, namespace: Namespace, commitment: bytes) -> Blob:
        """Return the blob with ``commitment`` in ``namespace`` at ``height``."""
        ...


@dataclass(frozen=True)
class PieceRef:
    """One piece of a payload as its manifest lists it.

    Attributes
    ----------
    height
        Block height of the piece.
    commitment
        The piece blob's 32-byte share commitment.
    length
        The piece's length in bytes.
    sha256
        SHA-256 of the piece (32 bytes).
    """

    height: int
    commitment: bytes
    length: int
    sha256: bytes


@dataclass(frozen=True)
class PayloadRef:
    """Where a payload's manifest blob is: what a reader needs to fetch the whole payload."""

    height: int
    namespace: Namespace
    commitment: bytes

    def to_json(self) -> dict[str, object]:
        """Return ``{"height", "namespace" (hex, 29 bytes), "commitment" (hex)}``."""
        return {"height": self.height, "namespace": self.namespace.hex(), "commitment": self.commitment.hex()}

    @classmethod
    def from_json(cls, obj: object) -> PayloadRef:
        """Parse :meth:`to_json`'s form.

        Raises
        ------
        InvalidArgument
            If a field is missing or malformed.
        """
        if not isinstance(obj, dict):
            raise InvalidArgument(f"a payload reference must be a JSON object, not {type(obj).__name__}")
        height = obj.get("height")
        if not isinstance(height, int) or isinstance(height, bool) or height < 1:
            raise InvalidArgument(f"payload reference height must be a positive integer, not {height!r}")
        try:
            namespace = Namespace.from_bytes(bytes.fromhex(str(obj.get("namespace"))))
            commitment = bytes.fromhex(str(obj.get("commitment")))
        except ValueError as exc:
            raise InvalidArgument(f"payload reference namespace and commitment must be hex: {exc}") from exc
        if len(commitment) != COMMITMENT_SIZE:
            raise InvalidArgument(
                f"payload reference commitment must be {COMMITMENT_SIZE} bytes, not {len(commitment)}"
            )
        return cls(height, namespace, commitment)


@dataclass(frozen=True)
class Manifest:
    """The list of a payload's pieces, with the payload's length and SHA-256."""

    length: int
    sha256: bytes
    chunk_size: int
    pieces: tuple[PieceRef, ...]

    def to_bytes(self) -> bytes:
        """Encode as canonical JSON (sorted keys, no spaces, UTF-8)."""
        obj = {
            "chunk_size": self.chunk_size,
            "kind": MANIFEST_KIND,
            "length": self.length,
            "pieces": [
                {
                    "commitment": p.commitment.hex(),
                    "height": p.height,
                    "length": p.length,
                    "sha256": p.sha256.hex(),
                }
                for p in self.pieces
            ],
            "sha256": self.sha256.hex(),
            "version": MANIFEST_VERSION,
        }
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Manifest:
        """Decode and check a manifest.

        Raises
        ------
        ArtifactError
            If ``raw`` is not a version-1 zkagg payload manifest in canonical form, or its piece
            lengths do not add up to its length.
        """
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError) as exc:  # also a >4300-digit integer, or deep nesting
            raise ArtifactError(f"payload manifest must be UTF-8 JSON: {exc}") from exc
        if not isinstance(obj, dict) or obj.get("kind") != MANIFEST_KIND:
            raise ArtifactError(f"payload manifest must be a JSON object with kind {MANIFEST_KIND!r}")
        if obj.get("version") != MANIFEST_VERSION:
            raise ArtifactError(
                f"payload manifest version must be {MANIFEST_VERSION}, not {obj.get('version')!r}"
            )
        try:
            pieces = tuple(_piece(p, i) for i, p in enumerate(_get(obj, "pieces", list)))
            manifest = cls(
                _nonneg(obj, "length"),
                _digest(_get(obj, "sha256", str), "sha256"),
                _nonneg(obj, "chunk_size"),
                pieces,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"payload manifest is malformed: {exc}") from exc
        if manifest.to_bytes() != raw:
            raise ArtifactError("payload manifest is not in canonical form (sorted keys, no spaces)")
        total = sum(p.length for p in pieces)
        if total != manifest.length:
            raise ArtifactError(
                f"payload manifest pieces add up to {total} bytes, but its length is {manifest.length}"
            )
        return manifest


def _get(obj: dict[str, Any], key: str, kind: type) -> Any:
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"{key} must be {kind.__name__}, not {type(value).__name__}")
    return value


def _nonneg(obj: dict[str, Any], key: str) -> int:
    value: int = _get(obj, key, int)
    if value < 0:
        raise ValueError(f"{key} must be >= 0, not {value}")
    return value


def _digest(text: str, what: str, size: int = 32) -> bytes:
    raw = bytes.fromhex(text)
    if len(raw) != size:
        raise ValueError(f"{what} must be {size} bytes of hex, not {len(raw)}")
    return raw


def _piece(obj: object, i: int) -> PieceRef:
    if not isinstance(obj, dict):
        raise TypeError(f"pieces[{i}] must be an object, not {type(obj).__name__}")
    height = _nonneg(obj, "height")
    if height < 1:
        raise ValueError(f"pieces[{i}].height must be >= 1, not {height}")
    return PieceRef(
        height,
        _digest(_get(obj, "commitment", str), f"pieces[{i}].commitment", COMMITMENT_SIZE),
        _nonneg(obj, "length"),
        _digest(_get(obj, "sha256", str), f"pieces[{i}].sha256"),
    )


def write_payload(
    backend: PayloadBackend,
    namespace: Namespace,
    payload: bytes,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_submission_bytes: int = DEFAULT_MAX_SUBMISSION_BYTES,
    share_version: int = 0,
    signer: bytes | None = None,
) -> PayloadRef:
    """Store ``payload`` as pieces plus a manifest blob; return the manifest's reference.

    Parameters
    ----------
    backend
        Anything with ``submit(blobs) -> height`` (a ``DABackend``).
    namespace
        Namespace of every piece and of the manifest; must pass ``validate_for_blob``.
    payload
        The bytes to store; may be empty (the manifest then lists no pieces).
    chunk_size
        Piece size in bytes, ``1 <= chunk_size <= max_submission_bytes``.
    max_submission_bytes
        Most blob data sent in one submission, at most ``MaxTxSize`` (8 MiB).
    share_version, signer
        Passed to every blob (version 1 needs the 20-byte signer).

    Raises
    ------
    InvalidArgument
        Bad sizes, namespace or signer; whatever the backend raises on submission.
    """
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise InvalidArgument(f"payload must be bytes, not {type(payload).__name__}")
    if not 1 <= max_submission_bytes <= MAX_TX_SIZE:
        raise InvalidArgument(
            f"max_submission_bytes must be in [1, {MAX_TX_SIZE}] (MaxTxSize), not {max_submission_bytes}"
        )
    if not 1 <= chunk_size <= max_submission_bytes:
        raise InvalidArgument(
            f"chunk_size must be in [1, max_submission_bytes={max_submission_bytes}], not {chunk_size}"
        )
    payload = bytes(payload)
    pieces = [
        Blob.new(namespace, payload[off : off + chunk_size], share_version, signer)
        for off in range(0, len(payload), chunk_size)
    ]
    refs: list[PieceRef] = []
    group: list[Blob] = []
    group_bytes = 0

    def flush() -> None:
        nonlocal group, group_bytes
        if group:
            height = backend.submit(group)
            refs.extend(
                PieceRef(height, b.commitment, len(b.data), hashlib.sha256(b.data).digest()) for b in group
            )
        group, group_bytes = [], 0

    for piece in pieces:
        if group_bytes + len(piece.data) > max_submission_bytes:
            flush()
        group.append(piece)
        group_bytes += len(piece.data)
    flush()
    manifest = Manifest(len(payload), hashlib.sha256(payload).digest(), chunk_size, tuple(refs))
    manifest_blob = Blob.new(namespace, manifest.to_bytes(), share_version, signer)
    height = backend.submit([manifest_blob])
    return PayloadRef(height, namespace, manifest_blob.commitment)


def read_manifest(backend: PayloadBackend, ref: PayloadRef) -> Manifest:
    """Fetch and decode the manifest ``ref`` names, checking the blob against its commitment.

    Raises
    ------
    BlobNotFound
        From the backend, if there is no such blob.
    CommitmentMismatch
        If the returned blob does not open ``ref.commitment``.
    ArtifactError
        If the blob is not a valid manifest.
    """
    blob = backend.get(ref.height, ref.namespace, ref.commitment)
    Blob(ref.namespace, blob.data, blob.share_version, blob.signer, ref.commitment).verify_commitment()
    try:
        return Manifest.from_bytes(blob.data)
    except ArtifactError as exc:
        raise ArtifactError(f"blob at height {ref.height} in namespace {ref.namespace}: {exc}") from exc


def read_payload(backend: PayloadBackend, ref: PayloadRef) -> bytes:
    """Fetch a payload written by :func:`write_payload` and check every hash.

    Raises
    ------
    BlobNotFound
        From the backend, for a missing manifest or piece.
    CommitmentMismatch
        If the manifest blob does not open its commitment, a piece's length or SHA-256 differs
        from the manifest's, or the whole payload's length or SHA-256 does.
    ArtifactError
        If the manifest is malformed.
    """
    manifest = read_manifest(backend, ref)
    parts: list[bytes] = []
    for i, piece in enumerate(manifest.pieces):
        data = backend.get(piece.height, ref.namespace, piece.commitment).data
        where = (
            f"piece {i} of the payload {ref.commitment.hex()} "
            f"(height {piece.height}, commitment {piece.commitment.hex()})"
        )
        if len(data) != piece.length:
            raise CommitmentMismatch(f"{where} has {len(data)} bytes, the manifest says {piece.length}")
        digest = hashlib.sha256(data).digest()
        if digest != piece.sha256:
            raise CommitmentMismatch(
                f"{where} has sha256 {digest.hex()}, the manifest says {piece.sha256.hex()}"
            )
        parts.append(data)
    payload = b"".join(parts)
    digest = hashlib.sha256(payload).digest()
    if len(payload) != manifest.length or digest != manifest.sha256:
        raise CommitmentMismatch(
            f"payload {ref.commitment.hex()} has {len(payload)} bytes and sha256 {digest.hex()}, "
            f"the manifest says {manifest.length} bytes and sha256 {manifest.sha256.hex()}"
        )
    return payload
