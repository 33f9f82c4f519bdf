"""Aggregate a shard's updates and verify the result against the clients' commitments.

``fedavg`` is checked without a SNARK. The shard publishes the exact weighted sum
``S_j = sum_i n_i q_ij`` of every chunk ``j`` (field elements; with salts, the salt slot sums like
any value), and since ``commit`` is affine, ``commit(v) = L(v) + B`` (DESIGN.md §3),

    commit(S_j) == sum_i n_i C_ij - (N - 1) B,        N = sum_i n_i.

Rather than one ``ezkl.kzg_commit`` per chunk, the verifier checks ONE random linear combination of
the chunk equations. With ``r_j`` derived from a hash of everything the shard published and every
commitment (Fiat-Shamir), ``T = sum_j r_j S_j`` and ``R = sum_j r_j``, it checks

    commit(T) == sum_j r_j (sum_i n_i C_ij) - (N R - 1) B.

Soundness: write ``E_j = commit(S_j) - sum_i n_i C_ij + (N - 1) B`` (a group element, zero for every
honest chunk). The combined check is ``sum_j r_j E_j == 0``. If some ``E_j != 0``, the map
``r -> sum_j r_j E_j`` is a non-zero linear form over the scalar field, so it vanishes on at most a
``1/2**128`` fraction of the ``r_j`` drawn from ``[0, 2**128)`` (Schwartz-Zippel for a degree-1
polynomial, per coordinate of the choice). The ``r_j`` are a hash of the published sums and the
commitments, so a cheating shard cannot choose ``S`` after seeing ``r``; grinding over ``S`` buys it
one ``2**-128`` chance per hash evaluation. With a single chunk, ``r_1 = 1`` and the check is the
plain equation. When the combined check fails, each chunk is checked alone to name the bad one.

The float aggregate is a documented deterministic rescale: the float nearest to
``S / (N * 2**scale)`` (:func:`zkagg._aggregate_ref.fedavg_rescale`).

Other rules are proven by EZKL circuits. ``zkagg._robust`` registers one :class:`RuleBackend` per
rule with :func:`register_rule`; :func:`aggregate_shard` and :func:`verify_shard` dispatch to it after
the checks common to all rules (domain, clients, weights, lengths).
"""

from __future__ import annotations

import hashlib
import importlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from py_ecc.fields import optimized_bn128_FQ as FQ
from py_ecc.optimized_bn128.optimized_curve import add, eq, multiply
from py_ecc.optimized_bn128.optimized_curve import field_modulus as _BASE_MODULUS

from zkagg._aggregate_ref import fedavg_rescale
from zkagg._commit import (
    CommitmentDomain,
    PyEccPoint,
    UpdateCommitment,
    chunk_salts,
    commit_chunk,
    decode_point,
    zero_commitment,
)
from zkagg._errors import CommitmentMismatch, InvalidArgument, InvalidProof, ProtocolError, ZkaggError
from zkagg._executors._base import Executor
from zkagg._field import FIELD_MODULUS, quantize
from zkagg._spec import SPEC_SIZE, AggregationSpec

_HALF = (FIELD_MODULUS - 1) // 2

__all__ = [
    "ChunkProof",
    "RuleBackend",
    "RuleProof",
    "ShardAggregate",
    "aggregate_shard",
    "combine_shards",
    "register_rule",
    "verify_shard",
]

