r"""Disclosing the shared secret of one sealed box, with a proof that it is the right one.

A shard aggregator that excludes a client update for what is inside its ciphertext (it does not
decrypt, does not decode, leaves the range of a model or does not match its commitment) must let
anyone check the accusation without learning any other update. It discloses the X25519 shared
secret of that one box (:func:`zkagg._protocol.keys.seal`: every box has its own ephemeral key, so
the secret opens that box and no other) together with a Chaum-Pedersen proof that the secret is
``s * E`` for the same private scalar ``s`` whose public key ``s * B`` the deployment names. Without
the proof an aggregator could disclose a wrong secret and make any honest update look undecryptable;
with it, a false accusation is impossible and an honest client's update is never revealed (its box
decrypts, so the only true accusations concern faulty clients).

The proof lives on edwards25519, the curve birationally equivalent to X25519's Montgomery curve,
with libsodium's group operations (PyNaCl's ``crypto_core_ed25519_*`` and
``crypto_scalarmult_ed25519_*`` bindings: constant-time, well-kept, and the only maintained Python
binding that exposes Ed25519 point arithmetic). An X25519 public key is a Montgomery ``u``; it
lifts to the Edwards point with ``y = (u - 1) / (u + 1)`` and sign bit 0, which is ``+-(its
point)``. For the aggregator's key ``P = lift(u_P)`` and the box's ephemeral key ``E = lift(u_E)``,
the aggregator's clamped scalar ``s`` gives a witness ``w = +-s mod L`` with ``P = w B``, and
``S = w E`` has ``u(S) = X25519(s, u_E)`` whichever signs the lifts took. The proof shows
``log_B P = log_E S``:

    r random, R1 = r B, R2 = r E, c = H(tag | P | E | S | R1 | R2) mod L, z = r + c w mod L

and the evidence is ``S | c | z`` (96 bytes; ``c`` and ``z`` canonical, below ``L``). A verifier
recomputes ``R1 = z B - c P`` and ``R2 = z E - c S`` and compares the challenge.

Ephemeral keys must lift to a point of the prime-order subgroup. Honest boxes always do (an X25519
key is a multiple of the base point); a box whose ephemeral key does not is refused outright and
publicly (:func:`check_ephemeral`), with nothing to disclose.
"""

from __future__ import annotations

import hashlib
import os
from typing import Final

from nacl import bindings as sodium
from nacl.exceptions import CryptoError

from zkagg._errors import InvalidArgument, ProtocolError
from zkagg._protocol.keys import KEY_SIZE, SEAL_OVERHEAD, EncryptionKey, open_with_shared

__all__ = ["DISCLOSURE_SIZE", "check_ephemeral", "disclose", "open_disclosed"]

#: Size of a disclosure: the shared point ``S``, the challenge ``c`` and the response ``z``.
DISCLOSURE_SIZE: Final = 96
_P: Final = 2**255 - 19
#: The order of the prime-order subgroup of edwards25519.
_L: Final = 2**252 + 27742317777372353535851937790883648493
_TAG: Final = b"zkagg/disclosure/v1 chaum-pedersen edwards25519 sha512\x00"


def _lift(u_bytes: bytes, what: str) -> bytes:
    """The Edwards encoding (sign bit 0) of an X25519 public key, which must lie in the prime-order group."""
    u = int.from_bytes(u_bytes, "little")
    if u >= _P:
        raise ProtocolError(f"{what} {u_bytes.hex()} is not a canonical X25519 public key")
    if u + 1 == _P:
        raise ProtocolError(f"{what} {u_bytes.hex()} has no point on edwards25519")
    y = (u - 1) * pow(u + 1, -1, _P) % _P
    point = y.to_bytes(32, "little")
    if not sodium.crypto_core_ed25519_is_valid_point(point):
        raise ProtocolError(
            f"{what} {u_bytes.hex()} is not a point of the prime-order group (a small-order or "
            "twist point, which no X25519 key generator makes)"
        )
    return point


def _u_of(point: bytes) -> bytes:
    """The X25519 ``u`` of an Edwards point: ``(1 + y) / (1 - y)``."""
    y = int.from_bytes(point, "little") & ((1 << 255) - 1)
    return ((1 + y) * pow((1 - y) % _P, -1, _P) % _P).to_bytes(32, "little")


def _scalar(n: int) -> bytes:
    return (n % _L).to_bytes(32, "little")


def _challenge(*points: bytes) -> int:
    return int.from_bytes(hashlib.sha512(_TAG + b"".join(points)).digest(), "little") % _L


