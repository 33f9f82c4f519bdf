"""What a shard publishes: its aggregate with the sums or proofs that verify it, and how proofs plug in.

:class:`ShardAggregate` is the versioned binary record a shard posts (``ZKSA``); :class:`ChunkProof`
one EZKL proof of one chunk; :class:`RuleBackend` the interface of a proven rule
(:mod:`zkagg._aggregation.rules` implements it for every rule but ``fedavg``).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from zkagg._aggregation.reference import fedavg_rescale
from zkagg._aggregation.spec import SPEC_SIZE, AggregationSpec
from zkagg._errors import InvalidArgument, ProtocolError, ZkaggError
from zkagg._executors._base import Executor
from zkagg._field import FIELD_MODULUS
from zkagg._kzg.commit import UpdateCommitment

__all__ = [
    "ChunkProof",
    "RuleBackend",
    "RuleProof",
    "ShardAggregate",
    "fedavg_aggregate",
    "rescale_signed",
    "signed_values",
]

_HALF = (FIELD_MODULUS - 1) // 2
_MAGIC = b"ZKSA"
_VERSION = 1


# -- the extension point for proven rules -------------------------------------------------------


@dataclass(frozen=True)
class ChunkProof:
    """One EZKL proof covering one chunk of a shard's aggregate.

    Attributes
    ----------
    chunk
        Index of the chunk the proof covers.
    circuit_id
        Hex SHA-256 of the verification key the proof must verify under (64 characters).
    proof
        The zkagg proof, :meth:`zkagg.Proof.to_bytes`.
    """

    chunk: int
    circuit_id: str
    proof: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.chunk, bool) or not isinstance(self.chunk, int) or not 0 <= self.chunk < 2**32:
            raise InvalidArgument(f"chunk must be an integer in [0, 2**32), not {self.chunk!r}")
        cid = self.circuit_id
        if not isinstance(cid, str) or len(cid) != 64 or any(c not in "0123456789abcdef" for c in cid):
            raise InvalidArgument(f"circuit_id must be 64 lowercase hex digits, not {cid!r}")
        if not isinstance(self.proof, bytes) or not self.proof:
            raise InvalidArgument("proof must be non-empty bytes")


@dataclass(frozen=True)
class RuleProof:
    """What a rule backend returns: the float aggregate (``length`` values) and its chunk proofs."""

    aggregate: npt.NDArray[np.float64]
    proofs: tuple[ChunkProof, ...]


class RuleBackend(Protocol):
    """How a proven rule plugs in (implemented by ``zkagg._aggregation.rules``).

    ``prove`` receives the validated inputs: ``quantized`` is an ``int64`` array of shape
    ``(clients, n_chunks * chunk_size)`` (zero padded), ``salts`` one list of chunk salts per client
    (or ``None`` when unsalted), ``commitments`` the clients' commitments when the caller has them.
    ``verify`` is called after :func:`verify_shard` has checked the spec, the domain of every
    commitment, the number of clients, the weights and the length; it returns ``None`` or raises
    :class:`~zkagg.InvalidProof` / :class:`~zkagg.CommitmentMismatch`.
    """

    def prove(
        self,
        spec: AggregationSpec,
        quantized: npt.NDArray[np.int64],
        weights: tuple[int, ...],
        length: int,
        salts: list[list[int]] | None,
        commitments: Sequence[UpdateCommitment] | None,
        executor: Executor | None = None,
    ) -> RuleProof:
        """Compute the aggregate and prove every chunk (on ``executor``; ``None``: in this process)."""
        ...

    def verify(
        self,
        spec: AggregationSpec,
        commitments: Sequence[UpdateCommitment],
        weights: tuple[int, ...],
        result: ShardAggregate,
    ) -> None:
        """Verify every chunk proof and its binding to the commitments and to ``result.aggregate``."""
        ...


# -- the shard result ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ShardAggregate:
    """A shard's aggregate with what proves it.

    Attributes
    ----------
    spec
        The spec it was computed under.
    weights
        The integer weight (sample count) of every client, in commitment order.
    length
        Values per update.
    aggregate
        The float aggregate (``length`` values).
    sums
        ``fedavg`` only: per chunk, the exact weighted sum of the chunk message as field elements
        in ``[0, p)`` (``message_size`` each: the values, then the salt slot when salted).
    proofs
        Other rules: the EZKL proofs of the chunks.
    """

    spec: AggregationSpec
    weights: tuple[int, ...]
    length: int
    aggregate: npt.NDArray[np.float64] = field(repr=False)
    sums: tuple[tuple[int, ...], ...] = field(default=(), repr=False)
    proofs: tuple[ChunkProof, ...] = field(default=(), repr=False)

    @property
    def n_clients(self) -> int:
        """Clients aggregated."""
        return len(self.weights)

    @property
    def total_weight(self) -> int:
        """``N = sum_i n_i``."""
        return sum(self.weights)

    def to_bytes(self) -> bytes:
        """Versioned binary encoding (big-endian), ending in a SHA-256 of everything before it.

        Layout: ``ZKSA``, version (u8), spec (:data:`SPEC_SIZE` bytes), clients (u32), weights (u64
        each), length (u64), then for ``fedavg``: value width ``w`` (u8), every chunk's value sums as
        ``w``-byte two's-complement integers, then (salted) every chunk's salt sum as 32 bytes; for
        other rules: the aggregate as float64, proof count (u32) and per proof chunk (u32), circuit
        id (32 bytes), size (u32) and bytes. The fedavg aggregate is not stored: it is the rescale of
        the sums.

        The encoding is canonical (:meth:`from_bytes` refuses every other form): ``w`` is the least
        width that holds ``2 * max |v| + 1`` as a two's-complement integer, every value is written
        as its signed representative ``v`` in ``[-(p - 1) / 2, (p - 1) / 2]``, salt sums are below
        ``p``, and the float aggregate is finite with zero written as ``+0.0``: no rule's rescale
        gives ``-0.0`` (an integer divided by a positive divisor), but an aggregate made by hand
        may hold it, and it is written as ``+0.0``.

        Raises
        ------
        InvalidArgument
            Sums that are not ``ceil(length / chunk_size)`` chunks of ``message_size`` field
            elements in ``[0, p)``, or an aggregate that is not ``length`` finite values.
        """
        spec = self.spec
        parts = [_MAGIC, bytes([_VERSION]), spec.to_bytes(), struct.pack(">I", len(self.weights))]
        parts.append(struct.pack(f">{len(self.weights)}Q", *self.weights))
        parts.append(struct.pack(">Q", self.length))
        if spec.rule == "fedavg":
            cs = spec.chunk_size
            _check_sums(self.sums, self.length, cs, spec.salted)
            signed = signed_values(self.sums, cs).ravel()
            width = _value_width(signed)
            parts.append(bytes([width]))
            if signed.dtype == np.int64 and width <= 8:
                wide = signed.astype(">i8").view(np.uint8).reshape(-1, 8)
                parts.append(wide[:, 8 - width :].tobytes())
            else:
                parts.append(b"".join(int(v).to_bytes(width, "big", signed=True) for v in signed.tolist()))
            if spec.salted:
                parts.append(b"".join(chunk[cs].to_bytes(32, "big") for chunk in self.sums))
        else:
            parts.append(_canonical_floats(self.aggregate, self.length).astype(">f8").tobytes())
            parts.append(struct.pack(">I", len(self.proofs)))
            for p in self.proofs:
                parts.append(struct.pack(">I32sI", p.chunk, bytes.fromhex(p.circuit_id), len(p.proof)))
                parts.append(p.proof)
        body = b"".join(parts)
        return body + hashlib.sha256(body).digest()

    @classmethod
    def from_bytes(cls, data: bytes) -> ShardAggregate:
        """Decode :meth:`to_bytes`.

        Decoding does no work beyond reading the bytes: the spec's domain (and with it an SRS) is
        not resolved, so a verifier compares :attr:`spec` and :attr:`length` with what its
        deployment fixes before anything else.

        Only the one form :meth:`to_bytes` writes is accepted, so ``to_bytes(from_bytes(b)) == b``
        for every accepted ``b``: a value width other than the least one, a value outside
        ``[-(p - 1) / 2, (p - 1) / 2]`` (such as ``x + p``, the same field element), a salt sum not
        below ``p``, and a float aggregate holding ``-0.0``, NaN or an infinity are refused.

        Raises
        ------
        ProtocolError
            Not a shard aggregate, an unknown version, a truncated or corrupted encoding, or a form
            other than the canonical one (the message says which).
        """
        if len(data) < 4 + 1 + 32 or data[:4] != _MAGIC:
            raise ProtocolError("not a shard aggregate encoding (bad magic or too short)")
        if data[4] != _VERSION:
            raise ProtocolError(f"shard aggregate encoding version must be {_VERSION}, not {data[4]}")
        body, digest = data[:-32], data[-32:]
        if hashlib.sha256(body).digest() != digest:
            raise ProtocolError(
                f"shard aggregate encoding is truncated or corrupted ({len(data)} bytes, checksum mismatch)"
            )
        reader = _Reader(body, 5)
        try:
            spec = AggregationSpec.from_bytes(reader.take(SPEC_SIZE))
            (n,) = reader.unpack(">I")
            weights = reader.unpack(f">{n}Q")
            (length,) = reader.unpack(">Q")
            if spec.rule == "fedavg":
                # Sized from the encoding alone: decoding never resolves the spec's domain (no SRS
                # is read or made for bytes nobody has compared with the deployment yet).
                cs = spec.chunk_size
                n_chunks = -(-length // cs)
                (width,) = reader.unpack(">B")
                values = _decode_values(reader.take(width * n_chunks * cs), width)
                chunks = [values[j * cs : (j + 1) * cs] for j in range(n_chunks)]
                if spec.salted:
                    for chunk in chunks:
                        salt = int.from_bytes(reader.take(32), "big")
                        if salt >= FIELD_MODULUS:
                            raise ProtocolError("a salt sum is not reduced modulo p")
                        chunk.append(salt)
                reader.end()
                sums = tuple(tuple(c) for c in chunks)
                aggregate = fedavg_aggregate(sums, sum(weights), spec.scale, length, cs)
                return cls(spec, tuple(weights), length, aggregate, sums=sums)
            aggregate = np.frombuffer(reader.take(8 * length), dtype=">f8").astype(np.float64)
            _check_floats(aggregate)
            (count,) = reader.unpack(">I")
            proofs = []
            for _ in range(count):
                chunk, cid, size = reader.unpack(">I32sI")
                proofs.append(ChunkProof(chunk, cid.hex(), reader.take(size)))
            reader.end()
            return cls(spec, tuple(weights), length, aggregate, proofs=tuple(proofs))
        except ProtocolError:
            raise
        except (ZkaggError, struct.error, ValueError) as exc:
            raise ProtocolError(f"malformed shard aggregate encoding: {exc}") from exc


def _value_width(signed: npt.NDArray[Any]) -> int:
    """The least byte width :meth:`ShardAggregate.to_bytes` writes ``signed`` at: ``2 * max |v| + 1`` fits."""
    peak = max(abs(int(signed.max())), abs(int(signed.min()))) if signed.size else 0
    return max(1, (((peak << 1) + 1).bit_length() + 7) >> 3)


def _decode_values(raw: bytes, width: int) -> list[int]:
    """``width``-byte big-endian two's-complement integers -> field elements in ``[0, p)``.

    Refuses every form the encoder does not write: a width other than :func:`_value_width` of the
    values, and a value outside ``[-(p - 1) / 2, (p - 1) / 2]`` (another representative of the
    same field element, such as ``x + p``).
    """
    if width == 0:
        raise ProtocolError("value width must be at least 1 byte")
    if width <= 8:
        cells = np.frombuffer(raw, dtype=np.uint8).reshape(-1, width)
        wide = np.where((cells[:, :1] & 0x80) != 0, 0xFF, 0).astype(np.uint8).repeat(8 - width, axis=1)
        signed = np.concatenate([wide, cells], axis=1).copy().view(">i8").ravel().astype(np.int64)
    else:
        signed = np.array(
            [int.from_bytes(raw[i : i + width], "big", signed=True) for i in range(0, len(raw), width)],
            dtype=object,
        )
        outside = np.flatnonzero((signed > _HALF) | (signed < -_HALF))
        if outside.size:
            i = int(outside[0])
            raise ProtocolError(
                f"value {i} of the fedavg sums is {signed[i]}, outside [-(p - 1) / 2, (p - 1) / 2]: "
                "each field element must be written as its one signed representative in that range"
            )
    minimal = _value_width(signed)
    if width != minimal:
        raise ProtocolError(
            f"value width must be the least that holds the fedavg sums, {minimal} bytes, not {width}"
        )
    return [int(v) for v in (signed.astype(object) % FIELD_MODULUS).tolist()]


def _check_sums(sums: Sequence[Sequence[int]], length: int, chunk_size: int, salted: bool) -> None:
    """Refuse fedavg sums that the encoding cannot hold as they are (InvalidArgument)."""
    n_chunks = -(-length // chunk_size)
    size = chunk_size + int(salted)
    if len(sums) != n_chunks or any(len(chunk) != size for chunk in sums):
        raise InvalidArgument(
            f"sums must be {n_chunks} chunks of {size} field elements for {length} values, not "
            f"{len(sums)} chunks of sizes {sorted({len(chunk) for chunk in sums})}"
        )
    if sums and (min(map(min, sums)) < 0 or max(map(max, sums)) >= FIELD_MODULUS):
        j, i = next((j, i) for j, c in enumerate(sums) for i, v in enumerate(c) if not 0 <= v < FIELD_MODULUS)
        raise InvalidArgument(f"sums[{j}][{i}] must be a field element in [0, p), not {sums[j][i]!r}")


def _canonical_floats(aggregate: npt.ArrayLike, length: int) -> npt.NDArray[np.float64]:
    """``length`` finite float64 values with ``-0.0`` written as ``+0.0`` (InvalidArgument otherwise)."""
    values = np.asarray(aggregate, dtype=np.float64)
    if values.shape != (length,):
        raise InvalidArgument(f"aggregate must be {length} values, not shape {values.shape}")
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        i = int(bad[0])
        raise InvalidArgument(f"aggregate[{i}] must be finite, not {float(values[i])!r}")
    return values + 0.0  # -0.0 + 0.0 is +0.0 (round to nearest): zero has one encoding


def _check_floats(aggregate: npt.NDArray[np.float64]) -> None:
    """Refuse a decoded float aggregate with a value the encoder never writes: NaN, an infinity, -0.0."""
    bad = np.flatnonzero(~np.isfinite(aggregate))
    if bad.size:
        i = int(bad[0])
        raise ProtocolError(
            f"aggregate[{i}] is {float(aggregate[i])!r}: every aggregate value must be finite"
        )
    negative_zero = np.flatnonzero((aggregate == 0) & np.signbit(aggregate))
    if negative_zero.size:
        raise ProtocolError(
            f"aggregate[{int(negative_zero[0])}] is -0.0: zero is written as +0.0, its one encoding"
        )


class _Reader:
    def __init__(self, data: bytes, offset: int) -> None:
        self.data = data
        self.offset = offset

    def take(self, n: int) -> bytes:
        if n < 0 or self.offset + n > len(self.data):
            raise ProtocolError(
                f"shard aggregate encoding ends early: needs {n} bytes at offset {self.offset}"
            )
        out = self.data[self.offset : self.offset + n]
        self.offset += n
        return out

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return tuple(struct.unpack(fmt, self.take(struct.calcsize(fmt))))

    def end(self) -> None:
        if self.offset != len(self.data):
            raise ProtocolError(f"shard aggregate encoding has {len(self.data) - self.offset} trailing bytes")


def signed_values(sums: Sequence[Sequence[int]], chunk_size: int) -> npt.NDArray[Any]:
    """The value slots of ``sums`` as signed integers, shape ``(chunks, chunk_size)``.

    ``int64`` when every value fits (the usual case), else an ``object`` array of Python ints.
    """
    if not sums:
        return np.zeros((0, chunk_size), dtype=np.int64)
    arr = np.array([list(chunk[:chunk_size]) for chunk in sums], dtype=object)
    arr = np.where(arr > _HALF, arr - FIELD_MODULUS, arr)
    if arr.size and arr.min() >= -(2**63) and arr.max() < 2**63:
        return arr.astype(np.int64)
    return arr


def fedavg_aggregate(
    sums: Sequence[Sequence[int]], total_weight: int, scale: int, length: int, chunk_size: int
) -> npt.NDArray[np.float64]:
    """The float FedAvg aggregate of exact chunk sums: the documented rescale of the first ``length`` values."""
    return rescale_signed(signed_values(sums, chunk_size), total_weight, scale, length)


def rescale_signed(
    signed: npt.NDArray[Any], total_weight: int, scale: int, length: int
) -> npt.NDArray[np.float64]:
    """:func:`fedavg_aggregate` of sums already in :func:`signed_values` form."""
    values = signed.ravel()[:length]
    return fedavg_rescale(values if values.dtype == np.int64 else values.tolist(), total_weight, scale)
