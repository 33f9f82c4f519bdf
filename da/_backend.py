"""The ``DABackend`` protocol, and the header and submit-option types every backend shares.

Three implementations pass one contract test suite (``tests/da/test_backend_contract.py``):
:class:`~zkagg.da.MemoryBackend` (unit tests), :class:`~zkagg.da.EmbeddedNode` (durable, in-process)
and :class:`~zkagg.da.CelestiaClient` (a celestia-node, or ``zkagg da serve``, over JSON-RPC).

The JSON shapes follow celestia-node (``shared/da/CELESTIA.md`` §2-3): an ExtendedHeader carries its
heights as strings (tmjson), Tendermint hashes as upper-case hex and the DAH roots as base64; a
``TxConfig`` is always an object, never ``null`` (a null one panics celestia-node, node#3244).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, runtime_checkable

from zkagg._errors import InvalidArgument
from zkagg.da._b64 import b64 as _b64
from zkagg.da._b64 import unb64 as _unb64
from zkagg.da._blob import Blob
from zkagg.da._cometbft import DevValidator, block_hash_from_json, format_rfc3339_nanos
from zkagg.da._namespace import Namespace

__all__ = [
    "DABackend",
    "Header",
    "TxConfig",
    "format_rfc3339_nanos",
    "parse_height",
]

#: ``time.Time{}`` as Go's JSON encodes it: the "no expiry" / "unset" time.
ZERO_TIME: Final = "0001-01-01T00:00:00Z"


def parse_height(value: object, name: str = "height") -> int:
    """Read a block height given as an int or a decimal string.

    Celestia heights are ``uint64``: a number in blob results, a string in tmjson headers
    (CELESTIA.md §10, item 9). Both forms are accepted everywhere in zkagg.

    Parameters
    ----------
    value
        ``12``, ``"12"``.
    name
        The argument's name, for the error message.

    Raises
    ------
    InvalidArgument
        If ``value`` is not a positive integer (heights start at 1).
    """
    if isinstance(value, bool):
        raise InvalidArgument(f"{name} must be a positive integer (int or decimal string), not {value!r}")
    if isinstance(value, int):
        height = value
    elif isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        height = int(value.strip())
    else:
        raise InvalidArgument(f"{name} must be a positive integer (int or decimal string), not {value!r}")
    if height < 1 or height >= 1 << 64:
        raise InvalidArgument(f"{name} must be in [1, 2**64), not {height}")
    return height


def _hex(data: bytes) -> str:
    return data.hex().upper()


def _roots(dah: Mapping[str, Any], key: str) -> tuple[bytes, ...]:
    """The base64 NMT roots listed under ``dah[key]`` (absent or null: none)."""
    roots = dah.get(key) or []
    if not isinstance(roots, list):
        raise InvalidArgument(f"dah.{key} must be a list of base64 roots, not {type(roots).__name__}")
    return tuple(_unb64(r, f"dah.{key}[]") for r in roots)


@dataclass(frozen=True)
class Header:
    """The parts of a celestia-node ``ExtendedHeader`` that zkagg uses.

    Parameters
    ----------
    height
        Block height (a string in the JSON form).
    time
        Block time, RFC 3339 with nanoseconds, e.g. ``2023-02-25T12:10:28.067566292Z``.
    hash
        Block hash, upper-case hex (``commit.block_id.hash``).
    data_hash
        The data root: RFC-6962 root over ``row_roots`` then ``column_roots``, upper-case hex.
    chain_id
        The chain's ID.
    last_block_hash
        The previous block's hash, upper-case hex (empty at the first block).
    row_roots, column_roots
        The data availability header: 90-byte NMT roots.
    raw
        The JSON object the header was read from (or :meth:`to_json`'s output), kept so that
        fields zkagg does not model survive a round trip.
    """

    height: int
    time: str
    hash: str
    data_hash: str
    chain_id: str = "zkagg-local"
    last_block_hash: str = ""
    row_roots: tuple[bytes, ...] = ()
    column_roots: tuple[bytes, ...] = ()
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        """Return the ExtendedHeader JSON object (tmjson conventions: string heights, hex hashes)."""
        if self.raw is not None:
            return dict(self.raw)
        return self.build_json()

    def build_json(self) -> dict[str, Any]:
        """Build the ExtendedHeader JSON object from the fields, ignoring :attr:`raw`.

        For a header made by hand: the shape is celestia-node's (the chain's development validator
        as the set and proposer), but nothing is signed. The embedded chain's own headers are built
        and signed by :func:`zkagg.da._cometbft.extended_header`.
        """
        empty = _hex(b"")
        validator = DevValidator.for_chain(self.chain_id).to_json()
        parts = {"total": 1, "hash": self.hash}
        last = {
            "hash": self.last_block_hash,
            "parts": {"total": 1 if self.last_block_hash else 0, "hash": ""},
        }
        return {
            "header": {
                "version": {"block": "11", "app": "9"},
                "chain_id": self.chain_id,
                "height": str(self.height),
                "time": self.time,
                "last_block_id": last,
                "last_commit_hash": empty,
                "data_hash": self.data_hash,
                "validators_hash": empty,
                "next_validators_hash": empty,
                "consensus_hash": empty,
                "app_hash": empty,
                "last_results_hash": empty,
                "evidence_hash": empty,
                "proposer_address": empty,
            },
            "validator_set": {"validators": [validator], "proposer": validator},
            "commit": {
                "height": str(self.height),
                "round": 0,
                "block_id": {"hash": self.hash, "parts": parts},
                "signatures": [],
            },
            "dah": {
                "row_roots": [_b64(r) for r in self.row_roots],
                "column_roots": [_b64(c) for c in self.column_roots],
            },
        }

    def computed_hash(self) -> bytes:
        """Recompute the block hash from the header's fields (CometBFT ``Header.Hash()``).

        Works on what a celestia-node or the embedded node returns (:attr:`raw`); compare it with
        :attr:`hash`, which is only what the node says (``commit.block_id.hash``).

        Raises
        ------
        InvalidArgument
            If a field the hash covers is missing or malformed.
        """
        return block_hash_from_json(self.to_json())

    @classmethod
    def from_json(cls, obj: object) -> Header:
        """Parse an ExtendedHeader JSON object (height as a string or a number).

        Raises
        ------
        InvalidArgument
            If a required field is missing or malformed.
        """
        if not isinstance(obj, Mapping):
            raise InvalidArgument(f"header must be a JSON object, not {type(obj).__name__}")
        hdr = obj.get("header")
        if not isinstance(hdr, Mapping):
            raise InvalidArgument("header JSON must have a 'header' object")
        height = parse_height(hdr.get("height"), "header.height")
        commit = obj.get("commit")
        block_hash = ""
        if isinstance(commit, Mapping) and isinstance(commit.get("block_id"), Mapping):
            block_hash = str(commit["block_id"].get("hash") or "")
        last = hdr.get("last_block_id")
        last_hash = str(last.get("hash") or "") if isinstance(last, Mapping) else ""
        dah = obj.get("dah")
        rows: tuple[bytes, ...] = ()
        cols: tuple[bytes, ...] = ()
        if isinstance(dah, Mapping):
            rows = _roots(dah, "row_roots")
            cols = _roots(dah, "column_roots")
        return cls(
            height=height,
            time=str(hdr.get("time") or ZERO_TIME),
            hash=block_hash,
            data_hash=str(hdr.get("data_hash") or ""),
            chain_id=str(hdr.get("chain_id") or ""),
            last_block_hash=last_hash,
            row_roots=rows,
            column_roots=cols,
            raw=dict(obj),
        )


@dataclass(frozen=True)
class TxConfig:
    """celestia-node's ``state.TxConfig`` (the ``SubmitOptions`` of ``blob.Submit``).

    Parameters
    ----------
    gas_price
        Price per gas unit in utia; ``None`` lets the node estimate it. When set, the JSON form
        also carries ``is_gas_price_set: true`` (the node ignores the price otherwise).
    max_gas_price
        Ceiling for an estimated price; 0 means the node's default (100 x the minimum).
    gas
        Gas limit; 0 means the node estimates it.
    tx_priority
        1 low, 2 medium, 3 high; 0 unspecified.
    key_name, signer_address, fee_granter_address
        Keyring key, signer account and fee granter (bech32); ``None`` for the node's defaults.
    """

    gas_price: float | None = None
    max_gas_price: float = 0.0
    gas: int = 0
    tx_priority: int = 0
    key_name: str | None = None
    signer_address: str | None = None
    fee_granter_address: str | None = None

    def __post_init__(self) -> None:
        if self.gas_price is not None and not self.gas_price >= 0:
            raise InvalidArgument(f"gas_price must be a non-negative number or None, not {self.gas_price!r}")
        if not self.max_gas_price >= 0:
            raise InvalidArgument(f"max_gas_price must be a non-negative number, not {self.max_gas_price!r}")
        if self.gas < 0:
            raise InvalidArgument(f"gas must be a non-negative integer, not {self.gas!r}")
        if self.tx_priority not in (0, 1, 2, 3):
            raise InvalidArgument(f"tx_priority must be 0, 1, 2 or 3, not {self.tx_priority!r}")

    def to_json(self) -> dict[str, Any]:
        """Return the JSON object celestia-node expects: always an object, never ``null``."""
        out: dict[str, Any] = {}
        if self.gas_price is not None:
            out["gas_price"] = self.gas_price
            out["is_gas_price_set"] = True
        out["max_gas_price"] = self.max_gas_price
        if self.gas:
            out["gas"] = self.gas
        if self.tx_priority:
            out["tx_priority"] = self.tx_priority
        if self.key_name:
            out["key_name"] = self.key_name
        if self.signer_address:
            out["signer_address"] = self.signer_address
        if self.fee_granter_address:
            out["fee_granter_address"] = self.fee_granter_address
        return out

    @classmethod
    def from_json(cls, obj: object) -> TxConfig:
        """Parse a TxConfig JSON object; ``gas_price`` counts only with ``is_gas_price_set``.

        Raises
        ------
        InvalidArgument
            If ``obj`` is not an object or a field has the wrong type.
        """
        if not isinstance(obj, Mapping):
            raise InvalidArgument(f"TxConfig must be a JSON object, not {type(obj).__name__}")

        def num(key: str, kind: type) -> Any:
            value = obj.get(key)
            if value is None:
                return kind()
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidArgument(f"TxConfig.{key} must be a number, not {value!r}")
            if kind is int and (not float(value).is_integer() or value < 0):
                raise InvalidArgument(f"TxConfig.{key} must be a non-negative integer, not {value!r}")
            return kind(value)

        def text(key: str) -> str | None:
            value = obj.get(key)
            if value is None or value == "":
                return None
            if not isinstance(value, str):
                raise InvalidArgument(f"TxConfig.{key} must be a string, not {value!r}")
            return value

        price = num("gas_price", float) if obj.get("is_gas_price_set") is True else None
        priority = num("tx_priority", int)
        return cls(
            gas_price=price,
            max_gas_price=num("max_gas_price", float),
            gas=num("gas", int),
            tx_priority=priority if priority in (1, 2, 3) else 0,
            key_name=text("key_name"),
            signer_address=text("signer_address"),
            fee_granter_address=text("fee_granter_address"),
        )


@runtime_checkable
class DABackend(Protocol):
    """What zkagg needs from a data-availability layer (celestia-node's blob and header modules).

    Heights are accepted as ``int`` or decimal ``str`` (:func:`parse_height`) and must be >= 1.
    Every implementation raises the same errors: :class:`~zkagg.BlobNotFound` for a missing blob,
    :class:`~zkagg.DARPCError` with celestia-node's message for node-side refusals (a height from
    the future, an oversized submission), :class:`~zkagg.InvalidArgument` for arguments refused
    before anything is sent, :class:`~zkagg.DAConnectionError` when the node cannot be reached or
    does not answer in time.
    """

    def submit(self, blobs: Sequence[Blob], config: TxConfig | None = None) -> int:
        """Submit blobs in one PayForBlobs; return the height once their block is committed."""
        ...

    def get(self, height: int | str, namespace: Namespace, commitment: bytes) -> Blob:
        """Return the blob with this commitment in this namespace at this height (with ``index``)."""
        ...

    def get_all(self, height: int | str, namespaces: Sequence[Namespace]) -> list[Blob]:
        """Return every blob of these namespaces at this height, in namespace order; ``[]`` if none."""
        ...

    def get_proof(self, height: int | str, namespace: Namespace, commitment: bytes) -> list[dict[str, Any]]:
        """Return the blob's inclusion proof: celestia-node ``Proof`` JSON, one NMT proof per row."""
        ...

    def included(
        self, height: int | str, namespace: Namespace, proof: Sequence[Mapping[str, Any]], commitment: bytes
    ) -> bool:
        """Return whether ``proof`` proves the blob at this height (``False`` if absent or wrong)."""
        ...

    def local_head(self) -> Header:
        """Return the latest header stored by the node."""
        ...

    def network_head(self) -> Header:
        """Return the latest header of the network as the node sees it."""
        ...

    def get_header(self, height: int | str) -> Header:
        """Return the header at ``height``; a height beyond the head is a :class:`~zkagg.DARPCError`."""
        ...

    def wait_for_height(self, height: int | str, timeout: float = 60.0) -> Header:
        """Block until ``height`` exists and return its header; DAConnectionError after ``timeout``."""
        ...

    def close(self) -> None:
        """Release the backend's resources (connections, files, threads)."""
        ...
