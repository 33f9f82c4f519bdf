"""Celestia namespaces: a version byte and a 28-byte ID, 29 bytes on the wire.

Follows go-square ``share/namespace.go`` (v4) and the namespace section of the Celestia specs
(``specs/src/specs/namespace.md``); see ``shared/da/CELESTIA.md`` §4. Error messages reproduce
go-square's and celestia-node's texts where they exist, so that the embedded node answers as a real
node would.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final

from zkagg._errors import InvalidArgument

__all__ = [
    "INTERMEDIATE_STATE_ROOTS_NAMESPACE",
    "MAX_PRIMARY_RESERVED_NAMESPACE",
    "MIN_SECONDARY_RESERVED_NAMESPACE",
    "NAMESPACE_ID_SIZE",
    "NAMESPACE_SIZE",
    "NAMESPACE_VERSION_MAX",
    "NAMESPACE_VERSION_ZERO",
    "PARITY_SHARES_NAMESPACE",
    "PAY_FOR_BLOB_NAMESPACE",
    "PAY_FOR_FIBRE_NAMESPACE",
    "PRIMARY_RESERVED_PADDING_NAMESPACE",
    "SUPPORTED_BLOB_NAMESPACE_VERSIONS",
    "TAIL_PADDING_NAMESPACE",
    "TX_NAMESPACE",
    "V0_USER_ID_SIZE",
    "Namespace",
]

NAMESPACE_VERSION_SIZE: Final = 1
NAMESPACE_ID_SIZE: Final = 28
NAMESPACE_SIZE: Final = NAMESPACE_VERSION_SIZE + NAMESPACE_ID_SIZE
NAMESPACE_VERSION_ZERO: Final = 0
NAMESPACE_VERSION_MAX: Final = 255
#: A version-0 ID starts with 18 zero bytes; only the last 10 bytes are chosen by the user.
V0_PREFIX_SIZE: Final = 18
V0_USER_ID_SIZE: Final = NAMESPACE_ID_SIZE - V0_PREFIX_SIZE
SUPPORTED_BLOB_NAMESPACE_VERSIONS: Final = (NAMESPACE_VERSION_ZERO,)

_HEX_RE: Final = re.compile(r"\A(?:[0-9a-fA-F]{2})+\Z")
_NAME_RE: Final = re.compile(r"\A[\x21-\x7e]{1,10}\Z")


def _go_bytes(data: bytes) -> str:
    """Format bytes as Go's ``%v`` does for a ``[]byte``: ``[0 0 255]``."""
    return "[" + " ".join(str(b) for b in data) + "]"


