"""Blob share commitments, byte-identical to Celestia's.

Implements go-square ``inclusion.CreateCommitment`` as celestia-app and celestia-node call it (with
CometBFT's RFC-6962 ``merkle.HashFromByteSlices``), from the algorithm in ``shared/da/CELESTIA.md``
§6 and Celestia ADR-013 ("non-interactive default rules for reduced padding"):

1. split the blob into sparse shares (:func:`zkagg.da._shares.split_blob`);
2. cut the shares into a merkle mountain range of subtrees no wider than
   :func:`subtree_width` (``SubtreeRootThreshold`` = 64);
3. the root of each subtree is an NMT root whose leaves are ``namespace ‖ share`` (the namespace is
   prepended again, as in the data square's row trees);
4. the commitment is the RFC-6962 root over those 90-byte subtree roots.

Inside one blob every leaf has the same namespace, so the NMT nodes here are hashed with a
specialised loop (no namespace comparisons); the result is the same as :func:`zkagg.da._nmt.nmt_root`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from typing import Final

from zkagg._errors import InvalidArgument
from zkagg.da._namespace import NAMESPACE_SIZE, Namespace
from zkagg.da._nmt import rfc6962_root
from zkagg.da._shares import split_blob

__all__ = [
    "SUBTREE_ROOT_THRESHOLD",
    "blob_commitment",
    "blob_min_square_size",
    "commitment_from_shares",
    "merkle_mountain_range_sizes",
    "round_up_pow2",
    "subtree_roots",
    "subtree_width",
]

#: appconsts.SubtreeRootThreshold for app versions 5..10; clients hard-code it.
SUBTREE_ROOT_THRESHOLD: Final = 64

MerkleRootFn = Callable[[Sequence[bytes]], bytes]


def round_up_pow2(x: int) -> int:
    """Smallest power of two ``>= x``; 1 for ``x <= 1`` (go-square ``RoundUpPowerOfTwo``)."""
    if x <= 1:
        return 1
    return 1 << (x - 1).bit_length()


def blob_min_square_size(share_count: int) -> int:
    """Smallest square size (a power of two) whose square holds ``share_count`` shares."""
    if share_count < 0:
        raise InvalidArgument(f"share_count must be >= 0, not {share_count}")
    return round_up_pow2(math.isqrt(share_count - 1) + 1 if share_count > 0 else 0)


def subtree_width(share_count: int, threshold: int = SUBTREE_ROOT_THRESHOLD) -> int:
    """Width of the largest commitment subtree of a blob of ``share_count`` shares (ADR-013).

    ``min(round_up_pow2(ceil(n / threshold)), blob_min_square_size(n))``; a blob in a square must
    start at a multiple of this width.
    """
    if share_count < 0:
        raise InvalidArgument(f"share_count must be >= 0, not {share_count}")
    if threshold < 1:
        raise InvalidArgument(f"threshold must be >= 1, not {threshold}")
    s = round_up_pow2(-(-share_count // threshold))
    return min(s, blob_min_square_size(share_count))


def merkle_mountain_range_sizes(total: int, max_tree: int) -> list[int]:
    """Greedy merkle mountain range: trees of ``max_tree`` leaves, then decreasing powers of two."""
    if total < 0:
        raise InvalidArgument(f"total must be >= 0, not {total}")
    if max_tree < 1 or max_tree & (max_tree - 1):
        raise InvalidArgument(f"max_tree must be a power of two >= 1, not {max_tree}")
    sizes: list[int] = []
    while total > 0:
        size = max_tree if total >= max_tree else 1 << (total.bit_length() - 1)
        sizes.append(size)
        total -= size
    return sizes


def subtree_roots(
    namespace: Namespace | bytes, shares: Sequence[bytes], threshold: int = SUBTREE_ROOT_THRESHOLD
) -> list[bytes]:
    """Return the 90-byte NMT roots of a blob's commitment subtrees, left to right.

    Parameters
    ----------
    namespace
        The blob's namespace; leaves are ``namespace ‖ share``.
    shares
        The blob's sparse shares, all in ``namespace``.
    threshold
        ``SubtreeRootThreshold``.
    """
    ns = namespace.to_bytes() if isinstance(namespace, Namespace) else bytes(namespace)
    if len(ns) != NAMESPACE_SIZE:
        raise InvalidArgument(f"invalid namespace length: {len(ns)}. Must be {NAMESPACE_SIZE} bytes")
    if not shares:
        raise InvalidArgument("shares must not be empty: a blob has at least one share")
    sha = hashlib.sha256
    leaf_prefix = b"\x00" + ns
    nsns = ns + ns
    node_prefix = b"\x01" + nsns
    digests = [sha(leaf_prefix + share).digest() for share in shares]
    roots: list[bytes] = []
    pos = 0
    for size in merkle_mountain_range_sizes(len(shares), subtree_width(len(shares), threshold)):
        level = digests[pos : pos + size]
        pos += size
        while len(level) > 1:
            level = [
                sha(node_prefix + level[i] + nsns + level[i + 1]).digest() for i in range(0, len(level), 2)
            ]
        roots.append(nsns + level[0])
    return roots


def commitment_from_shares(
    namespace: Namespace | bytes,
    shares: Sequence[bytes],
    merkle_root: MerkleRootFn = rfc6962_root,
    threshold: int = SUBTREE_ROOT_THRESHOLD,
) -> bytes:
    """Compute the commitment over a blob's shares; ``merkle_root`` combines the subtree roots (RFC-6962)."""
    return merkle_root(subtree_roots(namespace, shares, threshold))


def blob_commitment(
    namespace: Namespace, data: bytes, share_version: int = 0, signer: bytes | None = None
) -> bytes:
    """Compute the 32-byte share commitment of a blob (go-square ``inclusion.CreateCommitment``).

    Parameters
    ----------
    namespace
        The blob's namespace. It is not checked with ``validate_for_blob`` here, so that reserved
        and system blobs can be committed too; :meth:`zkagg.da._blob.Blob.new` checks it.
    data
        The blob's data, not empty.
    share_version
        0 (no signer), 1 (20-byte signer, CIP-21) or 2 (Fibre system blob, with signer).
    signer
        The raw 20-byte signer for share versions 1 and 2.

    Returns
    -------
    bytes
        32 bytes: the RFC-6962 root over the NMT subtree roots, ``SubtreeRootThreshold`` 64.

    Raises
    ------
    InvalidArgument
        Empty data, an unknown share version, or a signer that breaks the share version's rule.
    """
    if not isinstance(namespace, Namespace):
        raise InvalidArgument(f"namespace must be a Namespace, not {type(namespace).__name__}")
    shares = split_blob(namespace, data, share_version, signer)
    return rfc6962_root(subtree_roots(namespace, shares))
