"""The DABackend contract: every test runs on MemoryBackend, EmbeddedNode and CelestiaClient->server."""

from __future__ import annotations

import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from zkagg import BlobNotFound, DAConnectionError, DAError, DARPCError, InvalidArgument
from zkagg.da import Blob, DABackend, EmbeddedNode, Header, Namespace, TxConfig
from zkagg.da._account import DEV_ACCOUNT, DEV_ADDRESS
from zkagg.da._square import blob_proof_from_json, verify_blob_proof


def _blob(ns: Namespace, size: int = 100, fill: bytes | None = None) -> Blob:
    return Blob.new(ns, fill if fill is not None else os.urandom(size))


def test_backend_satisfies_protocol(backend: DABackend) -> None:
    assert isinstance(backend, DABackend)


def test_submit_then_get_round_trip(backend: DABackend, namespace: Namespace) -> None:
    # Prepare
    blob = _blob(namespace, 4096)
    # Execute
    height = backend.submit([blob])
    got = backend.get(height, namespace, blob.commitment)
    # Assert
    assert got.data == blob.data
    assert got.commitment == blob.commitment
    assert got.namespace == namespace
    assert got.index >= 0
    got.verify_commitment()


def test_heights_accepted_as_strings(backend: DABackend, namespace: Namespace) -> None:
    blob = _blob(namespace)
    height = backend.submit([blob])
    assert backend.get(str(height), namespace, blob.commitment).data == blob.data
    assert backend.get_header(str(height)).height == height
    assert backend.get_all(str(height), [namespace])[0].data == blob.data


def test_several_blobs_in_one_submission_share_a_height(backend: DABackend, namespace: Namespace) -> None:
    other = Namespace.v0(b"\x7b" + os.urandom(9))
    blobs = [_blob(namespace, 10), _blob(other, 2000), _blob(namespace, 700)]
    height = backend.submit(blobs)
    for blob in blobs:
        assert backend.get(height, blob.namespace, blob.commitment).data == blob.data
    indices = [backend.get(height, b.namespace, b.commitment).index for b in blobs]
    assert len(set(indices)) == 3


def test_share_version_1_blob_with_signer(backend: DABackend, namespace: Namespace) -> None:
    # The signer must be the account that pays (CIP-21): the local chains' development account.
    blob = Blob.new(namespace, os.urandom(600), share_version=1, signer=DEV_ACCOUNT)
    height = backend.submit([blob], TxConfig(signer_address=DEV_ADDRESS))
    got = backend.get(height, namespace, blob.commitment)
    assert (got.share_version, got.signer, got.data) == (1, blob.signer, blob.data)


def test_another_signer_or_unknown_key_is_refused(backend: DABackend, namespace: Namespace) -> None:
    stranger = Blob.new(namespace, b"x", share_version=1, signer=bytes(20))
    with pytest.raises(DARPCError, match=r"^invalid blob signer$"):
        backend.submit([stranger])
    with pytest.raises(DARPCError, match="account for signer nobody not found"):
        backend.submit([_blob(namespace)], TxConfig(key_name="nobody"))


def test_tx_config_is_accepted(backend: DABackend, namespace: Namespace) -> None:
    blob = _blob(namespace)
    height = backend.submit([blob], TxConfig(gas_price=0.004, gas=200_000, tx_priority=2))
    assert backend.get(height, namespace, blob.commitment).data == blob.data


def test_max_gas_price_below_the_estimate_is_refused(backend: DABackend, namespace: Namespace) -> None:
    with pytest.raises(DARPCError, match="state: estimated gas price exceeds max gas price in tx config"):
        backend.submit([_blob(namespace)], TxConfig(max_gas_price=0.001))
    # an explicit price is used as given, whatever the ceiling
    blob = _blob(namespace)
    assert backend.get(
        backend.submit([blob], TxConfig(gas_price=0.002, max_gas_price=0.001)), namespace, blob.commitment
    )


def test_pfb_gas_estimate_is_celestia_apps() -> None:
    from zkagg.da._chain import estimate_gas

    assert estimate_gas([Blob.new(Namespace.v0(b"gas"), b"x")]) == 79_796  # CELESTIA.md section 8
    assert estimate_gas([Blob.new(Namespace.v0(b"gas"), bytes(479))] * 2) == 2 * 2 * 4096 + 1400 + 75_000


def test_get_missing_blob_raises_blob_not_found(backend: DABackend, namespace: Namespace) -> None:
    height = backend.submit([_blob(namespace)])
    with pytest.raises(BlobNotFound, match="blob: not found"):
        backend.get(height, namespace, bytes(32))
    with pytest.raises(BlobNotFound):
        backend.get(height, Namespace.v0(b"nobody"), bytes(32))


