"""Commitment points as bytes: the one 64-byte encoding, decoding with curve checks, ezkl and py-ecc forms.

A commitment point is carried as **64 bytes: x || y, each a 32-byte big-endian integer of the BN254
base field** (uncompressed affine), byte for byte what ezkl 23.0.5 writes into a proof's ``proof``
bytes for a ``polycommit`` input; the identity is 64 zero bytes (:mod:`zkagg._kzg.commit` explains
why). Nothing decoded from outside is trusted: :func:`decode_point` checks canonical coordinates
and the curve equation before any arithmetic.
"""

from __future__ import annotations

from typing import Any

from py_ecc.fields import optimized_bn128_FQ as FQ
from py_ecc.optimized_bn128.optimized_curve import b as _CURVE_B
from py_ecc.optimized_bn128.optimized_curve import field_modulus as _BASE_MODULUS
from py_ecc.optimized_bn128.optimized_curve import normalize

from zkagg._errors import CommitmentMismatch, InvalidArgument, InvalidProof
from zkagg._prover.artifacts import CircuitArtifacts
from zkagg._prover.proof import Proof, verify

__all__ = [
    "POINT_SIZE",
    "PyEccPoint",
    "checked_coordinates",
    "decode_point",
    "point_from_ezkl",
    "point_from_py_ecc",
    "point_to_py_ecc",
    "proof_input_commitments",
    "verified_input_commitments",
]

POINT_SIZE = 64
PyEccPoint = tuple[FQ, FQ, FQ]
_IDENTITY_BYTES = bytes(POINT_SIZE)
_B = int(_CURVE_B)


def point_from_ezkl(point: Any) -> bytes:
    """Encode ezkl's ``PyG1Affine`` (little-endian hex ``x``, ``y``) as 64 bytes (big-endian x || y)."""
    x = bytes.fromhex(str(point.x))[::-1]
    y = bytes.fromhex(str(point.y))[::-1]
    if len(x) != 32 or len(y) != 32:
        raise InvalidArgument(f"ezkl point coordinates must be 32 bytes, not {len(x)} and {len(y)}")
    return x + y


def checked_coordinates(data: bytes, what: str = "point") -> tuple[int, int] | None:
    """The affine ``(x, y)`` of a 64-byte point, or ``None`` for the identity (64 zero bytes).

    Checks the length, canonical coordinates (below the base field's modulus) and the curve
    equation ``y**2 == x**3 + 3``; raises :class:`CommitmentMismatch` naming ``what`` otherwise.
    """
    if not isinstance(data, bytes | bytearray):
        raise CommitmentMismatch(f"{what} must be {POINT_SIZE} bytes, not a {type(data).__name__}")
    if len(data) != POINT_SIZE:
        raise CommitmentMismatch(f"{what} must be {POINT_SIZE} bytes, not {len(data)}")
    if data == _IDENTITY_BYTES:
        return None
    x = int.from_bytes(data[:32], "big")
    y = int.from_bytes(data[32:], "big")
    if x >= _BASE_MODULUS or y >= _BASE_MODULUS or (y * y - x * x * x - _B) % _BASE_MODULUS:
        raise CommitmentMismatch(f"{what} is not a point of BN254 G1")
    return x, y


def decode_point(data: bytes, what: str = "point") -> PyEccPoint:
    """Decode 64 bytes into a py_ecc Jacobian point, checking it is on the curve (:func:`checked_coordinates`)."""
    xy = checked_coordinates(data, what)
    if xy is None:
        return (FQ(1), FQ(1), FQ(0))
    return (FQ(xy[0]), FQ(xy[1]), FQ(1))


def point_to_py_ecc(data: bytes) -> PyEccPoint:
    """64-byte encoding -> ``py_ecc.optimized_bn128`` Jacobian point (see :func:`decode_point`)."""
    return decode_point(data)


def point_from_py_ecc(point: PyEccPoint) -> bytes:
    """``py_ecc.optimized_bn128`` Jacobian point -> 64-byte encoding."""
    if point[2] == FQ(0):
        return _IDENTITY_BYTES
    x, y = normalize(point)
    return int(x.n).to_bytes(32, "big") + int(y.n).to_bytes(32, "big")


def proof_input_commitments(proof: Proof, n_inputs: int) -> list[bytes]:
    """The commitments of a proof's first ``n_inputs`` ``polycommit`` inputs (64 bytes each).

    ezkl 23.0.5 writes them first in the proof bytes, in graph-input order, as big-endian ``x || y``
    (the encoding of :mod:`zkagg._kzg.commit`); each input here fits one column.
    """
    raw = bytes(proof.ezkl_proof.get("proof", []))
    if len(raw) < n_inputs * POINT_SIZE:
        raise InvalidProof(f"proof has {len(raw)} bytes, too short for {n_inputs} committed inputs")
    return [raw[i * POINT_SIZE : (i + 1) * POINT_SIZE] for i in range(n_inputs)]


def verified_input_commitments(
    proof: Proof, artifacts: CircuitArtifacts, n_inputs: int, what: str
) -> list[bytes]:
    """Verify ``proof`` under ``artifacts`` and return the commitments of its first ``n_inputs`` inputs.

    The one way a verifier reads the commitments a proof is bound to: only after the proof names
    and verifies under the expected key. ``what`` names the proof in errors (``"norm proof 3"``).

    Raises
    ------
    InvalidProof
        The proof was made with another key, does not verify, or is too short.
    """
    if proof.vk_sha256 != artifacts.vk_sha256:
        raise InvalidProof(f"{what} was made with another circuit's key")
    try:
        verify(proof, artifacts)
    except InvalidProof as exc:
        raise InvalidProof(f"{what} does not verify: {exc}") from exc
    return proof_input_commitments(proof, n_inputs)
