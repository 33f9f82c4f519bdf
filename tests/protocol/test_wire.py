"""The encoding primitives: what the writer refuses, what the reader detects."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkagg._errors import InvalidArgument, ProtocolError
from zkagg._wire import MAGIC, Reader, Writer


def _sample() -> bytes:
    w = Writer(7, 1)
    w.u8("a", 255)
    w.u16("b", 65535)
    w.u32("c", 2**32 - 1)
    w.u64("d", 2**64 - 1)
    w.bool_("e", True)
    w.fixed("f", b"\xaa" * 3, 3)
    w.bytes_("g", b"xyz", max_len=8)
    w.str_("h", "héllo", max_len=16)
    w.count("i", 2, max_count=4)
    return w.getvalue()


def _read_sample(data: bytes) -> tuple[object, ...]:
    r = Reader(data, "Sample")
    r.header(7, (1,))
    out = (
        r.u8("a"),
        r.u16("b"),
        r.u32("c"),
        r.u64("d"),
        r.bool_("e"),
        r.fixed("f", 3),
        r.bytes_("g", max_len=8),
        r.str_("h", max_len=16),
        r.count("i", max_count=4),
    )
    r.finish()
    return out


def test_layout_is_big_endian_and_length_prefixed() -> None:
    # Prepare / Execute
    data = _sample()
    # Assert
    assert data[:4] == MAGIC
    assert data.hex() == (
        "5a4b41470701ffffffffffffffffffffffffffffff01aaaaaa0000000378797a000668c3a96c6c6f00000002"
    )
    assert _read_sample(data) == (255, 65535, 2**32 - 1, 2**64 - 1, True, b"\xaa" * 3, b"xyz", "héllo", 2)


def test_every_truncation_names_the_field() -> None:
    # Prepare
    data = _sample()
    for cut in range(len(data)):
        # Execute / Assert
        with pytest.raises(ProtocolError, match=r"Sample: (truncated at|magic)"):
            _read_sample(data[:cut])


def test_trailing_bytes() -> None:
    with pytest.raises(ProtocolError, match="1 trailing bytes follow"):
        _read_sample(_sample() + b"\x00")


@pytest.mark.parametrize(
    ("offset", "value", "message"),
    [
        (0, b"X", "magic must be b'ZKAG', not b'XKAG'"),
        (4, b"\x08", "message type must be 7, not 8"),
        (5, b"\x02", r"version must be one of \[1\] .*, not 2"),
        (21, b"\x02", "e must be 0 or 1, not 2"),
        (25, b"\x00\x00\x00\x09", "g must be 0 to 8 bytes long, not 9"),
        (32, b"\x00\x11", "h must be 0 to 16 bytes long in UTF-8, not 17"),
        (34, b"\xff", "h must be valid UTF-8"),
        (40, b"\x00\x00\x00\x05", "i must have 0 to 4 items, not 5"),
    ],
)
def test_reader_rejects_with_field_what_and_value(offset: int, value: bytes, message: str) -> None:
    # Prepare
    data = bytearray(_sample())
    data[offset : offset + len(value)] = value
    # Execute / Assert
    with pytest.raises(ProtocolError, match=message):
        _read_sample(bytes(data))


def test_oversize_length_is_refused_before_reading() -> None:
    # Prepare: a length of 4 GiB - 1 with nothing behind it
    w = Writer(7, 1)
    w.u32("len", 2**32 - 1)
    r = Reader(w.getvalue(), "Big")
    r.header(7, (1,))
    # Execute / Assert
    with pytest.raises(ProtocolError, match="blob must be 0 to 1024 bytes long, not 4294967295"):
        r.bytes_("blob", max_len=1024)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda w: w.u8("x", 256), r"x must be an integer in \[0, 2\*\*8\), not 256"),
        (lambda w: w.u16("x", -1), r"x must be an integer in \[0, 2\*\*16\), not -1"),
        (lambda w: w.u64("x", True), "x must be an integer"),
        (lambda w: w.fixed("x", b"ab", 3), "x must be exactly 3 bytes, not 2"),
        (lambda w: w.bytes_("x", b"abc", max_len=2), "x must be 0 to 2 bytes long, not 3"),
        (lambda w: w.bytes_("x", "abc", max_len=2), "x must be bytes, not str"),
        (lambda w: w.str_("x", "é", max_len=1), "x must be 0 to 1 bytes long in UTF-8, not 2"),
        (lambda w: w.str_("x", "\ud800", max_len=9), "x must be encodable as UTF-8"),
        (lambda w: w.bool_("x", 1), "x must be a bool, not 1"),
        (lambda w: w.count("x", 3, max_count=2), "x must have 0 to 2 items, not 3"),
    ],
)
def test_writer_refuses_what_the_reader_would(call: object, message: str) -> None:
    w = Writer(1, 1)
    with pytest.raises(InvalidArgument, match=message):
        call(w)  # type: ignore[operator]


@given(st.binary(max_size=64))
def test_reader_never_raises_anything_but_protocol_error(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        _read_sample(data)


def _write_sample(values: tuple[object, ...]) -> bytes:
    a, b, c, d, e, f, g, h, i = values
    w = Writer(7, 1)
    w.u8("a", a)  # type: ignore[arg-type]
    w.u16("b", b)  # type: ignore[arg-type]
    w.u32("c", c)  # type: ignore[arg-type]
    w.u64("d", d)  # type: ignore[arg-type]
    w.bool_("e", e)  # type: ignore[arg-type]
    w.fixed("f", f, 3)  # type: ignore[arg-type]
    w.bytes_("g", g, max_len=8)  # type: ignore[arg-type]
    w.str_("h", h, max_len=16)  # type: ignore[arg-type]
    w.count("i", i, max_count=4)  # type: ignore[arg-type]
    return w.getvalue()


@settings(max_examples=500)
@given(st.data())
def test_every_accepted_encoding_is_the_one_the_writer_writes(data: st.DataObject) -> None:
    # Prepare: the sample with a few bytes changed (including lengths, the bool and the UTF-8)
    encoded = bytearray(_sample())
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(6, len(encoded) - 1))
        encoded[at] = data.draw(st.sampled_from([0, 1, 2, 0x7F, 0x80, 0xC0, 0xC1, 0xE0, 0xED, 0xF4, 0xFF]))
    # Execute
    try:
        values = _read_sample(bytes(encoded))
    except ProtocolError:
        return
    # Assert: one value, one encoding
    assert _write_sample(values) == bytes(encoded)


@pytest.mark.parametrize(
    ("raw", "what"),
    [
        (b"\xc0\xaf", "overlong '/'"),
        (b"\xe0\x80\xaf", "overlong '/' in three bytes"),
        (b"\xed\xa0\x80", "a surrogate"),
        (b"\xf4\x90\x80\x80", "above U+10FFFF"),
    ],
)
def test_strings_are_strict_utf8(raw: bytes, what: str) -> None:
    w = Writer(7, 1)
    w.u16("len", len(raw))
    r = Reader(w.getvalue() + raw, "Text")
    r.header(7, (1,))
    with pytest.raises(ProtocolError, match="Text: s must be valid UTF-8"):
        r.str_("s", max_len=8)
