"""Commitment proofs: real celestia-node proofs verify, ours verify, tampering is caught."""

from __future__ import annotations

import base64
import gzip
import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from zkagg._errors import InvalidArgument, InvalidProof
from zkagg.da._blob import Blob
from zkagg.da._commitment_proof import (
    CommitmentProof,
    MerkleProof,
    RowProof,
    block_commitment_proof,
    commitment_proof,
    rfc6962_proofs,
    to_leaf_ranges,
)
from zkagg.da._namespace import Namespace
from zkagg.da._nmt import rfc6962_root
from zkagg.da._shares import available_bytes_from_sparse_shares
from zkagg.da._square import Square, build_square

# Real proofs from celestia-node's test data, committed with their source (tests/da/data/README.md).
CORPUS_FILE = Path(__file__).resolve().parent / "data" / "celestia-node-commitment-proofs.json.gz"
CORPUS: list[dict[str, Any]] = json.loads(gzip.decompress(CORPUS_FILE.read_bytes()))


# -- celestia-node's own proofs ----------------------------------------------------------------


@pytest.mark.parametrize(
    "entry", CORPUS, ids=[f"{e['case'].replace(' ', '-')}-{i % 3}" for i, e in enumerate(CORPUS)]
)
def test_celestia_node_commitment_proof_verifies(entry: dict[str, Any]) -> None:
    # Prepare
    proof = CommitmentProof.from_json(entry["commitment_proof"])
    data_root = base64.b64decode(entry["root"])
    commitment = rfc6962_root(list(proof.subtree_roots))

    # Execute / Assert: it verifies, and our JSON is celestia-node's JSON
    proof.verify(data_root, commitment, entry["sub_threshold"])
    assert proof.to_json() == entry["commitment_proof"]
    assert not proof.is_valid(bytes(32), commitment)


def test_celestia_node_proof_with_a_changed_subtree_root_fails() -> None:
    # Prepare
    entry = next(e for e in CORPUS if len(e["commitment_proof"]["subtree_roots"]) > 3)
    proof = CommitmentProof.from_json(entry["commitment_proof"])
    roots = list(proof.subtree_roots)
    roots[1] = roots[1][:-1] + bytes([roots[1][-1] ^ 1])
    forged = replace(proof, subtree_roots=tuple(roots))

    # Execute / Assert: the forged roots make a different commitment, and under the real one fail
    with pytest.raises(InvalidProof, match="does not lead to row root"):
        forged.verify(base64.b64decode(entry["root"]), rfc6962_root(roots))


# -- proofs of our squares ---------------------------------------------------------------------


def _blob(ns: bytes, shares: int, seed: int) -> Blob:
    return Blob.new(
        Namespace.v0(ns), random.Random(seed).randbytes(available_bytes_from_sparse_shares(shares))
    )


@pytest.fixture(scope="module")
def square() -> Square:
    return build_square(
        [_blob(b"aa", 1, 1), _blob(b"bb", 11, 2), _blob(b"cc", 208, 3), _blob(b"dd", 1453, 4)]
    )


@pytest.mark.parametrize("which", [0, 1, 2, 3])
def test_our_commitment_proofs_verify(square: Square, which: int) -> None:
    # Prepare
    placement = square.placements[which]

    # Execute
    proof = commitment_proof(square, placement)
    again = CommitmentProof.from_json(json.loads(json.dumps(proof.to_json())))

    # Assert
    assert again == proof
    again.verify(square.data_root, placement.blob.commitment)
    assert rfc6962_root(list(proof.subtree_roots)) == placement.blob.commitment


def test_commitment_proof_rejects_wrong_commitment_and_root(square: Square) -> None:
    # Prepare
    placement = square.placements[2]
    proof = commitment_proof(square, placement)

    # Execute / Assert
    with pytest.raises(InvalidProof, match="does not belong to commitment"):
        proof.verify(square.data_root, bytes(32))
    with pytest.raises(InvalidProof, match="does not lead to the root"):
        proof.verify(bytes(32), placement.blob.commitment)


def test_commitment_proof_rejects_tampering(square: Square) -> None:
    # Prepare
    placement = square.placements[3]
    proof = commitment_proof(square, placement)
    commitment = placement.blob.commitment
    first = proof.subtree_root_proofs[0]
    other_ns = replace(proof, namespace=Namespace.v0(b"zz"))
    few_nodes = replace(
        proof, subtree_root_proofs=(replace(first, nodes=first.nodes[:-1]), *proof.subtree_root_proofs[1:])
    )
    shifted = replace(
        proof, subtree_root_proofs=(replace(first, start=first.start + 1), *proof.subtree_root_proofs[1:])
    )
    bad_rows = replace(
        proof,
        row_proof=replace(
            proof.row_proof, start_row=proof.row_proof.start_row + 1, end_row=proof.row_proof.end_row + 1
        ),
    )
    short_rows = replace(proof, row_proof=replace(proof.row_proof, row_roots=proof.row_proof.row_roots[:-1]))
    no_proofs = replace(proof, subtree_root_proofs=proof.subtree_root_proofs[:-1])

    # Execute / Assert
    cases = [
        (other_ns, "are not all in namespace"),
        (few_nodes, "too few nodes"),
        (shifted, "is not an aligned subtree|does not match the subtree roots|do not lead"),
        (bad_rows, "must prove row"),
        (short_rows, "has .* row roots"),
        (no_proofs, "subtree root proofs but"),
    ]
    for forged, message in cases:
        with pytest.raises(InvalidProof, match=message):
            forged.verify(square.data_root, commitment)


# -- pieces ------------------------------------------------------------------------------------


