"""Commitment proofs: a blob's share commitment proven against a block's data root.

celestia-node's ``blob.GetCommitmentProof`` returns a ``CommitmentProof`` (``blob/commitment_proof.go``;
``shared/da/CELESTIA.md`` §2): the blob's commitment subtree roots, one NMT proof per row that shows
those subtree roots under the row root, and RFC-6962 proofs of the row roots under the data root.
Verification (as celestia-node's ``CommitmentProof.Verify``):

1. the commitment is the RFC-6962 root of ``subtree_roots``;
2. every row root is in the data root (``row_proof``; the data root is the RFC-6962 root of the
   ``2k`` row roots followed by the ``2k`` column roots);
3. each row's NMT proof, whose range ``[start, end)`` is split into subtree ranges no wider than the
   ADR-013 subtree width of the blob (nmt ``ToLeafRanges``), rebuilds the row root from the next
   subtree roots (nmt ``VerifySubtreeRootInclusion``).

The JSON shape follows celestia-node's output: byte fields in standard base64, the RFC-6962 proofs'
``total`` and ``index`` as strings (tmjson), zero fields omitted. Real proofs from celestia-node's
fuzz corpus (``blob/testdata/fuzz-corpus``) verify with :meth:`CommitmentProof.verify`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from zkagg._errors import InvalidArgument, InvalidProof
from zkagg.da._b64 import b64 as _b64
from zkagg.da._b64 import unb64 as _unb64
from zkagg.da._blob import Blob
from zkagg.da._commitment import SUBTREE_ROOT_THRESHOLD, subtree_roots, subtree_width
from zkagg.da._namespace import NAMESPACE_ID_SIZE, Namespace
from zkagg.da._nmt import NMT_NODE_SIZE, NmtProof, largest_pow2_below, nmt_node, rfc6962_root
from zkagg.da._shares import split_blob
from zkagg.da._square import BlobPlacement, Square, _cached_square

__all__ = [
    "CommitmentProof",
    "MerkleProof",
    "RowProof",
    "block_commitment_proof",
    "commitment_proof",
    "rfc6962_proofs",
    "to_leaf_ranges",
]

_sha256 = hashlib.sha256


def _int(value: object, what: str) -> int:
    """Read an integer Go wrote as a number or (tmjson, int64) as a string; absent is 0."""
    if value is None:
        return 0
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise InvalidArgument(f"{what} must be an integer or a decimal string, not {value!r}")


# -- RFC-6962 inclusion proofs -----------------------------------------------------------------


@dataclass(frozen=True)
class MerkleProof:
    """An RFC-6962 inclusion proof (CometBFT ``crypto/merkle.Proof``).

    Attributes
    ----------
    total, index
        Number of leaves and the proven leaf's position.
    leaf_hash
        ``SHA256(0x00 ‖ leaf)``.
    aunts
        Sibling hashes from the leaf's level up to the root's children.
    """

    total: int
    index: int
    leaf_hash: bytes
    aunts: tuple[bytes, ...]

    def compute_root(self) -> bytes:
        """Rebuild the root from the leaf hash and the aunts.

        Raises
        ------
        InvalidProof
            If the index is outside ``[0, total)`` or the number of aunts does not fit.
        """
        if not 0 <= self.index < self.total:
            raise InvalidProof(f"merkle proof index must be in [0, {self.total}), not {self.index}")

        def walk(index: int, total: int, aunts: tuple[bytes, ...]) -> bytes:
            if total == 1:
                if aunts:
                    raise InvalidProof(
                        f"merkle proof has {len(self.aunts)} aunts, too many for {self.total} leaves"
                    )
                return self.leaf_hash
            if not aunts:
                raise InvalidProof(
                    f"merkle proof has {len(self.aunts)} aunts, too few for {self.total} leaves"
                )
            left = largest_pow2_below(total)
            if index < left:
                return _sha256(b"\x01" + walk(index, left, aunts[:-1]) + aunts[-1]).digest()
            return _sha256(b"\x01" + aunts[-1] + walk(index - left, total - left, aunts[:-1])).digest()

        return walk(self.index, self.total, self.aunts)

    def verify(self, root: bytes, leaf: bytes) -> None:
        """Check that ``leaf`` is at ``index`` of the tree with ``root``.

        Raises
        ------
        InvalidProof
            If the leaf hash or the rebuilt root differs.
        """
        if _sha256(b"\x00" + leaf).digest() != self.leaf_hash:
            raise InvalidProof(f"merkle proof leaf hash does not match the leaf at index {self.index}")
        if self.compute_root() != root:
            raise InvalidProof(
                f"merkle proof for index {self.index} of {self.total} does not lead to the root"
            )

    def to_json(self) -> dict[str, object]:
        """celestia-node's form: ``{"total": "N", "index": "i", "leaf_hash", "aunts"}``, zeros omitted."""
        out: dict[str, object] = {}
        if self.total:
            out["total"] = str(self.total)
        if self.index:
            out["index"] = str(self.index)
        out["leaf_hash"] = _b64(self.leaf_hash)
        if self.aunts:
            out["aunts"] = [_b64(a) for a in self.aunts]
        return out

    @classmethod
    def from_json(cls, obj: object) -> MerkleProof:
        """Parse :meth:`to_json`'s form (numbers accepted for ``total`` and ``index``)."""
        if not isinstance(obj, dict):
            raise InvalidArgument(f"a merkle proof must be a JSON object, not {type(obj).__name__}")
        aunts = obj.get("aunts") or []
        if not isinstance(aunts, list):
            raise InvalidArgument(f"merkle proof aunts must be a list, not {type(aunts).__name__}")
        return cls(
            _int(obj.get("total"), "merkle proof total"),
            _int(obj.get("index"), "merkle proof index"),
            _unb64(obj.get("leaf_hash") or "", "merkle proof leaf_hash"),
            tuple(_unb64(a, f"merkle proof aunt {i}") for i, a in enumerate(aunts)),
        )


