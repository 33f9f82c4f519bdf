"""Prove and verify: the only module that runs ezkl's witness, prove and verify steps.

A zkagg proof file is self-describing: it wraps ezkl's proof JSON with the hashes of what it needs
(the artifacts' cache key, model, settings, verification key and SRS), so ``verify`` can find them
in the cache or in a directory the user names. What the proof *names* is only a hint: whoever
verifies decides which circuit the proof must satisfy, by the artifacts they pass (a proof that
names another circuit's keys simply fails against theirs).

One verification rule (CONVENTIONS.md §7): :func:`verify` returns ``None`` or raises
:class:`~zkagg.InvalidProof`; :func:`is_valid` is the boolean wrapper.

One valid form (issue 12). ezkl 23.0.5's verify reads only two fields of its proof JSON, ``proof``
(the bytes) and ``instances`` (the public values); everything else it writes is a copy of those
(``hex_proof``, ``pretty_public_inputs`` with its ``rescaled_outputs``) or a note nothing checks
(``timestamp``, ``version``, ``protocol``, ``split``). A file whose copies were changed still
verifies, and whoever reads it sees the changed values. So :func:`prove` keeps only ``proof`` and
``instances``, and reading a proof refuses any other ezkl field, naming it. Checking the copies
against what is verified instead would mean re-implementing ezkl's pretty printing (Rust's float
formatting, hashed and committed visibilities) and could only be done with the circuit's settings
at hand; dropping them on load would leave files that show unverified values to anyone who opens
them. The rest of the canonical form:

* instances are written as ezkl writes them, 64 lowercase hex digits of a little-endian field
  element below ``p`` (ezkl also accepts upper case: refused);
* the proof bytes are exactly the bytes ezkl's verifier reads: ezkl ignores bytes after the end of
  a proof, so :func:`verify` refuses a proof that still verifies without its last byte, and then
  remembers the length of that circuit's proofs (one extra verification per circuit and process);
* the file is compact JSON with sorted keys (:meth:`Proof.to_bytes`), with exactly the fields
  zkagg writes, and every hash it names (model, settings, verification key, SRS) must be the hash
  of what it is verified under. ``artifact_key`` is where :func:`verify` finds the circuit when
  none is given (two caches may file one circuit under two keys, so it is not compared), and
  ``created``, ``timings``, ``ezkl_version`` and the SRS's ``insecure``, ``source`` and ``warning``
  are the prover's notes, not verified.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zkagg._errors import ArtifactError, InvalidArgument, InvalidProof, ProvingError, ZkaggError
from zkagg._field import FIELD_MODULUS, dequantize, felt_to_signed, hex_to_felt, quantize
from zkagg._home import atomic_write_bytes
from zkagg._prover.artifacts import (
    CircuitArtifacts,
    Progress,
    _ensure_pk,
    _timed,
    find_cached_artifacts,
    load_artifacts,
)
from zkagg._prover.ezkl import EZKL_VERSION, call_ezkl
from zkagg._prover.srs import SRS

__all__ = ["PROOF_FORMAT", "Proof", "is_valid", "load_input", "prove", "verify"]

PROOF_FORMAT = "zkagg-proof/1"

#: The fields of ezkl's proof JSON that its verify reads; a zkagg proof file holds these only.
EZKL_FIELDS = ("instances", "proof")
#: The fields of a zkagg proof file, all required.
_FILE_FIELDS = frozenset(
    {"format", "ezkl_version", "artifact_key", "model_sha256", "settings_sha256", "vk_sha256"}
    | {"srs", "created", "timings", "proof"}
)
_SRS_FIELDS = frozenset({"sha256", "logrows", "insecure", "source", "warning"})
#: 64 lowercase hex digits: a SHA-256 as zkagg writes it, and a field element as ezkl writes it.
_HEX64 = re.compile(r"\A[0-9a-f]{64}\Z")

# The length of the proofs of each (verification key, settings, SRS), learned on first verification.
_PROOF_LENGTHS: dict[tuple[str, str, str], int] = {}
_PROOF_LENGTHS_LOCK = threading.Lock()


def _no_progress(phase: str, event: str, seconds: float) -> None:
    return None


def _check_ezkl_proof(inner: object) -> None:
    """Refuse an ezkl proof object other than the canonical ``{"instances", "proof"}`` (InvalidProof)."""
    if not isinstance(inner, dict):
        raise InvalidProof(f"an ezkl proof is a JSON object, not {type(inner).__name__}")
    extra = sorted(inner.keys() - set(EZKL_FIELDS))
    if extra:
        raise InvalidProof(
            f"proof field {extra[0]!r} is not read by ezkl's verify, so it could show values that were never "
            f"verified: a zkagg proof holds only {' and '.join(EZKL_FIELDS)} (re-prove with this zkagg)"
        )
    raw = inner.get("proof")
    if not isinstance(raw, list):
        raise InvalidProof("proof file has no ezkl proof bytes")
    if not all(type(b) is int and 0 <= b <= 255 for b in raw):
        raise InvalidProof("proof bytes must be integers in [0, 255]")
    columns = inner.get("instances")
    if not isinstance(columns, list):
        raise InvalidProof("proof file has no public instances")
    for i, column in enumerate(columns):
        if not isinstance(column, list):
            raise InvalidProof(f"proof has malformed public instances: instances[{i}] is not a list")
        for j, v in enumerate(column):
            if (
                not isinstance(v, str)
                or not _HEX64.match(v)
                or int.from_bytes(bytes.fromhex(v), "little") >= FIELD_MODULUS
            ):
                raise InvalidProof(
                    f"proof has malformed public instances: instances[{i}][{j}] must be 64 lowercase hex "
                    f"digits of a little-endian field element below p, as ezkl writes it, not {v!r}"
                )


@dataclass(frozen=True)
class Proof:
    """An EZKL proof with the hashes of the artifacts it was made for.

    Attributes
    ----------
    ezkl_proof
        The fields of ezkl's proof JSON that its verify reads: ``proof`` (bytes as integers in
        ``[0, 255]``) and ``instances`` (columns of 64-digit lowercase hex field elements); any
        other field is refused (module docstring).
    artifact_key
        Cache key of the circuit artifacts used.
    model_sha256, settings_sha256, vk_sha256
        Hashes of the ONNX model, settings and verification key (empty: the proof names none, as a
        proof taken from a compact wire form).
    srs
        ``{"sha256", "logrows", "insecure", "source"}`` of the SRS used.
    timings
        Seconds spent in ``witness``, ``prove`` and ``self_verify``.

    Raises
    ------
    InvalidProof
        ``ezkl_proof`` holds another field, or malformed proof bytes or instances.
    """

    ezkl_proof: dict[str, Any]
    artifact_key: str
    model_sha256: str
    settings_sha256: str
    vk_sha256: str
    srs: dict[str, Any]
    ezkl_version: str = EZKL_VERSION
    created: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_ezkl_proof(self.ezkl_proof)

    @property
    def instances(self) -> list[list[int]]:
        """Public instances as field elements (ints in ``[0, p)``)."""
        try:
            return [[hex_to_felt(v) for v in column] for column in self.ezkl_proof["instances"]]
        except (KeyError, TypeError, ZkaggError) as exc:
            raise InvalidProof(f"proof has malformed public instances: {exc}") from exc

    @property
    def proof_size(self) -> int:
        """Size of the proof bytes (without the public instances)."""
        return len(self.ezkl_proof.get("proof", []))

    def to_json(self) -> dict[str, Any]:
        """The proof file's JSON object."""
        return {
            "format": PROOF_FORMAT,
            "ezkl_version": self.ezkl_version,
            "artifact_key": self.artifact_key,
            "model_sha256": self.model_sha256,
            "settings_sha256": self.settings_sha256,
            "vk_sha256": self.vk_sha256,
            "srs": self.srs,
            "created": self.created,
            "timings": self.timings,
            "proof": self.ezkl_proof,
        }

    def to_bytes(self) -> bytes:
        """Canonical JSON bytes of :meth:`to_json`."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the proof file atomically."""
        target = Path(path)
        atomic_write_bytes(target, self.to_bytes())
        return target

    @classmethod
    def from_json(cls, data: object) -> Proof:
        """Parse a proof file's JSON object.

        Raises
        ------
        InvalidProof
            The object is not a zkagg proof file (wrong format, missing, unknown or malformed
            fields, an ezkl field other than ``proof`` and ``instances``); the message names the
            field.
        """
        if not isinstance(data, dict):
            raise InvalidProof(f"a proof file holds a JSON object, not {type(data).__name__}")
        if data.get("format") != PROOF_FORMAT:
            raise InvalidProof(
                f"not a zkagg proof file: format is {data.get('format')!r}, expected {PROOF_FORMAT!r}"
            )
        missing = sorted(_FILE_FIELDS - data.keys())
        if missing:
            raise InvalidProof(
                f"proof file is missing the field {missing[0]!r}"
                + (" (it does not record its SRS)" if missing[0] == "srs" else "")
            )
        extra = sorted(data.keys() - _FILE_FIELDS)
        if extra:
            raise InvalidProof(f"proof file field {extra[0]!r} is not a field of {PROOF_FORMAT} files")
        for name in ("artifact_key", "model_sha256", "settings_sha256", "vk_sha256"):
            if not isinstance(data[name], str) or not _HEX64.match(data[name]):
                raise InvalidProof(
                    f"proof file field {name} must be 64 lowercase hex digits, not {data[name]!r}"
                )
        srs = data["srs"]
        if not isinstance(srs, dict) or "sha256" not in srs or "logrows" not in srs:
            raise InvalidProof("proof file does not record its SRS (srs.sha256 and srs.logrows)")
        if srs.keys() - _SRS_FIELDS:
            raise InvalidProof(
                f"proof file field srs.{sorted(srs.keys() - _SRS_FIELDS)[0]} is not an SRS field"
            )
        if not isinstance(srs["sha256"], str) or not _HEX64.match(srs["sha256"]):
            raise InvalidProof(
                f"proof file field srs.sha256 must be 64 lowercase hex digits, not {srs['sha256']!r}"
            )
        if isinstance(srs["logrows"], bool) or not isinstance(srs["logrows"], int):
            raise InvalidProof(f"proof file field srs.logrows must be an integer, not {srs['logrows']!r}")
        created, timings = data["created"], data["timings"]
        if not isinstance(created, float) or not math.isfinite(created):
            raise InvalidProof(f"proof file field created must be a finite float, not {created!r}")
        if not isinstance(timings, dict) or not all(
            isinstance(v, float) and math.isfinite(v) for v in timings.values()
        ):
            raise InvalidProof(f"proof file field timings must map phases to finite floats, not {timings!r}")
        if not isinstance(data["ezkl_version"], str):
            raise InvalidProof(
                f"proof file field ezkl_version must be a string, not {data['ezkl_version']!r}"
            )
        inner = data["proof"]
        if not isinstance(inner, dict):
            raise InvalidProof(
                f"proof file field proof must be ezkl's proof object, not {type(inner).__name__}"
            )
        return cls(
            ezkl_proof=inner,
            artifact_key=data["artifact_key"],
            model_sha256=data["model_sha256"],
            settings_sha256=data["settings_sha256"],
            vk_sha256=data["vk_sha256"],
            srs=dict(srs),
            ezkl_version=data["ezkl_version"],
            created=created,
            timings=dict(timings),
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Proof:
        """Parse proof file bytes: exactly the bytes :meth:`to_bytes` writes for what they hold.

        Raises
        ------
        InvalidProof
            Truncated or non-JSON data, a malformed file (:meth:`from_json`), or JSON in another
            form than :meth:`to_bytes` writes (spacing, key order, repeated keys, escapes): one
            proof has one file.
        """
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError) as exc:  # also a >4300-digit integer, or deep nesting
            raise InvalidProof(f"proof file is not valid JSON (truncated or corrupted): {exc}") from exc
        proof = cls.from_json(obj)
        if proof.to_bytes() != bytes(data):
            raise InvalidProof(
                "proof file is not in the one form zkagg writes (compact JSON with sorted keys, no "
                "repeated keys, as `zkagg prove` writes it)"
            )
        return proof

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Proof:
        """Read a proof file."""
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise InvalidArgument(f"proof must be a readable file, not {str(p)!r} ({exc.strerror})") from exc
        return cls.from_bytes(data)