@pytest.mark.parametrize("total", [1, 2, 3, 5, 8, 13, 64])
def test_rfc6962_proofs_rebuild_the_root(total: int) -> None:
    # Prepare
    items = [bytes([i]) * (i + 1) for i in range(total)]
    root = rfc6962_root(items)

    # Execute
    proofs = rfc6962_proofs(items)

    # Assert
    for item, proof in zip(items, proofs, strict=True):
        proof.verify(root, item)
        assert MerkleProof.from_json(json.loads(json.dumps(proof.to_json()))) == proof
    with pytest.raises(InvalidProof, match="leaf hash does not match"):
        proofs[0].verify(root, b"other")


def test_merkle_proof_failures() -> None:
    # Prepare
    proofs = rfc6962_proofs([b"a", b"b", b"c"])
    root = rfc6962_root([b"a", b"b", b"c"])

    # Execute / Assert
    with pytest.raises(InvalidProof, match=r"index must be in \[0, 3\), not 3"):
        replace(proofs[0], index=3).compute_root()
    with pytest.raises(InvalidProof, match="too few"):
        replace(proofs[0], aunts=proofs[0].aunts[:1]).compute_root()
    with pytest.raises(InvalidProof, match="too many"):
        replace(proofs[2], aunts=(*proofs[2].aunts, b"x" * 32)).compute_root()
    with pytest.raises(InvalidProof, match="does not lead to the root"):
        replace(proofs[1], aunts=tuple(reversed(proofs[1].aunts))).verify(root, b"b")
    with pytest.raises(InvalidArgument, match="items must not be empty"):
        rfc6962_proofs([])


def test_merkle_proof_json_accepts_numbers_and_omits_zeros() -> None:
    proof = MerkleProof.from_json({"total": 2, "leaf_hash": base64.b64encode(b"h").decode(), "aunts": None})
    assert (proof.total, proof.index, proof.aunts) == (2, 0, ())
    assert proof.to_json() == {"total": "2", "leaf_hash": "aA=="}


@pytest.mark.parametrize(
    ("start", "end", "width", "expected"),
    [
        (0, 5, 8, [(0, 4), (4, 5)]),
        (8, 16, 4, [(8, 12), (12, 16)]),
        (2, 5, 2, [(2, 4), (4, 5)]),
        (7, 8, 64, [(7, 8)]),
        (0, 3, 1, [(0, 1), (1, 2), (2, 3)]),
    ],
)
def test_to_leaf_ranges(start: int, end: int, width: int, expected: list[tuple[int, int]]) -> None:
    assert to_leaf_ranges(start, end, width) == expected


def test_to_leaf_ranges_rejects() -> None:
    with pytest.raises(InvalidProof, match=r"\[3, 5\) is not an aligned subtree for width 2"):
        to_leaf_ranges(3, 7, 2)
    with pytest.raises(InvalidProof, match=r"0 <= start < end, not \[4, 4\)"):
        to_leaf_ranges(4, 4, 2)
    with pytest.raises(InvalidArgument, match="width must be >= 1, not 0"):
        to_leaf_ranges(0, 4, 0)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ([], "a commitment proof must be a JSON object, not list"),
        ({"subtree_roots": "x"}, "must be lists"),
        ({"namespace_id": base64.b64encode(bytes(27)).decode()}, "namespace_id must be 28 bytes, not 27"),
        (
            {"namespace_id": base64.b64encode(bytes(28)).decode(), "namespace_version": "x"},
            "namespace_version must be an integer",
        ),
        (
            {"namespace_id": base64.b64encode(bytes(28)).decode(), "row_proof": []},
            "a row proof must be a JSON object",
        ),
        (
            {"namespace_id": base64.b64encode(bytes(28)).decode(), "row_proof": {"proofs": [5]}},
            "a merkle proof must be a JSON object",
        ),
        (
            {"namespace_id": base64.b64encode(bytes(28)).decode(), "row_proof": {"proofs": [{"aunts": 5}]}},
            "merkle proof aunts must be a list",
        ),
        (
            {"namespace_id": base64.b64encode(bytes(28)).decode(), "row_proof": {"row_roots": "x"}},
            "row proof row_roots and proofs must be lists",
        ),
    ],
    ids=[
        "list",
        "roots-str",
        "ns-27",
        "version-str",
        "row-proof-list",
        "merkle-int",
        "aunts-int",
        "row-roots-dict",
    ],
)
def test_commitment_proof_from_json_rejects(obj: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        CommitmentProof.from_json(obj)


def test_row_proof_json_omits_zero_rows() -> None:
    proof = RowProof((b"r",), (MerkleProof(4, 0, b"h", ()),), 0, 0)
    assert proof.to_json() == {"row_roots": ["cg=="], "proofs": [{"total": "4", "leaf_hash": "aA=="}]}
    assert RowProof.from_json(proof.to_json()) == proof


def test_empty_proof_is_rejected() -> None:
    proof = CommitmentProof((), (), Namespace.v0(b"aa"), RowProof((), (), 0, -1))
    with pytest.raises(InvalidProof, match="must have subtree roots"):
        proof.verify(bytes(32), bytes(32))


def test_block_commitment_proof_from_blobs(square: Square) -> None:
    # Prepare
    placement = square.placements[1]

    # Execute
    obj = block_commitment_proof(square.blobs, placement.blob.index)

    # Assert
    CommitmentProof.from_json(obj).verify(square.data_root, placement.blob.commitment)
    with pytest.raises(InvalidArgument, match="index must be the first share of a blob in this block, not 3"):
        block_commitment_proof(square.blobs, 3)
