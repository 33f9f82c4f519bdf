"""Namespaces: wire form, version-0 user IDs, CLI parsing, ordering and go-square's validation."""

from __future__ import annotations

import base64

import pytest

from zkagg._errors import InvalidArgument
from zkagg.da._namespace import (
    MAX_PRIMARY_RESERVED_NAMESPACE,
    MIN_SECONDARY_RESERVED_NAMESPACE,
    PARITY_SHARES_NAMESPACE,
    PAY_FOR_BLOB_NAMESPACE,
    PAY_FOR_FIBRE_NAMESPACE,
    TAIL_PADDING_NAMESPACE,
    TX_NAMESPACE,
    Namespace,
)

USER = bytes.fromhex("42690c204d39600fddd3")
USER_NS_HEX = "00" + "00" * 18 + "42690c204d39600fddd3"


# -- construction ------------------------------------------------------------------------------


def test_v0_left_pads_the_user_id() -> None:
    # Prepare / Execute
    ns = Namespace.v0(bytes([1, 2, 3, 4, 5]))

    # Assert: CELESTIA.md §4 example
    assert base64.b64encode(ns.to_bytes()).decode() == "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQIDBAU="
    assert ns.version == 0
    assert ns.user_id == bytes(5) + bytes([1, 2, 3, 4, 5])


def test_v0_full_ten_byte_id() -> None:
    assert Namespace.v0(USER).to_bytes().hex() == USER_NS_HEX


@pytest.mark.parametrize("user_id", [b"", bytes(11)], ids=["empty", "eleven-bytes"])
def test_v0_rejects_bad_user_id_length(user_id: bytes) -> None:
    with pytest.raises(InvalidArgument, match=rf"user_id must be 1 to 10 bytes .* not {len(user_id)} bytes"):
        Namespace.v0(user_id)


def test_from_bytes_round_trip() -> None:
    # Prepare
    raw = bytes.fromhex(USER_NS_HEX)

    # Execute
    ns = Namespace.from_bytes(raw)

    # Assert
    assert ns.to_bytes() == raw
    assert str(ns) == USER_NS_HEX
    assert ns == Namespace.v0(USER)


@pytest.mark.parametrize("length", [0, 28, 30])
def test_from_bytes_rejects_wrong_length(length: int) -> None:
    with pytest.raises(InvalidArgument, match=rf"^invalid namespace length: {length}\. Must be 29 bytes$"):
        Namespace.from_bytes(bytes(length))


def test_from_bytes_rejects_unsupported_version() -> None:
    with pytest.raises(InvalidArgument, match=r"^unsupported namespace version 1$"):
        Namespace.from_bytes(b"\x01" + bytes(28))


def test_from_bytes_rejects_v0_id_without_zero_prefix() -> None:
    raw = b"\x00" + b"\x01" + bytes(27)
    with pytest.raises(
        InvalidArgument, match=r"^unsupported namespace id with version 0\. ID \[1 0 .*\] must start with 18"
    ):
        Namespace.from_bytes(raw)


