"""KZG commitments to client updates, exactly the points EZKL puts in ``polycommit`` proofs.

An update (a 1-D float vector) is quantized at the domain's scale (:func:`zkagg.quantize`), padded
with zeros to a whole number of chunks, and every chunk of ``chunk_size`` values (plus one salt slot
when the domain is salted) is committed with ``ezkl.kzg_commit`` (ezkl 23.0.5), through
:func:`zkagg._prover.ezkl.call_ezkl`.

Measured facts this module rests on (DESIGN.md §3, re-measured for this module):

* ``kzg_commit`` depends on logrows and the SRS only, not on the circuit whose vk and settings are
  passed; a tiny reference circuit (``ReduceSum`` over a ``polycommit`` input) is built once per
  (logrows, SRS) to supply them.
* It is affine: ``commit(v) = L(v) + B`` with ``B = commit(0)`` a fixed, non-identity point, so
  ``sum_i n_i commit(x_i) - (sum_i n_i - 1) B == commit(sum_i n_i x_i)``. Zeros appended to a
  message do not change its commitment.
* A column holds ``2**logrows - 7`` values (32,761 at logrows 15, 65,529 at 16); a longer message comes back as
  several points. So ``chunk_size`` is a power of two with ``chunk_size + salted <= 2**logrows - 7``,
  that is at most ``2**(logrows - 1)``.
* In a proof whose (first) input has ``polycommit`` visibility, that input's commitment is the first
  64 bytes of ezkl's ``proof`` byte list: ``x`` then ``y``, each 32 bytes BIG-endian.

Point encoding (note for AGG-circuits and every consumer)
---------------------------------------------------------
A commitment point is carried as **64 bytes: x || y, each a 32-byte big-endian integer of the BN254
base field** (uncompressed affine, the EVM/proof-transcript order). This is byte-for-byte what ezkl
writes into a proof's ``proof`` bytes for a ``polycommit`` input, so linking a proof to a client's
commitment is ``proof_bytes[64*i : 64*(i+1)] == commitment.points[chunk]`` for the proof's i-th
committed input. ezkl's own Python objects (``PyG1Affine``) give ``x`` and ``y`` as LITTLE-endian hex:
:func:`point_from_ezkl` reverses them. The identity point (never produced by ``kzg_commit``) is 64
zero bytes. :func:`point_to_py_ecc` / :func:`point_from_py_ecc` convert to and from
``py_ecc.optimized_bn128`` Jacobian triples for group arithmetic.

Salted domains: the committed message of chunk ``j`` is its ``chunk_size`` (padded) values followed
by one salt, a uniformly random field element derived from the client's secret ``salt_seed``
(:func:`chunk_salts`); with it the commitment is perfectly hiding. The salt is a field element, not a
quantized value: it sums like any value but must never be dequantized.
"""

from __future__ import annotations

import hashlib
import secrets
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from zkagg._errors import ArtifactError, CommitmentMismatch, InvalidArgument
from zkagg._field import FIELD_MODULUS, MAX_SCALE, quantize
from zkagg._kzg import engine
from zkagg._kzg.points import POINT_SIZE, decode_point, point_from_ezkl
from zkagg._prover.artifacts import RunArgs, build_circuit
from zkagg._prover.ezkl import call_ezkl
from zkagg._prover.srs import MAX_LOGROWS, MIN_LOGROWS, SRS, dev_srs, srs_by_hash

__all__ = [
    "COMMITMENT_LAYOUT_VERSION",
    "CommitmentDomain",
    "UpdateCommitment",
    "chunk_messages",
    "chunk_salts",
    "column_capacity",
    "commit_chunk",
    "commit_update",
    "commitment_domain",
    "ezkl_commit_chunk",
    "first_false_opening",
    "shard_model_commitments",
    "zero_commitment",
]

#: Version of the chunk layout (values, zero padding, trailing salt slot): part of every domain id.
COMMITMENT_LAYOUT_VERSION = 1