def check_ephemeral(box: bytes) -> None:
    """Check that a sealed box's ephemeral key lifts to the prime-order group (public; ``None`` or raises).

    Raises
    ------
    ProtocolError
        The box is too short, or its ephemeral key is non-canonical, small-order or on the twist.
    """
    if len(box) < SEAL_OVERHEAD:
        raise ProtocolError(f"sealed box must be at least {SEAL_OVERHEAD} bytes, not {len(box)}")
    _lift(box[:KEY_SIZE], "the ephemeral key")


def disclose(key: EncryptionKey, box: bytes) -> bytes:
    """The recipient's disclosure of ``box``'s shared secret: ``S | c | z`` (:data:`DISCLOSURE_SIZE` bytes).

    Raises
    ------
    ProtocolError
        The ephemeral key is not in the prime-order group (:func:`check_ephemeral`), or the
        recipient's own public key is not (no key :class:`EncryptionKey` generates).
    """
    if not isinstance(key, EncryptionKey):
        raise InvalidArgument(f"key must be an EncryptionKey, not {type(key).__name__}")
    check_ephemeral(box)
    public = _lift(key.public_key, "the recipient's public key")
    ephemeral = _lift(box[:KEY_SIZE], "the ephemeral key")
    clamped = bytearray(key.to_bytes())
    clamped[0] &= 248
    clamped[31] = (clamped[31] & 127) | 64
    w = int.from_bytes(clamped, "little") % _L
    if sodium.crypto_scalarmult_ed25519_base_noclamp(_scalar(w)) != public:
        w = _L - w  # the lift took the other sign of the public key
    shared = sodium.crypto_scalarmult_ed25519_noclamp(_scalar(w), ephemeral)
    r = int.from_bytes(os.urandom(64), "little") % _L or 1
    r1 = sodium.crypto_scalarmult_ed25519_base_noclamp(_scalar(r))
    r2 = sodium.crypto_scalarmult_ed25519_noclamp(_scalar(r), ephemeral)
    c = _challenge(public, ephemeral, shared, r1, r2)
    z = (r + c * w) % _L
    return shared + _scalar(c) + _scalar(z)


def open_disclosed(recipient_public_key: bytes, box: bytes, aad: bytes, evidence: bytes) -> bytes | None:
    """Check a disclosure of ``box``'s shared secret and open the box with it.

    Returns the plaintext, or ``None`` when the proven secret does not open the box (the box is
    faulty: its sender sealed something the recipient cannot decrypt).

    Raises
    ------
    ProtocolError
        The evidence does not prove the shared secret: wrong size, non-canonical values, or a
        proof that does not verify (whoever disclosed it lied), or the ephemeral or recipient key is
        not in the prime-order group.
    """
    if len(evidence) != DISCLOSURE_SIZE:
        raise ProtocolError(f"a disclosure must be {DISCLOSURE_SIZE} bytes, not {len(evidence)}")
    public = _lift(recipient_public_key, "the recipient's public key")
    check_ephemeral(box)
    ephemeral = _lift(box[:KEY_SIZE], "the ephemeral key")
    shared, c_bytes, z_bytes = evidence[:32], evidence[32:64], evidence[64:]
    c, z = int.from_bytes(c_bytes, "little"), int.from_bytes(z_bytes, "little")
    if not 0 < c < _L or not 0 < z < _L:
        raise ProtocolError("the disclosure's challenge and response must be canonical scalars in (0, L)")
    if not sodium.crypto_core_ed25519_is_valid_point(shared):
        raise ProtocolError("the disclosed shared point is not a point of the prime-order group")
    try:
        r1 = sodium.crypto_core_ed25519_sub(
            sodium.crypto_scalarmult_ed25519_base_noclamp(z_bytes),
            sodium.crypto_scalarmult_ed25519_noclamp(c_bytes, public),
        )
        r2 = sodium.crypto_core_ed25519_sub(
            sodium.crypto_scalarmult_ed25519_noclamp(z_bytes, ephemeral),
            sodium.crypto_scalarmult_ed25519_noclamp(c_bytes, shared),
        )
    except (CryptoError, RuntimeError, ValueError) as exc:
        raise ProtocolError(f"the disclosure's proof does not verify: {exc}") from exc
    if _challenge(public, ephemeral, shared, r1, r2) != c:
        raise ProtocolError("the disclosure's proof does not verify: the shared secret is not the box's")
    try:
        return open_with_shared(_u_of(shared), box, recipient_public_key, aad)
    except ProtocolError:
        return None