def test_from_bytes_rejects_non_bytes() -> None:
    with pytest.raises(InvalidArgument, match="namespace must be bytes, not str"):
        Namespace.from_bytes("00" * 29)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("version", "ident", "message"),
    [
        (256, bytes(28), r"namespace version must be in \[0, 255\], not 256"),
        (-1, bytes(28), r"namespace version must be in \[0, 255\], not -1"),
        (0, bytes(27), r"unsupported namespace id length: id \[.*\] must be 28 bytes but it was 27 bytes"),
        (0, "x" * 28, "namespace id must be bytes, not str"),
        (True, bytes(28), "namespace version must be an int, not bool"),
    ],
    ids=["version-256", "version-negative", "id-27", "id-str", "version-bool"],
)
def test_constructor_rejects_bad_fields(version: object, ident: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Namespace(version, ident)  # type: ignore[arg-type]


# -- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected_hex"),
    [
        ("0x42690c204d39600fddd3", USER_NS_HEX),
        ("0X42690C204D39600FDDD3", USER_NS_HEX),
        ("42690c204d39600fddd3", USER_NS_HEX),
        ("0x" + USER_NS_HEX, USER_NS_HEX),
        (USER_NS_HEX, USER_NS_HEX),
        (base64.b64encode(bytes.fromhex(USER_NS_HEX)).decode(), USER_NS_HEX),
        ("zkagg", "00" * 24 + "7a6b616767"),
        ("cafe", "00" * 27 + "cafe"),
        ("  zkagg-1 ", "00" * 22 + "7a6b6167672d31"),
    ],
    ids=[
        "0x-user",
        "0X-upper",
        "bare-hex-user",
        "0x-wire",
        "bare-hex-wire",
        "base64-wire",
        "name",
        "hex-wins",
        "trim",
    ],
)
def test_parse_forms(text: str, expected_hex: str) -> None:
    assert Namespace.parse(text).to_bytes().hex() == expected_hex


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0xabc", "starts with 0x but is not an even number of hex digits"),
        ("0x" + "00" * 11, "is hex of 11 bytes; it must be 1 to 10 bytes"),
        ("a-name-that-is-too-long", "namespace must be 0x-hex or hex"),
        ("", "namespace must be 0x-hex or hex"),
        ("has space", "namespace must be 0x-hex or hex"),
        ("0x" + "01" * 29, "unsupported namespace version 1"),
    ],
    ids=["odd-hex", "hex-11", "long-name", "empty", "space", "wire-bad-version"],
)
def test_parse_rejects(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Namespace.parse(text)


def test_parse_rejects_non_str() -> None:
    with pytest.raises(InvalidArgument, match="namespace must be a str, not bytes"):
        Namespace.parse(b"zkagg")  # type: ignore[arg-type]


# -- ordering ----------------------------------------------------------------------------------


def test_order_is_bytewise_order_of_wire_form() -> None:
    # Prepare
    spaces = [
        PARITY_SHARES_NAMESPACE,
        Namespace.v0(b"\x02\x00"),
        TX_NAMESPACE,
        Namespace.v0(b"\x01\x00\x00"),
        TAIL_PADDING_NAMESPACE,
        Namespace.v0(b"\xff\xff"),
    ]

    # Execute
    ordered = sorted(spaces)

    # Assert
    assert [n.to_bytes() for n in ordered] == sorted(n.to_bytes() for n in spaces)


# -- validation for blobs ----------------------------------------------------------------------


def test_validate_for_blob_accepts_user_namespace() -> None:
    Namespace.v0(USER).validate_for_blob()
    Namespace.v0(b"\x01\x00").validate_for_blob()  # just above MAX_PRIMARY_RESERVED


@pytest.mark.parametrize(
    ("ns", "message"),
    [
        (TX_NAMESPACE, "invalid data namespace(" + "00" * 28 + "01): reserved data is forbidden"),
        (PAY_FOR_BLOB_NAMESPACE, "invalid data namespace(" + "00" * 28 + "04): reserved data is forbidden"),
        (PAY_FOR_FIBRE_NAMESPACE, "invalid data namespace(" + "00" * 28 + "05): reserved data is forbidden"),
        (
            MAX_PRIMARY_RESERVED_NAMESPACE,
            "invalid data namespace(" + "00" * 28 + "ff): reserved data is forbidden",
        ),
        (Namespace.v0(b"\x07"), "invalid data namespace(" + "00" * 28 + "07): reserved data is forbidden"),
        (
            MIN_SECONDARY_RESERVED_NAMESPACE,
            "invalid data namespace(" + "ff" * 28 + "00): reserved data is forbidden",
        ),
        (
            TAIL_PADDING_NAMESPACE,
            "invalid data namespace(" + "ff" * 28 + "fe): parity and tail padding namespace are forbidden",
        ),
        (
            PARITY_SHARES_NAMESPACE,
            "invalid data namespace(" + "ff" * 29 + "): parity and tail padding namespace are forbidden",
        ),
        (Namespace(255, bytes(28)), "blob version 255 is not supported"),
        (Namespace(3, bytes(28)), "unsupported namespace version 3"),
        (Namespace(0, b"\x01" + bytes(27)), "unsupported namespace id with version 0"),
    ],
    ids=[
        "tx",
        "pfb",
        "pff",
        "max-primary",
        "one-byte-user-id",
        "min-secondary",
        "tail-padding",
        "parity",
        "version-255-unreserved",
        "version-3",
        "v0-bad-prefix",
    ],
)
def test_validate_for_blob_rejects_with_go_square_message(ns: Namespace, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        ns.validate_for_blob()
    assert message in str(info.value)


def test_classification_helpers() -> None:
    assert PARITY_SHARES_NAMESPACE.is_parity_shares()
    assert TAIL_PADDING_NAMESPACE.is_tail_padding()
    assert TX_NAMESPACE.is_primary_reserved() and TX_NAMESPACE.is_reserved()
    assert MIN_SECONDARY_RESERVED_NAMESPACE.is_secondary_reserved()
    assert not Namespace.v0(USER).is_reserved()