_MAGIC = b"ZKSA"
_VERSION = 1
_R_BITS = 128


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
    """How a proven rule plugs in (implemented by ``zkagg._robust``).

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


_BACKENDS: dict[str, RuleBackend] = {}


def register_rule(rule: str, backend: RuleBackend) -> None:
    """Register the backend that proves and verifies ``rule`` (called by ``zkagg._robust``)."""
    if rule == "fedavg":
        raise InvalidArgument("rule fedavg is verified homomorphically and takes no backend")
    _BACKENDS[rule] = backend


def _backend(rule: str) -> RuleBackend:
    if rule not in _BACKENDS:
        try:
            importlib.import_module("zkagg._robust")
        except ImportError as exc:
            raise InvalidArgument(
                f"rule {rule!r} needs zkagg._robust, which cannot be imported: {exc}"
            ) from exc
    try:
        return _BACKENDS[rule]
    except KeyError:
        raise InvalidArgument(f"no backend is registered for rule {rule!r}") from None


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
        """
        spec = self.spec
        parts = [_MAGIC, bytes([_VERSION]), spec.to_bytes(), struct.pack(">I", len(self.weights))]
        parts.append(struct.pack(f">{len(self.weights)}Q", *self.weights))
        parts.append(struct.pack(">Q", self.length))
        if spec.rule == "fedavg":
            cs = spec.chunk_size
            signed = _signed_values(self.sums, cs).ravel()
            peak = max(abs(int(signed.max())), abs(int(signed.min()))) if signed.size else 0
            width = max(1, ((peak << 1) + 1).bit_length() + 7 >> 3)
            parts.append(bytes([width]))
            if signed.dtype == np.int64 and width <= 8:
                wide = signed.astype(">i8").view(np.uint8).reshape(-1, 8)
                parts.append(wide[:, 8 - width :].tobytes())
            else:
                parts.append(b"".join(int(v).to_bytes(width, "big", signed=True) for v in signed.tolist()))
            if spec.salted:
                parts.append(b"".join(chunk[cs].to_bytes(32, "big") for chunk in self.sums))
        else:
            parts.append(np.asarray(self.aggregate, dtype=">f8").tobytes())
            parts.append(struct.pack(">I", len(self.proofs)))
            for p in self.proofs:
                parts.append(struct.pack(">I32sI", p.chunk, bytes.fromhex(p.circuit_id), len(p.proof)))
                parts.append(p.proof)
        body = b"".join(parts)
        return body + hashlib.sha256(body).digest()

    @classmethod
    def from_bytes(cls, data: bytes) -> ShardAggregate:
        """Decode :meth:`to_bytes`.

        Raises
        ------
        ProtocolError
            Not a shard aggregate, an unknown version, a truncated or corrupted encoding (the
            message says which).
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
                domain = spec.domain()
                n_chunks = domain.n_chunks(length)
                cs = spec.chunk_size
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
                aggregate = _rescale(sums, sum(weights), spec.scale, length, cs)
                return cls(spec, tuple(weights), length, aggregate, sums=sums)
            aggregate = np.frombuffer(reader.take(8 * length), dtype=">f8").astype(np.float64)
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


def _decode_values(raw: bytes, width: int) -> list[int]:
    """``width``-byte big-endian two's-complement integers -> field elements in ``[0, p)``."""
    if width == 0:
        raise ProtocolError("value width must be at least 1 byte")
    if width <= 8:
        cells = np.frombuffer(raw, dtype=np.uint8).reshape(-1, width)
        wide = np.where((cells[:, :1] & 0x80) != 0, 0xFF, 0).astype(np.uint8).repeat(8 - width, axis=1)
        signed = np.concatenate([wide, cells], axis=1).copy().view(">i8").ravel().astype(object)
    else:
        signed = np.array(
            [int.from_bytes(raw[i : i + width], "big", signed=True) for i in range(0, len(raw), width)],
            dtype=object,
        )
    return [int(v) for v in (signed % FIELD_MODULUS).tolist()]


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


def _signed_values(sums: Sequence[Sequence[int]], chunk_size: int) -> npt.NDArray[Any]:
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


def _rescale(
    sums: Sequence[Sequence[int]], total_weight: int, scale: int, length: int, chunk_size: int
) -> npt.NDArray[np.float64]:
    values = _signed_values(sums, chunk_size).ravel()[:length]
    return fedavg_rescale(values if values.dtype == np.int64 else values.tolist(), total_weight, scale)


# -- validation common to all rules --------------------------------------------------------------


def _check_weights(weights: Sequence[int] | None, n: int) -> tuple[int, ...]:
    if weights is None:
        return (1,) * n
    out = []
    for i, w in enumerate(weights):
        if isinstance(w, bool) or not isinstance(w, int | np.integer) or not 1 <= int(w) < 2**63:
            raise InvalidArgument(f"weights[{i}] must be a positive integer (a sample count), not {w!r}")
        out.append(int(w))
    if len(out) != n:
        raise InvalidArgument(f"weights must have one entry per client ({n}), not {len(out)}")
    return tuple(out)


def _check_updates(updates: Sequence[npt.ArrayLike] | npt.ArrayLike) -> npt.NDArray[np.float64]:
    try:
        x = np.asarray(updates, dtype=np.float64)
    except ValueError as exc:
        raise InvalidArgument(f"updates must be equal-length 1-D float arrays: {exc}") from exc
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise InvalidArgument(
            f"updates must be a non-empty list of equal-length non-empty 1-D arrays, not of shape {x.shape}"
        )
    return x