_UC_MAGIC = b"ZKUC"
_UC_VERSION = 1


def column_capacity(logrows: int) -> int:
    """Values one committed column holds at ``logrows`` (measured: ``2**logrows - 7``)."""
    return (1 << logrows) - engine.RESERVED_ROWS


@dataclass(frozen=True)
class CommitmentDomain:
    """What fixes a commitment: recorded with every commitment, compared before any arithmetic.

    Attributes
    ----------
    logrows
        The KZG domain; every proof that links to these commitments uses this logrows.
    chunk_size
        Values per chunk: a power of two, with ``chunk_size + salted <= 2**logrows - 7``.
    scale
        Quantization scale (``q = round(x * 2**scale)``).
    srs_sha256
        SHA-256 (hex) of the SRS file whose Lagrange points define the commitment.
    salted
        One random salt slot after each chunk's values (hiding commitments).
    """

    logrows: int
    chunk_size: int
    scale: int
    srs_sha256: str
    salted: bool = False

    def __post_init__(self) -> None:
        _check_int("logrows", self.logrows, MIN_LOGROWS, MAX_LOGROWS)
        _check_int("scale", self.scale, 0, MAX_SCALE)
        cap = column_capacity(self.logrows) - (1 if self.salted else 0)
        biggest = 1 << (cap.bit_length() - 1)
        cs = self.chunk_size
        if isinstance(cs, bool) or not isinstance(cs, int) or cs < 1 or cs & (cs - 1) or cs > biggest:
            raise InvalidArgument(
                f"chunk_size must be a power of two in [1, {biggest}] at logrows {self.logrows}, not {cs!r}"
            )
        sha = self.srs_sha256
        if not isinstance(sha, str) or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise InvalidArgument(f"srs_sha256 must be 64 lowercase hex digits, not {sha!r}")
        if not isinstance(self.salted, bool):
            raise InvalidArgument(f"salted must be a bool, not {self.salted!r}")

    @property
    def message_size(self) -> int:
        """Field elements committed per chunk: ``chunk_size`` plus the salt slot if salted."""
        return self.chunk_size + (1 if self.salted else 0)

    def n_chunks(self, length: int) -> int:
        """Chunks an update of ``length`` values occupies."""
        return -(-length // self.chunk_size)

    def to_bytes(self) -> bytes:
        """Fixed 40-byte encoding: version, logrows, chunk_size, scale, salted, SRS hash."""
        return struct.pack(
            ">BBIBB32s",
            COMMITMENT_LAYOUT_VERSION,
            self.logrows,
            self.chunk_size,
            self.scale,
            int(self.salted),
            bytes.fromhex(self.srs_sha256),
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> CommitmentDomain:
        """Inverse of :meth:`to_bytes`."""
        if len(data) != DOMAIN_SIZE:
            raise InvalidArgument(f"an encoded commitment domain has {DOMAIN_SIZE} bytes, not {len(data)}")
        version, logrows, chunk_size, scale, salted, sha = struct.unpack(">BBIBB32s", data)
        if version != COMMITMENT_LAYOUT_VERSION:
            raise InvalidArgument(
                f"commitment layout version must be {COMMITMENT_LAYOUT_VERSION}, not {version}"
            )
        if salted not in (0, 1):
            raise InvalidArgument(f"salted flag must be 0 or 1, not {salted}")
        return cls(logrows, chunk_size, scale, sha.hex(), bool(salted))

    def domain_id(self) -> bytes:
        """32-byte SHA-256 of the layout version and every field."""
        return hashlib.sha256(b"zkagg-commitment-domain\x00" + self.to_bytes()).digest()

    def describe(self) -> str:
        """Short human form used in error messages."""
        return (
            f"logrows={self.logrows}, chunk_size={self.chunk_size}, scale={self.scale}, "
            f"salted={self.salted}, srs={self.srs_sha256[:12]}..., id={self.domain_id().hex()[:16]}"
        )

    def require_same(self, other: CommitmentDomain, what: str) -> None:
        """Raise :class:`CommitmentMismatch` naming both domains unless ``other`` equals this one."""
        if other != self:
            raise CommitmentMismatch(
                f"{what} was made in commitment domain ({other.describe()}), "
                f"but the expected domain is ({self.describe()})"
            )


DOMAIN_SIZE = 40


def _check_int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgument(f"{name} must be an integer in [{low}, {high}], not {value!r}")
    return value


# -- the reference circuit (vk + settings for kzg_commit), one per (logrows, SRS) ---------------

_REFERENCE_INPUTS = 16
_REF_LOCK = threading.Lock()
_REFERENCES: dict[tuple[int, str], tuple[str, str, str]] = {}
_ZEROS: dict[bytes, bytes] = {}


def _reference_model() -> bytes:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, _REFERENCE_INPUTS])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])
    node = helper.make_node("ReduceSum", ["x"], ["y"], keepdims=1)
    graph = helper.make_graph([node], "zkagg_commit_reference", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def _srs_of(domain: CommitmentDomain) -> SRS:
    """The SRS file the domain names: this cache's dev SRS or a registered ceremony SRS."""
    try:
        return srs_by_hash(domain.srs_sha256, domain.logrows)
    except ArtifactError as exc:
        raise ArtifactError(
            f"the commitment domain names SRS {domain.srs_sha256[:16]}... (logrows "
            f"{domain.logrows}), which is neither the dev SRS of this cache nor a registered "
            "ceremony SRS: load it with zkagg.load_srs(path, sha256=...) first"
        ) from exc


def _basis(domain: CommitmentDomain, srs: SRS | None = None) -> engine.LagrangeBasis:
    """The domain's Lagrange basis on the native backend (read once per SRS per process)."""
    hit = engine.cached_basis(domain.srs_sha256, domain.logrows)
    if hit is not None:
        return hit
    the_srs = srs if srs is not None else _srs_of(domain)
    return engine.lagrange_basis(the_srs.path, domain.logrows, domain.srs_sha256)


def _reference(domain: CommitmentDomain, srs: SRS | None = None) -> tuple[str, str, str]:
    """Paths (vk, settings, srs) of the domain's reference circuit (ezkl backend), built once and cached."""
    key = (domain.logrows, domain.srs_sha256)
    with _REF_LOCK:
        hit = _REFERENCES.get(key)
        if hit is not None and all(Path(p).exists() for p in hit):
            return hit
        the_srs = srs if srs is not None else _srs_of(domain)
        artifacts = build_circuit(
            _reference_model(),
            RunArgs(
                input_visibility="polycommit",
                output_visibility="public",
                param_visibility="fixed",
                input_scale=0,  # kzg_commit takes field elements: the scale plays no part
                param_scale=0,
                logrows=domain.logrows,
                ignore_range_check_inputs_outputs=True,
            ),
            srs=the_srs if the_srs.source != "dev" else None,
        )
        assert artifacts.srs is not None
        hit = (str(artifacts.vk_path), str(artifacts.settings_path), str(artifacts.srs.path))
        _REFERENCES[key] = hit
        return hit


def commitment_domain(
    logrows: int = 15,
    chunk_size: int = 1024,
    scale: int = 13,
    salted: bool = False,
    srs: SRS | None = None,
) -> CommitmentDomain:
    """Make (and prepare) a commitment domain.

    Parameters
    ----------
    logrows
        KZG domain size; 15 fits chunks up to 16,384 values.
    chunk_size
        Values per chunk (power of two, at most ``2**(logrows - 1)``).
    scale
        Quantization scale.
    salted
        Append a random salt slot to every chunk (hiding commitments).
    srs
        A ceremony SRS of exactly ``logrows`` (:func:`zkagg.load_srs`); by default the INSECURE dev SRS.

    Returns
    -------
    CommitmentDomain
        Prepared (its Lagrange basis loaded, or on the ezkl backend its reference circuit built) so
        that commitments can be made at once.
    """
    _check_int("logrows", logrows, MIN_LOGROWS, MAX_LOGROWS)
    if srs is not None and srs.logrows != logrows:
        raise InvalidArgument(f"srs must have logrows {logrows} (the domain's), not {srs.logrows}")
    the_srs = srs if srs is not None else dev_srs(logrows)
    domain = CommitmentDomain(logrows, chunk_size, scale, the_srs.sha256, salted)
    if engine.backend() == "mcl":
        _basis(domain, the_srs)
    else:
        _reference(domain, the_srs)
    return domain


# -- committing --------------------------------------------------------------------------------


def _felt_hex(message: engine.Message) -> list[str]:
    # Vectorized signed -> field -> 32-byte little-endian: 8 int64 limbs are not enough for p, so
    # negatives go through Python ints; non-negative int64 values fill the low 8 bytes only.
    if message.dtype == np.int64 and (message >= 0).all():
        raw = np.zeros((message.size, 4), dtype="<u8")
        raw[:, 0] = message.astype("<u8")
        blob = raw.tobytes().hex()
        return [blob[i : i + 64] for i in range(0, len(blob), 64)]
    return [(int(v) % FIELD_MODULUS).to_bytes(32, "little").hex() for v in message.tolist()]


@engine.timed
def commit_chunk(domain: CommitmentDomain, felts: Sequence[int] | npt.NDArray[Any]) -> bytes:
    """Commit one message of at most ``domain.message_size`` field elements.

    Parameters
    ----------
    domain
        The commitment domain.
    felts
        Integers, taken modulo the field (signed quantized values are fine).

    Returns
    -------
    bytes
        The 64-byte point (big-endian x || y), exactly the point in a ``polycommit`` proof.
    """
    message = _check_message(domain, felts)
    if engine.backend() == "mcl":
        return engine.commit_message(_basis(domain), message)
    return ezkl_commit_chunk(domain, message)


def _check_message(domain: CommitmentDomain, felts: Sequence[int] | npt.NDArray[Any]) -> engine.Message:
    message = engine.message_values(felts, "a chunk message")
    if not 1 <= message.size <= domain.message_size:
        raise InvalidArgument(
            f"a chunk message must have 1 to {domain.message_size} field elements, not {message.size}"
        )
    return message


@engine.timed
def ezkl_commit_chunk(domain: CommitmentDomain, felts: Sequence[int] | npt.NDArray[Any]) -> bytes:
    """:func:`commit_chunk` through ``ezkl.kzg_commit`` itself: the fallback backend and the oracle."""
    message = _check_message(domain, felts)
    vk, settings, srs = _reference(domain)
    points = call_ezkl("kzg_commit", _felt_hex(message), vk, settings, srs)
    if len(points) != 1:  # pragma: no cover - the capacity check above prevents it
        raise InvalidArgument(f"message of {message.size} values spans {len(points)} columns")
    return point_from_ezkl(points[0])


def zero_commitment(domain: CommitmentDomain) -> bytes:
    """``B = commit(0)``, the affine offset of the domain (cached)."""
    if engine.backend() == "mcl":
        return _basis(domain).blinding
    key = domain.domain_id()
    hit = _ZEROS.get(key)
    if hit is None:
        hit = commit_chunk(domain, [0])
        _ZEROS[key] = hit
    return hit


def chunk_salts(domain: CommitmentDomain, salt_seed: bytes, n_chunks: int) -> list[int]:
    """The salt of every chunk: ``SHA-512(tag, domain id, seed, j) mod p`` (statistically uniform)."""
    if not isinstance(salt_seed, bytes | bytearray) or len(salt_seed) < 16:
        raise InvalidArgument("salt_seed must be at least 16 secret random bytes")
    out = []
    for j in range(n_chunks):
        h = hashlib.sha512(b"zkagg-salt\x00" + domain.domain_id() + bytes(salt_seed) + j.to_bytes(8, "big"))
        out.append(int.from_bytes(h.digest(), "big") % FIELD_MODULUS)
    return out


def chunk_messages(
    domain: CommitmentDomain, quantized: npt.NDArray[np.int64], salts: Sequence[int] | None = None
) -> list[npt.NDArray[Any]]:
    """Split a quantized update into the domain's chunk messages (zero padding, salt slot last)."""
    q = np.asarray(quantized)
    n_chunks = domain.n_chunks(q.size)
    padded = np.zeros(n_chunks * domain.chunk_size, dtype=np.int64)
    padded[: q.size] = q
    rows = padded.reshape(n_chunks, domain.chunk_size)
    if not domain.salted:
        return list(rows)
    if salts is None or len(salts) != n_chunks:
        raise InvalidArgument(
            f"a salted domain needs one salt per chunk ({n_chunks}), not {None if salts is None else len(salts)}"
        )
    return [np.array([*row.tolist(), int(s)], dtype=object) for row, s in zip(rows, salts, strict=True)]


@dataclass(frozen=True)
class UpdateCommitment:
    """A client's commitment to one update: one point per chunk, with its domain and length.

    Attributes
    ----------
    domain
        The commitment domain the points were made in.
    length
        Values in the update (before padding).
    points
        One 64-byte point per chunk (see the module docstring for the encoding).
    """

    domain: CommitmentDomain
    length: int
    points: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if isinstance(self.length, bool) or not isinstance(self.length, int) or self.length < 1:
            raise InvalidArgument(f"length must be a positive integer, not {self.length!r}")
        if len(self.points) != self.domain.n_chunks(self.length):
            raise InvalidArgument(
                f"an update of {self.length} values in chunks of {self.domain.chunk_size} has "
                f"{self.domain.n_chunks(self.length)} points, not {len(self.points)}"
            )
        for j, p in enumerate(self.points):
            if not isinstance(p, bytes) or len(p) != POINT_SIZE:
                raise InvalidArgument(f"points[{j}] must be {POINT_SIZE} bytes")

    @property
    def domain_id(self) -> bytes:
        """The 32-byte id of the commitment domain, :meth:`CommitmentDomain.domain_id`."""
        return self.domain.domain_id()

    def to_bytes(self) -> bytes:
        """``ZKUC``, version, domain (40 bytes), length (u64), points (64 bytes each)."""
        head = _UC_MAGIC + bytes([_UC_VERSION]) + self.domain.to_bytes() + struct.pack(">Q", self.length)
        return head + b"".join(self.points)

    @classmethod
    def from_bytes(cls, data: bytes) -> UpdateCommitment:
        """Decode :meth:`to_bytes`; a truncated or corrupted encoding raises :class:`CommitmentMismatch`."""
        head = len(_UC_MAGIC) + 1 + DOMAIN_SIZE + 8
        if len(data) < head or data[:4] != _UC_MAGIC:
            raise CommitmentMismatch("not an update commitment (bad magic or truncated header)")
        if data[4] != _UC_VERSION:
            raise CommitmentMismatch(f"update commitment version must be {_UC_VERSION}, not {data[4]}")
        try:
            domain = CommitmentDomain.from_bytes(data[5 : 5 + DOMAIN_SIZE])
        except InvalidArgument as exc:
            raise CommitmentMismatch(f"update commitment has a corrupted domain: {exc}") from exc
        (length,) = struct.unpack(">Q", data[5 + DOMAIN_SIZE : head])
        body = data[head:]
        n = domain.n_chunks(length) if length else 0
        if length < 1 or len(body) != n * POINT_SIZE:
            raise CommitmentMismatch(
                f"update commitment of {length} values needs {n * POINT_SIZE} bytes of points, has {len(body)}"
            )
        points = tuple(body[i : i + POINT_SIZE] for i in range(0, len(body), POINT_SIZE))
        for j, p in enumerate(points):
            decode_point(p, f"points[{j}]")
        return cls(domain, length, points)


def _domain_of(spec_or_domain: Any) -> CommitmentDomain:
    if isinstance(spec_or_domain, CommitmentDomain):
        return spec_or_domain
    domain = getattr(spec_or_domain, "domain", None)
    if callable(domain):
        domain = domain()
    if isinstance(domain, CommitmentDomain):
        return domain
    raise InvalidArgument(
        f"spec_or_domain must be an AggregationSpec or a CommitmentDomain, not {type(spec_or_domain).__name__}"
    )


@engine.timed
def commit_update(
    spec_or_domain: Any, x: npt.ArrayLike, *, salt_seed: bytes | None = None
) -> UpdateCommitment:
    """Quantize, pad, chunk and commit an update (one ``ezkl.kzg_commit`` per chunk).

    Parameters
    ----------
    spec_or_domain
        An :class:`~zkagg.AggregationSpec` or a :class:`CommitmentDomain`.
    x
        The update: a non-empty 1-D float array.
    salt_seed
        For salted domains, the client's secret seed (at least 16 bytes) from which the chunk salts
        are derived (:func:`chunk_salts`); the aggregator needs it too. Required for salted domains
        (use ``secrets.token_bytes(32)``), refused otherwise.

    Returns
    -------
    UpdateCommitment
    """
    domain = _domain_of(spec_or_domain)
    arr = np.asarray(x, dtype=np.float64) if not isinstance(x, np.ndarray) else x
    if arr.ndim != 1 or arr.size == 0:
        raise InvalidArgument(f"x must be a non-empty 1-D array, not of shape {tuple(arr.shape)}")
    q = quantize(arr, domain.scale)
    salts = None
    if domain.salted:
        if salt_seed is None:
            raise InvalidArgument("salt_seed is required in a salted domain (e.g. secrets.token_bytes(32))")
        salts = chunk_salts(domain, salt_seed, domain.n_chunks(q.size))
    elif salt_seed is not None:
        raise InvalidArgument("salt_seed must be None in an unsalted domain")
    messages = chunk_messages(domain, q, salts)
    if engine.backend() == "mcl":
        points = tuple(engine.commit_messages(_basis(domain), messages))
    else:
        points = tuple(commit_chunk(domain, m) for m in messages)
    return UpdateCommitment(domain, int(q.size), points)


@engine.timed
def first_false_opening(
    domain: CommitmentDomain,
    messages: Sequence[Sequence[int] | npt.NDArray[Any]],
    openings: Sequence[tuple[Sequence[bytes], Sequence[int]]],
    context: bytes = b"",
) -> int | None:
    """The first ``j`` whose message does not commit to ``sum_k s_jk Q_jk``, or ``None`` if all do.

    ``openings[j] = (Q_j, s_j)``: the points (each checked on the curve) and integer scalars whose
    combination ``commit_chunk(domain, messages[j])`` must equal. One random linear combination of
    the equations is checked: with ``r_j`` a hash of the domain, ``context``, every message, point
    and scalar (Fiat-Shamir),

        sum_j r_j commit(m_j) == sum_j r_j sum_k s_jk Q_jk,

    which a false opening passes with probability at most ``2**-128`` (a non-zero linear form over
    the scalar field vanishes on at most that fraction of ``r``; the ``r_j`` depend on everything
    the prover chose). The left side is ``commit(sum_j r_j m_j) + (R - 1) B`` with ``R = sum_j r_j``
    (one ``kzg_commit`` call on ezkl; one MSM of long scalars natively), except on the native
    backend for fewer than :data:`_COMBINE_FROM` messages, where committing every message (in
    parallel, short scalars) and combining the points is cheaper. The right side is one MSM (:func:`engine.msm_nested`). Only
    when the combined check fails is each equation checked alone, to name the first false one.
    """
    if len(messages) != len(openings):
        raise InvalidArgument(
            f"first_false_opening needs one opening per message, not {len(openings)} for {len(messages)}"
        )
    checked = [_check_message(domain, m) for m in messages]
    if not checked:
        return None
    rs = [1] if len(checked) == 1 else _opening_challenges(domain, checked, openings, context)
    right = engine.msm_nested(openings, rs, "opened point")
    if engine.backend() == "mcl" and len(checked) < _COMBINE_FROM:
        commits = engine.commit_messages(_basis(domain), checked)
        left = engine.msm(commits, rs, "commitment")
    else:
        width = max(m.size for m in checked)  # zeros appended to a message leave its commitment as is
        rows = [m.tolist() + [0] * (width - m.size) for m in checked]
        combined = np.dot(np.array(rs, dtype=object), np.array(rows, dtype=object))
        left = engine.msm(
            [commit_chunk(domain, combined % FIELD_MODULUS), zero_commitment(domain)], [1, sum(rs) - 1]
        )
    if left == right:
        return None
    for j, (m, (pts, scalars)) in enumerate(zip(checked, openings, strict=True)):
        if commit_chunk(domain, m) != engine.msm(pts, scalars, "opened point"):
            return j
    return None  # pragma: no cover - a failed combination has a failing equation (up to 2**-128)


_OPENING_BITS = 128
#: From this many messages on, :func:`first_false_opening` commits their random combination (one MSM
#: of ``message_size`` points with ~160-bit scalars) instead of every message (``n`` MSMs with the
#: messages' short scalars): measured with mcl, about 8 us a point at full length against 1.2 us.
_COMBINE_FROM = 8


def _opening_challenges(
    domain: CommitmentDomain,
    messages: Sequence[engine.Message],
    openings: Sequence[tuple[Sequence[bytes], Sequence[int]]],
    context: bytes,
) -> list[int]:
    """Fiat-Shamir ``r_j`` in ``[1, 2**128)`` from the domain, the context, the messages and the openings."""
    h = hashlib.sha256(b"zkagg-opening-batch\x00" + domain.domain_id())
    h.update(struct.pack(">QI", len(context), len(messages)) + context)
    for m, (pts, scalars) in zip(messages, openings, strict=True):
        # int64 messages as 8-byte signed values, the others as canonical field elements: each
        # encoding is injective, and the tag keeps the two apart.
        if m.dtype == np.int64:
            h.update(b"i" + struct.pack(">I", m.size) + m.astype(">i8").tobytes())
        else:
            values = [int(v) % FIELD_MODULUS for v in m.tolist()]
            h.update(b"f" + struct.pack(">I", len(values)) + b"".join(v.to_bytes(32, "big") for v in values))
        if any(not isinstance(p, bytes) for p in pts):
            raise InvalidArgument("opening points must be 64-byte strings")
        h.update(struct.pack(">I", len(pts)) + b"".join(pts))
        h.update(b"".join((int(sc) % FIELD_MODULUS).to_bytes(32, "big") for sc in scalars))
    seed = h.digest()
    return [
        int.from_bytes(hashlib.sha256(seed + j.to_bytes(4, "big")).digest()[: _OPENING_BITS // 8], "big") or 1
        for j in range(len(messages))
    ]


@engine.timed
def shard_model_commitments(
    global_points: Sequence[bytes], update_points: Sequence[bytes], zero_point: bytes
) -> list[bytes]:
    """Per chunk, ``commit(q_global) + commit(q_update) - B``: the commitment of ``q_global + q_update``.

    ``zero_point`` is ``B = commit(0)`` of the domain. Exact by the affinity of KZG commitments
    (DESIGN.md §3); every point is checked on the curve (:func:`zkagg._kzg.engine.msm`).
    """
    if len(global_points) != len(update_points):
        raise InvalidArgument(
            f"global_points and update_points must have as many chunks, not {len(global_points)} and {len(update_points)}"
        )
    return [
        engine.msm([g, u, zero_point], [1, 1, -1], f"chunk {j} (global, update, B)")
        for j, (g, u) in enumerate(zip(global_points, update_points, strict=True))
    ]


def new_salt_seed() -> bytes:
    """32 fresh random bytes for :func:`commit_update`'s ``salt_seed``."""
    return secrets.token_bytes(32)