@dataclass(frozen=True, order=True)
class Namespace:
    """A Celestia namespace.

    Ordering is the bytewise order of :meth:`to_bytes` (the ID has a fixed length, so comparing
    ``(version, id)`` is the same), which is the order of namespaces in a data square.

    Parameters
    ----------
    version
        The version byte, 0..255 (users may only use 0; 255 is for reserved namespaces).
    id
        The 28-byte namespace ID.
    """

    version: int
    id: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.version, int) or isinstance(self.version, bool):
            raise InvalidArgument(f"namespace version must be an int, not {type(self.version).__name__}")
        if not 0 <= self.version <= 255:
            raise InvalidArgument(f"namespace version must be in [0, 255], not {self.version}")
        if not isinstance(self.id, bytes):
            raise InvalidArgument(f"namespace id must be bytes, not {type(self.id).__name__}")
        if len(self.id) != NAMESPACE_ID_SIZE:
            raise InvalidArgument(
                f"unsupported namespace id length: id {_go_bytes(self.id)} must be "
                f"{NAMESPACE_ID_SIZE} bytes but it was {len(self.id)} bytes"
            )

    # -- constructors -------------------------------------------------------------------------

    @classmethod
    def from_bytes(cls, raw: bytes) -> Namespace:
        """Parse the 29-byte wire form (go-square ``NewNamespaceFromBytes``).

        Parameters
        ----------
        raw
            Version byte followed by the 28-byte ID.

        Raises
        ------
        InvalidArgument
            ``invalid namespace length: N. Must be 29 bytes``; ``unsupported namespace version V``
            for versions other than 0 and 255; a version-0 ID without its 18 leading zero bytes.
        """
        if not isinstance(raw, (bytes, bytearray, memoryview)):
            raise InvalidArgument(f"namespace must be bytes, not {type(raw).__name__}")
        raw = bytes(raw)
        if len(raw) != NAMESPACE_SIZE:
            raise InvalidArgument(f"invalid namespace length: {len(raw)}. Must be {NAMESPACE_SIZE} bytes")
        ns = cls(raw[0], raw[1:])
        ns._validate()
        return ns

    @classmethod
    def v0(cls, user_id: bytes) -> Namespace:
        """Build a version-0 namespace from a user ID of 1..10 bytes (go-square ``NewV0Namespace``).

        The ID is left-padded with zeros to 10 bytes and prefixed by 18 zero bytes, e.g. the user ID
        ``01 02 03 04 05`` gives ``AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQIDBAU=`` in base64.

        Raises
        ------
        InvalidArgument
            If ``user_id`` is empty or longer than 10 bytes.
        """
        if not isinstance(user_id, (bytes, bytearray, memoryview)):
            raise InvalidArgument(f"user_id must be bytes, not {type(user_id).__name__}")
        user_id = bytes(user_id)
        if not 1 <= len(user_id) <= V0_USER_ID_SIZE:
            raise InvalidArgument(
                f"user_id must be 1 to {V0_USER_ID_SIZE} bytes for a version-0 namespace, "
                f"not {len(user_id)} bytes"
            )
        return cls(NAMESPACE_VERSION_ZERO, bytes(NAMESPACE_ID_SIZE - len(user_id)) + user_id)

    @classmethod
    def parse(cls, text: str) -> Namespace:
        """Parse a namespace as typed on a command line.

        Forms, tried in this order (the first that matches wins):

        1. ``0x`` followed by hex: 1..10 bytes are a version-0 user ID, 29 bytes the wire form.
        2. Bare hex (an even number of hex digits): the same two lengths. Hex wins over a plain
           name, so ``cafe`` is the user ID ``ca fe``; write a name that looks like hex in hex.
        3. Standard base64 (with padding) of exactly 29 bytes: the wire form, as celestia-node's
           JSON carries it.
        4. A plain printable-ASCII name of 1..10 characters, without spaces: its bytes are the
           version-0 user ID (``zkagg`` gives ``00…007a6b616767``).

        Base64 of a *user ID* (which celestia's own CLI also takes) is not accepted: short base64
        strings are indistinguishable from names; give user IDs in hex.

        The result is not checked with :meth:`validate_for_blob`; callers that build blobs do that.

        Raises
        ------
        InvalidArgument
            If the text matches none of the forms, naming the forms and the text.
        """
        if not isinstance(text, str):
            raise InvalidArgument(f"namespace must be a str, not {type(text).__name__}")
        stripped = text.strip()
        hex_body: str | None = None
        if stripped[:2] in ("0x", "0X"):
            hex_body = stripped[2:]
            if not _HEX_RE.match(hex_body):
                raise InvalidArgument(
                    f"namespace {text!r} starts with 0x but is not an even number of hex digits"
                )
        elif _HEX_RE.match(stripped):
            hex_body = stripped
        if hex_body is not None:
            raw = bytes.fromhex(hex_body)
            if len(raw) == NAMESPACE_SIZE:
                return cls.from_bytes(raw)
            if 1 <= len(raw) <= V0_USER_ID_SIZE:
                return cls.v0(raw)
            raise InvalidArgument(
                f"namespace {text!r} is hex of {len(raw)} bytes; it must be 1 to {V0_USER_ID_SIZE} bytes "
                f"(a version-0 user ID) or {NAMESPACE_SIZE} bytes (the full namespace)"
            )
        if len(stripped) == 40:
            try:
                raw = base64.b64decode(stripped, validate=True)
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) == NAMESPACE_SIZE:
                return cls.from_bytes(raw)
        if _NAME_RE.match(stripped):
            return cls.v0(stripped.encode("ascii"))
        raise InvalidArgument(
            f"namespace must be 0x-hex or hex of 1-{V0_USER_ID_SIZE} bytes (user ID) or "
            f"{NAMESPACE_SIZE} bytes, base64 of {NAMESPACE_SIZE} bytes, or an ASCII name of "
            f"1-{V0_USER_ID_SIZE} characters, not {text!r}"
        )

    # -- encoding -----------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Return the 29-byte wire form: version byte, then the 28-byte ID."""
        return bytes((self.version,)) + self.id

    def hex(self) -> str:
        """Lower-case hex of the 29 bytes (go-square's ``Namespace.String``)."""
        return self.to_bytes().hex()

    def __str__(self) -> str:
        return self.hex()

    @property
    def user_id(self) -> bytes:
        """The last 10 bytes of the ID: what a user chose for a version-0 namespace."""
        return self.id[V0_PREFIX_SIZE:]

    # -- classification -----------------------------------------------------------------------

    def is_parity_shares(self) -> bool:
        """Whether this is the parity-shares namespace (29 x 0xFF)."""
        return self == PARITY_SHARES_NAMESPACE

    def is_tail_padding(self) -> bool:
        """Whether this is the tail-padding namespace (``FF…FFFE``)."""
        return self == TAIL_PADDING_NAMESPACE

    def is_primary_reserved(self) -> bool:
        """Whether this namespace is at or below ``MAX_PRIMARY_RESERVED`` (``00…00FF``)."""
        return self <= MAX_PRIMARY_RESERVED_NAMESPACE

    def is_secondary_reserved(self) -> bool:
        """Whether this namespace is at or above ``MIN_SECONDARY_RESERVED`` (``FF…FF00``)."""
        return self >= MIN_SECONDARY_RESERVED_NAMESPACE

    def is_reserved(self) -> bool:
        """Whether the namespace is primary or secondary reserved."""
        return self.is_primary_reserved() or self.is_secondary_reserved()

    # -- validation ---------------------------------------------------------------------------

    def _validate(self) -> None:
        """go-square ``Namespace.validate``: supported version and an ID of the right form."""
        if self.version not in (NAMESPACE_VERSION_ZERO, NAMESPACE_VERSION_MAX):
            raise InvalidArgument(f"unsupported namespace version {self.version}")
        if self.version == NAMESPACE_VERSION_ZERO and any(self.id[:V0_PREFIX_SIZE]):
            raise InvalidArgument(
                f"unsupported namespace id with version {self.version}. ID {_go_bytes(self.id)} "
                f"must start with {V0_PREFIX_SIZE} leading zeros"
            )

    def validate_for_data(self) -> None:
        """go-square ``ValidateForData``: a valid namespace that is neither parity nor tail padding."""
        self._validate()
        if self.is_parity_shares() or self.is_tail_padding():
            raise InvalidArgument(
                f"invalid data namespace({self}): parity and tail padding namespace are forbidden"
            )

    def validate_for_blob(self) -> None:
        """go-square ``ValidateForBlob``: whether a user blob may use this namespace.

        Raises
        ------
        InvalidArgument
            With go-square's own message: ``unsupported namespace version V``,
            ``unsupported namespace id with version 0. ID [...] must start with 18 leading zeros``,
            ``invalid data namespace(<hex>): parity and tail padding namespace are forbidden``,
            ``invalid data namespace(<hex>): reserved data is forbidden``, or
            ``blob version V is not supported``.
        """
        self.validate_for_data()
        if self.is_reserved():
            raise InvalidArgument(f"invalid data namespace({self}): reserved data is forbidden")
        if self.version not in SUPPORTED_BLOB_NAMESPACE_VERSIONS:
            raise InvalidArgument(f"blob version {self.version} is not supported")


