"""Data square layout (ADR-013), row and column roots, blob proofs and their verification."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zkagg._errors import InvalidArgument, InvalidProof
from zkagg.da._blob import Blob
from zkagg.da._commitment import merkle_mountain_range_sizes, subtree_roots, subtree_width
from zkagg.da._namespace import PARITY_SHARES_NAMESPACE, TAIL_PADDING_NAMESPACE, Namespace
from zkagg.da._nmt import NmtProof, nmt_leaf, nmt_root
from zkagg.da._shares import (
    available_bytes_from_sparse_shares,
    namespace_padding_share,
    parse_sparse_shares,
    split_blob,
    tail_padding_share,
)
from zkagg.da._square import (
    Square,
    blob_proof,
    blob_proof_from_json,
    blob_proof_to_json,
    build_square,
    is_blob_proof_valid,
    verify_blob_proof,
)

NS_A = Namespace.v0(b"aa")
NS_B = Namespace.v0(b"bb")
NS_C = Namespace.v0(b"cc")


def _blob(ns: Namespace, shares: int, seed: int = 0, signer: bytes | None = None) -> Blob:
    """A blob that fills exactly ``shares`` shares."""
    length = available_bytes_from_sparse_shares(shares) - (20 if signer else 0)
    return Blob.new(ns, random.Random(seed).randbytes(length), 1 if signer else 0, signer)


@pytest.fixture(scope="module")
def square() -> Square:
    # Three namespaces given out of order; two blobs share NS_A; a 70-share blob needs width 2
    # and a 300-share blob width 8 (ADR-013), so namespace padding appears before them.
    blobs = [
        _blob(NS_C, 1, seed=1),
        _blob(NS_B, 300, seed=2),
        _blob(NS_A, 3, seed=3),
        _blob(NS_A, 70, seed=4, signer=bytes(range(20))),
    ]
    return build_square(blobs)


def _verify(square: Square, placement_index: int, proofs: list[NmtProof], blob: Blob | None = None) -> None:
    placement = square.placements[placement_index]
    verify_blob_proof(
        proofs,
        blob=blob or placement.blob,
        index=placement.blob.index,
        square_size=square.size,
        row_roots=square.row_roots,
    )


# -- layout ------------------------------------------------------------------------------------


def test_empty_square_is_one_tail_padding_share() -> None:
    # Execute
    square = build_square([])

    # Assert
    assert square.size == 1
    assert square.shares == (tail_padding_share(),)
    assert square.blobs == []
    assert len(square.row_roots) == len(square.column_roots) == 2


def test_blobs_ordered_by_namespace_stable_within_namespace(square: Square) -> None:
    # Execute
    order = [(b.namespace, b.share_count) for b in square.blobs]

    # Assert
    assert order == [(NS_A, 3), (NS_A, 70), (NS_B, 300), (NS_C, 1)]


def test_adr013_alignment_and_padding(square: Square) -> None:
    # Prepare
    starts = [p.start for p in square.placements]

    # Assert: each blob starts at a multiple of its subtree width, right after the previous one
    for placement in square.placements:
        assert placement.start % subtree_width(placement.share_count) == 0
    assert starts == [0, 4, 80, 380]
    assert square.shares[3] == namespace_padding_share(NS_A)  # 3 -> 4, width 2
    assert set(square.shares[74:80]) == {namespace_padding_share(NS_A)}  # 74 -> 80, width 8
    assert square.shares[380][:29] == NS_C.to_bytes()
    assert set(square.shares[381:]) == {tail_padding_share()}


def test_square_size_is_smallest_power_of_two(square: Square) -> None:
    # 381 shares need a 32x32 square (1024), since 16x16 holds only 256.
    assert square.size == 32
    assert len(square.shares) == 32 * 32
    assert build_square([_blob(NS_A, 4)]).size == 2
    assert build_square([_blob(NS_A, 5)]).size == 4


def test_blob_index_is_extended_square_index(square: Square) -> None:
    # Assert: row * 2k + col with ODS row and column
    k = square.size
    for placement in square.placements:
        row, col = divmod(placement.start, k)
        assert placement.blob.index == row * 2 * k + col == square.eds_index(placement.start)
    assert [b.index for b in square.blobs] == [0, 4, 2 * 64 + 16, 11 * 64 + 28]


def test_find_and_blobs_in(square: Square) -> None:
    # Prepare
    target = square.placements[1].blob

    # Execute / Assert
    assert square.find(NS_A, target.commitment) == square.placements[1]
    assert square.find(NS_B, target.commitment) is None
    assert [b.share_count for b in square.blobs_in(NS_A)] == [3, 70]
    assert square.blobs_in(Namespace.v0(b"zz")) == []


def test_oversize_square_is_rejected() -> None:
    # Prepare: 5 shares do not fit 2x2
    blobs = [_blob(NS_A, 5)]

    # Execute / Assert
    with pytest.raises(
        InvalidArgument, match=r"blobs must fit a 2x2 square \(4 shares\), but 1 blobs need 5 shares"
    ):
        build_square(blobs, max_square_size=2)


def test_alignment_counts_towards_the_limit() -> None:
    # 1 + 2 shares fit 4 cells, but a 2-share blob... width 1; a 70-share blob needs width 2: 1 -> 2.
    blobs = [_blob(NS_A, 1), _blob(NS_B, 63)]
    assert build_square(blobs, max_square_size=8).size == 8
    with pytest.raises(InvalidArgument, match="need 65 shares"):
        build_square([_blob(NS_A, 1), _blob(NS_B, 64)], max_square_size=8)


@pytest.mark.parametrize("size", [0, 3, 100])
def test_max_square_size_must_be_power_of_two(size: int) -> None:
    with pytest.raises(InvalidArgument, match=f"max_square_size must be a power of two >= 1, not {size}"):
        build_square([], max_square_size=size)


# -- roots -------------------------------------------------------------------------------------


def test_roots_have_celestia_shape(square: Square) -> None:
    # Prepare
    k = square.size
    parity = PARITY_SHARES_NAMESPACE.to_bytes()

    # Assert: 2k roots of 90 bytes; parity rows live under the parity namespace; the parity half of
    # an original row does not raise its max namespace (IgnoreMaxNamespace).
    assert len(square.row_roots) == len(square.column_roots) == 2 * k
    assert all(len(r) == 90 for r in (*square.row_roots, *square.column_roots))
    assert square.row_roots[0][:29] == NS_A.to_bytes()
    assert square.row_roots[0][29:58] == NS_A.to_bytes()
    assert square.row_roots[k - 1][:58] == TAIL_PADDING_NAMESPACE.to_bytes() * 2
    assert all(r[:58] == parity * 2 for r in square.row_roots[k:])
    assert all(r[:58] == parity * 2 for r in square.column_roots[k:])
    assert square.data_hash == square.data_root


def test_data_root_depends_on_the_data() -> None:
    one = build_square([Blob.new(NS_A, b"x")])
    two = build_square([Blob.new(NS_A, b"y")])
    assert one.data_root != two.data_root


# -- proofs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", [0, 1, 2, 3])
def test_blob_proofs_verify_after_json_round_trip(square: Square, which: int) -> None:
    # Prepare
    placement = square.placements[which]
    k = square.size

    # Execute
    proofs = square.blob_proof(placement)
    parsed = blob_proof_from_json(blob_proof_to_json(proofs))

    # Assert: one proof per row spanned; it verifies
    first_row = placement.start // k
    last_row = (placement.start + placement.share_count - 1) // k
    assert len(proofs) == last_row - first_row + 1
    assert parsed == proofs
    _verify(square, which, parsed)
    assert is_blob_proof_valid(
        parsed, blob=placement.blob, index=placement.blob.index, square_size=k, row_roots=square.row_roots
    )


def test_module_blob_proof_matches_square(square: Square) -> None:
    # Prepare
    placement = square.placements[2]

    # Execute
    proof_json = blob_proof(square.blobs, placement.blob.index)

    # Assert
    assert proof_json == blob_proof_to_json(square.blob_proof(placement))
    with pytest.raises(InvalidArgument, match="index must be the first share of a blob in this block, not 1"):
        blob_proof(square.blobs, 1)


def test_proof_with_wrong_data_is_rejected(square: Square) -> None:
    # Prepare
    placement = square.placements[0]
    proofs = square.blob_proof(placement)
    other = _blob(NS_A, 3, seed=99)  # same size, other data

    # Execute / Assert
    with pytest.raises(InvalidProof, match=f"does not show blob .* in namespace {NS_A} under row root 0"):
        _verify(square, 0, proofs, blob=other)


def test_tampered_proofs_are_rejected(square: Square) -> None:
    # Prepare
    proofs = square.blob_proof(square.placements[2])
    first = proofs[0]
    swapped = replace(first, nodes=tuple(reversed(first.nodes)))
    shifted = replace(first, start=first.start + 1)

    # Execute / Assert
    with pytest.raises(InvalidProof, match="does not show blob"):
        _verify(square, 2, [swapped, *proofs[1:]])
    with pytest.raises(InvalidProof, match=r"proof 0 must cover shares \[16, 32\) of row 2, not \[17, 32\)"):
        _verify(square, 2, [shifted, *proofs[1:]])
    with pytest.raises(InvalidProof, match="spans more rows than the 1 proofs given"):
        _verify(square, 2, proofs[:1])
    with pytest.raises(InvalidProof, match="but 11 proofs were given"):
        _verify(square, 2, [*proofs, proofs[-1]])
    with pytest.raises(InvalidProof, match="proof 0 for row 2 is malformed: proof has 0 nodes, too few"):
        _verify(square, 2, [replace(first, nodes=()), *proofs[1:]])


def test_proof_against_other_roots_or_index_is_rejected(square: Square) -> None:
    # Prepare
    placement = square.placements[3]
    proofs = square.blob_proof(placement)
    other_roots = build_square([Blob.new(NS_A, b"x")] * 3).row_roots
    args = {"blob": placement.blob, "square_size": square.size}

    # Execute / Assert
    assert not is_blob_proof_valid(proofs, index=placement.blob.index, row_roots=other_roots, **args)  # type: ignore[arg-type]
    with pytest.raises(InvalidProof, match="is not in the original quadrant of a 32x32 square"):
        verify_blob_proof(proofs, index=40, row_roots=square.row_roots, **args)  # type: ignore[arg-type]
    with pytest.raises(InvalidProof, match="is not in the original quadrant"):
        verify_blob_proof(proofs, index=-1, row_roots=square.row_roots, **args)  # type: ignore[arg-type]
    with pytest.raises(InvalidProof, match="runs past row"):
        verify_blob_proof(proofs, index=placement.blob.index, row_roots=square.row_roots[:11], **args)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="square_size must be a power of two >= 1, not 3"):
        verify_blob_proof(proofs, blob=placement.blob, index=0, square_size=3, row_roots=square.row_roots)


def test_blob_proof_from_json_rejects_nil_and_non_list() -> None:
    with pytest.raises(InvalidArgument, match=r"^blob: proof cannot be nil$"):
        blob_proof_from_json(None)
    with pytest.raises(InvalidArgument, match="a blob proof must be a JSON list of NMT proofs, not dict"):
        blob_proof_from_json({"end": 1})


# -- properties --------------------------------------------------------------------------------

_blob_specs = st.lists(
    st.tuples(st.sampled_from([NS_A, NS_B, NS_C]), st.integers(1, 140), st.booleans()), min_size=0, max_size=6
)


def _blobs_from(specs: list[tuple[Namespace, int, bool]]) -> list[Blob]:
    return [
        _blob(ns, count, seed=i, signer=bytes(20) if signed and count > 1 else None)
        for i, (ns, count, signed) in enumerate(specs)
    ]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_blob_specs)
def test_square_holds_exactly_its_blobs_and_every_proof_verifies(
    specs: list[tuple[Namespace, int, bool]],
) -> None:
    # Prepare
    blobs = _blobs_from(specs)

    # Execute
    square = build_square(blobs)
    parsed = parse_sparse_shares(list(square.shares))

    # Assert: reading the square back gives the blobs in namespace order (padding skipped)
    assert [(p.namespace, p.data, p.start) for p in parsed] == [
        (pl.blob.namespace, pl.blob.data, pl.start) for pl in square.placements
    ]
    assert sorted(b.commitment for b in blobs) == sorted(b.commitment for b in square.blobs)
    for placement in square.placements:
        proofs = square.blob_proof(placement)
        verify_blob_proof(
            proofs,
            blob=placement.blob,
            index=placement.blob.index,
            square_size=square.size,
            row_roots=square.row_roots,
        )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_blob_specs)
def test_commitment_subtree_roots_are_subtrees_of_the_rows(specs: list[tuple[Namespace, int, bool]]) -> None:
    # ADR-013's point: with the alignment rule, every subtree root that the commitment is made of is
    # an actual node of a row's NMT, which is what blob.GetCommitmentProof relies on.
    square = build_square(_blobs_from(specs))
    k = square.size
    for placement in square.placements:
        blob = placement.blob
        shares = split_blob(blob.namespace, blob.data, blob.share_version, blob.signer)
        roots = subtree_roots(blob.namespace, shares)
        sizes = merkle_mountain_range_sizes(len(shares), subtree_width(len(shares)))
        pos = placement.start
        for size, root in zip(sizes, roots, strict=True):
            row, col = divmod(pos, k)
            assert col % size == 0 and col + size <= k
            leaves = [nmt_leaf(s[:29] + s) for s in square.shares[row * k + col : row * k + col + size]]
            assert nmt_root(leaves) == root
            pos += size
