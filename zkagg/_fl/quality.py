"""Shard-model quality proofs: a committed model's accuracy on the public probe set, proven with EZKL.

Each shard proves how many samples of the public probe set its quantized shard model (the global
model plus the shard's aggregate update) classifies correctly, and the coordinator composes only
shards whose proven accuracy meets the round manifest's threshold (DESIGN.md §1, step 3).

The circuit (:mod:`zkagg.circuits.shard_model`) takes the flat parameter vector as its only input,
with ``polycommit`` visibility, bakes the probe set in as constants (so they are fixed by the
verification key: a proof for another probe set does not verify under this key), and has one public
output, the count of correctly classified probe samples. Verifying a :class:`QualityProof` means:
the EZKL proof verifies under the verification key built from the verifier's own
:class:`QualitySpec`, its public count is in ``[0, n_probe]``, ``count / n_probe`` meets the
threshold and, when the verifier passes them, the committed parameters are the expected ones.

How the proof is bound to the shard's verified aggregate
--------------------------------------------------------
The parameters enter the circuit as the chunks of the deployment's commitment domain: the same
logrows, SRS, quantization scale and chunk size as the clients' update commitments
(:class:`QualitySpec` carries them; the circuit is compiled at exactly that logrows). EZKL writes
the KZG commitment of each ``polycommit`` input into the proof; measured with ezkl 23.0.5, the
commitment of input ``j`` is bytes ``[64 j, 64 j + 64)`` of the proof's ``proof`` byte list, as
big-endian ``x || y`` (:func:`~zkagg._kzg.points.proof_input_commitments`), and equals ``ezkl.kzg_commit`` of the same
quantized values (:func:`model_commitments`; zeros appended to a message leave its commitment
unchanged, so the shorter last input commits like the zero-padded domain chunk). KZG commitments
are affine in the message, ``commit(v) = L(v) + B`` (DESIGN.md §3), so with integer vectors at the
domain's scale

    commit(q_global + q_update) = commit(q_global) + commit(q_update) - B

per chunk (:func:`~zkagg._kzg.commit.shard_model_commitments`). The coordinator knows ``commit(q_global)`` (it
published the global model) and the commitment of the shard's verified aggregate update:

* for a rule proven in-circuit (median, trimmed mean) the aggregate is itself a ``polycommit``
  input of the aggregation proof, whose point the coordinator reads from that proof;
* for FedAvg the shard publishes the exact sum ``S`` (checked against the clients' commitments)
  and the update is the public rescale ``q_update = round(S / N)``, so the coordinator can commit
  it directly (or the shard model, ``q_global + q_update``, in one ``kzg_commit``).

It then checks that the points in the quality proof equal ``shard_model_commitments(...)``
(``expected_commitments`` of :func:`verify_quality`). A shard can therefore not prove the accuracy of
any model but the one its verified aggregate defines. In a salted domain the aggregate's salt slot
holds the sum of the clients' salts, which the quality circuit has no slot for: the shard
publishes that sum (the aggregate is public anyway) and the coordinator subtracts
``commit(salt_sum * e_chunk_size) - B`` before comparing.

Precision: pass the parameters as ``dequantize(q_model, scale)`` (exact floats); ezkl quantizes
them back to ``q_model`` exactly (rounding half away from zero, :mod:`zkagg._field`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import struct
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from zkagg._errors import CircuitError, CommitmentMismatch, InvalidArgument, InvalidProof, ProvingError
from zkagg._field import FIELD_MODULUS, felt_to_hex, felt_to_signed, quantize
from zkagg._fl.data import DigitsData
from zkagg._fl.flat import param_count
from zkagg._home import zkagg_home
from zkagg._kzg.commit import commit_chunk, commitment_domain
from zkagg._kzg.points import proof_input_commitments
from zkagg._prover.artifacts import CircuitArtifacts, RunArgs, build_circuit
from zkagg._prover.proof import Proof, prove, verify
from zkagg._prover.srs import SRS, dev_srs, srs_by_hash
from zkagg.circuits.shard_model import build_shard_model_onnx, chunk_lengths

__all__ = [
    "QualityProof",
    "QualitySpec",
    "model_commitments",
    "prove_quality",
    "quality_artifacts",
    "verify_quality",
]

QUALITY_FORMAT = "zkagg-quality/1"
_WIRE_MAGIC = b"ZKQP"
_WIRE_VERSION = 1
#: Bytes of one encoded commitment point: big-endian ``x || y`` (BN254 G1, affine).


@dataclass(frozen=True, eq=False)
class QualitySpec:
    """What a quality circuit is built from: the public probe set, the model and the commitment domain.

    Attributes
    ----------
    x_probe, y_probe
        The public probe set (features ``[n, 64]`` in ``[0, 1]``, labels ``[n]``).
    hidden
        Hidden width of the model.
    scale
        Quantization scale of the commitment domain (the circuit's ``input_scale``; constants,
        the probe features, use it too).
    logrows
        The commitment domain's logrows: the circuit is compiled at exactly this size, so its
        commitments are comparable with the clients' (refused if the circuit does not fit).
    chunk_size
        The commitment domain's chunk size: one circuit input per chunk of the parameters.
    num_inner_cols
        Advice columns per region. 4 fits 40 probe samples at hidden 16 in logrows 15
        (28,777 rows); cost grows with columns times ``2**logrows`` (DESIGN.md §4), so 4 columns
        at logrows 15 cost about what 2 columns at 16 would. Rows beyond ``2**logrows`` spill
        into extra columns rather than failing (48 samples: 33,777 rows, still logrows 15).
    srs_sha256
        The commitment domain's SRS, by hash (a deployment's pinned ceremony SRS), found with
        :func:`~zkagg._prover.srs.srs_by_hash`: the circuit's keys are made with it, proofs are made
        and verified with it and :func:`model_commitments` commits with it, whatever SRS a proof
        claims. ``None``: the INSECURE dev SRS of this machine (or the ``srs`` argument).
    """

    x_probe: npt.NDArray[np.float32]
    y_probe: npt.NDArray[np.int64]
    hidden: int = 16
    scale: int = 13
    logrows: int = 15
    chunk_size: int = 1024
    num_inner_cols: int = 4
    srs_sha256: str | None = None

    @classmethod
    def for_digits(cls, data: DigitsData, **kwargs: Any) -> QualitySpec:
        """The spec of the digits task's probe set (``kwargs`` as the attributes)."""
        return cls(np.asarray(data.x_probe), np.asarray(data.y_probe), **kwargs)

    @property
    def n_probe(self) -> int:
        """Number of probe samples."""
        return len(self.y_probe)

    @property
    def n_params(self) -> int:
        """Length of the flat parameter vector."""
        return param_count(self.hidden)

    @property
    def input_lengths(self) -> list[int]:
        """Values per circuit input (per domain chunk)."""
        return chunk_lengths(self.n_params, self.chunk_size)

    def run_args(self) -> RunArgs:
        """``polycommit`` parameters, a ``public`` count, ``fixed`` probe, at the domain's scale and logrows.

        :data:`zkagg.circuits.shard_model.DEFAULT_RUN_ARGS` for the default spec.
        """
        return RunArgs(
            input_visibility="polycommit",
            output_visibility="public",
            param_visibility="fixed",
            input_scale=self.scale,
            param_scale=self.scale,
            logrows=self.logrows,
            num_inner_cols=self.num_inner_cols,
        )

    def onnx_bytes(self) -> bytes:
        """The quality graph for this spec (deterministic)."""
        return build_shard_model_onnx(
            self.x_probe, self.y_probe, self.hidden, chunk_size=self.chunk_size
        ).onnx_bytes

    def describe(self) -> dict[str, Any]:
        """The numbers a round manifest records for this circuit, with the probe's SHA-256 and the fingerprint."""
        probe = hashlib.sha256(
            np.ascontiguousarray(self.x_probe, dtype="<f4").tobytes()
            + np.ascontiguousarray(self.y_probe, dtype="<i8").tobytes()
        ).hexdigest()
        return {
            "n_probe": self.n_probe,
            "hidden": self.hidden,
            "scale": self.scale,
            "logrows": self.logrows,
            "chunk_size": self.chunk_size,
            "num_inner_cols": self.num_inner_cols,
            "probe_sha256": probe,
            "fingerprint": self.fingerprint(),
        }

    def fingerprint(self) -> str:
        """SHA-256 over the graph and the run arguments: equal fingerprints, equal circuits."""
        material = self.onnx_bytes() + json.dumps(self.run_args().canonical(), sort_keys=True).encode()
        return hashlib.sha256(material).hexdigest()


