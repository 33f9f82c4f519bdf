"""Namespaced Merkle trees (celestiaorg/nmt) and the RFC-6962 merkle root.

The NMT hashes leaves and nodes as the Celestia specs (``specs/src/specs/data_structures.md``,
"Namespace Merkle Tree") and celestiaorg/nmt's ``NmtHasher`` with ``IgnoreMaxNamespace(true)`` and a
29-byte namespace do; see ``shared/da/CELESTIA.md`` §6. A node is ``min ns (29) ‖ max ns (29) ‖
sha256 (32)``, 90 bytes:

* leaf: ``d[:29] ‖ d[:29] ‖ SHA256(0x00 ‖ d)`` where ``d`` is ``namespace ‖ share``;
* node: ``L.min ‖ max ‖ SHA256(0x01 ‖ L ‖ R)``, ``max`` being ``L.max`` when ``R.min`` is the parity
  namespace (``FFx29``) and ``R.max`` otherwise;
* a tree of ``n`` leaves splits at the largest power of two strictly less than ``n``.

:func:`rfc6962_root` is CometBFT's ``merkle.HashFromByteSlices`` (RFC 6962 §2.1), which go-square
uses over the subtree roots of a blob commitment and celestia-app over the data square's row and
column roots.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from zkagg._errors import InvalidArgument
from zkagg.da._b64 import b64 as _b64
from zkagg.da._b64 import unb64 as _unb64
from zkagg.da._namespace import NAMESPACE_SIZE

__all__ = [
    "EMPTY_NMT_ROOT",
    "NMT_NODE_SIZE",
    "NmtProof",
    "largest_pow2_below",
    "nmt_leaf",
    "nmt_node",
    "nmt_root",
    "prove_range",
    "rfc6962_root",
    "root_from_range",
    "verify_range",
]

LEAF_PREFIX: Final = b"\x00"
NODE_PREFIX: Final = b"\x01"
HASH_SIZE: Final = 32
NMT_NODE_SIZE: Final = 2 * NAMESPACE_SIZE + HASH_SIZE
MAX_NAMESPACE: Final = b"\xff" * NAMESPACE_SIZE
#: Root of a tree without leaves: zero namespaces and SHA256 of the empty string.
EMPTY_NMT_ROOT: Final = bytes(2 * NAMESPACE_SIZE) + hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def largest_pow2_below(n: int) -> int:
    """Largest power of two strictly less than ``n`` (``n >= 2``): where a merkle tree splits."""
    if n < 2:
        raise InvalidArgument(f"n must be >= 2 to split a tree, not {n}")
    return 1 << ((n - 1).bit_length() - 1)


def nmt_leaf(data: bytes) -> bytes:
    """Hash one NMT leaf ``data`` = ``namespace (29) ‖ payload``: ``ns ‖ ns ‖ SHA256(0x00 ‖ data)``."""
    if len(data) < NAMESPACE_SIZE:
        raise InvalidArgument(f"leaf data must be at least {NAMESPACE_SIZE} bytes, not {len(data)}")
    ns = data[:NAMESPACE_SIZE]
    return ns + ns + _sha256(LEAF_PREFIX + data).digest()


def nmt_node(left: bytes, right: bytes) -> bytes:
    """Hash two 90-byte NMT nodes into their parent, with ``IgnoreMaxNamespace``."""
    r_min = right[:NAMESPACE_SIZE]
    if r_min == MAX_NAMESPACE:
        max_ns = left[NAMESPACE_SIZE : 2 * NAMESPACE_SIZE]
    else:
        max_ns = right[NAMESPACE_SIZE : 2 * NAMESPACE_SIZE]
    return left[:NAMESPACE_SIZE] + max_ns + _sha256(NODE_PREFIX + left + right).digest()


def nmt_root(leaves: Sequence[bytes]) -> bytes:
    """Root of the NMT over already-hashed 90-byte ``leaves`` (``EMPTY_NMT_ROOT`` for none).

    Iterative: whole power-of-two blocks are folded pairwise, which gives the same tree as the
    recursive split at the largest power of two below ``n``.
    """
    n = len(leaves)
    if n == 0:
        return EMPTY_NMT_ROOT
    if n == 1:
        return leaves[0]
    if n & (n - 1) == 0:
        level = list(leaves)
        while len(level) > 1:
            level = [nmt_node(level[i], level[i + 1]) for i in range(0, len(level), 2)]
        return level[0]
    k = largest_pow2_below(n)
    return nmt_node(nmt_root(leaves[:k]), nmt_root(leaves[k:]))


def rfc6962_root(items: Sequence[bytes]) -> bytes:
    """RFC-6962 merkle root (CometBFT ``merkle.HashFromByteSlices``).

    ``SHA256("")`` for no items, ``SHA256(0x00 ‖ item)`` for a leaf, ``SHA256(0x01 ‖ L ‖ R)`` for a
    node, splitting at the largest power of two strictly less than the count.
    """
    n = len(items)
    if n == 0:
        return _sha256(b"").digest()
    if n == 1:
        return _sha256(LEAF_PREFIX + items[0]).digest()
    k = largest_pow2_below(n)
    return _sha256(NODE_PREFIX + rfc6962_root(items[:k]) + rfc6962_root(items[k:])).digest()


@dataclass(frozen=True)
class NmtProof:
    """An NMT range proof in celestiaorg/nmt's shape.

    Parameters
    ----------
    start, end
        The proven leaf range ``[start, end)``.
    nodes
        The 90-byte roots of the subtrees outside the range, left to right, as nmt's
        ``buildRangeProof`` collects them.
    leaf_hash
        Only set by absence proofs; empty here.
    is_max_namespace_ignored
        Always ``True`` in Celestia.
    """

    start: int
    end: int
    nodes: tuple[bytes, ...] = field(default=())
    leaf_hash: bytes = b""
    is_max_namespace_ignored: bool = True

    def to_json(self) -> dict[str, object]:
        """Nmt's JSON form: ``{"start","end","nodes","leaf_hash","is_max_namespace_ignored"}``.

        Zero and empty fields are omitted, as Go's ``omitempty`` does (so ``start`` 0 is absent).
        """
        out: dict[str, object] = {}
        if self.start:
            out["start"] = self.start
        if self.end:
            out["end"] = self.end
        if self.nodes:
            out["nodes"] = [_b64(n) for n in self.nodes]
        if self.leaf_hash:
            out["leaf_hash"] = _b64(self.leaf_hash)
        if self.is_max_namespace_ignored:
            out["is_max_namespace_ignored"] = True
        return out

    @classmethod
    def from_json(cls, obj: object) -> NmtProof:
        """Parse :meth:`to_json`'s form; absent or null fields take their zero values.

        Raises
        ------
        InvalidArgument
            If ``obj`` is not an object, a field has the wrong type, or a node is not 90 bytes.
        """
        if not isinstance(obj, dict):
            raise InvalidArgument(f"an NMT proof must be a JSON object, not {type(obj).__name__}")
        start = obj.get("start") or 0
        end = obj.get("end") or 0
        for name, value in (("start", start), ("end", end)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidArgument(f"proof {name} must be a non-negative integer, not {value!r}")
        raw_nodes = obj.get("nodes") or []
        if not isinstance(raw_nodes, list):
            raise InvalidArgument(f"proof nodes must be a list, not {type(raw_nodes).__name__}")
        nodes = tuple(_unb64(n, f"proof node {i}") for i, n in enumerate(raw_nodes))
        for i, node in enumerate(nodes):
            if len(node) != NMT_NODE_SIZE:
                raise InvalidArgument(f"proof node {i} must be {NMT_NODE_SIZE} bytes, not {len(node)}")
        leaf_raw = obj.get("leaf_hash")
        leaf_hash = _unb64(leaf_raw, "proof leaf_hash") if leaf_raw else b""
        ignored = obj.get("is_max_namespace_ignored", False)
        if not isinstance(ignored, bool):
            raise InvalidArgument(f"proof is_max_namespace_ignored must be a bool, not {ignored!r}")
        return cls(int(start), int(end), nodes, leaf_hash, ignored)


def prove_range(leaves: Sequence[bytes], start: int, end: int) -> NmtProof:
    """Build the inclusion proof of ``leaves[start:end]`` in the NMT over ``leaves``.

    Parameters
    ----------
    leaves
        All hashed leaves of the tree (90 bytes each).
    start, end
        The range to prove, ``0 <= start < end <= len(leaves)``.
    """
    n = len(leaves)
    if not 0 <= start < end <= n:
        raise InvalidArgument(f"proof range must satisfy 0 <= start < end <= {n}, not [{start}, {end})")
    nodes: list[bytes] = []

    def walk(lo: int, hi: int) -> None:
        if hi <= start or lo >= end:
            nodes.append(nmt_root(leaves[lo:hi]))
            return
        if start <= lo and hi <= end:
            return
        mid = lo + largest_pow2_below(hi - lo)
        walk(lo, mid)
        walk(mid, hi)

    walk(0, n)
    return NmtProof(start, end, tuple(nodes))


def root_from_range(proof: NmtProof, leaf_hashes: Sequence[bytes], total: int) -> bytes:
    """Recompute the root a range proof commits to, for a tree of ``total`` leaves.

    Raises
    ------
    InvalidArgument
        If the range, the number of leaves or the number of proof nodes does not fit ``total``.
    """
    start, end = proof.start, proof.end
    if not 0 <= start < end <= total:
        raise InvalidArgument(f"proof range must satisfy 0 <= start < end <= {total}, not [{start}, {end})")
    if len(leaf_hashes) != end - start:
        raise InvalidArgument(
            f"a proof of [{start}, {end}) needs {end - start} leaf hashes, not {len(leaf_hashes)}"
        )
    it = iter(proof.nodes)
    used = 0

    def walk(lo: int, hi: int) -> bytes:
        nonlocal used
        if hi <= start or lo >= end:
            try:
                node = next(it)
            except StopIteration:
                raise InvalidArgument(
                    f"proof has {len(proof.nodes)} nodes, too few for [{start}, {end}) of {total} leaves"
                ) from None
            used += 1
            return node
        if start <= lo and hi <= end:
            return nmt_root(leaf_hashes[lo - start : hi - start])
        mid = lo + largest_pow2_below(hi - lo)
        return nmt_node(walk(lo, mid), walk(mid, hi))

    root = walk(0, total)
    if used != len(proof.nodes):
        raise InvalidArgument(
            f"proof has {len(proof.nodes)} nodes, more than the {used} that [{start}, {end}) "
            f"of {total} leaves needs"
        )
    return root


def verify_range(root: bytes, proof: NmtProof, leaf_hashes: Sequence[bytes], total: int) -> bool:
    """Whether ``proof`` shows ``leaf_hashes`` at ``[start, end)`` of a ``total``-leaf tree with ``root``."""
    try:
        return root_from_range(proof, leaf_hashes, total) == root
    except InvalidArgument:
        return False
