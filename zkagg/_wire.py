"""A small deterministic binary encoding for round messages: fixed schemas, big-endian, validated.

Every round message (:mod:`zkagg._protocol.messages`) is written as a fixed sequence of fields, no tags and
no optional padding, so one value has exactly one encoding::

    message   = magic "ZKAG" (4 bytes) | type (u8) | version (u8) | fields...
    u8..u64   = unsigned, big-endian, 1/2/4/8 bytes
    fixed(n)  = exactly n raw bytes (keys, hashes, signatures)
    bytes     = length (u32) | raw bytes          (each field has its own maximum length)
    str       = length (u16) | UTF-8 bytes         (each field has its own maximum length)
    list      = count (u32) | items                (each field has its own maximum count)
    optional  = flag (u8: 0 absent, 1 present) | value when present
    bool      = u8, 0 or 1

Decoding checks everything: a field cut short, a length or count above its field's maximum, a flag
or bool other than 0/1, invalid UTF-8, an unknown magic, type or version, and bytes left after the
last field all raise :class:`~zkagg.ProtocolError` naming the field, what it must be and what it was.
Writing checks values against the same limits and raises :class:`~zkagg.InvalidArgument`, so a
message that encodes always decodes.
"""

from __future__ import annotations

import struct
from typing import Final

from zkagg._errors import InvalidArgument, ProtocolError

__all__ = [
    "MAGIC",
    "Reader",
    "Writer",
]

#: The first four bytes of every zkagg round message.
MAGIC: Final = b"ZKAG"

_UINT_FORMATS: Final = {1: ">B", 2: ">H", 4: ">I", 8: ">Q"}


def _check_uint(name: str, value: int, size: int) -> int:
    limit = 1 << (8 * size)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name} must be an integer in [0, 2**{8 * size}), not {value!r}")
    if not 0 <= value < limit:
        raise InvalidArgument(f"{name} must be an integer in [0, 2**{8 * size}), not {value}")
    return value


def _as_bytes(name: str, value: object) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise InvalidArgument(f"{name} must be bytes, not {type(value).__name__}")
    return bytes(value)


class Writer:
    """Append fields to a message; every value is checked against the limits the reader enforces.

    Parameters
    ----------
    msg_type
        The message type byte.
    version
        The message version byte.

    Examples
    --------
    >>> w = Writer(1, 1)
    >>> w.u16("shard", 3)
    >>> w.bytes_("payload", b"hi", max_len=16)
    >>> w.getvalue().hex()
    '5a4b414701010003000000026869'
    """

    def __init__(self, msg_type: int, version: int) -> None:
        self._parts: list[bytes] = [MAGIC]
        self.u8("msg_type", msg_type)
        self.u8("version", version)

    @classmethod
    def raw(cls) -> Writer:
        """Return a writer without the message header (for hash inputs and associated data)."""
        writer = cls(0, 0)
        writer._parts = []
        return writer

    def getvalue(self) -> bytes:
        """Return the bytes written so far."""
        return b"".join(self._parts)

    def _uint(self, name: str, value: int, size: int) -> None:
        self._parts.append(struct.pack(_UINT_FORMATS[size], _check_uint(name, value, size)))

    def u8(self, name: str, value: int) -> None:
        """Write an unsigned 8-bit integer."""
        self._uint(name, value, 1)

    def u16(self, name: str, value: int) -> None:
        """Write an unsigned 16-bit integer, big-endian."""
        self._uint(name, value, 2)

    def u32(self, name: str, value: int) -> None:
        """Write an unsigned 32-bit integer, big-endian."""
        self._uint(name, value, 4)

    def u64(self, name: str, value: int) -> None:
        """Write an unsigned 64-bit integer, big-endian."""
        self._uint(name, value, 8)

    def bool_(self, name: str, value: bool) -> None:
        """Write a bool as one byte, 0 or 1."""
        if not isinstance(value, bool):
            raise InvalidArgument(f"{name} must be a bool, not {value!r}")
        self._parts.append(b"\x01" if value else b"\x00")

    def flag(self, name: str, present: bool) -> None:
        """Write the presence flag of an optional field."""
        self.bool_(name, present)

    def fixed(self, name: str, value: bytes, size: int) -> None:
        """Write exactly ``size`` raw bytes."""
        raw = _as_bytes(name, value)
        if len(raw) != size:
            raise InvalidArgument(f"{name} must be exactly {size} bytes, not {len(raw)}")
        self._parts.append(raw)

    def bytes_(self, name: str, value: bytes, *, max_len: int, min_len: int = 0) -> None:
        """Write a u32 length, then the bytes (``min_len <= len <= max_len``)."""
        raw = _as_bytes(name, value)
        if not min_len <= len(raw) <= max_len:
            raise InvalidArgument(f"{name} must be {min_len} to {max_len} bytes long, not {len(raw)}")
        self._uint(f"{name} length", len(raw), 4)
        self._parts.append(raw)

    def str_(self, name: str, value: str, *, max_len: int, min_len: int = 0) -> None:
        """Write a u16 length, then the UTF-8 bytes (the limits count bytes, not characters)."""
        if not isinstance(value, str):
            raise InvalidArgument(f"{name} must be a str, not {type(value).__name__}")
        try:
            raw = value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidArgument(f"{name} must be encodable as UTF-8, not {value!r}") from exc
        if not min_len <= len(raw) <= min(max_len, 0xFFFF):
            raise InvalidArgument(
                f"{name} must be {min_len} to {max_len} bytes long in UTF-8, not {len(raw)}"
            )
        self._uint(f"{name} length", len(raw), 2)
        self._parts.append(raw)

    def count(self, name: str, n: int, *, max_count: int, min_count: int = 0) -> None:
        """Write the u32 item count of a list (``min_count <= n <= max_count``)."""
        if not min_count <= n <= max_count:
            raise InvalidArgument(f"{name} must have {min_count} to {max_count} items, not {n}")
        self._uint(f"{name} count", n, 4)