def load_input(source: str | os.PathLike[str] | Mapping[str, Any] | Sequence[Any]) -> list[list[float]]:
    """Read model inputs: an EZKL input JSON file or dict (``{"input_data": [[...], ...]}``) or a list of arrays.

    Every value must be a finite number; each input is flattened.
    """
    obj: Any = source
    where = "input"
    if isinstance(source, str | os.PathLike):
        where = str(source)
        try:
            obj = json.loads(Path(source).read_text())
        except OSError as exc:
            raise InvalidArgument(
                f"input must be a readable JSON file, not {where!r} ({exc.strerror})"
            ) from exc
        except ValueError as exc:
            raise InvalidArgument(f"input {where!r} is not valid JSON: {exc}") from exc
    if isinstance(obj, Mapping):
        if "input_data" not in obj:
            raise InvalidArgument(f"input {where!r} must have an 'input_data' key holding a list of inputs")
        obj = obj["input_data"]
    if isinstance(obj, np.ndarray):
        obj = [obj]
    if not isinstance(obj, Sequence) or isinstance(obj, str | bytes) or len(obj) == 0:
        raise InvalidArgument(
            f"input_data in {where!r} must be a non-empty list of inputs (lists of numbers)"
        )
    inputs: list[list[float]] = []
    for i, item in enumerate(obj):
        try:
            arr = np.asarray(item, dtype=np.float64).ravel()
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"input_data[{i}] in {where!r} must be a list of numbers") from exc
        if arr.size == 0:
            raise InvalidArgument(f"input_data[{i}] in {where!r} is empty")
        bad = ~np.isfinite(arr)
        if bad.any():
            j = int(np.argmax(bad))
            raise InvalidArgument(f"input_data[{i}][{j}] in {where!r} must be finite, not {arr[j]!r}")
        inputs.append(arr.tolist())
    return inputs


