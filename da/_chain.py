"""What the in-memory backend and the embedded node share: limits, block layout seam, headers, reads.

A block here is celestia-app's block reduced to what a DA client can observe: the blobs of the
block's PayForBlobs transactions laid out in a data square (ordered by namespace, each blob aligned
to its subtree width as ADR-013 requires), the data availability header over that square, and an
ExtendedHeader-shaped header whose ``data_hash`` is the DAH hash. Transactions themselves, gas and
signatures are not modelled.

Limits are celestia-app's (CELESTIA.md §8): ``MaxTxSize`` 8 MiB per submission (estimated over the
encoded blobs), the governance square size 256 x 256, no empty data.
"""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from zkagg._errors import BlobNotFound, DAConnectionError, DARPCError, InvalidArgument
from zkagg.da._account import DEV_ACCOUNT, DEV_ADDRESS, DEV_KEY_NAME
from zkagg.da._backend import Header, TxConfig, parse_height
from zkagg.da._blob import Blob
from zkagg.da._cometbft import extended_header
from zkagg.da._commitment_proof import block_commitment_proof
from zkagg.da._namespace import Namespace
from zkagg.da._square import blob_proof, build_square

__all__ = [
    "MAX_SQUARE_SIZE",
    "MAX_TX_SIZE",
    "BlockLayout",
    "ChainReader",
    "estimate_gas",
    "estimate_tx_size",
    "layout_block",
    "make_header",
    "validate_submission",
]

#: celestia-app ``appconsts.MaxTxSize`` since app v6 (CIP-38).
MAX_TX_SIZE: Final = 8_388_608
#: ``blob.GovMaxSquareSize`` on mainnet and mocha (app v6-v10 parameter specs).
MAX_SQUARE_SIZE: Final = 256
#: The app version reported in headers and in the MaxTxSize message.
APP_VERSION: Final = 9
#: Bytes a PayForBlobs adds around its blobs: signature, fee, signer, one MsgPayForBlobs.
_TX_OVERHEAD: Final = 400
#: Bytes each blob adds besides its data: namespace, commitment, size and version in the
#: MsgPayForBlobs, and the BlobProto (namespace ID, versions, signer) beside it.
_PER_BLOB_OVERHEAD: Final = 29 + 32 + 8 + 4 + 28 + 8 + 22

_GAS_PER_BLOB_BYTE: Final = 8
_TX_SIZE_COST_PER_BYTE: Final = 10
_BYTES_PER_BLOB_INFO: Final = 70
#: celestia-app's default minimum gas price (utia/gas), the local node's "estimate".
DEFAULT_MIN_GAS_PRICE: Final = 0.004

ERR_NOT_FOUND: Final = "blob: not found"
ERR_INVALID_PROOF: Final = "blob: invalid proof"
ERR_NO_BLOBS: Final = "state: no blobs provided"


def estimate_tx_size(blobs: Sequence[Blob]) -> int:
    """Estimate the encoded size of the BlobTx that would carry ``blobs``."""
    return _TX_OVERHEAD + sum(len(b.data) + _PER_BLOB_OVERHEAD for b in blobs)


def estimate_gas(blobs: Sequence[Blob]) -> int:
    """celestia-app's ``DefaultEstimateGas`` for a PayForBlobs (x/blob ``payforblob.go``).

    ``sum(shares x 512 x GasPerBlobByte 8) + TxSizeCostPerByte 10 x BytesPerBlobInfo 70 x n +
    PFBGasFixedCost 75000``; one 1-share blob costs 79,796.
    """
    shares = sum(b.share_count for b in blobs)
    return (
        shares * 512 * _GAS_PER_BLOB_BYTE
        + _TX_SIZE_COST_PER_BYTE * _BYTES_PER_BLOB_INFO * len(blobs)
        + 75_000
    )


def validate_submission(blobs: Sequence[Blob], config: TxConfig | None = None) -> None:
    """Refuse a submission as celestia-node and celestia-app would.

    Gas is not charged, but the price ceiling is checked as celestia-node's tx client does: without
    ``gas_price``, the estimated price is the default minimum 0.004 utia/gas, refused if it exceeds
    a non-zero ``max_gas_price``.

    Raises
    ------
    DARPCError
        ``state: no blobs provided``; ``account for signer X not found`` for a signer or key other
        than the node's account (:mod:`zkagg.da._account`); ``invalid blob signer`` for a
        share-version-1 blob signed by another account; ``tx size N bytes is larger than the application's configured
        MaxTxSize of 8388608 bytes for version 9: ...`` for a submission over 8 MiB; ``state:
        estimated gas price exceeds max gas price in tx config``.
    InvalidArgument
        If an item is not a :class:`Blob`.
    """
    if config is not None and config.gas_price is None and 0 < config.max_gas_price < DEFAULT_MIN_GAS_PRICE:
        raise DARPCError("state: estimated gas price exceeds max gas price in tx config", 1)
    if len(blobs) == 0:
        raise DARPCError(ERR_NO_BLOBS, 1)
    for i, blob in enumerate(blobs):
        if not isinstance(blob, Blob):
            raise InvalidArgument(f"blobs[{i}] must be a Blob, not {type(blob).__name__}")
    if config is not None:
        for key in (config.signer_address, config.key_name):
            if key is not None and key not in (DEV_ADDRESS, DEV_KEY_NAME):
                raise DARPCError(f"account for signer {key} not found", 1)
    if any(blob.signer is not None and blob.signer != DEV_ACCOUNT for blob in blobs):
        # celestia-app x/blob: a share-version-1 blob must name the PayForBlobs signer (CIP-21).
        raise DARPCError("invalid blob signer", 1)
    size = estimate_tx_size(blobs)
    if size > MAX_TX_SIZE:
        raise DARPCError(
            f"tx size {size} bytes is larger than the application's configured MaxTxSize of "
            f"{MAX_TX_SIZE} bytes for version {APP_VERSION}: transaction size exceeds maximum allowed limit",
            1,
        )


