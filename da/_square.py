"""The original data square of a block, its row and column roots, and blob inclusion proofs.

Layout follows go-square's square builder and Celestia ADR-013 ("non-interactive default rules for
reduced padding"); see ``shared/da/CELESTIA.md`` §5-6:

* blobs are ordered by namespace (bytewise, stable for equal namespaces);
* each blob starts at a multiple of its :func:`~zkagg.da._commitment.subtree_width`, the gap being
  filled with namespace padding shares in the namespace of the blob before it;
* tail padding shares fill the square after the last blob;
* the square size ``k`` is the smallest power of two with ``k² >=`` the shares used, at most
  ``max_square_size`` (256, celestia-app's ``GovMaxSquareSize``).

Deliberate simplifications, which a client checking only commitments never sees:

* **No compact shares.** Celestia puts the block's transactions and PayForBlobs messages (in the
  reserved namespaces ``00…01`` and ``00…04``) before the blobs. zkagg's squares hold blobs only, so
  the first blob starts at share 0 and blob indices differ from a mainnet block with the same blobs.
* **Not Reed-Solomon extended.** A real extended data square (EDS) fills the three parity quadrants
  with Leopard RS codes (rsmt2d). Here each parity quadrant is a *copy* of the original quadrant
  (a repetition code), hashed under the parity namespace as real parity shares are. Row and column
  roots therefore have Celestia's exact shape (``2k`` NMT leaves, ``IgnoreMaxNamespace``, the
  parity half pushed under ``FF x 29``), proofs have celestia-node's shape, and the data root is
  self-consistent. For ``k = 1`` RS parity *is* a copy, so the data root of a 1x1 square, and in
  particular of the empty block, is the real one (celestia-app ``TestMinDataAvailabilityHeader``).

Blob indices are positions in the extended square, ``row x 2k + col`` with ODS ``row`` and ``col``,
as celestia-node reports them.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from zkagg._errors import InvalidArgument, InvalidProof
from zkagg.da._blob import Blob
from zkagg.da._commitment import subtree_width
from zkagg.da._namespace import NAMESPACE_SIZE, PARITY_SHARES_NAMESPACE, Namespace
from zkagg.da._nmt import (
    NmtProof,
    nmt_leaf,
    nmt_node,
    nmt_root,
    prove_range,
    rfc6962_root,
    root_from_range,
)
from zkagg.da._shares import namespace_padding_share, split_blob, tail_padding_share

__all__ = [
    "DEFAULT_MAX_SQUARE_SIZE",
    "BlobPlacement",
    "Square",
    "blob_proof_from_json",
    "blob_proof_to_json",
    "blob_proof",
    "build_square",
    "is_blob_proof_valid",
    "min_data_availability_root",
    "verify_blob_proof",
]

#: celestia-app ``GovMaxSquareSize`` in the v6-v10 parameter specs.
DEFAULT_MAX_SQUARE_SIZE: Final = 256
_PARITY: Final = PARITY_SHARES_NAMESPACE.to_bytes()
_PARITY2: Final = _PARITY + _PARITY
_PARITY_NODE_PREFIX: Final = b"\x01" + _PARITY2
_sha256 = hashlib.sha256


@dataclass(frozen=True)
class BlobPlacement:
    """Where one blob sits in the original data square.

    Attributes
    ----------
    blob
        The blob, with ``index`` set to its extended-square index.
    start
        Index of its first share in the original square (row-major, ``k`` per row).
    share_count
        Number of shares it spans.
    """

    blob: Blob
    start: int
    share_count: int


def _native_leaf(share: bytes) -> bytes:
    return nmt_leaf(share[:NAMESPACE_SIZE] + share)


def _parity_root(digests: list[bytes]) -> bytes:
    """NMT root over parity leaves given by their digests (a power-of-two count, one namespace)."""
    level = digests
    while len(level) > 1:
        level = [
            _sha256(_PARITY_NODE_PREFIX + level[i] + _PARITY2 + level[i + 1]).digest()
            for i in range(0, len(level), 2)
        ]
    return _PARITY2 + level[0]


@dataclass(frozen=True)
class Square:
    """An original data square (ODS) of ``size x size`` shares and the blobs placed in it.

    Attributes
    ----------
    size
        ``k``, a power of two.
    shares
        The ``k²`` shares, row-major.
    placements
        The blobs in square order (by namespace), with their positions.
    """

    size: int
    shares: tuple[bytes, ...]
    placements: tuple[BlobPlacement, ...]

    def __repr__(self) -> str:
        return f"Square(size={self.size}, shares=<{len(self.shares)}>, blobs={len(self.placements)})"

    # -- blobs --------------------------------------------------------------------------------

    @property
    def blobs(self) -> list[Blob]:
        """The blobs in square order, each with its extended-square ``index``."""
        return [p.blob for p in self.placements]

    def eds_index(self, ods_index: int) -> int:
        """Extended-square index ``row x 2k + col`` of the ODS share ``ods_index``."""
        row, col = divmod(ods_index, self.size)
        return row * 2 * self.size + col

    def find(self, namespace: Namespace, commitment: bytes) -> BlobPlacement | None:
        """Return the first blob in ``namespace`` whose commitment is ``commitment``, or ``None``."""
        for placement in self.placements:
            if placement.blob.namespace == namespace and placement.blob.commitment == commitment:
                return placement
        return None

    def blobs_in(self, namespace: Namespace) -> list[Blob]:
        """Return the blobs in ``namespace``, in square order."""
        return [p.blob for p in self.placements if p.blob.namespace == namespace]

    # -- roots --------------------------------------------------------------------------------

    @functools.cached_property
    def _native_leaves(self) -> list[bytes]:
        return [_native_leaf(s) for s in self.shares]

    @functools.cached_property
    def _parity_digests(self) -> list[bytes]:
        prefix = b"\x00" + _PARITY
        return [_sha256(prefix + s).digest() for s in self.shares]

    def _row_leaves(self, row: int) -> list[bytes]:
        """Return the ``2k`` leaves of EDS row ``row < k``: the ODS row, then its parity copy."""
        k = self.size
        parity = [_PARITY2 + d for d in self._parity_digests[row * k : (row + 1) * k]]
        return self._native_leaves[row * k : (row + 1) * k] + parity

    @functools.cached_property
    def _roots(self) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
        native, parity = self._native_leaves, self._parity_digests
        k = self.size
        rows: list[bytes] = []
        rows_parity: list[bytes] = []
        for r in range(k):
            a = nmt_root(native[r * k : (r + 1) * k])
            b = _parity_root(parity[r * k : (r + 1) * k])
            rows.append(nmt_node(a, b))
            rows_parity.append(nmt_node(b, b))
        cols: list[bytes] = []
        cols_parity: list[bytes] = []
        for c in range(k):
            a = nmt_root(native[c::k])
            b = _parity_root(parity[c::k])
            cols.append(nmt_node(a, b))
            cols_parity.append(nmt_node(b, b))
        return tuple(rows + rows_parity), tuple(cols + cols_parity)

    @property
    def row_roots(self) -> tuple[bytes, ...]:
        """The ``2k`` row roots (90 bytes each) of the extended square (see the module notes)."""
        return self._roots[0]

    @property
    def column_roots(self) -> tuple[bytes, ...]:
        """The ``2k`` column roots (90 bytes each) of the extended square."""
        return self._roots[1]

    @functools.cached_property
    def data_root(self) -> bytes:
        """The data availability header hash: RFC-6962 root over row roots then column roots."""
        rows, cols = self._roots
        return rfc6962_root(list(rows) + list(cols))

    @property
    def data_hash(self) -> bytes:
        """Alias of :attr:`data_root`: the header's ``data_hash``."""
        return self.data_root

    # -- proofs -------------------------------------------------------------------------------

    def blob_proof(self, placement: BlobPlacement) -> list[NmtProof]:
        """Return the NMT proofs of a blob's shares, one per row it spans, against :attr:`row_roots`.

        This is the shape of celestia-node's ``blob.Proof`` (``blob.GetProof``).
        """
        k = self.size
        proofs: list[NmtProof] = []
        pos, end = placement.start, placement.start + placement.share_count
        while pos < end:
            row, col = divmod(pos, k)
            stop = min(end - row * k, k)
            proofs.append(prove_range(self._row_leaves(row), col, stop))
            pos = row * k + stop
        return proofs


