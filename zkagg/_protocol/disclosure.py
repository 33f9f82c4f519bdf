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

    r = H(nonce tag | w | tag | P | E) mod L,  R1 = r B,  R2 = r E,
    c = H(tag | P | E | S | R1 | R2) mod L,  z = r + c w mod L

(the nonce derived from the witness and the statement, as EdDSA derives its nonces)

and the evidence is ``S | c | z`` (96 bytes; ``c`` and ``z`` canonical, below ``L``). A verifier
recomputes ``R1 = z B - c P`` and ``R2 = z E - c S`` and compares the challenge.

Ephemeral keys must lift to a point of the prime-order subgroup. Honest boxes always do (an X25519
key is a multiple of the base point); a box whose ephemeral key does not is refused outright and
publicly (:func:`check_ephemeral`), with nothing to disclose.

**The sender proves it knows its ephemeral key.** Without that, a disclosure would be an oracle: a
client that copies an honest client's ephemeral key (or whole box) into an update of its own gets
a box that does not open under its own associated data, the shard must disclose ``s * E``, and that
opens the honest client's box. So every sealed update carries a Schnorr proof of knowledge of the
ephemeral secret ``e`` with ``E = e B``, bound to the update's associated data (deployment, round,
shard, client id): ``R = r B, c = H(tag | E | R | aad) mod L, z = r + c e``, 64 bytes ``c | z``
(:func:`prove_ephemeral`). :func:`check_ephemeral` verifies it publicly before anything is opened;
a box whose proof fails is excluded with nothing disclosed. A disclosure then only ever reveals a
shared secret its sender already knew.
"""

from __future__ import annotations

import hashlib
from typing import Final

from nacl import bindings as sodium
from nacl.exceptions import CryptoError

from zkagg._errors import InvalidArgument, ProtocolError
from zkagg._protocol.keys import KEY_SIZE, SEAL_OVERHEAD, EncryptionKey, open_with_shared

__all__ = [
    "DISCLOSURE_SIZE",
    "EPHEMERAL_PROOF_SIZE",
    "check_ephemeral",
    "disclose",
    "open_disclosed",
    "prove_ephemeral",
]

#: Size of a disclosure: the shared point ``S``, the challenge ``c`` and the response ``z``.
DISCLOSURE_SIZE: Final = 96
_P: Final = 2**255 - 19
#: The order of the prime-order subgroup of edwards25519.
_L: Final = 2**252 + 27742317777372353535851937790883648493
#: Size of a proof of knowledge of a box's ephemeral key: the challenge ``c`` and the response ``z``.
EPHEMERAL_PROOF_SIZE: Final = 64
_TAG: Final = b"zkagg/disclosure/v1 chaum-pedersen edwards25519 sha512\x00"
_POK_TAG: Final = b"zkagg/ephemeral-key/v1 schnorr edwards25519 sha512\x00"
_NONCE_TAG: Final = b"zkagg/proof-nonce/v1\x00"


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


def _challenge(*points: bytes, tag: bytes = _TAG) -> int:
    return int.from_bytes(hashlib.sha512(tag + b"".join(points)).digest(), "little") % _L


def _witness(key: EncryptionKey, point: bytes) -> int:
    """``w`` with ``w B = point``, where ``point`` is the (sign-0) lift of ``key``'s public key."""
    clamped = bytearray(key.to_bytes())
    clamped[0] &= 248
    clamped[31] = (clamped[31] & 127) | 64
    w = int.from_bytes(clamped, "little") % _L
    if sodium.crypto_scalarmult_ed25519_base_noclamp(_scalar(w)) != point:
        w = _L - w  # the lift took the other sign of the public key
    return w


def _nonce(w: int, *context: bytes) -> int:
    """A proof's nonce derived from its witness and everything its challenge binds, as EdDSA does.

    The same statement always gets the same proof, and two statements never share a nonce, so no
    random number generator can leak the witness.
    """
    digest = hashlib.sha512(_NONCE_TAG + _scalar(w) + b"".join(context)).digest()
    return int.from_bytes(digest, "little") % _L or 1


def _scalars(name: str, data: bytes) -> tuple[bytes, bytes]:
    """Two canonical non-zero scalars ``c | z``, or a ProtocolError naming ``name``."""
    c_bytes, z_bytes = data[:32], data[32:64]
    if not 0 < int.from_bytes(c_bytes, "little") < _L or not 0 < int.from_bytes(z_bytes, "little") < _L:
        raise ProtocolError(f"{name}'s challenge and response must be canonical scalars in (0, L)")
    return c_bytes, z_bytes


def _recompute(z_bytes: bytes, c_bytes: bytes, base: bytes | None, point: bytes) -> bytes:
    """``z base - c point`` (``base`` None: the group's base point)."""
    zb = (
        sodium.crypto_scalarmult_ed25519_base_noclamp(z_bytes)
        if base is None
        else sodium.crypto_scalarmult_ed25519_noclamp(z_bytes, base)
    )
    return sodium.crypto_core_ed25519_sub(zb, sodium.crypto_scalarmult_ed25519_noclamp(c_bytes, point))


