"""Celestia shares: 512-byte units of a data square.

Sparse (blob) shares and padding shares as specified by go-square ``share/`` (v4) and the Celestia
specs ``specs/src/specs/shares.md``; see ``shared/da/CELESTIA.md`` §5. Compact shares (transactions
and PayForBlobs) are not implemented: zkagg only needs them to build a byte-exact mainnet square.

Every share starts with ``namespace (29) ‖ info byte (1)``, the info byte being
``(share_version << 1) | sequence_start``. The first share of a blob then carries the sequence length
(4-byte big-endian) and, for share versions 1 and 2, the 20-byte signer; the last share is
zero-padded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from zkagg._errors import InvalidArgument
from zkagg.da._namespace import (
    NAMESPACE_SIZE,
    PRIMARY_RESERVED_PADDING_NAMESPACE,
    TAIL_PADDING_NAMESPACE,
    Namespace,
)

__all__ = [
    "CONTINUATION_SPARSE_SHARE_CONTENT_SIZE",
    "FIRST_SPARSE_SHARE_CONTENT_SIZE",
    "SHARE_INFO_BYTES",
    "SHARE_SIZE",
    "SIGNER_SIZE",
    "ParsedBlob",
    "available_bytes_from_sparse_shares",
    "info_byte",
    "namespace_padding_share",
    "parse_sparse_shares",
    "reserved_padding_share",
    "shares_needed",
    "split_blob",
    "tail_padding_share",
]

SHARE_SIZE: Final = 512
SHARE_INFO_BYTES: Final = 1
SEQUENCE_LEN_BYTES: Final = 4
SIGNER_SIZE: Final = 20
MAX_SHARE_VERSION: Final = 127
#: Share versions this module can split: 0 (plain), 1 (with signer, CIP-21), 2 (Fibre system blob).
SPLITTABLE_SHARE_VERSIONS: Final = (0, 1, 2)
FIRST_SPARSE_SHARE_CONTENT_SIZE: Final = SHARE_SIZE - NAMESPACE_SIZE - SHARE_INFO_BYTES - SEQUENCE_LEN_BYTES
CONTINUATION_SPARSE_SHARE_CONTENT_SIZE: Final = SHARE_SIZE - NAMESPACE_SIZE - SHARE_INFO_BYTES

if FIRST_SPARSE_SHARE_CONTENT_SIZE != 478 or CONTINUATION_SPARSE_SHARE_CONTENT_SIZE != 482:
    raise AssertionError("share capacities must be 478 and 482 bytes (go-square consts)")


def _check_share_version(share_version: int) -> None:
    if not isinstance(share_version, int) or isinstance(share_version, bool):
        raise InvalidArgument(f"share_version must be an int, not {type(share_version).__name__}")
    if share_version not in SPLITTABLE_SHARE_VERSIONS:
        raise InvalidArgument(
            f"share_version must be one of {list(SPLITTABLE_SHARE_VERSIONS)}, not {share_version}"
        )


def info_byte(share_version: int, sequence_start: bool) -> int:
    """Return the share info byte ``(share_version << 1) | sequence_start``.

    Raises
    ------
    InvalidArgument
        If ``share_version`` is outside ``[0, 127]``.
    """
    if not 0 <= share_version <= MAX_SHARE_VERSION:
        raise InvalidArgument(f"share_version must be in [0, {MAX_SHARE_VERSION}], not {share_version}")
    return (share_version << 1) | int(sequence_start)


def _first_capacity(has_signer: bool) -> int:
    return FIRST_SPARSE_SHARE_CONTENT_SIZE - (SIGNER_SIZE if has_signer else 0)


def shares_needed(length: int, has_signer: bool = False) -> int:
    """Count the sparse shares a blob of ``length`` data bytes occupies (go-square ``SparseSharesNeeded``).

    Parameters
    ----------
    length
        The blob's data length in bytes; 0 needs 0 shares.
    has_signer
        Whether the first share carries a 20-byte signer (share versions 1 and 2).
    """
    if length < 0:
        raise InvalidArgument(f"length must be >= 0, not {length}")
    if length == 0:
        return 0
    first = _first_capacity(has_signer)
    if length <= first:
        return 1
    return 1 + -(-(length - first) // CONTINUATION_SPARSE_SHARE_CONTENT_SIZE)


def available_bytes_from_sparse_shares(count: int) -> int:
    """Return the data bytes ``count`` sparse shares of a version-0 blob hold: ``478 + (count-1)·482``."""
    if count < 0:
        raise InvalidArgument(f"count must be >= 0, not {count}")
    if count == 0:
        return 0
    return FIRST_SPARSE_SHARE_CONTENT_SIZE + (count - 1) * CONTINUATION_SPARSE_SHARE_CONTENT_SIZE


def check_signer(share_version: int, signer: bytes | None) -> None:
    """Apply go-square's signer rules (``share.NewBlob``).

    Raises
    ------
    InvalidArgument
        ``share version 0 does not support signer``, or
        ``share version 1 requires signer of size 20 bytes`` (the same for version 2).
    """
    if share_version == 0:
        if signer:
            raise InvalidArgument("share version 0 does not support signer")
    elif signer is None or len(signer) != SIGNER_SIZE:
        got = "none" if signer is None else f"{len(signer)} bytes"
        raise InvalidArgument(
            f"share version {share_version} requires signer of size {SIGNER_SIZE} bytes (got {got})"
        )


def split_blob(
    namespace: Namespace | bytes, data: bytes, share_version: int = 0, signer: bytes | None = None
) -> list[bytes]:
    """Split one blob into its sparse shares.

    Parameters
    ----------
    namespace
        The blob's namespace (or its 29-byte wire form).
    data
        The blob's data; must not be empty.
    share_version
        0, 1 or 2. Versions 1 and 2 put the 20-byte ``signer`` after the sequence length.
    signer
        The raw 20-byte signer address for versions 1 and 2; ``None`` (or empty) for version 0.

    Returns
    -------
    list of bytes
        ``shares_needed(len(data), signer present)`` shares of exactly 512 bytes.
    """
    ns = namespace.to_bytes() if isinstance(namespace, Namespace) else bytes(namespace)
    if len(ns) != NAMESPACE_SIZE:
        raise InvalidArgument(f"invalid namespace length: {len(ns)}. Must be {NAMESPACE_SIZE} bytes")
    _check_share_version(share_version)
    if not data:
        raise InvalidArgument("data can not be empty")
    check_signer(share_version, signer)
    signer_bytes = bytes(signer) if share_version != 0 and signer else b""
    data = bytes(data)
    first_cap = _first_capacity(bool(signer_bytes))
    first = b"".join(
        (
            ns,
            bytes((info_byte(share_version, True),)),
            len(data).to_bytes(SEQUENCE_LEN_BYTES, "big"),
            signer_bytes,
            data[:first_cap],
        )
    )
    shares = [first]
    prefix = ns + bytes((info_byte(share_version, False),))
    step = CONTINUATION_SPARSE_SHARE_CONTENT_SIZE
    shares.extend(prefix + data[off : off + step] for off in range(first_cap, len(data), step))
    if len(shares[-1]) < SHARE_SIZE:
        shares[-1] = shares[-1].ljust(SHARE_SIZE, b"\x00")
    return shares


def _padding_share(ns: Namespace) -> bytes:
    head = ns.to_bytes() + bytes((info_byte(0, True),)) + bytes(SEQUENCE_LEN_BYTES)
    return head.ljust(SHARE_SIZE, b"\x00")


def namespace_padding_share(namespace: Namespace) -> bytes:
    """Return a namespace padding share: ``namespace`` with share version 0, sequence start, length 0."""
    return _padding_share(namespace)


def reserved_padding_share() -> bytes:
    """Return a padding share in the primary reserved padding namespace ``00…00FF``."""
    return _padding_share(PRIMARY_RESERVED_PADDING_NAMESPACE)


def tail_padding_share() -> bytes:
    """Return a tail padding share (namespace ``FF…FFFE``), which fills a square after the last blob."""
    return _padding_share(TAIL_PADDING_NAMESPACE)


@dataclass(frozen=True)
class ParsedBlob:
    """A blob read back from consecutive sparse shares.

    Attributes
    ----------
    namespace, share_version, signer, data
        The blob's fields; ``signer`` is ``None`` for share version 0.
    start
        Index of the blob's first share in the input sequence.
    share_count
        Number of shares it spans.
    """

    namespace: Namespace
    share_version: int
    signer: bytes | None
    data: bytes
    start: int
    share_count: int


def parse_sparse_shares(shares: list[bytes]) -> list[ParsedBlob]:
    """Rebuild the blobs in a run of sparse shares, skipping padding shares.

    Padding shares (sequence start with length 0) are skipped. A sequence whose continuation
    shares are missing, out of namespace, or flagged as a start raises.

    Raises
    ------
    InvalidArgument
        If a share is not 512 bytes or a sequence is malformed; the message names the share index.
    """
    out: list[ParsedBlob] = []
    i = 0
    n = len(shares)
    while i < n:
        share = shares[i]
        if len(share) != SHARE_SIZE:
            raise InvalidArgument(f"share {i} must be {SHARE_SIZE} bytes, not {len(share)}")
        ns_raw = share[:NAMESPACE_SIZE]
        info = share[NAMESPACE_SIZE]
        version, start = info >> 1, info & 1
        if not start:
            raise InvalidArgument(f"share {i} continues a sequence but no sequence started before it")
        off = NAMESPACE_SIZE + SHARE_INFO_BYTES
        seq_len = int.from_bytes(share[off : off + SEQUENCE_LEN_BYTES], "big")
        off += SEQUENCE_LEN_BYTES
        if seq_len == 0:
            i += 1
            continue
        signer: bytes | None = None
        if version in (1, 2):
            signer = share[off : off + SIGNER_SIZE]
            off += SIGNER_SIZE
        elif version != 0:
            raise InvalidArgument(f"share {i} has unsupported share version {version}")
        count = shares_needed(seq_len, signer is not None)
        if i + count > n:
            raise InvalidArgument(
                f"sequence at share {i} has length {seq_len}, which needs {count} shares, "
                f"but only {n - i} shares remain"
            )
        parts = [share[off:]]
        for j in range(i + 1, i + count):
            cont = shares[j]
            if len(cont) != SHARE_SIZE:
                raise InvalidArgument(f"share {j} must be {SHARE_SIZE} bytes, not {len(cont)}")
            if cont[:NAMESPACE_SIZE] != ns_raw or cont[NAMESPACE_SIZE] != (version << 1):
                raise InvalidArgument(
                    f"share {j} must continue the sequence started at share {i} "
                    f"(namespace {ns_raw.hex()}, share version {version})"
                )
            parts.append(cont[NAMESPACE_SIZE + SHARE_INFO_BYTES :])
        data = b"".join(parts)[:seq_len]
        out.append(ParsedBlob(Namespace.from_bytes(ns_raw), version, signer, data, i, count))
        i += count
    return out