def _check_inputs(artifacts: CircuitArtifacts, inputs: list[list[float]]) -> None:
    shapes = artifacts.input_shapes
    if shapes and len(inputs) != len(shapes):
        raise InvalidArgument(f"the model takes {len(shapes)} input(s), but input_data has {len(inputs)}")
    settings = artifacts.settings
    scales = settings.get("model_input_scales") or [settings["run_args"]["input_scale"]] * len(inputs)
    decomp = settings["run_args"].get("decomp_base", 16384) ** settings["run_args"].get("decomp_legs", 2)
    for i, (values, shape) in enumerate(zip(inputs, shapes or [[len(v)] for v in inputs], strict=True)):
        need = math.prod(shape)
        if len(values) != need:
            raise InvalidArgument(f"input {i} must have {need} values (shape {shape}), not {len(values)}")
        scale = int(scales[min(i, len(scales) - 1)])
        q = quantize(values, scale)
        if q.size and int(np.abs(q).max()) >= decomp:
            j = int(np.argmax(np.abs(q)))
            raise InvalidArgument(
                f"input {i}[{j}] = {values[j]!r} is too large for this circuit: at scale {scale} it "
                f"quantizes to {int(q[j])}, beyond the circuit's range of +-{decomp}"
            )


def _check_lookups(
    artifacts: CircuitArtifacts, witness: Path, report: Progress, timings: dict[str, float]
) -> None:
    """Refuse a witness that misses a lookup table before proving it.

    Measured with ezkl 23.0.5: ``prove`` does not fail but runs on without end (minutes) when a
    looked-up value is outside the table, while ezkl's mock prover rejects the same witness in under
    half a second at logrows 15. So circuits with lookups are mock-checked first.
    """
    try:
        ok = _timed(
            report, timings, "mock", lambda: call_ezkl("mock", str(witness), str(artifacts.compiled_path))
        )
        if ok is False:
            raise ProvingError("ezkl.mock returned False")
    except ProvingError as exc:
        names = (
            op if isinstance(op, str) else next(iter(op)) for op in artifacts.settings["required_lookups"]
        )
        lookups = ", ".join(sorted(str(n) for n in names))
        raise ProvingError(
            "the inputs do not satisfy the circuit: a value it looks up is outside its lookup table "
            f"({lookups}, range {artifacts.settings['run_args'].get('lookup_range')}), or another "
            f"constraint fails; ezkl's mock prover says: {exc}"
        ) from exc