def prove_ephemeral(ephemeral: EncryptionKey, aad: bytes) -> bytes:
    """A sender's proof that it knows ``ephemeral`` (the key its box was sealed with), bound to ``aad``.

    Raises
    ------
    ProtocolError
        The key does not lift to the prime-order group (no key :class:`EncryptionKey` generates).
    """
    if not isinstance(ephemeral, EncryptionKey):
        raise InvalidArgument(f"ephemeral must be an EncryptionKey, not {type(ephemeral).__name__}")
    point = _lift(ephemeral.public_key, "the ephemeral key")
    w = _witness(ephemeral, point)
    r = _nonce(w, _POK_TAG, point, bytes(aad))
    commitment = sodium.crypto_scalarmult_ed25519_base_noclamp(_scalar(r))
    c = _challenge(point, commitment, bytes(aad), tag=_POK_TAG)
    return _scalar(c) + _scalar((r + c * w) % _L)


def check_ephemeral(box: bytes, aad: bytes, proof: bytes) -> None:
    """Check a box's ephemeral key: in the prime-order group, and known to its sender for ``aad``.

    Public: anyone runs it from the update alone. ``proof`` is :func:`prove_ephemeral`'s.

    Raises
    ------
    ProtocolError
        The box is too short, its ephemeral key is non-canonical, small-order or on the twist, or
        the proof is malformed or does not verify (another key, or other associated data: a key
        copied from someone else's box).
    """
    if len(box) < SEAL_OVERHEAD:
        raise ProtocolError(f"sealed box must be at least {SEAL_OVERHEAD} bytes, not {len(box)}")
    point = _lift(box[:KEY_SIZE], "the ephemeral key")
    if len(proof) != EPHEMERAL_PROOF_SIZE:
        raise ProtocolError(
            f"the proof of the ephemeral key must be {EPHEMERAL_PROOF_SIZE} bytes, not {len(proof)}"
        )
    c_bytes, z_bytes = _scalars("the proof of the ephemeral key", proof)
    try:
        commitment = _recompute(z_bytes, c_bytes, None, point)
    except (CryptoError, RuntimeError, ValueError) as exc:
        raise ProtocolError(f"the proof of the ephemeral key does not verify: {exc}") from exc
    if _challenge(point, commitment, bytes(aad), tag=_POK_TAG) != int.from_bytes(c_bytes, "little"):
        raise ProtocolError(
            "the proof of the ephemeral key does not verify: its sender does not know it for this "
            "update's deployment, round, shard and client (a key copied from another box?)"
        )


def disclose(key: EncryptionKey, box: bytes) -> bytes:
    """The recipient's disclosure of ``box``'s shared secret: ``S | c | z`` (:data:`DISCLOSURE_SIZE` bytes).

    Only for a box whose ephemeral key passed :func:`check_ephemeral` (the caller's duty: this
    function checks the group, not the sender's proof).

    Raises
    ------
    ProtocolError
        The ephemeral key or the recipient's own public key is not in the prime-order group.
    """
    if not isinstance(key, EncryptionKey):
        raise InvalidArgument(f"key must be an EncryptionKey, not {type(key).__name__}")
    if len(box) < SEAL_OVERHEAD:
        raise ProtocolError(f"sealed box must be at least {SEAL_OVERHEAD} bytes, not {len(box)}")
    public = _lift(key.public_key, "the recipient's public key")
    ephemeral = _lift(box[:KEY_SIZE], "the ephemeral key")
    w = _witness(key, public)
    shared = sodium.crypto_scalarmult_ed25519_noclamp(_scalar(w), ephemeral)
    r = _nonce(w, _TAG, public, ephemeral)
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
    if len(box) < SEAL_OVERHEAD:
        raise ProtocolError(f"sealed box must be at least {SEAL_OVERHEAD} bytes, not {len(box)}")
    ephemeral = _lift(box[:KEY_SIZE], "the ephemeral key")
    shared = evidence[:32]
    c_bytes, z_bytes = _scalars("the disclosure", evidence[32:])
    c = int.from_bytes(c_bytes, "little")
    if not sodium.crypto_core_ed25519_is_valid_point(shared):
        raise ProtocolError("the disclosed shared point is not a point of the prime-order group")
    try:
        r1 = _recompute(z_bytes, c_bytes, None, public)
        r2 = _recompute(z_bytes, c_bytes, ephemeral, shared)
    except (CryptoError, RuntimeError, ValueError) as exc:
        raise ProtocolError(f"the disclosure's proof does not verify: {exc}") from exc
    if _challenge(public, ephemeral, shared, r1, r2) != c:
        raise ProtocolError("the disclosure's proof does not verify: the shared secret is not the box's")
    try:
        return open_with_shared(_u_of(shared), box, recipient_public_key, aad)
    except ProtocolError:
        return None