def aggregate_shard(
    spec: AggregationSpec,
    updates: Sequence[npt.ArrayLike] | npt.ArrayLike,
    weights: Sequence[int] | None = None,
    *,
    salt_seeds: Sequence[bytes] | None = None,
    commitments: Sequence[UpdateCommitment] | None = None,
    executor: Executor | None = None,
) -> ShardAggregate:
    """Aggregate a shard's updates under ``spec``, with the sums or proofs that verify it.

    Parameters
    ----------
    spec
        The agreed rule and commitment domain.
    updates
        One equal-length 1-D float array per client, in commitment order.
    weights
        Integer weights (sample counts); default 1 each.
    salt_seeds
        Salted domains: every client's ``salt_seed`` (the shard must know the salts to open sums).
    commitments
        The clients' commitments, handed to rule backends that want them.
    executor
        Proven rules: where the chunk proofs run (:mod:`zkagg._executors`: serial, local process
        pool, Ray); ``None`` proves them in this process, one after the other. Unused by ``fedavg``.

    Returns
    -------
    ShardAggregate
    """
    x = _check_updates(updates)
    w = _check_weights(weights, x.shape[0])
    domain = spec.domain()
    n_clients, length = x.shape
    n_chunks = domain.n_chunks(length)
    q = quantize(x, spec.scale, n_terms=sum(w))
    padded = np.zeros((n_clients, n_chunks * spec.chunk_size), dtype=np.int64)
    padded[:, :length] = q
    salts = None
    if spec.salted:
        if salt_seeds is None or len(salt_seeds) != n_clients:
            raise InvalidArgument(
                f"salt_seeds must give one seed per client ({n_clients}) in a salted domain, not "
                f"{None if salt_seeds is None else len(salt_seeds)}"
            )
        salts = [chunk_salts(domain, seed, n_chunks) for seed in salt_seeds]
    elif salt_seeds is not None:
        raise InvalidArgument("salt_seeds must be None in an unsalted domain")
    if spec.rule != "fedavg":
        out = _backend(spec.rule).prove(spec, padded, w, length, salts, commitments, executor)
        return ShardAggregate(spec, w, length, np.asarray(out.aggregate, dtype=np.float64), proofs=out.proofs)
    total = _weighted_sum(padded, w)
    sums = []
    for j in range(n_chunks):
        chunk = [v % FIELD_MODULUS for v in total[j * spec.chunk_size : (j + 1) * spec.chunk_size]]
        if salts is not None:
            chunk.append(sum(wi * s[j] for wi, s in zip(w, salts, strict=True)) % FIELD_MODULUS)
        sums.append(tuple(chunk))
    aggregate = fedavg_rescale(total[:length], sum(w), spec.scale)
    return ShardAggregate(spec, w, length, aggregate, sums=tuple(sums))


def _weighted_sum(q: npt.NDArray[np.int64], w: tuple[int, ...]) -> list[int]:
    """Exact ``sum_i w_i q_i`` as Python ints (int64 numpy when it cannot overflow)."""
    peak = int(np.abs(q).max()) if q.size else 0
    if peak * sum(w) < 2**63:
        return [int(v) for v in (np.asarray(w, dtype=np.int64) @ q).tolist()]
    return [int(v) for v in (np.asarray(w, dtype=object) @ q.astype(object)).tolist()]


def combine_shards(results: Sequence[ShardAggregate]) -> ShardAggregate:
    """Compose ``fedavg`` shard results into one (the global model): exact sums add up.

    The combined result has the shards' weights concatenated in order and the sums of their sums,
    so it verifies with :func:`verify_shard` against the shards' commitments concatenated in the same
    order (DESIGN.md §3: composition is linear and checked the same way).

    Raises
    ------
    InvalidArgument
        No results, a rule other than ``fedavg``, or results under different specs or lengths.
    """
    if not results:
        raise InvalidArgument("results must contain at least one shard result")
    first = results[0]
    if first.spec.rule != "fedavg":
        raise InvalidArgument(f"only fedavg results compose linearly, not {first.spec.rule}")
    for k, r in enumerate(results):
        if r.spec.to_bytes() != first.spec.to_bytes() or r.length != first.length:
            raise InvalidArgument(f"results[{k}] has another spec or length than results[0]")
    sums = tuple(
        tuple(sum(col) % FIELD_MODULUS for col in zip(*chunks, strict=True))
        for chunks in zip(*(r.sums for r in results), strict=True)
    )
    weights = tuple(w for r in results for w in r.weights)
    aggregate = _rescale(sums, sum(weights), first.spec.scale, first.length, first.spec.chunk_size)
    return ShardAggregate(first.spec, weights, first.length, aggregate, sums=sums)


