"""Every published Celestia vector in ``tests/da/data/`` reproduced, one test id per vector.

The vector files are committed under ``tests/da/data/`` with their sources (its README.md, DESIGN.md §5).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from zkagg.da._blob import Blob
from zkagg.da._commitment import (
    blob_commitment,
    commitment_from_shares,
    merkle_mountain_range_sizes,
    subtree_roots,
    subtree_width,
)
from zkagg.da._namespace import Namespace
from zkagg.da._nmt import rfc6962_root
from zkagg.da._shares import shares_needed, split_blob, tail_padding_share
from zkagg.da._square import build_square, min_data_availability_root

# Published vectors and real Celestia data, committed with their sources (tests/da/data/README.md).
DATA = Path(__file__).resolve().parent / "data"
COMMITMENT_FILE = DATA / "celestia_commitment_vectors.json"
MISC_FILE = DATA / "celestia_misc_vectors.json"
MOCHA_BLOB = DATA / "mocha-4-h7717345-blob.bin.gz"


COMMITMENT_VECTORS: list[dict[str, Any]] = json.loads(COMMITMENT_FILE.read_text())
MISC: dict[str, Any] = json.loads(MISC_FILE.read_text())


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def gosquare_test_two_leaf_sha256(items: Sequence[bytes]) -> bytes:
    """go-square's test-only merkle function: ``sha256(sha256(a) || sha256(b))`` of exactly two roots."""
    assert len(items) == 2
    return _sha(_sha(items[0]) + _sha(items[1]))


def gosquare_test_concat_sha256(items: Sequence[bytes]) -> bytes:
    """go-square's test-only merkle function for the v2 case: ``sha256`` of the concatenated roots."""
    return _sha(b"".join(items))


MERKLE_ROOT_FNS: dict[str, Callable[[Sequence[bytes]], bytes]] = {
    "rfc6962": rfc6962_root,
    "gosquare_test_two_leaf_sha256": gosquare_test_two_leaf_sha256,
    "gosquare_test_concat_sha256": gosquare_test_concat_sha256,
}


def vector_data(vector: dict[str, Any]) -> bytes:
    if "data_hex" in vector:
        return bytes.fromhex(vector["data_hex"])
    gen = vector["data_generator"]
    body: bytes = bytes([gen["byte"]]) * gen["length"]
    if gen["kind"] == "repeat":
        return body
    assert gen["kind"] == "prefix_then_repeat", gen
    return bytes.fromhex(str(gen["prefix_hex"])) + body


def vector_signer(vector: dict[str, Any]) -> bytes | None:
    return bytes.fromhex(vector["signer_hex"]) if vector.get("signer_hex") else None


# -- commitment vectors ----------------------------------------------------------------------


def test_commitment_vector_file_is_complete() -> None:
    # Prepare / Execute
    kinds = [v["kind"] for v in COMMITMENT_VECTORS]

    # Assert: the 29 vectors CELESTIA.md §7 describes
    assert len(COMMITMENT_VECTORS) == 29
    assert kinds.count("official_test_vector_nonstandard_root") == 3
    assert kinds.count("onchain_pfb") == 7
    assert kinds.count("generated_pfb") == 12
    assert kinds.count("independent_impl_test_vector") == 4


@pytest.mark.parametrize("vector", COMMITMENT_VECTORS, ids=[v["id"] for v in COMMITMENT_VECTORS])
def test_commitment_vector(vector: dict[str, Any]) -> None:
    # Prepare
    namespace = Namespace.from_bytes(bytes.fromhex(vector["namespace_hex"]))
    data = vector_data(vector)
    signer = vector_signer(vector)
    merkle_root = MERKLE_ROOT_FNS[vector["merkle_root_fn"]]

    # Execute
    shares = split_blob(namespace, data, vector["share_version"], signer)
    roots = subtree_roots(namespace, shares, vector["subtree_root_threshold"])
    commitment = commitment_from_shares(namespace, shares, merkle_root)

    # Assert
    assert len(data) == vector["data_len"]
    assert len(shares) == vector["share_count"] == shares_needed(len(data), signer is not None)
    assert subtree_width(len(shares)) == vector["subtree_width"]
    assert len(roots) == vector["subtree_root_count"]
    assert commitment.hex() == vector["commitment_hex"]
    assert base64.b64encode(commitment).decode() == vector["commitment_b64"]
    if vector["merkle_root_fn"] == "rfc6962":
        assert blob_commitment(namespace, data, vector["share_version"], signer) == commitment


USER_VECTORS = [v for v in COMMITMENT_VECTORS if v["merkle_root_fn"] == "rfc6962" and v["share_version"] < 2]


