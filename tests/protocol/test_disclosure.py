"""A shard's disclosure of one box's shared secret: the right secret opens that box; any other is refused."""

from __future__ import annotations

import itertools

import pytest

from zkagg._errors import InvalidArgument, ProtocolError
from zkagg._protocol.disclosure import (
    DISCLOSURE_SIZE,
    check_ephemeral,
    disclose,
    open_disclosed,
    prove_ephemeral,
)
from zkagg._protocol.keys import EncryptionKey, open_sealed, open_with_shared, seal, seal_with
from zkagg._protocol.messages import ExcludedUpdate, ExclusionReason

_L = 2**252 + 27742317777372353535851937790883648493
_P = 2**255 - 19


@pytest.fixture
def box() -> tuple[EncryptionKey, bytes]:
    key = EncryptionKey.generate()
    return key, seal(key.public_key, b"an update", b"aad")


@pytest.mark.parametrize("run", range(8))
def test_disclosure_opens_its_box_for_anyone(run: int) -> None:
    key = EncryptionKey.generate()
    sealed = seal(key.public_key, b"update %d" % run, b"aad")
    evidence = disclose(key, sealed)
    assert len(evidence) == DISCLOSURE_SIZE
    assert open_disclosed(key.public_key, sealed, b"aad", evidence) == b"update %d" % run
    # The proven secret is the X25519 shared secret: it opens the box as the private key does
    assert open_with_shared(key.exchange(sealed[:32]), sealed, key.public_key, b"aad") == open_sealed(
        key, sealed, b"aad"
    )


def test_a_box_that_does_not_decrypt_is_proven_so(box: tuple[EncryptionKey, bytes]) -> None:
    key, sealed = box
    evidence = disclose(key, sealed)
    assert open_disclosed(key.public_key, sealed, b"other aad", evidence) is None
    broken = sealed[:-1] + bytes([sealed[-1] ^ 1])
    assert open_disclosed(key.public_key, broken, b"aad", disclose(key, broken)) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e[:32] + bytes([e[32] ^ 1]) + e[33:], "does not verify"),  # challenge
        (lambda e: e[:64] + bytes([e[64] ^ 1]) + e[65:], "does not verify"),  # response
        (
            lambda e: e[:64] + ((int.from_bytes(e[64:], "little") + _L) % 2**256).to_bytes(32, "little"),
            "canonical",
        ),
        (lambda e: bytes(32) + e[32:], "not a point of the prime-order group"),
        (lambda e: e[:95], "must be 96 bytes"),
    ],
)
def test_a_changed_disclosure_is_refused(
    box: tuple[EncryptionKey, bytes], change: object, message: str
) -> None:
    key, sealed = box
    evidence = disclose(key, sealed)
    with pytest.raises(ProtocolError, match=message):
        open_disclosed(key.public_key, sealed, b"aad", change(evidence))  # type: ignore[operator]


def test_a_wrong_secret_with_a_valid_proof_of_another_box_is_refused(
    box: tuple[EncryptionKey, bytes],
) -> None:
    key, sealed = box
    other = disclose(key, seal(key.public_key, b"x", b"aad"))
    with pytest.raises(ProtocolError, match="not the box's"):
        open_disclosed(key.public_key, sealed, b"aad", other)
    # Nor does the right secret verify against another recipient's key
    with pytest.raises(ProtocolError, match="does not verify"):
        open_disclosed(EncryptionKey.generate().public_key, sealed, b"aad", disclose(key, sealed))


def _twist_u() -> bytes:
    """The first ``u`` = 2, 3, ... that is no point of the prime-order group (on the twist, or torsion).

    Found by the group check alone: a random ``u`` that fails ``check_ephemeral`` for another reason
    (the all-zero proof) may well be in the group (1 in 16), which made this test fail now and then.
    """
    for n in itertools.count(2):
        u = n.to_bytes(32, "little")
        try:
            check_ephemeral(u + bytes(16), b"", bytes(64))
        except ProtocolError as exc:
            if "prime-order group" in str(exc):
                return u
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    "ephemeral",
    [bytes(32), (1).to_bytes(32, "little"), (_P + 3).to_bytes(32, "little"), (_P - 1).to_bytes(32, "little")],
    ids=["order-2", "order-4", "non-canonical", "u=-1"],
)
def test_ephemeral_keys_outside_the_group_are_refused(ephemeral: bytes) -> None:
    key = EncryptionKey.generate()
    with pytest.raises(ProtocolError, match="ephemeral key"):
        check_ephemeral(ephemeral + bytes(16), b"", b"\x01" * 64)
    with pytest.raises(ProtocolError, match="ephemeral key"):
        disclose(key, ephemeral + bytes(16))


def test_twist_ephemeral_key_is_refused() -> None:
    with pytest.raises(ProtocolError, match="prime-order group"):
        disclose(EncryptionKey.generate(), _twist_u() + bytes(16))


def test_bad_arguments_are_named() -> None:
    with pytest.raises(InvalidArgument, match="key must be an EncryptionKey"):
        disclose(b"k" * 32, bytes(48))  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match="at least 48 bytes"):
        check_ephemeral(bytes(47), b"", bytes(64))


@pytest.mark.parametrize("reason", list(ExclusionReason))
def test_each_exclusion_reason_has_one_evidence_form(reason: ExclusionReason) -> None:
    disclosed = reason in (
        ExclusionReason.UNDECRYPTABLE,
        ExclusionReason.BAD_CONTENT,
        ExclusionReason.COMMITMENT_MISMATCH,
    )
    good = bytes(DISCLOSURE_SIZE) if disclosed else b""
    ExcludedUpdate(b"c", 1, bytes(32), reason, good)
    for bad in (bytes(DISCLOSURE_SIZE - 1), b"" if disclosed else bytes(DISCLOSURE_SIZE)):
        with pytest.raises(InvalidArgument, match=f"evidence of exclusion reason {reason.name}"):
            ExcludedUpdate(b"c", 1, bytes(32), reason, bad)


def test_the_sender_proves_it_knows_the_ephemeral_key_for_its_own_update() -> None:
    recipient = EncryptionKey.generate().public_key
    ephemeral = EncryptionKey.generate()
    box = seal_with(ephemeral, recipient, b"update", b"client A")
    proof = prove_ephemeral(ephemeral, b"client A")
    check_ephemeral(box, b"client A", proof)
    # A copy of the box (and of its proof) in another client's update is refused publicly
    with pytest.raises(ProtocolError, match="a key copied from another box"):
        check_ephemeral(box, b"client B", proof)
    # So is a proof made for another key, whatever the associated data
    other = EncryptionKey.generate()
    with pytest.raises(ProtocolError, match="does not verify"):
        check_ephemeral(box, b"client A", prove_ephemeral(other, b"client A"))


@pytest.mark.parametrize(
    ("proof", "message"),
    [
        (bytes(63), "must be 64 bytes"),
        (bytes(64), "canonical scalars"),
        ((_L + 1).to_bytes(32, "little") + (1).to_bytes(32, "little"), "canonical scalars"),
    ],
)
def test_malformed_proofs_of_the_ephemeral_key_are_refused(proof: bytes, message: str) -> None:
    ephemeral = EncryptionKey.generate()
    box = seal_with(ephemeral, EncryptionKey.generate().public_key, b"x", b"aad")
    with pytest.raises(ProtocolError, match=message):
        check_ephemeral(box, b"aad", proof)