def verify_shard(
    spec: AggregationSpec,
    commitments: Sequence[UpdateCommitment],
    weights: Sequence[int] | None,
    result: ShardAggregate,
) -> None:
    """Check that ``result`` is ``spec``'s rule applied to exactly the committed updates.

    Returns ``None`` or raises.

    Raises
    ------
    CommitmentMismatch
        A commitment from another commitment domain or of another length; sums that do not open the
        combination of the commitments (the message names the chunk).
    InvalidProof
        A result computed under another spec, for another set or number of clients, with other
        weights, or whose float aggregate is not the documented rescale of its sums; a chunk proof
        that fails (rule backends).
    InvalidArgument
        Commitments and weights of different lengths.
    """
    if not commitments:
        raise InvalidArgument("commitments must name at least one client")
    w = _check_weights(weights, len(commitments))
    domain = spec.domain()
    if result.spec.to_bytes() != spec.to_bytes():
        raise InvalidProof(f"the result was computed under another spec ({result.spec!r}), not {spec!r}")
    for i, c in enumerate(commitments):
        domain.require_same(c.domain, f"the commitment of client {i}")
    length = commitments[0].length
    for i, c in enumerate(commitments):
        if c.length != length:
            raise CommitmentMismatch(
                f"the commitment of client {i} covers {c.length} values, client 0's covers {length}"
            )
    if result.n_clients != len(commitments):
        raise InvalidProof(
            f"the result aggregates {result.n_clients} clients, but {len(commitments)} commitments are given "
            "(a client dropped or added)"
        )
    if result.weights != w:
        i = next(k for k, (a, b) in enumerate(zip(result.weights, w, strict=True)) if a != b)
        raise InvalidProof(f"the result uses weight {result.weights[i]} for client {i}, not {w[i]}")
    if result.length != length:
        raise InvalidProof(f"the result has {result.length} values per update, the commitments {length}")
    if np.asarray(result.aggregate).shape != (length,):
        raise InvalidProof(f"the aggregate must have {length} values, not shape {np.shape(result.aggregate)}")
    if spec.rule != "fedavg":
        _backend(spec.rule).verify(spec, commitments, w, result)
        return
    _verify_fedavg(domain, commitments, w, result)


def _verify_fedavg(
    domain: CommitmentDomain,
    commitments: Sequence[UpdateCommitment],
    w: tuple[int, ...],
    result: ShardAggregate,
) -> None:
    n_chunks = domain.n_chunks(result.length)
    size = domain.message_size
    if len(result.sums) != n_chunks or any(len(s) != size for s in result.sums):
        raise InvalidProof(f"fedavg sums must be {n_chunks} chunks of {size} field elements")
    matrix = np.array([list(chunk) for chunk in result.sums], dtype=object)
    if matrix.size and not ((matrix >= 0).all() and (matrix < FIELD_MODULUS).all()):
        raise InvalidProof("fedavg sums must be field elements in [0, p)")
    expected = _rescale(result.sums, sum(w), domain.scale, result.length, domain.chunk_size)
    got = np.asarray(result.aggregate, dtype=np.float64)
    if not np.array_equal(expected, got):
        k = int(np.flatnonzero(expected != got)[0])
        raise InvalidProof(
            f"aggregate[{k}] = {got[k]!r} is not the rescale of the published sum ({expected[k]!r})"
        )
    points = [
        [decode_point(p, f"commitment of client {i}, chunk {j}") for j, p in enumerate(c.points)]
        for i, c in enumerate(commitments)
    ]
    b = decode_point(zero_commitment(domain))
    total = sum(w)
    # D_j = sum_i n_i C_ij: small integer weights, one shared doubling chain per chunk (Straus), in
    # plain-integer projective arithmetic (the py-ecc formulas without FQ objects; tested against it).
    raw = [[_to_raw(p) for p in row] for row in points]
    combos = [_msm_raw([raw[i][j] for i in range(len(w))], w) for j in range(n_chunks)]
    rs = [1] if n_chunks == 1 else _challenges(domain, commitments, w, result, n_chunks)
    message = matrix[0] if n_chunks == 1 else np.dot(np.array(rs, dtype=object), matrix) % FIELD_MODULUS
    lhs = _to_raw(decode_point(commit_chunk(domain, message)))
    # commit(T) + (N R - 1) B == sum_j r_j D_j, all scalars non-negative and below 2**160.
    r_total = sum(rs)
    left = _add_raw(lhs, _msm_raw([_to_raw(b)], [total * r_total - 1]))
    right = _msm_raw(combos, rs)
    if eq(_from_raw(left), _from_raw(right)):
        return
    for j in range(n_chunks):  # name the first bad chunk (py-ecc arithmetic throughout)
        want = multiply(b, (-(total - 1)) % FIELD_MODULUS)
        for i in range(len(w)):
            want = add(want, multiply(points[i][j], w[i]))
        if not eq(decode_point(commit_chunk(domain, list(result.sums[j]))), want):
            raise CommitmentMismatch(
                f"the fedavg sum of chunk {j} does not open sum_i n_i C_i - (N - 1) B of the "
                f"{len(w)} client commitments (N = {total})"
            )
    raise CommitmentMismatch("the fedavg sums do not open the combination of the client commitments")