def _primary(last: int) -> Namespace:
    return Namespace(NAMESPACE_VERSION_ZERO, bytes(NAMESPACE_ID_SIZE - 1) + bytes((last,)))


def _secondary(last: int) -> Namespace:
    return Namespace(NAMESPACE_VERSION_MAX, b"\xff" * (NAMESPACE_ID_SIZE - 1) + bytes((last,)))


TX_NAMESPACE: Final = _primary(0x01)
INTERMEDIATE_STATE_ROOTS_NAMESPACE: Final = _primary(0x02)
PAY_FOR_BLOB_NAMESPACE: Final = _primary(0x04)
PAY_FOR_FIBRE_NAMESPACE: Final = _primary(0x05)
PRIMARY_RESERVED_PADDING_NAMESPACE: Final = _primary(0xFF)
MAX_PRIMARY_RESERVED_NAMESPACE: Final = PRIMARY_RESERVED_PADDING_NAMESPACE
MIN_SECONDARY_RESERVED_NAMESPACE: Final = _secondary(0x00)
TAIL_PADDING_NAMESPACE: Final = _secondary(0xFE)
PARITY_SHARES_NAMESPACE: Final = _secondary(0xFF)

# Constants checked at import: the orderings ValidateForBlob relies on.
assert TX_NAMESPACE < PAY_FOR_BLOB_NAMESPACE < MAX_PRIMARY_RESERVED_NAMESPACE
assert MIN_SECONDARY_RESERVED_NAMESPACE < TAIL_PADDING_NAMESPACE < PARITY_SHARES_NAMESPACE
assert PARITY_SHARES_NAMESPACE.to_bytes() == b"\xff" * NAMESPACE_SIZE