_ARTIFACTS_MEMO: dict[tuple[str, str, str], CircuitArtifacts] = {}
_MEMO_LOCK = threading.Lock()


def _spec_srs(spec: QualitySpec, srs: SRS | None, home: str | None) -> SRS | None:
    """The SRS a spec names (``None``: the dev SRS of ``home``, as :func:`zkagg.build_circuit` takes it).

    A spec that names its SRS by hash gets that SRS and no other: an ``srs`` argument must be it.
    When the named SRS is this machine's dev SRS it is passed on as ``None``, so the circuit's
    keys are the ones already cached for the dev SRS.
    """
    if spec.srs_sha256 is None:
        return srs
    if srs is not None:
        if srs.sha256 != spec.srs_sha256:
            raise InvalidArgument(
                f"srs ({srs.sha256[:16]}...) must be the SRS the quality spec names ({spec.srs_sha256[:16]}...)"
            )
        return srs
    named = srs_by_hash(spec.srs_sha256, spec.logrows, home=home)
    return None if named.source == "dev" else named


def quality_artifacts(
    spec: QualitySpec, *, srs: SRS | None = None, home: str | None = None
) -> CircuitArtifacts:
    """Compile the spec's circuit and keys once (:func:`zkagg.build_circuit`, cached on disk and in memory)."""
    srs = _spec_srs(spec, srs, home)
    memo_key = (spec.fingerprint(), srs.sha256 if srs is not None else "dev", str(zkagg_home(home)))
    with _MEMO_LOCK:
        hit = _ARTIFACTS_MEMO.get(memo_key)
        if hit is not None and hit.directory.is_dir() and hit.pk_path is not None:
            return hit
        try:
            artifacts = build_circuit(spec.onnx_bytes(), spec.run_args(), srs=srs, home=home)
        except (CircuitError, ProvingError) as exc:
            raise InvalidArgument(
                f"the quality circuit (hidden {spec.hidden}, {spec.n_probe} probe samples, "
                f"{spec.num_inner_cols} columns) cannot be built at logrows {spec.logrows}: {exc}"
            ) from exc
        _ARTIFACTS_MEMO[memo_key] = artifacts
        return artifacts