def test_get_all_returns_namespace_blobs_in_order(backend: DABackend, namespace: Namespace) -> None:
    # Prepare: two namespaces, namespace order differs from submission order
    low = Namespace.v0(b"\x01" + os.urandom(9))
    first, second, third = _blob(namespace, 50), _blob(low, 60), _blob(namespace, 70)
    # Execute
    height = backend.submit([first, second, third])
    both = backend.get_all(height, [namespace, low])
    only_low = backend.get_all(height, [low])
    # Assert: grouped by requested namespace, submission order inside a namespace
    assert [b.data for b in both] == [first.data, third.data, second.data]
    assert [b.data for b in only_low] == [second.data]


def test_get_all_is_empty_list_when_nothing_found(backend: DABackend, namespace: Namespace) -> None:
    height = backend.submit([_blob(namespace)])
    assert backend.get_all(height, [Namespace.v0(b"empty" + os.urandom(5))]) == []
    assert backend.get_all(1, [namespace]) == []
    assert backend.get_all(height, []) == []


def test_proof_round_trip_and_inclusion(backend: DABackend, namespace: Namespace) -> None:
    # Prepare: a blob spanning several rows of its square
    blobs = [_blob(namespace, 20_000), _blob(Namespace.v0(b"\x02" + os.urandom(9)), 3000)]
    height = backend.submit(blobs)
    blob = blobs[0]
    # Execute
    proof = backend.get_proof(height, namespace, blob.commitment)
    header = backend.get_header(height)
    # Assert: celestia-node's Proof shape, verifies against the header's row roots
    assert isinstance(proof, list) and len(proof) >= 2
    assert all("end" in p and "nodes" in p for p in proof)
    index = backend.get(height, namespace, blob.commitment).index
    k = len(header.row_roots) // 2
    verify_blob_proof(
        blob_proof_from_json(proof), blob=blob, index=index, square_size=k, row_roots=header.row_roots
    )
    assert backend.included(height, namespace, proof, blob.commitment) is True


def test_included_is_false_for_a_wrong_proof_or_missing_blob(
    backend: DABackend, namespace: Namespace
) -> None:
    a, b = _blob(namespace, 3000), _blob(namespace, 5000)
    height = backend.submit([a, b])
    proof_a = backend.get_proof(height, namespace, a.commitment)
    assert backend.included(height, namespace, proof_a, b.commitment) is False
    assert backend.included(height, namespace, proof_a, bytes(32)) is False
    with pytest.raises(BlobNotFound):
        backend.get_proof(height, namespace, bytes(32))