def prove(
    artifacts: CircuitArtifacts,
    inputs: str | os.PathLike[str] | Mapping[str, Any] | Sequence[Any],
    *,
    out: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> Proof:
    """Generate the witness and an EZKL proof for ``inputs``, check it, and optionally save it.

    Parameters
    ----------
    artifacts
        From :func:`zkagg.build_circuit` (needs the proving key).
    inputs
        EZKL input JSON (path or dict) or a list of arrays, one per model input.
    out
        Where to write the proof file (atomically); not written when ``None``.
    progress
        ``progress(phase, "start" | "done", seconds)`` around ``witness``, ``prove`` and ``self_verify``.

    Raises
    ------
    InvalidArgument
        Inputs of the wrong count, shape or range.
    ProvingError
        Witness generation or proving failed, or the proof produced does not verify.
    """
    report = progress or _no_progress
    values = load_input(inputs)
    _check_inputs(artifacts, values)
    pk = _ensure_pk(artifacts)
    srs = artifacts.srs
    if srs is None:
        raise ArtifactError(f"artifacts in {artifacts.directory} have no SRS")
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="zkagg-prove-") as tmpdir:
        tmp = Path(tmpdir)
        (tmp / "input.json").write_text(json.dumps({"input_data": values}))
        _timed(
            report,
            timings,
            "witness",
            lambda: call_ezkl(
                "gen_witness",
                str(tmp / "input.json"),
                str(artifacts.compiled_path),
                str(tmp / "witness.json"),
                str(artifacts.vk_path),
                str(srs.path),
            ),
        )
        if artifacts.settings.get("required_lookups"):
            _check_lookups(artifacts, tmp / "witness.json", report, timings)
        _timed(
            report,
            timings,
            "prove",
            lambda: call_ezkl(
                "prove",
                str(tmp / "witness.json"),
                str(artifacts.compiled_path),
                str(pk),
                str(tmp / "proof.json"),
                str(srs.path),
            ),
        )
        try:
            written = json.loads((tmp / "proof.json").read_text())
            ezkl_proof = {name: written[name] for name in EZKL_FIELDS}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ProvingError(f"ezkl.prove wrote no readable proof: {exc}") from exc
        proof = Proof(
            ezkl_proof=ezkl_proof,
            artifact_key=artifacts.key,
            model_sha256=str(artifacts.manifest["model_sha256"]),
            settings_sha256=artifacts.settings_sha256,
            vk_sha256=artifacts.vk_sha256,
            srs={k: v for k, v in srs.describe().items() if k != "path"},
            created=time.time(),
            timings=timings,
        )
        try:
            _timed(report, timings, "self_verify", lambda: verify(proof, artifacts))
        except InvalidProof as exc:  # pragma: no cover - would be an ezkl bug
            raise ProvingError(f"the proof ezkl produced does not verify: {exc}") from exc
    if out is not None:
        proof.save(out)
    return proof