@dataclass(frozen=True)
class QualityProof:
    """An EZKL proof of the number of probe samples a committed shard model classifies correctly."""

    proof: Proof
    n_probe: int
    n_inputs: int

    @property
    def correct(self) -> int:
        """The proven count (the proof's one public instance), checked to lie in ``[0, n_probe]``."""
        flat = [v for column in self.proof.instances for v in column]
        if len(flat) != 1:
            raise InvalidProof(f"a quality proof has exactly one public instance, not {len(flat)}")
        count = felt_to_signed(flat[0])
        if not 0 <= count <= self.n_probe:
            raise InvalidProof(f"the proven count must be in [0, {self.n_probe}], not {count}")
        return count

    @property
    def accuracy(self) -> float:
        """``correct / n_probe``."""
        return self.correct / self.n_probe

    @property
    def commitments(self) -> list[bytes]:
        """The committed parameter chunks, one 64-byte point per circuit input."""
        return proof_input_commitments(self.proof, self.n_inputs)

    def to_wire(self) -> bytes:
        """Compact binary form for round messages: what a verifier needs, nothing else.

        Layout (big-endian): ``b"ZKQP"``, version ``u8`` (1), ``n_probe`` ``u16``, ``n_inputs``
        ``u8``, the public count as a 32-byte little-endian field element (ezkl's order), the
        proof length ``u32`` and ezkl's proof bytes. The verifier supplies the circuit (its own
        :class:`QualitySpec`); ezkl 23.0.5 verifies a proof from its instances and bytes alone.
        """
        flat = [v for column in self.proof.instances for v in column]
        if len(flat) != 1:
            raise InvalidProof(f"a quality proof has exactly one public instance, not {len(flat)}")
        raw = bytes(self.proof.ezkl_proof.get("proof", []))
        return (
            _WIRE_MAGIC
            + struct.pack(">BHB", _WIRE_VERSION, self.n_probe, self.n_inputs)
            + flat[0].to_bytes(32, "little")
            + struct.pack(">I", len(raw))
            + raw
        )

    @classmethod
    def from_wire(cls, data: bytes) -> QualityProof:
        """Parse :meth:`to_wire` output; malformed or truncated data raises :class:`~zkagg.InvalidProof`."""
        head = len(_WIRE_MAGIC) + 4 + 32 + 4
        if not isinstance(data, bytes | bytearray) or len(data) < head:
            raise InvalidProof(f"a wire quality proof has at least {head} bytes, not {len(data)}")
        if data[:4] != _WIRE_MAGIC:
            raise InvalidProof(
                f"not a wire quality proof: magic must be {_WIRE_MAGIC!r}, not {bytes(data[:4])!r}"
            )
        version, n_probe, n_inputs = struct.unpack(">BHB", data[4:8])
        if version != _WIRE_VERSION:
            raise InvalidProof(f"wire quality proof version must be {_WIRE_VERSION}, not {version}")
        if n_probe < 1 or n_inputs < 1:
            raise InvalidProof(f"n_probe and n_inputs must be positive, not {n_probe} and {n_inputs}")
        count = int.from_bytes(data[8:40], "little")
        (length,) = struct.unpack(">I", data[40:44])
        if len(data) != head + length:
            raise InvalidProof(f"wire quality proof holds {len(data) - head} proof bytes, but says {length}")
        if count >= FIELD_MODULUS:
            raise InvalidProof("the public count is not a reduced field element")
        ezkl_proof = {"instances": [[felt_to_hex(count)]], "proof": list(data[head:])}
        proof = Proof(ezkl_proof, "", "", "", "", {})
        return cls(proof, int(n_probe), int(n_inputs))

    def to_json(self) -> dict[str, Any]:
        """JSON object of the quality proof (the inner proof file included)."""
        return {
            "format": QUALITY_FORMAT,
            "n_probe": self.n_probe,
            "n_inputs": self.n_inputs,
            "proof": self.proof.to_json(),
        }

    def to_bytes(self) -> bytes:
        """Canonical JSON bytes."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> QualityProof:
        """Parse :meth:`to_bytes` output; anything else raises :class:`~zkagg.InvalidProof`."""
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError) as exc:  # also a >4300-digit integer, or deep nesting
            raise InvalidProof(f"a quality proof is JSON, and this is not: {exc}") from exc
        if not isinstance(obj, dict) or obj.get("format") != QUALITY_FORMAT:
            got = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
            raise InvalidProof(f"not a quality proof: format must be {QUALITY_FORMAT!r}, not {got!r}")
        n_probe, n_inputs = obj.get("n_probe"), obj.get("n_inputs")
        for name, value in (("n_probe", n_probe), ("n_inputs", n_inputs)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidProof(f"quality proof field {name} must be a positive integer, not {value!r}")
        return cls(Proof.from_json(obj.get("proof")), int(n_probe), int(n_inputs))  # type: ignore[arg-type]


def _check_params(params: npt.ArrayLike, spec: QualitySpec) -> npt.NDArray[np.float64]:
    vec = np.asarray(params, dtype=np.float64).ravel()
    if vec.shape != (spec.n_params,):
        raise InvalidArgument(
            f"params must be a flat vector of {spec.n_params} values (hidden {spec.hidden}), not shape "
            f"{np.shape(params)}"
        )
    if not np.isfinite(vec).all():
        raise InvalidArgument(
            f"params must be finite, but params[{int(np.argmax(~np.isfinite(vec)))}] is not"
        )
    return vec


def _split(vec: npt.NDArray[np.float64], spec: QualitySpec) -> list[npt.NDArray[np.float64]]:
    bounds = np.cumsum(spec.input_lengths)[:-1]
    return list(np.split(vec, bounds))


def prove_quality(
    params: npt.ArrayLike,
    spec: QualitySpec,
    *,
    srs: SRS | None = None,
    home: str | None = None,
) -> QualityProof:
    """Prove how many probe samples the model with flat parameters ``params`` classifies correctly.

    Parameters
    ----------
    params
        Flat parameters (:mod:`zkagg._fl.model` order); to bind the proof exactly to integer
        values ``q`` at the domain's scale, pass ``dequantize(q, spec.scale)``.
    spec
        The probe set, model width and commitment domain.
    srs
        A ceremony SRS of ``spec.logrows``; by default the INSECURE dev SRS.

    Raises
    ------
    InvalidArgument
        Parameters of the wrong length, not finite, or out of the circuit's range.
    ProvingError
        Witness generation or proving failed.
    """
    vec = _check_params(params, spec)
    quantize(vec, spec.scale)  # refuses values that do not fit, naming the first
    artifacts = quality_artifacts(spec, srs=srs, home=home)
    proof = prove(artifacts, [chunk.tolist() for chunk in _split(vec, spec)])
    return QualityProof(proof, spec.n_probe, len(spec.input_lengths))


def verify_quality(
    proof: QualityProof,
    threshold: float,
    spec: QualitySpec,
    *,
    expected_commitments: list[bytes] | None = None,
    srs: SRS | None = None,
    home: str | None = None,
) -> None:
    """Check a quality proof against the verifier's own spec and a threshold. Returns ``None`` or raises.

    Parameters
    ----------
    proof
        From :func:`prove_quality` (or :meth:`QualityProof.from_bytes`).
    threshold
        Minimum accuracy on the probe set, in ``[0, 1]``; met when ``correct >= threshold * n``.
    spec
        The verifier's spec (from the round manifest): the proof must verify under the key built
        from it, whatever the proof file claims.
    expected_commitments
        The points the proof's committed parameters must equal (one per chunk), for instance from
        :func:`~zkagg._kzg.commit.shard_model_commitments`; not checked when ``None``.

    Raises
    ------
    InvalidProof
        The proof does not verify under this spec's key, its count is malformed, or its proven
        accuracy is below ``threshold`` (the message gives both).
    CommitmentMismatch
        The committed parameters are not the expected ones.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise InvalidArgument(f"threshold must be a number in [0, 1], not {threshold!r}")
    if proof.n_probe != spec.n_probe or proof.n_inputs != len(spec.input_lengths):
        raise InvalidProof(
            f"the proof is for {proof.n_probe} probe samples in {proof.n_inputs} input(s), but the spec "
            f"has {spec.n_probe} samples in {len(spec.input_lengths)} input(s)"
        )
    artifacts = quality_artifacts(spec, srs=srs, home=home)
    inner = proof.proof
    if not inner.vk_sha256:  # from the wire form: no claims about its key, so no misleading hint
        inner = dataclasses.replace(inner, vk_sha256=artifacts.vk_sha256)
    verify(inner, artifacts)
    correct = proof.correct
    if correct < threshold * spec.n_probe:
        raise InvalidProof(
            f"the shard model's proven probe accuracy {correct}/{spec.n_probe} = "
            f"{correct / spec.n_probe:.4f} is below the threshold {threshold:.4f} "
            f"(at least {math.ceil(threshold * spec.n_probe - 1e-9)} correct needed)"
        )
    if expected_commitments is not None:
        got = proof.commitments
        if len(expected_commitments) != len(got):
            raise CommitmentMismatch(
                f"expected_commitments must hold {len(got)} points (one per chunk), not {len(expected_commitments)}"
            )
        for j, (want, have) in enumerate(zip(expected_commitments, got, strict=True)):
            if bytes(want) != have:
                raise CommitmentMismatch(
                    f"the quality proof's committed parameters differ from the expected shard model at chunk {j}"
                )


# -- commitments --------------------------------------------------------------------------------


def model_commitments(
    q_params: npt.ArrayLike, spec: QualitySpec, *, srs: SRS | None = None, home: str | None = None
) -> list[bytes]:
    """The KZG commitment of each chunk of integer parameters: the points the quality proof carries.

    Computed by the one commitment engine (:func:`~zkagg._kzg.commit.commit_chunk`) in a domain of
    the spec's logrows and SRS: commitments depend only on those (DESIGN.md §3), not on the circuit,
    and zeros appended to a chunk do not change its commitment.
    """
    q = np.asarray(q_params)
    if q.shape != (spec.n_params,) or not np.issubdtype(q.dtype, np.integer):
        raise InvalidArgument(f"q_params must be {spec.n_params} integers, not shape {q.shape} {q.dtype}")
    named = _spec_srs(spec, srs, home)
    the_srs = named if named is not None else dev_srs(spec.logrows, home=home)
    width = 1 << max(6, (max(spec.input_lengths) - 1).bit_length())
    domain = commitment_domain(spec.logrows, width, spec.scale, srs=the_srs)
    return [commit_chunk(domain, chunk) for chunk in np.split(q, np.cumsum(spec.input_lengths)[:-1])]