def build_square(blobs: Sequence[Blob], max_square_size: int = DEFAULT_MAX_SQUARE_SIZE) -> Square:
    """Lay out one block's blobs in an original data square (ADR-013 alignment).

    Parameters
    ----------
    blobs
        The block's blobs in submission order; equal namespaces keep that order.
    max_square_size
        Largest square size allowed, a power of two (256 on mainnet and mocha).

    Returns
    -------
    Square
        The square; every blob in ``placements`` carries its extended-square ``index``. No blobs
        give the 1x1 square of one tail padding share (the empty block).

    Raises
    ------
    InvalidArgument
        If ``max_square_size`` is not a power of two, or the blobs do not fit a
        ``max_square_size x max_square_size`` square.
    """
    if max_square_size < 1 or max_square_size & (max_square_size - 1):
        raise InvalidArgument(f"max_square_size must be a power of two >= 1, not {max_square_size}")
    ordered = sorted(blobs, key=lambda b: b.namespace.to_bytes())
    cursor = 0
    layout: list[tuple[Blob, int, list[bytes]]] = []
    for blob in ordered:
        shares = split_blob(blob.namespace, blob.data, blob.share_version, blob.signer)
        start = -(-cursor // subtree_width(len(shares))) * subtree_width(len(shares))
        layout.append((blob, start, shares))
        cursor = start + len(shares)
    limit = max_square_size * max_square_size
    if cursor > limit:
        raise InvalidArgument(
            f"blobs must fit a {max_square_size}x{max_square_size} square ({limit} shares), but "
            f"{len(ordered)} blobs need {cursor} shares with ADR-013 alignment"
        )
    k = 1
    while k * k < cursor:
        k *= 2
    out: list[bytes] = []
    placements: list[BlobPlacement] = []
    previous: Namespace | None = None
    for blob, start, shares in layout:
        if previous is not None and start > len(out):
            out.extend([namespace_padding_share(previous)] * (start - len(out)))
        row, col = divmod(start, k)
        placements.append(BlobPlacement(blob.with_index(row * 2 * k + col), start, len(shares)))
        out.extend(shares)
        previous = blob.namespace
    out.extend([tail_padding_share()] * (k * k - len(out)))
    return Square(k, tuple(out), tuple(placements))


@functools.lru_cache(maxsize=4)
def _cached_square(blobs: tuple[Blob, ...]) -> Square:
    """Build a block's square, kept for repeated proofs of one block (bytes cache their hash)."""
    return build_square(blobs)


def blob_proof(blobs: Sequence[Blob], index: int) -> list[dict[str, object]]:
    """Return the ``blob.Proof`` JSON of the blob at extended-square ``index`` in the block of ``blobs``.

    Builds the block's square (as :func:`build_square` does; the last few squares are cached) and
    proves the blob whose ``index`` it is. A convenience for a node that keeps blobs, not squares.

    Raises
    ------
    InvalidArgument
        If no blob of the block starts at ``index``.
    """
    square = _cached_square(tuple(blobs))
    for placement in square.placements:
        if placement.blob.index == index:
            return blob_proof_to_json(square.blob_proof(placement))
    raise InvalidArgument(f"index must be the first share of a blob in this block, not {index}")


def min_data_availability_root() -> bytes:
    """Return the empty block's data root: one tail padding share extended to 2x2 (real for k = 1)."""
    return build_square([]).data_root


def blob_proof_to_json(proofs: Sequence[NmtProof]) -> list[dict[str, object]]:
    """celestia-node's ``blob.Proof`` JSON: a list of NMT proofs."""
    return [p.to_json() for p in proofs]


def blob_proof_from_json(obj: object) -> list[NmtProof]:
    """Parse a ``blob.Proof`` JSON list.

    Raises
    ------
    InvalidArgument
        ``blob: proof cannot be nil`` for ``null``; not a list; a malformed NMT proof.
    """
    if obj is None:
        raise InvalidArgument("blob: proof cannot be nil")
    if not isinstance(obj, list):
        raise InvalidArgument(f"a blob proof must be a JSON list of NMT proofs, not {type(obj).__name__}")
    return [NmtProof.from_json(p) for p in obj]


def verify_blob_proof(
    proofs: Sequence[NmtProof], *, blob: Blob, index: int, square_size: int, row_roots: Sequence[bytes]
) -> None:
    """Check that ``proofs`` show ``blob``'s shares at ``index`` under ``row_roots``.

    Parameters
    ----------
    proofs
        One NMT proof per row the blob spans, as :meth:`Square.blob_proof` makes them.
    blob
        The blob; its shares are rebuilt from its data.
    index
        The blob's first share in the extended square (``row x 2k + col``).
    square_size
        ``k``; each row tree has ``2k`` leaves.
    row_roots
        The ``2k`` (or at least the first ``k``) row roots of the block.

    Raises
    ------
    InvalidProof
        Naming the first row whose proof does not match, or a wrong number of proofs.
    """
    k = square_size
    if k < 1 or k & (k - 1):
        raise InvalidArgument(f"square_size must be a power of two >= 1, not {square_size}")
    row, col = divmod(index, 2 * k)
    if index < 0 or col >= k or row >= k:
        raise InvalidProof(f"blob index {index} is not in the original quadrant of a {k}x{k} square")
    shares = split_blob(blob.namespace, blob.data, blob.share_version, blob.signer)
    start = row * k + col
    pos, end, used = start, start + len(shares), 0
    while pos < end:
        r, c = divmod(pos, k)
        stop = min(end - r * k, k)
        if r >= k or r >= len(row_roots):
            raise InvalidProof(f"blob at index {index} runs past row {r} of a {k}x{k} square")
        if used >= len(proofs):
            raise InvalidProof(f"blob at index {index} spans more rows than the {len(proofs)} proofs given")
        proof = proofs[used]
        if (proof.start, proof.end) != (c, stop):
            raise InvalidProof(
                f"proof {used} must cover shares [{c}, {stop}) of row {r}, not [{proof.start}, {proof.end})"
            )
        leaves = [_native_leaf(s) for s in shares[pos - start : r * k + stop - start]]
        try:
            ok = root_from_range(proof, leaves, 2 * k) == row_roots[r]
        except InvalidArgument as exc:
            raise InvalidProof(f"proof {used} for row {r} is malformed: {exc}") from exc
        if not ok:
            raise InvalidProof(
                f"proof {used} does not show blob {blob.commitment.hex()} in namespace "
                f"{blob.namespace} under row root {r}"
            )
        used += 1
        pos = r * k + stop
    if used != len(proofs):
        raise InvalidProof(f"blob at index {index} spans {used} rows, but {len(proofs)} proofs were given")


def is_blob_proof_valid(
    proofs: Sequence[NmtProof], *, blob: Blob, index: int, square_size: int, row_roots: Sequence[bytes]
) -> bool:
    """Boolean form of :func:`verify_blob_proof`."""
    try:
        verify_blob_proof(proofs, blob=blob, index=index, square_size=square_size, row_roots=row_roots)
    except InvalidProof:
        return False
    return True
