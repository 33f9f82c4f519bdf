"""Client validity proofs: ``||x||_2 <= bound`` (and optionally ``||x||_inf <= bound``), linked to commitments.

A client proves, for the update it committed to (:func:`zkagg._kzg.commit.commit_update`), that its L2
norm is within a bound, without revealing it. The update's chunks are grouped ``K`` at a time; each
group is one proof of :func:`zkagg.circuits.norm_bound.norm_bound_circuit` at the commitment domain's
logrows, whose ``K`` ``polycommit`` inputs are exactly the client's posted chunk commitments (a last,
short group is completed with zero chunks, whose commitment is the domain's ``B = commit(0)``), and
whose public output is the group's exact sum of squares in quanta squared. The verifier
(:func:`verify_norm`):

1. verifies every proof under the expected circuit's key (a proof for another circuit, for example
   with another ``K`` or L-infinity bound, fails);
2. checks that proof ``g``'s committed inputs are the client's chunk commitments ``gK .. gK + K - 1``
   (or ``B`` for padding), so every chunk is covered exactly once and in place;
3. adds the partial sums (exact integers) and accepts iff ``sum <= (bound * 2**scale)**2``, compared
   exactly with rationals, so that ``||q / 2**scale||_2 <= bound`` for the committed quantized ``q``;
4. with an L-infinity bound, checks every proof's ``linf_violation`` is 0, i.e. every
   ``|q| <= floor(bound * 2**scale)``.

Range checks. The sums are exact only if no square wraps around the field modulus: otherwise a
client could commit to a huge field element whose square is small. Two sound ways to bound the
inputs, recorded in :attr:`NormProof.method`; the verifier accepts either (it builds the circuit of
the method the proof names, never a key the proof supplies):

* ``"lookup"`` (the default whenever every ``|q| <= R``, :func:`lookup_bound`, ``R = 16351`` at
  logrows 15, that is 1.996 at scale 13): every committed value is looked up once in a table over
  ``[-R, R]`` (ezkl's ``Sigmoid`` lookup at scale 0, whose output is not used). A halo2 lookup holds
  only if the value equals an entry of the table's input column, a fixed column of the verification
  key with at most ``2**logrows`` entries, which ezkl fills with consecutive small integers starting
  at ``-R`` (measured: ``R + 1`` still proves, as the column is padded to its length, so the bound
  the circuit enforces is ``|q| < 2**logrows``, not exactly ``R``). The table fits one column
  (``2R + 65 <= 2**logrows``), so no column-selection logic is involved. Then every square is below
  ``2**(2 logrows)``, a proof's sum over fewer than ``2**logrows`` values below ``2**(3 logrows)``,
  far below the field modulus: the public partial sums are the exact integer sums of the committed
  signed values. About 2.0 rows per value against 7.6 with decomposition. :func:`prove_norm` refuses
  values beyond ``R`` before proving (ezkl 23.0.5's prover was seen to hang on a value far outside
  the table instead of failing).
* ``"decomposition"``: ezkl's input and output range checks with three 14-bit limbs (``|q| < 2**42``,
  :mod:`zkagg.circuits.norm_bound`), for updates with values beyond ``R``.

``range_checked=False`` builds the circuit without either (about 1 row per value). Its proofs are
sound only together with an external guarantee that every committed value is below about ``2**100``
in magnitude (for example that the same commitments were accepted by a range-checked aggregation
circuit). The choice is part of the circuit, so the verifier decides which it accepts.

Encoding (:meth:`NormProof.to_bytes`, :mod:`zkagg._wire`): ``"ZKAG" | type 17 | version 1 |
length (u64) | chunks_per_proof (u32) | linf_quanta (optional u64) | range_checked (bool) | method
(str) | proofs (list of bytes: each :meth:`zkagg.Proof.to_bytes`)``. One value has one encoding;
decoding checks every field and raises :class:`~zkagg.ProtocolError` naming the bad one. A client
posts it in the ``proofs`` field of its :class:`~zkagg._protocol.messages.ClientUpdate` when its deployment
sets ``client_norm_bound`` (:mod:`zkagg._protocol.coordinator`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from zkagg._aggregation.rules import domain_artifacts
from zkagg._errors import CommitmentMismatch, InvalidArgument, InvalidProof, ProtocolError
from zkagg._field import IntArray, felt_to_signed, quantize
from zkagg._kzg.commit import CommitmentDomain, UpdateCommitment, chunk_messages, zero_commitment
from zkagg._kzg.points import verified_input_commitments
from zkagg._prover.proof import Proof, prove
from zkagg._wire import Reader, Writer
from zkagg.circuits._graph import Circuit, lookup_table_bound
from zkagg.circuits.norm_bound import norm_bound_circuit

__all__ = [
    "clip_to_norm",
    "NORM_PROOF_TYPE",
    "RANGE_METHODS",
    "NormProof",
    "chunks_per_proof",
    "lookup_bound",
    "norm_circuit",
    "prove_norm",
    "verify_norm",
]

#: Rows per value measured with ezkl 23.0.5 (gen_settings): L2 with and without input range checks,
#: and what the L-infinity check adds.
_ROWS_L2_CHECKED = 7.6
_ROWS_L2_UNCHECKED = 1.1
_ROWS_L2_LOOKUP = 2.0
_ROWS_LINF = 18.6

#: How a range-checked norm circuit bounds its inputs (module docstring).
RANGE_METHODS = ("lookup", "decomposition")

#: The message type of an encoded :class:`NormProof` (:mod:`zkagg._wire`; 16 is an integer vector).
NORM_PROOF_TYPE = 17
_NORM_PROOF_VERSION = 1
#: Most proofs one encoded NormProof holds, and the largest one (a k15 proof file is about 30 KB).
_MAX_NORM_PROOFS = 4096
_MAX_PROOF_BYTES = 1 << 20
_MAX_METHOD_BYTES = 32


def lookup_bound(domain: CommitmentDomain) -> int:
    """``R``: the largest ``|q|`` (quanta) the lookup range check takes, its table filling one column."""
    return lookup_table_bound(domain.logrows)


def chunks_per_proof(
    domain: CommitmentDomain, *, linf: bool = False, range_checked: bool = True, method: str = "decomposition"
) -> int:
    """The most chunks one norm proof at the domain's logrows holds (at least 1)."""
    if not range_checked:
        l2 = _ROWS_L2_UNCHECKED
    else:
        l2 = _ROWS_L2_LOOKUP if _check_method(method) == "lookup" else _ROWS_L2_CHECKED
    rate = l2 + (_ROWS_LINF if linf else 0.0)
    usable = (1 << domain.logrows) * 15 // 16
    k = int(usable // (rate * domain.chunk_size))
    if k < 1:
        raise InvalidArgument(
            f"a norm proof of one {domain.chunk_size}-value chunk needs about {int(rate * domain.chunk_size)} "
            f"rows, more than logrows {domain.logrows} gives: use a smaller chunk_size"
        )
    return k


def _linf_quanta(linf_bound: float | None, scale: int) -> int | None:
    if linf_bound is None:
        return None
    if not (isinstance(linf_bound, int | float) and math.isfinite(linf_bound) and linf_bound >= 0):
        raise InvalidArgument(f"linf_bound must be a non-negative finite number, not {linf_bound!r}")
    quanta: int = (Fraction(linf_bound) * 2**scale).__floor__()
    return quanta


def _l2_limit(l2_bound: float, scale: int) -> Fraction:
    if not (isinstance(l2_bound, int | float) and math.isfinite(l2_bound) and l2_bound >= 0):
        raise InvalidArgument(f"l2_bound must be a non-negative finite number, not {l2_bound!r}")
    limit: Fraction = (Fraction(l2_bound) * 2**scale) ** 2
    return limit


def _check_method(method: str) -> str:
    if method not in RANGE_METHODS:
        raise InvalidArgument(f"method must be one of {', '.join(RANGE_METHODS)}, not {method!r}")
    return method


def norm_circuit(
    domain: CommitmentDomain,
    k: int,
    linf_quanta: int | None,
    *,
    range_checked: bool = True,
    method: str = "decomposition",
) -> Circuit:
    """The norm circuit over ``k`` chunks of the domain (``method`` only matters when range checked)."""
    lookup = range_checked and _check_method(method) == "lookup"
    return norm_bound_circuit(
        k,
        domain.chunk_size,
        logrows=domain.logrows,
        linf_bound=linf_quanta,
        range_checked=range_checked and not lookup,
        lookup_bound=lookup_bound(domain) if lookup else None,
    )


@dataclass(frozen=True)
class NormProof:
    """A client's norm proofs: one per group of ``chunks_per_proof`` chunks.

    Attributes
    ----------
    length
        Values in the update.
    chunks_per_proof
        ``K``.
    linf_quanta
        The L-infinity bound in quanta the proofs were made for, or ``None``.
    range_checked
        Whether the circuit range-checks its inputs (see the module docstring).
    proofs
        The EZKL proofs, in chunk order.
    method
        How a range-checked circuit bounds its inputs: ``"lookup"`` (one table lookup per value)
        or ``"decomposition"`` (ezkl's input range checks); both are sound (module docstring).
    """

    length: int
    chunks_per_proof: int
    linf_quanta: int | None
    range_checked: bool
    proofs: tuple[Proof, ...]
    method: str = "decomposition"

    def to_bytes(self) -> bytes:
        """The versioned binary encoding (module docstring).

        Raises
        ------
        InvalidArgument
            A field is outside what the encoding holds (no proof, too many, a negative count).
        """
        w = Writer(NORM_PROOF_TYPE, _NORM_PROOF_VERSION)
        w.u64("length", self.length)
        w.u32("chunks_per_proof", self.chunks_per_proof)
        w.flag("linf_quanta", self.linf_quanta is not None)
        if self.linf_quanta is not None:
            w.u64("linf_quanta", self.linf_quanta)
        w.bool_("range_checked", self.range_checked)
        w.str_("method", self.method, min_len=1, max_len=_MAX_METHOD_BYTES)
        w.count("proofs", len(self.proofs), max_count=_MAX_NORM_PROOFS, min_count=1)
        for i, p in enumerate(self.proofs):
            if not isinstance(p, Proof):
                raise InvalidArgument(f"proofs[{i}] must be a Proof, not {type(p).__name__}")
            w.bytes_(f"proofs[{i}]", p.to_bytes(), min_len=1, max_len=_MAX_PROOF_BYTES)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> NormProof:
        """Decode :meth:`to_bytes`; the proofs are parsed, not verified (:func:`verify_norm` does).

        Raises
        ------
        ProtocolError
            Not a norm proof, an unknown version, a truncated encoding, trailing bytes, a field
            outside its domain (an unknown method, no proofs, a count of zero), or a proof that is
            not a zkagg proof file; the message names the field.
        """
        r = Reader(data, "NormProof")
        r.header(NORM_PROOF_TYPE, (_NORM_PROOF_VERSION,))
        length = r.u64("length")
        k = r.u32("chunks_per_proof")
        linf = r.u64("linf_quanta") if r.flag("linf_quanta") else None
        range_checked = r.bool_("range_checked")
        method = r.str_("method", min_len=1, max_len=_MAX_METHOD_BYTES)
        n = r.count("proofs", max_count=_MAX_NORM_PROOFS, min_count=1)
        raw = [r.bytes_(f"proofs[{i}]", min_len=1, max_len=_MAX_PROOF_BYTES) for i in range(n)]
        r.finish()
        if length < 1 or k < 1:
            raise ProtocolError(f"NormProof: length and chunks_per_proof must be positive, not {length}, {k}")
        if method not in RANGE_METHODS:
            raise ProtocolError(
                f"NormProof: method must be one of {', '.join(RANGE_METHODS)}, not {method!r}"
            )
        proofs = []
        for i, item in enumerate(raw):
            try:
                proofs.append(Proof.from_bytes(item))
            except InvalidProof as exc:
                raise ProtocolError(f"NormProof: proofs[{i}] is not a zkagg proof: {exc}") from exc
        return cls(length, k, linf, range_checked, tuple(proofs), method)

    @property
    def partial_sums(self) -> list[int]:
        """Each proof's sum of squares (quanta squared), as its public output says."""
        return [
            felt_to_signed(p.instances[0][0]) if p.instances and p.instances[0] else 0 for p in self.proofs
        ]


def _groups(domain: CommitmentDomain, length: int, k: int) -> list[list[int | None]]:
    n_chunks = domain.n_chunks(length)
    out: list[list[int | None]] = []
    for start in range(0, n_chunks, k):
        group: list[int | None] = [j if j < n_chunks else None for j in range(start, start + k)]
        out.append(group)
    return out


def prove_norm(
    domain: CommitmentDomain,
    x: npt.ArrayLike,
    *,
    l2_bound: float,
    linf_bound: float | None = None,
    k: int | None = None,
    range_checked: bool = True,
    method: str | None = None,
) -> NormProof:
    """Prove that the committed update ``x`` has ``||x||_2 <= l2_bound`` (and ``||x||_inf <= linf_bound``).

    Parameters
    ----------
    domain
        The commitment domain of the client's commitment (unsalted).
    x
        The update (1-D floats), exactly as committed.
    l2_bound, linf_bound
        The bounds, in float units.
    k
        Chunks per proof (default: as many as the domain's logrows holds, :func:`chunks_per_proof`).
    range_checked
        Use the range-checked circuit (sound on its own; see the module docstring).
    method
        ``"lookup"`` or ``"decomposition"`` (range-checked circuits only). ``None``: ``"lookup"``
        when every ``|q|`` is within :func:`lookup_bound` (about 3.7x fewer rows), else
        ``"decomposition"``. The verifier accepts either.

    Raises
    ------
    InvalidArgument
        The update is not within the bounds (no proof of a false statement is attempted), or the
        arguments are out of their domains.
    """
    if domain.salted:
        raise InvalidArgument("norm proofs need an unsalted commitment domain (salted=False)")
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise InvalidArgument(f"x must be a non-empty 1-D array, not of shape {arr.shape}")
    q = quantize(arr, domain.scale)
    limit = _l2_limit(l2_bound, domain.scale)
    linf_q = _linf_quanta(linf_bound, domain.scale)
    norm2 = int((q.astype(object) ** 2).sum())
    if norm2 > limit:
        raise InvalidArgument(
            f"the update's L2 norm {math.sqrt(norm2) / 2**domain.scale:.6g} exceeds l2_bound={l2_bound}"
        )
    peak = int(np.abs(q).max())
    if linf_q is not None and peak > linf_q:
        raise InvalidArgument(f"the update's L-infinity norm exceeds linf_bound={linf_bound}")
    if method is None:
        method = "lookup" if peak <= lookup_bound(domain) else "decomposition"
    elif _check_method(method) == "lookup" and range_checked and peak > lookup_bound(domain):
        raise InvalidArgument(
            f"method='lookup' takes values up to {lookup_bound(domain)} quanta "
            f"({lookup_bound(domain) / 2**domain.scale:.6g} at scale {domain.scale}), the update has "
            f"{peak}: use method='decomposition'"
        )
    if not range_checked:
        method = "decomposition"
    kk = (
        k
        if k is not None
        else chunks_per_proof(domain, linf=linf_q is not None, range_checked=range_checked, method=method)
    )
    circuit = norm_circuit(domain, kk, linf_q, range_checked=range_checked, method=method)
    artifacts = domain_artifacts(circuit, domain)
    messages = chunk_messages(domain, q)
    zero = [0] * domain.chunk_size
    proofs = []
    for group in _groups(domain, arr.size, kk):
        inputs = [messages[j].tolist() if j is not None else zero for j in group]
        proofs.append(prove(artifacts, inputs))
    return NormProof(int(arr.size), kk, linf_q, range_checked, tuple(proofs), method)


def verify_norm(
    domain: CommitmentDomain,
    commitment: UpdateCommitment,
    proof: NormProof,
    *,
    l2_bound: float,
    linf_bound: float | None = None,
    range_checked: bool = True,
) -> None:
    """Check a client's norm proofs against its posted commitment. Returns ``None`` or raises.

    Raises
    ------
    CommitmentMismatch
        The commitment is of another domain, or a proof is not bound to the client's chunks.
    InvalidProof
        A proof does not verify under the expected circuit, the bounds differ from the ones asked
        for, or the norm exceeds the bound.
    """
    domain.require_same(commitment.domain, "the client's commitment")
    limit = _l2_limit(l2_bound, domain.scale)
    linf_q = _linf_quanta(linf_bound, domain.scale)
    if proof.linf_quanta != linf_q or proof.range_checked != range_checked:
        raise InvalidProof(
            f"the norm proof was made for L-infinity bound {proof.linf_quanta} quanta and range checks "
            f"{proof.range_checked}, not {linf_q} and {range_checked}"
        )
    if proof.method not in RANGE_METHODS:
        raise InvalidProof(
            f"the norm proof names range-check method {proof.method!r}, not one of {RANGE_METHODS}"
        )
    if proof.length != commitment.length:
        raise InvalidProof(f"the norm proof covers {proof.length} values, the commitment {commitment.length}")
    k = proof.chunks_per_proof
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidProof(f"chunks_per_proof must be a positive integer, not {k!r}")
    groups = _groups(domain, commitment.length, k)
    if len(proof.proofs) != len(groups):
        raise InvalidProof(f"expected {len(groups)} norm proofs of {k} chunks, got {len(proof.proofs)}")
    circuit = norm_circuit(domain, k, linf_q, range_checked=range_checked, method=proof.method)
    artifacts = domain_artifacts(circuit, domain)
    zero = zero_commitment(domain)
    total = 0
    for g, (group, p) in enumerate(zip(groups, proof.proofs, strict=True)):
        points = verified_input_commitments(p, artifacts, k, f"norm proof {g}")
        for slot, (j, point) in enumerate(zip(group, points, strict=True)):
            want = commitment.points[j] if j is not None else zero
            if point != want:
                what = f"chunk {j}" if j is not None else "a zero padding chunk"
                raise CommitmentMismatch(f"norm proof {g}, input {slot}, is not bound to the client's {what}")
        outs = [felt_to_signed(v) for column in p.instances for v in column]
        lookups = range_checked and proof.method == "lookup"
        if len(outs) != (2 if linf_q is not None else 1) + lookups or outs[0] < 0:
            raise InvalidProof(f"norm proof {g} has malformed public outputs")
        if linf_q is not None and outs[1] != 0:
            raise InvalidProof(f"norm proof {g} shows values beyond the L-infinity bound {linf_bound}")
        total += outs[0]
    if total > limit:
        raise InvalidProof(
            f"the update's L2 norm {math.sqrt(total) / 2**domain.scale:.6g} exceeds the bound {l2_bound}"
        )


def clip_to_norm(q: IntArray, bound: float, scale: int) -> IntArray:
    """``q`` scaled down (each value truncated toward zero) so that ``||q / 2**scale||_2 <= bound``.

    Returned unchanged (the same object) when it already fits. The check is exact (integers against
    a rational), so what comes back can always be proven with :func:`~zkagg.prove_norm` at that bound.
    """
    limit = (Fraction(bound) * 2**scale) ** 2
    norm2 = int((q.astype(object) ** 2).sum())
    if norm2 <= limit:
        return q
    factor = float(bound) * 2**scale / math.sqrt(norm2)
    while True:
        factor *= 1 - 1e-9
        clipped: IntArray = np.trunc(q.astype(np.float64) * factor).astype(np.int64)
        if int((clipped.astype(object) ** 2).sum()) <= limit:
            return clipped