@dataclass(frozen=True)
class BlockLayout:
    """A block's blobs placed in their data square.

    Attributes
    ----------
    blobs
        The blobs in square order (by namespace, then submission order), ``index`` set to the
        first share's index in the extended square.
    row_roots, column_roots
        The data availability header.
    data_hash
        RFC-6962 root over ``row_roots`` then ``column_roots``.
    """

    blobs: tuple[Blob, ...]
    row_roots: tuple[bytes, ...]
    column_roots: tuple[bytes, ...]
    data_hash: bytes


def layout_block(blobs: Sequence[Blob]) -> BlockLayout:
    """Lay ``blobs`` out in a data square and compute its DAH (via :mod:`zkagg.da._square`)."""
    square = build_square(list(blobs))
    placed = tuple(square.blobs)
    return BlockLayout(
        blobs=placed,
        row_roots=tuple(square.row_roots),
        column_roots=tuple(square.column_roots),
        data_hash=square.data_hash,
    )


def make_header(
    chain_id: str, height: int, time_ns: int, previous: Header | None, layout: BlockLayout
) -> Header:
    """Build the signed ExtendedHeader of a block (:func:`zkagg.da._cometbft.extended_header`).

    ``previous`` is the header of the block before (``None`` for the first block): its commit gives
    the ``last_block_id`` and ``last_commit_hash`` that chain the headers.
    """
    raw = extended_header(
        chain_id=chain_id,
        height=height,
        time_ns=time_ns,
        data_hash=layout.data_hash,
        row_roots=layout.row_roots,
        column_roots=layout.column_roots,
        previous=None if previous is None else previous.to_json(),
        app_version=APP_VERSION,
    )
    return Header.from_json(raw)


def future_height_error(head: int, requested: int) -> DARPCError:
    """celestia-node's error for a height beyond the network head (``header`` service)."""
    return DARPCError(
        f"header: given height is from the future: networkHeight: {head}, requestedHeight: {requested}", 1
    )


def _check_namespace(namespace: object, name: str = "namespace") -> Namespace:
    if not isinstance(namespace, Namespace):
        raise InvalidArgument(f"{name} must be a Namespace, not {type(namespace).__name__}")
    return namespace


def _check_commitment(commitment: object) -> bytes:
    if not isinstance(commitment, (bytes, bytearray)) or len(commitment) != 32:
        shown = len(commitment) if isinstance(commitment, (bytes, bytearray)) else type(commitment).__name__
        raise InvalidArgument(f"commitment must be 32 bytes, not {shown}")
    return bytes(commitment)