def verify(
    proof: Proof | str | os.PathLike[str] | bytes,
    artifacts: CircuitArtifacts | str | os.PathLike[str] | None = None,
    *,
    srs: SRS | None = None,
    home: str | os.PathLike[str] | None = None,
) -> None:
    """Verify a proof against a circuit's verification key. Returns ``None`` or raises.

    Parameters
    ----------
    proof
        A :class:`Proof`, a proof file path, or its bytes.
    artifacts
        The circuit the proof must satisfy: loaded artifacts or a directory. ``None`` looks up the
        artifacts the proof names in the cache (convenient, but then the proof chose its circuit:
        check ``proof.model_sha256`` against the model you expect).
    srs
        The SRS to verify with; by default the one the artifacts record, found by hash.

    Raises
    ------
    InvalidProof
        The proof does not verify (changed bytes or instances, another circuit's key, malformed file),
        names a model, settings, key or SRS other than the ones it is verified under, or carries
        bytes after the end of the proof (module docstring).
    ArtifactError
        The verification key, settings or SRS cannot be found or are corrupt.
    """
    if isinstance(proof, bytes):
        proof = Proof.from_bytes(proof)
    elif not isinstance(proof, Proof):
        proof = Proof.load(proof)
    if artifacts is None:
        artifacts = find_cached_artifacts(proof.artifact_key, home=home)
    elif not isinstance(artifacts, CircuitArtifacts):
        artifacts = load_artifacts(artifacts, home=home, srs=srs)
    the_srs = srs or artifacts.srs
    if the_srs is None:
        raise ArtifactError(f"no SRS for the artifacts in {artifacts.directory}")
    if the_srs.logrows != artifacts.logrows:
        # ezkl 23.0.5 hangs when the SRS is larger than the circuit's: refuse instead
        raise ArtifactError(
            f"the circuit has logrows {artifacts.logrows} but the SRS has logrows {the_srs.logrows}"
        )
    _check_names(proof, artifacts, the_srs)
    size = len(proof.ezkl_proof["proof"])
    key = (artifacts.vk_sha256, artifacts.settings_sha256, the_srs.sha256)
    with _PROOF_LENGTHS_LOCK:
        known = _PROOF_LENGTHS.get(key)
    if known is not None and size != known:
        raise InvalidProof(f"proof has {size} bytes, but every proof of this circuit has {known}")
    _ezkl_verify(proof.ezkl_proof, artifacts, the_srs)
    if known is None:
        # ezkl reads a proof's bytes up to its end and ignores the rest: a proof is the exact one
        # only if it no longer verifies without its last byte. Then every proof of this circuit
        # has its length, checked from now on before ezkl runs.
        try:
            _ezkl_verify({**proof.ezkl_proof, "proof": proof.ezkl_proof["proof"][:-1]}, artifacts, the_srs)
        except InvalidProof:
            with _PROOF_LENGTHS_LOCK:
                _PROOF_LENGTHS[key] = size
        else:
            raise InvalidProof(
                "proof carries bytes after the end of the proof (it verifies without its last byte, "
                "as ezkl ignores what follows a proof): only the exact proof bytes are accepted"
            )


