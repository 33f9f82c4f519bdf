"""Large payloads: pieces plus a manifest, written and read through a DA backend.

The backend is DA-node's ``MemoryBackend`` (the embedded node's semantics in memory); the tampering
backends below wrap it to play a node that returns wrong data.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import replace

import pytest

from zkagg._errors import ArtifactError, BlobNotFound, CommitmentMismatch, InvalidArgument
from zkagg.da._account import DEV_ACCOUNT
from zkagg.da._backend import DABackend
from zkagg.da._blob import Blob
from zkagg.da._memory import MemoryBackend
from zkagg.da._namespace import Namespace
from zkagg.da._payload import (
    DEFAULT_CHUNK_SIZE,
    MAX_TX_SIZE,
    Manifest,
    PayloadRef,
    PieceRef,
    read_manifest,
    read_payload,
    write_payload,
)

NS = Namespace.v0(b"payload")


class RecordingBackend(MemoryBackend):
    """MemoryBackend that remembers the size of every submission."""

    def __init__(self) -> None:
        super().__init__()
        self.submissions: list[list[int]] = []

    def submit(self, blobs: Sequence[Blob], config: object = None) -> int:
        self.submissions.append([len(b.data) for b in blobs])
        return super().submit(blobs)


class TamperingBackend(MemoryBackend):
    """MemoryBackend whose ``get`` flips a byte of the blob with a chosen commitment."""

    def __init__(self) -> None:
        super().__init__()
        self.target: bytes | None = None

    def get(self, height: int | str, namespace: Namespace, commitment: bytes) -> Blob:
        blob = super().get(height, namespace, commitment)
        if commitment == self.target:
            data = bytes([blob.data[0] ^ 1]) + blob.data[1:]
            return replace(blob, data=data)
        return blob


def _payload(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


# -- round trips -------------------------------------------------------------------------------


def test_round_trip_groups_pieces_into_submissions() -> None:
    # Prepare
    backend = RecordingBackend()
    payload = _payload(10_500)

    # Execute
    ref = write_payload(backend, NS, payload, chunk_size=1000, max_submission_bytes=3000)
    manifest = read_manifest(backend, ref)
    back = read_payload(backend, ref)

    # Assert: 11 pieces in groups of 3, then the manifest alone
    assert back == payload
    assert backend.submissions[:-1] == [[1000] * 3, [1000] * 3, [1000] * 3, [1000, 500]]
    assert len(backend.submissions[-1]) == 1
    assert [p.length for p in manifest.pieces] == [1000] * 10 + [500]
    heights = [p.height for p in manifest.pieces]
    assert heights == sorted(heights) and len(set(heights)) == 4
    assert ref.height > heights[-1]
    assert manifest.sha256 == hashlib.sha256(payload).digest()


def test_round_trip_with_defaults_uses_one_submission_for_small_payloads() -> None:
    # Prepare: 2.5 pieces of the default 1 MiB
    backend = RecordingBackend()
    payload = _payload(DEFAULT_CHUNK_SIZE * 5 // 2)

    # Execute
    ref = write_payload(backend, NS, payload)

    # Assert
    assert backend.submissions[0] == [DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_SIZE // 2]
    assert read_payload(backend, ref) == payload


def test_round_trip_with_share_version_1() -> None:
    backend = MemoryBackend()
    ref = write_payload(backend, NS, b"abc" * 1000, chunk_size=1024, share_version=1, signer=DEV_ACCOUNT)
    assert read_payload(backend, ref) == b"abc" * 1000
    assert backend.get(ref.height, NS, ref.commitment).signer == DEV_ACCOUNT


def test_empty_payload_is_a_manifest_without_pieces() -> None:
    backend = MemoryBackend()
    ref = write_payload(backend, NS, b"")
    assert read_manifest(backend, ref).pieces == ()
    assert read_payload(backend, ref) == b""


def test_manifest_is_deterministic() -> None:
    # Prepare / Execute: the same payload on two fresh chains lands at the same heights
    one = write_payload(MemoryBackend(), NS, _payload(3000), chunk_size=1000)
    two = write_payload(MemoryBackend(), NS, _payload(3000), chunk_size=1000)

    # Assert
    assert one == two


def test_manifest_canonical_encoding() -> None:
    # Prepare
    manifest = Manifest(3, b"\x01" * 32, 8, (PieceRef(2, b"\x02" * 32, 3, b"\x03" * 32),))

    # Execute
    raw = manifest.to_bytes()

    # Assert
    assert raw == json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    assert raw.startswith(
        b'{"chunk_size":8,"kind":"zkagg.da.payload","length":3,"pieces":[{"commitment":"0202'
    )
    assert Manifest.from_bytes(raw) == manifest


def test_payload_ref_json_round_trip() -> None:
    ref = PayloadRef(5, NS, b"\x09" * 32)
    assert PayloadRef.from_json(json.loads(json.dumps(ref.to_json()))) == ref


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ([], "a payload reference must be a JSON object, not list"),
        (
            {"height": 0, "namespace": NS.hex(), "commitment": "00" * 32},
            "height must be a positive integer, not 0",
        ),
        ({"height": 1, "namespace": "zz", "commitment": "00" * 32}, "namespace and commitment must be hex"),
        ({"height": 1, "namespace": "00" * 28, "commitment": "00" * 32}, r"invalid namespace length: 28\."),
        (
            {"height": 1, "namespace": NS.hex(), "commitment": "00" * 31},
            "commitment must be 32 bytes, not 31",
        ),
    ],
    ids=["list", "height-0", "ns-not-hex", "ns-28", "commitment-31"],
)
def test_payload_ref_from_json_rejects(obj: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        PayloadRef.from_json(obj)


# -- writer argument errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chunk_size": 0}, r"chunk_size must be in \[1, max_submission_bytes=7340032\], not 0"),
        (
            {"chunk_size": 2000, "max_submission_bytes": 1000},
            r"chunk_size must be in \[1, max_submission_bytes=1000\]",
        ),
        ({"max_submission_bytes": MAX_TX_SIZE + 1}, rf"max_submission_bytes must be in \[1, {MAX_TX_SIZE}\]"),
        ({"payload": "text"}, "payload must be bytes, not str"),
        ({"share_version": 1}, "share version 1 requires signer of size 20 bytes"),
        ({"namespace": Namespace.v0(b"\x01")}, "invalid user namespace"),
    ],
    ids=["chunk-0", "chunk-over-max", "max-over-tx", "payload-str", "v1-no-signer", "reserved-ns"],
)
def test_write_payload_rejects(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"namespace": NS, "payload": b"data"}
    args.update(kwargs)
    with pytest.raises(InvalidArgument, match=message):
        write_payload(MemoryBackend(), **args)  # type: ignore[arg-type]


# -- reader failures ---------------------------------------------------------------------------


def test_tampered_piece_is_caught() -> None:
    # Prepare
    backend = TamperingBackend()
    ref = write_payload(backend, NS, _payload(5000), chunk_size=1000)
    backend.target = read_manifest(backend, ref).pieces[2].commitment

    # Execute / Assert
    with pytest.raises(
        CommitmentMismatch, match=r"piece 2 of the payload .* has sha256 [0-9a-f]{64}, the manifest says"
    ):
        read_payload(backend, ref)


def test_tampered_manifest_is_caught() -> None:
    backend = TamperingBackend()
    ref = write_payload(backend, NS, _payload(5000), chunk_size=1000)
    backend.target = ref.commitment
    with pytest.raises(CommitmentMismatch, match=f"blob in namespace {NS} does not match its commitment"):
        read_payload(backend, ref)


def test_piece_of_wrong_length_is_caught() -> None:
    # Prepare: a manifest that claims 999 bytes for a 1000-byte piece (and the right total)
    backend = MemoryBackend()
    piece = Blob.new(NS, _payload(1000))
    height = backend.submit([piece])
    ref_piece = PieceRef(height, piece.commitment, 999, hashlib.sha256(piece.data).digest())
    manifest = Manifest(999, hashlib.sha256(piece.data[:999]).digest(), 1000, (ref_piece,))
    blob = Blob.new(NS, manifest.to_bytes())
    ref = PayloadRef(backend.submit([blob]), NS, blob.commitment)

    # Execute / Assert
    with pytest.raises(
        CommitmentMismatch, match=r"piece 0 of the payload .* has 1000 bytes, the manifest says 999"
    ):
        read_payload(backend, ref)


def test_whole_payload_hash_is_checked() -> None:
    # Prepare: honest pieces, wrong overall sha256
    backend = MemoryBackend()
    piece = Blob.new(NS, b"piece")
    height = backend.submit([piece])
    manifest = Manifest(
        5, b"\x00" * 32, 5, (PieceRef(height, piece.commitment, 5, hashlib.sha256(b"piece").digest()),)
    )
    blob = Blob.new(NS, manifest.to_bytes())
    ref = PayloadRef(backend.submit([blob]), NS, blob.commitment)

    # Execute / Assert
    with pytest.raises(
        CommitmentMismatch, match=r"has 5 bytes and sha256 .*, the manifest says 5 bytes and sha256 0{64}"
    ):
        read_payload(backend, ref)


def test_missing_manifest_raises_blob_not_found() -> None:
    backend = MemoryBackend()
    ref = write_payload(backend, NS, b"data")
    with pytest.raises(BlobNotFound):
        read_payload(backend, replace(ref, commitment=b"\x05" * 32))


def test_blob_that_is_not_a_manifest_is_an_artifact_error() -> None:
    backend = MemoryBackend()
    blob = Blob.new(NS, b"just some data")
    ref = PayloadRef(backend.submit([blob]), NS, blob.commitment)
    with pytest.raises(
        ArtifactError,
        match=f"blob at height {ref.height} in namespace {NS}: payload manifest must be UTF-8 JSON",
    ):
        read_payload(backend, ref)


GOOD = Manifest(1, b"\x01" * 32, 1, (PieceRef(2, b"\x02" * 32, 1, b"\x03" * 32),)).to_bytes()


def _edit(**changes: object) -> bytes:
    obj = json.loads(GOOD)
    obj.update(changes)
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\xff", "must be UTF-8 JSON"),
        (b"[]", "must be a JSON object with kind 'zkagg.da.payload'"),
        (_edit(kind="other"), "must be a JSON object with kind"),
        (_edit(version=2), "payload manifest version must be 1, not 2"),
        (_edit(length=-1), "length must be >= 0, not -1"),
        (_edit(length=True), "length must be int, not bool"),
        (_edit(sha256="00"), "sha256 must be 32 bytes of hex, not 1"),
        (_edit(sha256="zz"), "malformed"),
        (_edit(pieces={}), "pieces must be list, not dict"),
        (_edit(pieces=[5]), r"pieces\[0\] must be an object, not int"),
        (
            _edit(pieces=[{"height": 0, "commitment": "00" * 32, "length": 1, "sha256": "00" * 32}]),
            r"pieces\[0\].height must be >= 1",
        ),
        (
            _edit(pieces=[{"height": 1, "commitment": "00" * 31, "length": 1, "sha256": "00" * 32}]),
            r"pieces\[0\].commitment must be 32 bytes",
        ),
        (_edit(pieces=[{"height": 1, "length": 1, "sha256": "00" * 32}]), "malformed: 'commitment'"),
        (_edit(length=2), "pieces add up to 1 bytes, but its length is 2"),
        (GOOD.replace(b",", b", "), "not in canonical form"),
    ],
    ids=[
        "not-utf8",
        "list",
        "kind",
        "version",
        "negative-length",
        "bool-length",
        "short-sha",
        "bad-hex",
        "pieces-dict",
        "piece-int",
        "height-0",
        "commitment-31",
        "missing-commitment",
        "lengths-disagree",
        "not-canonical",
    ],
)
def test_manifest_from_bytes_rejects(raw: bytes, message: str) -> None:
    with pytest.raises(ArtifactError, match=message):
        Manifest.from_bytes(raw)


# -- every backend -----------------------------------------------------------------------------


def test_round_trip_on_every_backend(backend: DABackend, namespace: Namespace) -> None:
    # Prepare: DA-node's parametrized fixture (memory, embedded node, client -> server)
    payload = _payload(1_300_000, seed=11)

    # Execute
    ref = write_payload(backend, namespace, payload, chunk_size=200_000, max_submission_bytes=600_000)
    manifest = read_manifest(backend, ref)
    back = read_payload(backend, ref)

    # Assert
    assert back == payload
    assert len(manifest.pieces) == 7
    assert len({p.height for p in manifest.pieces}) == 3