class ChainReader(abc.ABC):
    """The read half of a local chain: every getter of :class:`~zkagg.da.DABackend`.

    Subclasses provide storage (:meth:`_head_height`, :meth:`_header`, :meth:`_blobs`,
    :meth:`_find`) and call :meth:`_announce` after each block so that waiters wake up.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._closed = False

    # -- storage hooks ----------------------------------------------------------------------

    @abc.abstractmethod
    def _head_height(self) -> int:
        """Height of the latest block."""

    @abc.abstractmethod
    def _header(self, height: int) -> Header:
        """Header at ``height`` (which exists)."""

    @abc.abstractmethod
    def _blobs(self, height: int, namespace: Namespace | None = None) -> list[Blob]:
        """Blobs at ``height`` in square order, optionally only those of ``namespace``."""

    def _find(self, height: int, namespace: Namespace, commitment: bytes) -> Blob | None:
        for blob in self._blobs(height, namespace):
            if blob.commitment == commitment:
                return blob
        return None

    def _announce(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # -- DABackend reads --------------------------------------------------------------------

    def _existing(self, height: int | str) -> int:
        h = parse_height(height)
        head = self._head_height()
        if h > head:
            raise future_height_error(head, h)
        return h

    def get(self, height: int | str, namespace: Namespace, commitment: bytes) -> Blob:
        """Return the blob with ``commitment`` in ``namespace`` at ``height`` (``index`` set).

        Raises
        ------
        BlobNotFound
            ``blob: not found`` when there is none.
        DARPCError
            For a height beyond the head.
        """
        h = self._existing(height)
        found = self._find(h, _check_namespace(namespace), _check_commitment(commitment))
        if found is None:
            raise BlobNotFound(ERR_NOT_FOUND)
        return found

    def get_all(self, height: int | str, namespaces: Sequence[Namespace]) -> list[Blob]:
        """Return the blobs of ``namespaces`` at ``height``, namespace by namespace; ``[]`` if none."""
        h = self._existing(height)
        out: list[Blob] = []
        for i, ns in enumerate(namespaces):
            out.extend(self._blobs(h, _check_namespace(ns, f"namespaces[{i}]")))
        return out

    def get_proof(self, height: int | str, namespace: Namespace, commitment: bytes) -> list[dict[str, Any]]:
        """Return the blob's NMT inclusion proof (celestia-node ``Proof`` JSON, one per row)."""
        h = self._existing(height)
        found = self._find(h, _check_namespace(namespace), _check_commitment(commitment))
        if found is None:
            raise BlobNotFound(ERR_NOT_FOUND)
        return blob_proof(self._blobs(h), found.index)

    def get_commitment_proof(
        self, height: int | str, namespace: Namespace, commitment: bytes
    ) -> dict[str, Any]:
        """Return the blob's ``CommitmentProof`` JSON (celestia-node ``blob.GetCommitmentProof``)."""
        h = self._existing(height)
        found = self._find(h, _check_namespace(namespace), _check_commitment(commitment))
        if found is None:
            raise BlobNotFound(ERR_NOT_FOUND)
        return block_commitment_proof(self._blobs(h), found.index)

    def included(
        self, height: int | str, namespace: Namespace, proof: Sequence[Mapping[str, Any]], commitment: bytes
    ) -> bool:
        """Return whether ``proof`` is the blob's proof at ``height``, as celestia-node decides.

        celestia-node re-fetches the blob's proof and compares: absent blob ``False``, equal proofs
        ``True``, different proofs the error ``blob: invalid proof``, which this API reads as
        ``False``.
        """
        if proof is None:
            raise InvalidArgument("proof must be a list of NMT proofs, not None (blob: proof cannot be nil)")
        try:
            expected = self.get_proof(height, namespace, commitment)
        except BlobNotFound:
            return False
        return proofs_equal(expected, proof)

    def local_head(self) -> Header:
        """Return the latest header."""
        return self._header(self._head_height())

    def network_head(self) -> Header:
        """Return the latest header (a single-node chain: the local head is the network head)."""
        return self.local_head()

    def get_header(self, height: int | str) -> Header:
        """Return the header at ``height``; a height beyond the head is a DARPCError."""
        return self._header(self._existing(height))

    def header_by_hash(self, block_hash: bytes) -> Header | None:
        """Return the header whose block hash is ``block_hash``, or ``None``.

        Scans from the head down (the local chains keep no hash index): meant for the occasional
        ``header.GetByHash``, not for bulk lookups.
        """
        wanted = block_hash.hex().upper()
        for height in range(self._head_height(), 0, -1):
            header = self._header(height)
            if header.hash == wanted:
                return header
        return None

    def wait_for_height(self, height: int | str, timeout: float = 60.0) -> Header:
        """Block until ``height`` exists and return its header.

        Raises
        ------
        DAConnectionError
            If the height does not come within ``timeout`` seconds, or the backend is closed.
        """
        h = parse_height(height)
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._head_height() < h:
                left = deadline - time.monotonic()
                if self._closed:
                    raise DAConnectionError(f"backend closed while waiting for height {h}")
                if left <= 0:
                    head = self._head_height()
                    raise DAConnectionError(
                        f"timed out after {timeout:g} s waiting for height {h} (head is {head})"
                    )
                self._cond.wait(left)
        return self._header(h)


def proofs_equal(expected: Sequence[Mapping[str, Any]], given: Sequence[Mapping[str, Any]]) -> bool:
    """Compare two ``Proof`` JSON lists as celestia-node's ``Proof.equal`` does (field by field)."""

    def norm(p: Mapping[str, Any]) -> tuple[Any, ...]:
        return (
            int(p.get("start") or 0),
            int(p.get("end") or 0),
            tuple(p.get("nodes") or ()),
            p.get("leaf_hash") or "",
            bool(p.get("is_max_namespace_ignored", False)),
        )

    try:
        return len(expected) == len(given) and all(
            norm(a) == norm(b) for a, b in zip(expected, given, strict=True)
        )
    except (TypeError, ValueError, AttributeError):
        return False


def default_tx_config(config: TxConfig | None) -> TxConfig:
    """Return ``config`` or the empty TxConfig (celestia-node's ``{}``)."""
    if config is None:
        return TxConfig()
    if not isinstance(config, TxConfig):
        raise InvalidArgument(f"config must be a TxConfig or None, not {type(config).__name__}")
    return config