def rfc6962_proofs(items: Sequence[bytes]) -> list[MerkleProof]:
    """Inclusion proofs of every item under :func:`~zkagg.da._nmt.rfc6962_root` (``ProofsFromByteSlices``)."""
    total = len(items)
    if total == 0:
        raise InvalidArgument("items must not be empty to build merkle proofs")
    aunts: list[list[bytes]] = [[] for _ in items]

    def walk(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return _sha256(b"\x00" + items[lo]).digest()
        mid = lo + largest_pow2_below(hi - lo)
        left, right = walk(lo, mid), walk(mid, hi)
        for i in range(lo, mid):
            aunts[i].append(right)
        for i in range(mid, hi):
            aunts[i].append(left)
        return _sha256(b"\x01" + left + right).digest()

    walk(0, total)
    return [
        MerkleProof(total, i, _sha256(b"\x00" + item).digest(), tuple(aunts[i]))
        for i, item in enumerate(items)
    ]


# -- row proofs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowProof:
    """Row roots ``start_row..end_row`` (inclusive) proven under a data root (celestia-app ``RowProof``)."""

    row_roots: tuple[bytes, ...]
    proofs: tuple[MerkleProof, ...]
    start_row: int
    end_row: int

    def validate(self, data_root: bytes) -> None:
        """Check every row root against ``data_root`` (celestia-app ``RowProof.Validate``).

        Raises
        ------
        InvalidProof
            If the counts disagree, a proof's index is not its row, or a proof does not verify.
        """
        rows = self.end_row - self.start_row + 1
        if rows != len(self.row_roots) or len(self.proofs) != len(self.row_roots):
            raise InvalidProof(
                f"row proof covers rows {self.start_row}..{self.end_row} ({rows}) but has "
                f"{len(self.row_roots)} row roots and {len(self.proofs)} proofs"
            )
        for i, (root, proof) in enumerate(zip(self.row_roots, self.proofs, strict=True)):
            if proof.index != self.start_row + i:
                raise InvalidProof(
                    f"row proof {i} must prove row {self.start_row + i}, not index {proof.index}"
                )
            proof.verify(data_root, root)

    def to_json(self) -> dict[str, object]:
        """celestia-node's JSON: ``row_roots`` (b64), ``proofs``, ``start_row``, ``end_row`` (0 omitted)."""
        out: dict[str, object] = {
            "row_roots": [_b64(r) for r in self.row_roots],
            "proofs": [p.to_json() for p in self.proofs],
        }
        if self.start_row:
            out["start_row"] = self.start_row
        if self.end_row:
            out["end_row"] = self.end_row
        return out

    @classmethod
    def from_json(cls, obj: object) -> RowProof:
        """Parse :meth:`to_json`'s form."""
        if not isinstance(obj, dict):
            raise InvalidArgument(f"a row proof must be a JSON object, not {type(obj).__name__}")
        roots = obj.get("row_roots") or []
        proofs = obj.get("proofs") or []
        if not isinstance(roots, list) or not isinstance(proofs, list):
            raise InvalidArgument("row proof row_roots and proofs must be lists")
        return cls(
            tuple(_unb64(r, f"row root {i}") for i, r in enumerate(roots)),
            tuple(MerkleProof.from_json(p) for p in proofs),
            _int(obj.get("start_row"), "row proof start_row"),
            _int(obj.get("end_row"), "row proof end_row"),
        )


# -- commitment proofs -------------------------------------------------------------------------


def to_leaf_ranges(start: int, end: int, width: int) -> list[tuple[int, int]]:
    """Split ``[start, end)`` into the subtree ranges that ADR-013 subtree roots cover (nmt ``ToLeafRanges``).

    Each range is the largest power of two ``<= min(width, remaining)``, and must be aligned to its
    own size (an actual node of a power-of-two tree).

    Raises
    ------
    InvalidProof
        If the range is empty or a piece is not an aligned subtree.
    """
    if start < 0 or end <= start:
        raise InvalidProof(f"proof range must satisfy 0 <= start < end, not [{start}, {end})")
    if width < 1:
        raise InvalidArgument(f"width must be >= 1, not {width}")
    ranges: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        size = 1 << (min(end - pos, width).bit_length() - 1)
        if pos % size:
            raise InvalidProof(f"range [{pos}, {pos + size}) is not an aligned subtree for width {width}")
        ranges.append((pos, pos + size))
        pos += size
    return ranges


def _root_from_subtrees(
    proof: NmtProof, roots: Sequence[bytes], ranges: Sequence[tuple[int, int]], total: int
) -> bytes:
    """Rebuild an NMT root of ``total`` leaves from subtree roots over ``ranges`` and proof nodes."""
    nodes = iter(proof.nodes)
    known = dict(zip(ranges, roots, strict=True))
    used = 0

    def walk(lo: int, hi: int) -> bytes:
        nonlocal used
        if hi <= proof.start or lo >= proof.end:
            used += 1
            try:
                return next(nodes)
            except StopIteration:
                raise InvalidProof(f"NMT proof of [{proof.start}, {proof.end}) has too few nodes") from None
        if (lo, hi) in known:
            return known[(lo, hi)]
        if hi - lo == 1:
            raise InvalidProof(
                f"NMT proof range [{proof.start}, {proof.end}) does not match the subtree roots"
            )
        mid = lo + largest_pow2_below(hi - lo)
        return nmt_node(walk(lo, mid), walk(mid, hi))

    root = walk(0, total)
    if used != len(proof.nodes):
        raise InvalidProof(
            f"NMT proof of [{proof.start}, {proof.end}) has {len(proof.nodes)} nodes, not {used}"
        )
    return root


@dataclass(frozen=True)
class CommitmentProof:
    """A blob commitment proven against a data root (celestia-node ``blob.CommitmentProof``)."""

    subtree_roots: tuple[bytes, ...]
    subtree_root_proofs: tuple[NmtProof, ...]
    namespace: Namespace
    row_proof: RowProof

    def verify(self, data_root: bytes, commitment: bytes, threshold: int = SUBTREE_ROOT_THRESHOLD) -> None:
        """Check the proof, as celestia-node's ``CommitmentProof.Verify`` does.

        The row trees have ``2k`` leaves, ``2k`` being half the ``total`` of the row roots' merkle
        proofs (``2k`` row roots and ``2k`` column roots make the data root).

        Raises
        ------
        InvalidProof
            Naming the first check that fails.
        """
        if len(self.subtree_root_proofs) != len(self.row_proof.proofs):
            raise InvalidProof(
                f"commitment proof has {len(self.subtree_root_proofs)} subtree root proofs but "
                f"{len(self.row_proof.proofs)} row proofs"
            )
        if not self.subtree_roots or not self.subtree_root_proofs:
            raise InvalidProof("commitment proof must have subtree roots and subtree root proofs")
        if any(len(r) != NMT_NODE_SIZE for r in self.subtree_roots):
            raise InvalidProof(f"every subtree root must be {NMT_NODE_SIZE} bytes")
        if rfc6962_root(list(self.subtree_roots)) != commitment:
            raise InvalidProof(f"commitment proof does not belong to commitment {commitment.hex()}")
        self.row_proof.validate(data_root)
        row_width = self.row_proof.proofs[0].total // 2
        shares = sum(p.end - p.start for p in self.subtree_root_proofs)
        width = subtree_width(shares, threshold)
        ns = self.namespace.to_bytes()
        cursor = 0
        for i, (proof, row_root) in enumerate(
            zip(self.subtree_root_proofs, self.row_proof.row_roots, strict=True)
        ):
            if proof.end > row_width:
                raise InvalidProof(
                    f"subtree root proof {i} ends at {proof.end}, past the row of {row_width} leaves"
                )
            ranges = to_leaf_ranges(proof.start, proof.end, width)
            roots = self.subtree_roots[cursor : cursor + len(ranges)]
            if len(roots) != len(ranges):
                raise InvalidProof(
                    f"subtree root proof {i} needs {len(ranges)} subtree roots, only {len(roots)} left"
                )
            if any(r[:29] != ns or r[29:58] != ns for r in roots):
                raise InvalidProof(
                    f"subtree roots of row proof {i} are not all in namespace {self.namespace}"
                )
            if _root_from_subtrees(proof, roots, ranges, row_width) != row_root:
                raise InvalidProof(
                    f"subtree root proof {i} does not lead to row root {self.row_proof.start_row + i}"
                )
            cursor += len(ranges)
        if cursor != len(self.subtree_roots):
            raise InvalidProof(
                f"commitment proof has {len(self.subtree_roots)} subtree roots, its proofs use {cursor}"
            )

    def is_valid(self, data_root: bytes, commitment: bytes, threshold: int = SUBTREE_ROOT_THRESHOLD) -> bool:
        """Boolean form of :meth:`verify`."""
        try:
            self.verify(data_root, commitment, threshold)
        except InvalidProof:
            return False
        return True

    def to_json(self) -> dict[str, object]:
        """celestia-node's JSON form."""
        return {
            "subtree_roots": [_b64(r) for r in self.subtree_roots],
            "subtree_root_proofs": [p.to_json() for p in self.subtree_root_proofs],
            "namespace_id": _b64(self.namespace.id),
            "row_proof": self.row_proof.to_json(),
            "namespace_version": self.namespace.version,
        }

    @classmethod
    def from_json(cls, obj: object) -> CommitmentProof:
        """Parse celestia-node's JSON form.

        Raises
        ------
        InvalidArgument
            If a field is missing or malformed.
        """
        if not isinstance(obj, dict):
            raise InvalidArgument(f"a commitment proof must be a JSON object, not {type(obj).__name__}")
        roots: Any = obj.get("subtree_roots") or []
        proofs: Any = obj.get("subtree_root_proofs") or []
        if not isinstance(roots, list) or not isinstance(proofs, list):
            raise InvalidArgument("commitment proof subtree_roots and subtree_root_proofs must be lists")
        ns_id = _unb64(obj.get("namespace_id") or "", "commitment proof namespace_id")
        if len(ns_id) != NAMESPACE_ID_SIZE:
            raise InvalidArgument(
                f"commitment proof namespace_id must be {NAMESPACE_ID_SIZE} bytes, not {len(ns_id)}"
            )
        version = _int(obj.get("namespace_version"), "commitment proof namespace_version")
        return cls(
            tuple(_unb64(r, f"subtree root {i}") for i, r in enumerate(roots)),
            tuple(NmtProof.from_json(p) for p in proofs),
            Namespace(version, ns_id),
            RowProof.from_json(obj.get("row_proof")),
        )


def commitment_proof(square: Square, placement: BlobPlacement) -> CommitmentProof:
    """Build the commitment proof of one blob of ``square`` against ``square.data_root``.

    The subtree root proofs are the blob's row proofs (:meth:`Square.blob_proof`): with ADR-013
    alignment the commitment's subtree roots are nodes of the row trees, so the same proof nodes
    serve both, as in celestia-node.
    """
    blob = placement.blob
    shares = split_blob(blob.namespace, blob.data, blob.share_version, blob.signer)
    roots = subtree_roots(blob.namespace, shares)
    k = square.size
    first_row = placement.start // k
    last_row = (placement.start + placement.share_count - 1) // k
    all_roots = list(square.row_roots) + list(square.column_roots)
    proofs = rfc6962_proofs(all_roots)
    row_proof = RowProof(
        tuple(square.row_roots[first_row : last_row + 1]),
        tuple(proofs[first_row : last_row + 1]),
        first_row,
        last_row,
    )
    return CommitmentProof(tuple(roots), tuple(square.blob_proof(placement)), blob.namespace, row_proof)


def block_commitment_proof(blobs: Sequence[Blob], index: int) -> dict[str, object]:
    """Return the ``CommitmentProof`` JSON of the blob at extended-square ``index`` in a block.

    The counterpart of :func:`zkagg.da._square.blob_proof` for ``blob.GetCommitmentProof``: builds
    (or reuses) the block's square and proves the blob whose ``index`` it is.

    Raises
    ------
    InvalidArgument
        If no blob of the block starts at ``index``.
    """
    square = _cached_square(tuple(blobs))
    for placement in square.placements:
        if placement.blob.index == index:
            return commitment_proof(square, placement).to_json()
    raise InvalidArgument(f"index must be the first share of a blob in this block, not {index}")