class Reader:
    """Read fields back from a message, validating each one.

    Parameters
    ----------
    data
        The encoded message (or a headerless encoding, with :meth:`raw`).
    what
        The message's name, used in error messages (``"ClientUpdate"``).

    Raises
    ------
    ProtocolError
        From every method, when the input does not hold what the schema says.
    """

    def __init__(self, data: bytes, what: str) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidArgument(f"{what} data must be bytes, not {type(data).__name__}")
        self._data = bytes(data)
        self._pos = 0
        self.what = what

    @property
    def offset(self) -> int:
        """The number of bytes read so far."""
        return self._pos

    def header(self, msg_type: int, versions: tuple[int, ...]) -> int:
        """Read and check the magic, the type and the version; return the version."""
        magic = self._take("magic", 4)
        if magic != MAGIC:
            raise ProtocolError(f"{self.what}: magic must be {MAGIC!r}, not {magic!r}")
        got_type = self.u8("type")
        if got_type != msg_type:
            raise ProtocolError(f"{self.what}: message type must be {msg_type}, not {got_type}")
        version = self.u8("version")
        if version not in versions:
            raise ProtocolError(
                f"{self.what}: version must be one of {list(versions)} (this zkagg reads those), not {version}"
            )
        return version

    def _take(self, name: str, size: int) -> bytes:
        left = len(self._data) - self._pos
        if size > left:
            raise ProtocolError(
                f"{self.what}: truncated at {name}: it needs {size} bytes at offset {self._pos}, "
                f"but only {left} remain"
            )
        out = self._data[self._pos : self._pos + size]
        self._pos += size
        return out

    def _uint(self, name: str, size: int) -> int:
        value: int = struct.unpack(_UINT_FORMATS[size], self._take(name, size))[0]
        return value

    def u8(self, name: str) -> int:
        """Read an unsigned 8-bit integer."""
        return self._uint(name, 1)

    def u16(self, name: str) -> int:
        """Read an unsigned 16-bit integer."""
        return self._uint(name, 2)

    def u32(self, name: str) -> int:
        """Read an unsigned 32-bit integer."""
        return self._uint(name, 4)

    def u64(self, name: str) -> int:
        """Read an unsigned 64-bit integer."""
        return self._uint(name, 8)

    def bool_(self, name: str) -> bool:
        """Read a bool: one byte that must be 0 or 1."""
        value = self.u8(name)
        if value > 1:
            raise ProtocolError(f"{self.what}: {name} must be 0 or 1, not {value}")
        return value == 1

    def flag(self, name: str) -> bool:
        """Read the presence flag of an optional field (0 or 1)."""
        return self.bool_(f"{name} presence flag")

    def fixed(self, name: str, size: int) -> bytes:
        """Read exactly ``size`` raw bytes."""
        return self._take(name, size)

    def bytes_(self, name: str, *, max_len: int, min_len: int = 0) -> bytes:
        """Read a u32 length and that many bytes, checking the length's bounds first."""
        n = self._uint(f"{name} length", 4)
        if not min_len <= n <= max_len:
            raise ProtocolError(f"{self.what}: {name} must be {min_len} to {max_len} bytes long, not {n}")
        return self._take(name, n)

    def str_(self, name: str, *, max_len: int, min_len: int = 0) -> str:
        """Read a u16 length and that many bytes of UTF-8."""
        n = self._uint(f"{name} length", 2)
        if not min_len <= n <= max_len:
            raise ProtocolError(
                f"{self.what}: {name} must be {min_len} to {max_len} bytes long in UTF-8, not {n}"
            )
        raw = self._take(name, n)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(f"{self.what}: {name} must be valid UTF-8, not {raw[:40]!r}") from exc

    def count(self, name: str, *, max_count: int, min_count: int = 0) -> int:
        """Read the u32 item count of a list, checking its bounds."""
        n = self._uint(f"{name} count", 4)
        if not min_count <= n <= max_count:
            raise ProtocolError(f"{self.what}: {name} must have {min_count} to {max_count} items, not {n}")
        return n

    def finish(self) -> None:
        """Check that every byte was read."""
        left = len(self._data) - self._pos
        if left:
            raise ProtocolError(
                f"{self.what}: the message must end after its last field at offset {self._pos}, "
                f"but {left} trailing bytes follow"
            )