def test_headers_are_extended_header_shaped(backend: DABackend, namespace: Namespace) -> None:
    height = backend.submit([_blob(namespace)])
    header = backend.get_header(height)
    raw = header.to_json()
    assert raw["header"]["height"] == str(height)
    assert re.fullmatch(r"[0-9A-F]{64}", raw["header"]["data_hash"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", raw["header"]["time"])
    assert raw["commit"]["block_id"]["hash"] == header.hash
    assert len(header.row_roots) == len(header.column_roots) >= 2
    assert all(len(r) == 90 for r in header.row_roots)
    previous = backend.get_header(height - 1)
    assert header.last_block_hash == previous.hash
    assert Header.from_json(raw) == header


def test_heads_and_wait_for_existing_height(backend: DABackend, namespace: Namespace) -> None:
    height = backend.submit([_blob(namespace)])
    assert backend.local_head().height >= height
    assert backend.network_head().height >= height
    assert backend.wait_for_height(height, timeout=5).height == height


def test_wait_for_height_is_woken_by_a_new_block(backend: DABackend, namespace: Namespace) -> None:
    target = backend.local_head().height + 1
    timer = threading.Timer(0.2, lambda: backend.submit([_blob(namespace)]))
    timer.start()
    try:
        assert backend.wait_for_height(target, timeout=10).height == target
    finally:
        timer.join()


def test_wait_for_height_times_out(backend: DABackend) -> None:
    with pytest.raises(DAConnectionError):
        backend.wait_for_height(backend.local_head().height + 50, timeout=0.3)


def test_future_height_is_refused_as_celestia_node_does(backend: DABackend, namespace: Namespace) -> None:
    head = backend.local_head().height
    with pytest.raises(DARPCError, match=r"header: given height is from the future: networkHeight: \d+"):
        backend.get(head + 10, namespace, bytes(32))
    with pytest.raises(DARPCError, match="from the future"):
        backend.get_header(head + 10)


@pytest.mark.parametrize("bad", [0, -1, "abc", "1.5", 1.5, None, True])
def test_bad_heights_are_invalid_arguments(backend: DABackend, namespace: Namespace, bad: object) -> None:
    with pytest.raises(InvalidArgument, match="height must be"):
        backend.get(bad, namespace, bytes(32))  # type: ignore[arg-type]


def test_empty_submission_is_refused(backend: DABackend) -> None:
    with pytest.raises(DARPCError, match="state: no blobs provided"):
        backend.submit([])


def test_oversized_submission_is_refused_with_max_tx_size(backend: DABackend, namespace: Namespace) -> None:
    # Prepare: two blobs whose data alone exceeds MaxTxSize (8 MiB)
    blobs = [_blob(namespace, fill=b"\x01" * (4 * 1024 * 1024 + 1)) for _ in range(2)]
    # Execute / Assert
    with pytest.raises(DARPCError, match="larger than the application's configured MaxTxSize of 8388608"):
        backend.submit(blobs)


def test_concurrent_submissions_all_land(backend: DABackend, namespace: Namespace) -> None:
    # Prepare
    blobs = [_blob(namespace, 512) for _ in range(24)]
    # Execute: 8 threads at once (the embedded node batches them into few blocks)
    with ThreadPoolExecutor(8) as pool:
        heights = list(pool.map(lambda b: backend.submit([b]), blobs))
    # Assert
    for blob, height in zip(blobs, heights, strict=True):
        assert backend.get(height, namespace, blob.commitment).data == blob.data


def test_commitment_proof_verifies_against_the_data_root(backend: DABackend, namespace: Namespace) -> None:
    from zkagg.da._commitment_proof import CommitmentProof

    blob = _blob(namespace, 30_000)
    height = backend.submit([_blob(Namespace.v0(b"\x03" + os.urandom(9)), 900), blob])
    proof_json = backend.get_commitment_proof(height, namespace, blob.commitment)  # type: ignore[attr-defined]
    data_root = bytes.fromhex(backend.get_header(height).data_hash)
    CommitmentProof.from_json(proof_json).verify(data_root, blob.commitment)
    with pytest.raises(BlobNotFound):
        backend.get_commitment_proof(height, namespace, bytes(32))  # type: ignore[attr-defined]


def test_public_api_is_curated() -> None:
    import zkagg.da

    assert zkagg.da.__all__ == sorted(zkagg.da.__all__)
    for name in zkagg.da.__all__:
        assert getattr(zkagg.da, name) is not None


# -- the embedded node's block production --------------------------------------------------------------


def test_timed_blocks_are_made_even_when_empty(tmp_path: Path, namespace: Namespace) -> None:
    with EmbeddedNode(tmp_path / "node", block_time=0.05) as node:
        start = node.local_head().height
        header = node.wait_for_height(start + 3, timeout=5)
        blob = _blob(namespace)
        height = node.submit([blob])
        assert header.height == start + 3
        assert height > start + 3
        assert node.get(height, namespace, blob.commitment).data == blob.data
        assert node.get_all(start + 1, [namespace]) == []


def test_reopened_node_continues_its_chain(tmp_path: Path, namespace: Namespace) -> None:
    blob = _blob(namespace)
    with EmbeddedNode(tmp_path / "node", block_time=None) as node:
        height = node.submit([blob])
        head_hash = node.local_head().hash
    with EmbeddedNode(tmp_path / "node", block_time=None) as node:
        assert node.get(height, namespace, blob.commitment).data == blob.data
        assert node.submit([_blob(namespace)]) == height + 1
        assert node.get_header(height + 1).last_block_hash == head_hash


def test_one_node_per_home(tmp_path: Path) -> None:
    with (
        EmbeddedNode(tmp_path / "node", block_time=None),
        pytest.raises(DAError, match="another embedded node"),
    ):
        EmbeddedNode(tmp_path / "node", block_time=None)
    EmbeddedNode(tmp_path / "node", block_time=None).close()  # released on close


def test_block_time_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="block_time must be a positive number"):
        EmbeddedNode(tmp_path, block_time=0)


@pytest.mark.slow
def test_submissions_that_overflow_a_square_go_to_the_next_block(tmp_path: Path) -> None:
    # Prepare: five 7 MiB submissions need about 76,000 shares; a 256 x 256 square holds 65,536.
    blobs = [Blob.new(Namespace.v0(bytes([i + 1]) * 10), bytes([i]) * (7 * 1024 * 1024)) for i in range(5)]
    with EmbeddedNode(tmp_path / "node", block_time=None) as node:
        # Execute: queue them all at once so that one block could take them all
        futures = [node.submit_future([b]) for b in blobs]
        heights = [f.result(120) for f in futures]
        # Assert: split over blocks, every blob intact, squares within 256 x 256
        assert len(set(heights)) >= 2
        for blob, height in zip(blobs, heights, strict=True):
            assert node.get(height, blob.namespace, blob.commitment).data == blob.data
        for height in set(heights):
            assert len(node.get_header(height).row_roots) <= 2 * 256