def _check_names(proof: Proof, artifacts: CircuitArtifacts, srs: SRS) -> None:
    """Refuse a proof that names another model, settings, key or SRS than it is verified under."""
    if proof.vk_sha256 and proof.vk_sha256 != artifacts.vk_sha256:
        raise InvalidProof(
            f"proof does not verify here: the proof was made for verification key {proof.vk_sha256[:12]}, "
            f"these artifacts hold {artifacts.vk_sha256[:12]}"
        )
    model = artifacts.manifest.get("model_sha256")
    named = (
        ("settings_sha256", proof.settings_sha256, artifacts.settings_sha256),
        ("model_sha256", proof.model_sha256, None if model is None else str(model)),
        ("srs.sha256", proof.srs.get("sha256"), srs.sha256),
        ("srs.logrows", proof.srs.get("logrows"), srs.logrows),
    )
    for name, claim, actual in named:
        if claim not in ("", None) and actual is not None and claim != actual:
            raise InvalidProof(
                f"proof field {name} is {str(claim)[:16]}, but the proof is verified under {str(actual)[:16]}: "
                "a proof names exactly what it verifies under"
            )


def _ezkl_verify(ezkl_proof: Mapping[str, Any], artifacts: CircuitArtifacts, srs: SRS) -> None:
    with tempfile.TemporaryDirectory(prefix="zkagg-verify-") as tmpdir:
        proof_path = Path(tmpdir) / "proof.json"
        proof_path.write_text(json.dumps(ezkl_proof))
        try:
            call_ezkl(
                "verify", str(proof_path), str(artifacts.settings_path), str(artifacts.vk_path), str(srs.path)
            )
        except InvalidProof as exc:
            raise InvalidProof(f"proof does not verify: {exc}") from exc


def is_valid(
    proof: Proof | str | os.PathLike[str] | bytes,
    artifacts: CircuitArtifacts | str | os.PathLike[str] | None = None,
    *,
    srs: SRS | None = None,
    home: str | os.PathLike[str] | None = None,
) -> bool:
    """``True`` when :func:`verify` passes, ``False`` when it raises :class:`~zkagg.InvalidProof`."""
    try:
        verify(proof, artifacts, srs=srs, home=home)
    except InvalidProof:
        return False
    return True


def public_values(proof: Proof, artifacts: CircuitArtifacts) -> dict[str, list[list[float]]]:
    """Decode the public inputs and outputs of a proof to floats, using the circuit's scales.

    Only instances of ``public`` visibility are decoded (hashed and committed ones are not values).
    """
    settings = artifacts.settings
    run_args = settings["run_args"]
    flat = [felt_to_signed(v) for column in proof.instances for v in column]
    shapes: list[list[int]] = settings.get("model_instance_shapes", [])
    out: dict[str, list[list[float]]] = {"inputs": [], "outputs": []}
    groups: list[tuple[str, list[int]]] = []
    if str(run_args["input_visibility"]).lower() == "public":
        groups += [("inputs", [int(s) for s in settings["model_input_scales"]])]
    if str(run_args["output_visibility"]).lower() == "public":
        groups += [("outputs", [int(s) for s in settings["model_output_scales"]])]
    cursor = 0
    # ezkl lists the shapes of public instances only, in order: public inputs, then public outputs
    shape_iter = iter(shapes)
    for name, scales in groups:
        for scale in scales:
            shape = next(shape_iter, None)
            size = math.prod(shape) if shape else 0
            chunk = flat[cursor : cursor + size]
            cursor += size
            out[name].append(dequantize(np.asarray(chunk, dtype=object), scale).tolist())
    if cursor > len(flat):
        raise InvalidProof("proof has fewer public instances than its circuit declares")
    return out