@pytest.mark.parametrize("vector", USER_VECTORS, ids=[v["id"] for v in USER_VECTORS])
def test_commitment_vector_through_blob_json(vector: dict[str, Any]) -> None:
    # Prepare: the blob as celestia-node would send it
    obj = {
        "namespace": base64.b64encode(bytes.fromhex(vector["namespace_hex"])).decode(),
        "data": base64.b64encode(vector_data(vector)).decode(),
        "share_version": vector["share_version"],
        "commitment": vector["commitment_b64"],
        "index": -1,
    }
    signer = vector_signer(vector)
    if signer:
        obj["signer"] = base64.b64encode(signer).decode()

    # Execute
    blob = Blob.from_json(obj)

    # Assert
    assert blob.commitment.hex() == vector["commitment_hex"]
    assert blob.to_json() == obj


def test_docs_example_commitment() -> None:
    # Prepare: CELESTIA.md §7, last item
    namespace = Namespace.from_bytes(base64.b64decode("AAAAAAAAAAAAAAAAAAAAAAAAAAECAwQFBgcICRA="))

    # Execute
    commitment = blob_commitment(namespace, b"This is an example of some blob data")

    # Assert
    assert base64.b64encode(commitment).decode() == "AD5EzbG0/EMvpw0p8NIjMVnoCP4Bv6K+V6gjmwdXUKU="


# -- misc vectors ----------------------------------------------------------------------------

RFC6962 = MISC.get("rfc6962_merkle_root", [])


@pytest.mark.parametrize(
    "case", RFC6962, ids=[f"leaves{len(c['leaves_hex'])}-{i}" for i, c in enumerate(RFC6962)]
)
def test_rfc6962_root_vector(case: dict[str, Any]) -> None:
    # Prepare
    leaves = [bytes.fromhex(x) for x in case["leaves_hex"]]

    # Execute / Assert
    assert rfc6962_root(leaves).hex() == case["root_hex"]


SUBTREE_WIDTHS = MISC.get("subtree_width_threshold_64", {}).get("cases", [])


@pytest.mark.parametrize(("shares", "width"), SUBTREE_WIDTHS, ids=[f"n{c[0]}" for c in SUBTREE_WIDTHS])
def test_subtree_width_vector(shares: int, width: int) -> None:
    assert subtree_width(shares, 64) == width


MMR = MISC.get("merkle_mountain_range_sizes", {}).get("cases", [])


@pytest.mark.parametrize("case", MMR, ids=[f"total{c['total']}-max{c['max_tree']}" for c in MMR])
def test_merkle_mountain_range_vector(case: dict[str, Any]) -> None:
    assert merkle_mountain_range_sizes(case["total"], case["max_tree"]) == case["sizes"]


FIRST_SHARES = MISC.get("first_share_layout", [])


@pytest.mark.parametrize("case", FIRST_SHARES, ids=[f"v{c['share_version']}" for c in FIRST_SHARES])
def test_first_share_layout_vector(case: dict[str, Any]) -> None:
    # Prepare
    namespace = Namespace.from_bytes(bytes.fromhex(case["namespace_hex"]))
    signer = bytes.fromhex(case["signer_hex"]) if case.get("signer_hex") else None

    # Execute
    shares = split_blob(namespace, bytes.fromhex(case["data_hex"]), case["share_version"], signer)

    # Assert
    assert [s.hex() for s in shares] == [case["share_hex"]]


def test_empty_block_data_root_vector() -> None:
    # Prepare
    case = MISC["empty_block_data_root"]

    # Execute
    root = min_data_availability_root()
    square = build_square([])

    # Assert
    assert tail_padding_share().hex().startswith(case["tail_padding_share_prefix_hex"])
    assert root.hex() == case["data_root_hex"]
    assert square.data_root.hex() == case["data_root_hex"]


def test_nil_dah_hash_vector() -> None:
    assert rfc6962_root([]).hex() == MISC["nil_dah_hash_hex"]


def test_mocha_share_sequence_vector() -> None:
    # Prepare
    case = MISC["mocha_share_sequence"]
    namespace = Namespace.from_bytes(bytes.fromhex(case["namespace_hex"]))
    signer = bytes.fromhex(case["signer_hex"])
    data = gzip.decompress(MOCHA_BLOB.read_bytes())

    # Execute
    shares = split_blob(namespace, data, case["share_version"], signer)
    roots = subtree_roots(namespace, shares)
    commitment = blob_commitment(namespace, data, case["share_version"], signer)

    # Assert
    assert len(data) == case["sequence_len"]
    assert hashlib.sha256(data).hexdigest() == case["data_sha256"]
    assert len(shares) == case["share_count"] == shares_needed(case["sequence_len"], True)
    assert hashlib.sha256(b"".join(shares)).hexdigest() == case["shares_concat_sha256"]
    assert subtree_width(len(shares)) == case["subtree_width"]
    assert len(roots) == case["subtree_root_count"]
    assert commitment.hex() == case["commitment_hex_derived_not_official"]


def test_mocha_share_counts_without_data() -> None:
    # The parts of the mocha vector that need no data file.
    case = MISC["mocha_share_sequence"]
    count = shares_needed(case["sequence_len"], has_signer=True)
    assert count == case["share_count"]
    assert subtree_width(count) == case["subtree_width"]
    assert len(merkle_mountain_range_sizes(count, subtree_width(count))) == case["subtree_root_count"]