# -- G1 arithmetic on plain integers -------------------------------------------------------------
# Homogeneous projective (X, Y, Z) over the base field, the same formulas as
# py_ecc.optimized_bn128 (add, double), on Python ints reduced modulo q: about 3x faster than FQ
# objects. tests/agg/test_g1_raw.py checks them against py-ecc.

RawPoint = tuple[int, int, int]
_Q = _BASE_MODULUS
_RAW_IDENTITY: RawPoint = (1, 1, 0)


def _to_raw(point: PyEccPoint) -> RawPoint:
    return (int(point[0].n), int(point[1].n), int(point[2].n))


def _from_raw(point: RawPoint) -> PyEccPoint:
    return (FQ(point[0]), FQ(point[1]), FQ(point[2]))


def _double_raw(p: RawPoint) -> RawPoint:
    x, y, z = p
    if z == 0:
        return p
    w = 3 * x * x % _Q
    s = y * z % _Q
    b = x * y * s % _Q
    h = (w * w - 8 * b) % _Q
    s2 = s * s % _Q
    return (2 * h * s % _Q, (w * (4 * b - h) - 8 * y * y * s2) % _Q, 8 * s * s2 % _Q)


def _add_raw(p1: RawPoint, p2: RawPoint) -> RawPoint:
    if p1[2] == 0:
        return p2
    if p2[2] == 0:
        return p1
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    u1 = y2 * z1 % _Q
    u2 = y1 * z2 % _Q
    v1 = x2 * z1 % _Q
    v2 = x1 * z2 % _Q
    if v1 == v2:
        return _double_raw(p1) if u1 == u2 else _RAW_IDENTITY
    u = u1 - u2
    v = v1 - v2
    v2s = v * v % _Q
    v2s_v2 = v2s * v2 % _Q
    v3 = v * v2s % _Q
    zz = z1 * z2 % _Q
    a = (u * u * zz - v3 - 2 * v2s_v2) % _Q
    return (v * a % _Q, (u * (v2s_v2 - a) - v3 * u2) % _Q, v3 * zz % _Q)


def _msm_raw(points: Sequence[RawPoint], scalars: Sequence[int]) -> RawPoint:
    """``sum_k s_k P_k`` for non-negative scalars: Straus' method, one doubling chain for all points."""
    acc = _RAW_IDENTITY
    top = max(scalars).bit_length()
    for bit in range(top - 1, -1, -1):
        acc = _double_raw(acc)
        for point, scalar in zip(points, scalars, strict=True):
            if scalar >> bit & 1:
                acc = _add_raw(acc, point)
    return acc


def _challenges(
    domain: CommitmentDomain,
    commitments: Sequence[UpdateCommitment],
    w: tuple[int, ...],
    result: ShardAggregate,
    n_chunks: int,
) -> list[int]:
    """Fiat-Shamir ``r_j`` in ``[0, 2**128)`` from everything the check depends on."""
    h = hashlib.sha256(b"zkagg-fedavg-batch\x00" + domain.domain_id())
    h.update(struct.pack(f">I{len(w)}Q", len(w), *w))
    for c in commitments:
        h.update(b"".join(c.points))
    signed = _signed_values(result.sums, domain.chunk_size)
    h.update(signed.astype(">i8").tobytes() if signed.dtype == np.int64 else repr(signed.tolist()).encode())
    if domain.salted:
        h.update(b"".join(chunk[-1].to_bytes(32, "big") for chunk in result.sums))
    seed = h.digest()
    return [
        int.from_bytes(hashlib.sha256(seed + j.to_bytes(4, "big")).digest()[: _R_BITS // 8], "big") or 1
        for j in range(n_chunks)
    ]
