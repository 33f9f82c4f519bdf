"""Circuit artifacts: settings, compiled circuit, verification and proving keys, cached by content.

An ONNX model plus run arguments becomes, through ezkl (23.0.5), ``settings.json``,
``model.compiled``, ``vk.key`` and ``pk.key``. Building them costs seconds to minutes (setup is about
6 CPU-seconds per 2**15 rows), so they are cached under ``$ZKAGG_HOME/artifacts/<key>/`` where

    key = SHA-256(format, ONNX bytes, run arguments, calibration data, ezkl version, SRS identity)

Cache discipline:

* an entry is built in a private temporary directory and renamed into place whole (atomic), with a
  ``manifest.json`` that records the size and SHA-256 of every file;
* builders of the same key in several processes serialize on ``<key>.lock`` (a file lock): the first
  builds, the others reuse its result;
* an entry whose manifest is missing or whose files do not match it (truncated, corrupted, or keys
  made with an SRS that has since changed) is moved aside and rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from filelock import FileLock

from zkagg._errors import ArtifactError, CircuitError, InvalidArgument, ProvingError
from zkagg._home import atomic_write_text, sha256_file, sha256_file_memo, zkagg_home
from zkagg._prover.ezkl import EZKL_VERSION, call_ezkl, ezkl_module
from zkagg._prover.srs import MAX_LOGROWS, MIN_LOGROWS, SRS, dev_srs, find_srs

__all__ = [
    "VISIBILITIES",
    "CircuitArtifacts",
    "Progress",
    "RunArgs",
    "build_circuit",
    "export_artifacts",
    "load_artifacts",
]

ARTIFACTS_FORMAT = "zkagg-artifacts/1"
VISIBILITIES = ("public", "private", "fixed", "hashed", "polycommit")
_PARAM_VISIBILITIES = ("fixed", "private", "public", "hashed", "polycommit")
_FILES = ("model.onnx", "settings.json", "model.compiled", "vk.key", "pk.key")
_VERIFY_FILES = ("settings.json", "vk.key")

#: Progress callback: ``progress(phase, event, seconds)`` with event ``"start"`` or ``"done"``.
Progress = Callable[[str, str, float], None]


def _no_progress(phase: str, event: str, seconds: float) -> None:
    return None


@dataclass(frozen=True)
class RunArgs:
    """The ezkl run arguments zkagg exposes, validated, with explicit visibilities.

    ezkl's Python defaults are public/public/fixed while its CLI's differ (DESIGN.md §4), so every
    visibility is always set explicitly.

    Attributes
    ----------
    input_visibility, output_visibility
        One of ``public``, ``private``, ``fixed``, ``hashed`` (Poseidon, public hash),
        ``polycommit`` (KZG commitment, what links proofs to posted commitments).
    param_visibility
        ``fixed`` (baked into the verification key), ``private``, ``public``, ``hashed`` or
        ``polycommit``.
    input_scale, param_scale
        Fixed-point scales (values are multiplied by ``2**scale``).
    logrows
        ``None`` chooses the smallest that fits (at least 15); otherwise exactly this.
    num_inner_cols
        Columns per advice region (2 was fastest in DESIGN.md's measurements).
    ignore_range_check_inputs_outputs
        Skip range checks on inputs and outputs: sound only where nothing relies on their range.
    decomp_base, decomp_legs
        Range of non-linear lookups: values up to ``decomp_base ** decomp_legs`` in magnitude.
    lookup_range
        ``(low, high)``: the input range of ezkl's lookup tables (ops such as ``Sigmoid``); a
        looked-up value outside it has no witness. ``None`` keeps ezkl's default (and leaves the
        canonical form, hence every cache key made before this field existed, unchanged).
    """

    input_visibility: str = "public"
    output_visibility: str = "public"
    param_visibility: str = "fixed"
    input_scale: int = 7
    param_scale: int = 7
    logrows: int | None = None
    num_inner_cols: int = 2
    ignore_range_check_inputs_outputs: bool = False
    decomp_base: int = 16384
    decomp_legs: int = 2
    lookup_range: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.lookup_range is not None:
            lr = tuple(self.lookup_range)
            if (
                len(lr) != 2
                or any(isinstance(v, bool) or not isinstance(v, int) for v in lr)
                or not lr[0] < lr[1]
            ):
                raise InvalidArgument(
                    f"lookup_range must be None or two integers (low, high) with low < high, not {self.lookup_range!r}"
                )
            object.__setattr__(self, "lookup_range", (int(lr[0]), int(lr[1])))
        for name in ("input_visibility", "output_visibility"):
            value = getattr(self, name)
            if value not in VISIBILITIES:
                raise InvalidArgument(f"{name} must be one of {', '.join(VISIBILITIES)}, not {value!r}")
        if self.param_visibility not in _PARAM_VISIBILITIES:
            raise InvalidArgument(
                f"param_visibility must be one of {', '.join(_PARAM_VISIBILITIES)}, "
                f"not {self.param_visibility!r}"
            )
        for name in ("input_scale", "param_scale"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 30:
                raise InvalidArgument(f"{name} must be an integer in [0, 30], not {value!r}")
        if self.logrows is not None and (
            isinstance(self.logrows, bool)
            or not isinstance(self.logrows, int)
            or not MIN_LOGROWS <= self.logrows <= MAX_LOGROWS
        ):
            raise InvalidArgument(
                f"logrows must be None (automatic) or an integer in [{MIN_LOGROWS}, {MAX_LOGROWS}], "
                f"not {self.logrows!r}"
            )
        if isinstance(self.num_inner_cols, bool) or not 1 <= self.num_inner_cols <= 16:
            raise InvalidArgument(
                f"num_inner_cols must be an integer in [1, 16], not {self.num_inner_cols!r}"
            )
        if self.decomp_legs < 1 or self.decomp_base < 2:
            raise InvalidArgument(
                f"decomp_base must be >= 2 and decomp_legs >= 1, not {self.decomp_base} and {self.decomp_legs}"
            )

    def canonical(self) -> dict[str, Any]:
        """The arguments as a plain dict (part of the cache key); ``lookup_range`` only when set."""
        out = asdict(self)
        if self.lookup_range is None:
            del out["lookup_range"]
        else:
            out["lookup_range"] = list(self.lookup_range)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunArgs:
        """Rebuild from :meth:`canonical` output, refusing unknown keys."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidArgument(f"unknown run arguments: {', '.join(unknown)}")
        return cls(**dict(data))

    def to_ezkl(self, logrows: int) -> Any:
        """The ``ezkl.PyRunArgs`` for these arguments at ``logrows``."""
        ezkl = ezkl_module()
        ra = ezkl.PyRunArgs()
        ra.input_visibility = self.input_visibility
        ra.output_visibility = self.output_visibility
        ra.param_visibility = self.param_visibility
        ra.input_scale = self.input_scale
        ra.param_scale = self.param_scale
        ra.logrows = logrows
        ra.num_inner_cols = self.num_inner_cols
        ra.ignore_range_check_inputs_outputs = self.ignore_range_check_inputs_outputs
        ra.decomp_base = self.decomp_base
        ra.decomp_legs = self.decomp_legs
        if self.lookup_range is not None:
            ra.lookup_range = self.lookup_range
        return ra


@dataclass(frozen=True)
class CircuitArtifacts:
    """A compiled circuit and its keys, as found in one directory.

    ``pk_path`` is ``None`` for a verify-only directory (settings, verification key, manifest).
    """

    key: str
    directory: Path
    logrows: int
    srs: SRS | None
    manifest: dict[str, Any]
    cached: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def settings_path(self) -> Path:
        """``settings.json``."""
        return self.directory / "settings.json"

    @property
    def compiled_path(self) -> Path:
        """``model.compiled``."""
        return self.directory / "model.compiled"

    @property
    def vk_path(self) -> Path:
        """``vk.key``."""
        return self.directory / "vk.key"

    @property
    def pk_path(self) -> Path | None:
        """``pk.key``, or ``None`` in a verify-only directory."""
        path = self.directory / "pk.key"
        return path if path.exists() else None

    @property
    def settings(self) -> dict[str, Any]:
        """The parsed ``settings.json``."""
        try:
            data: dict[str, Any] = json.loads(self.settings_path.read_text())
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"cannot read {self.settings_path}: {exc}") from exc
        return data

    @property
    def vk_sha256(self) -> str:
        """SHA-256 of the verification key."""
        return str(self.manifest["files"]["vk.key"]["sha256"])

    @property
    def settings_sha256(self) -> str:
        """SHA-256 of the settings file."""
        return str(self.manifest["files"]["settings.json"]["sha256"])

    @property
    def input_shapes(self) -> list[list[int]]:
        """Shapes of the model's inputs, as recorded at build time."""
        return [list(s) for s in self.manifest.get("input_shapes", [])]

    @property
    def num_rows(self) -> int:
        """Rows the circuit uses (of ``2**logrows``)."""
        return int(self.settings.get("num_rows", 0))


def _cache_key(model_sha: str, run_args: RunArgs, calibration_sha: str | None, srs_id: str) -> str:
    material = json.dumps(
        {
            "format": ARTIFACTS_FORMAT,
            "model_sha256": model_sha,
            "run_args": run_args.canonical(),
            "calibration_sha256": calibration_sha,
            "ezkl_version": EZKL_VERSION,
            "srs": srs_id,
        },
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _read_model(model: str | os.PathLike[str] | bytes) -> bytes:
    if isinstance(model, bytes | bytearray):
        data = bytes(model)
    else:
        path = Path(model)
        if not path.is_file():
            raise InvalidArgument(f"model must be an existing ONNX file, not {str(path)!r} (no such file)")
        data = path.read_bytes()
    if not data:
        raise CircuitError("model is empty: an ONNX file is a protobuf ModelProto")
    return data


def _onnx_input_shapes(data: bytes) -> list[list[int]]:
    import onnx

    try:
        proto = onnx.load_from_string(data)
    except Exception as exc:  # onnx raises DecodeError and friends
        raise CircuitError(f"model is not an ONNX file: {exc}") from exc
    initializers = {init.name for init in proto.graph.initializer}
    shapes: list[list[int]] = []
    for inp in proto.graph.input:
        if inp.name in initializers:
            continue
        dims = inp.type.tensor_type.shape.dim
        shape = [d.dim_value if d.dim_value > 0 else 1 for d in dims]
        shapes.append(shape)
    if not shapes:
        raise CircuitError("model has no graph inputs")
    return shapes


def _auto_logrows(settings: Mapping[str, Any]) -> int:
    """The smallest logrows that holds the circuit's rows and its range-check tables."""
    need = int(settings.get("num_rows", 0)) + 64
    for low, high in settings.get("required_range_checks", []):
        need = max(need, int(high) - int(low) + 1 + 64)
    lookup = settings.get("run_args", {}).get("lookup_range") or [0, 0]
    if settings.get("required_lookups"):
        need = max(need, int(lookup[1]) - int(lookup[0]) + 1 + 64)
    return max(MIN_LOGROWS, math.ceil(math.log2(need)))


def _verify_entry(directory: Path, files: tuple[str, ...] = _FILES) -> dict[str, Any] | None:
    """Return the manifest if every listed file matches it, else ``None``."""
    manifest_path = directory / "manifest.json"
    try:
        manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        if manifest.get("format") != ARTIFACTS_FORMAT:
            return None
        for name in files:
            record = manifest["files"][name]
            path = directory / name
            if path.stat().st_size != int(record["size"]) or sha256_file_memo(path) != record["sha256"]:
                return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return manifest


def build_circuit(
    model: str | os.PathLike[str] | bytes,
    run_args: RunArgs | None = None,
    *,
    calibration_data: str | os.PathLike[str] | None = None,
    srs: SRS | None = None,
    home: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> CircuitArtifacts:
    """Compile an ONNX model into a circuit with keys, or return the cached result.

    Parameters
    ----------
    model
        Path to an ONNX file, or its bytes.
    run_args
        Visibilities, scales and logrows; defaults to :class:`RunArgs` ``()``.
    calibration_data
        Optional EZKL input JSON to calibrate on (``calibrate_settings``, target ``resources``).
        It becomes part of the cache key. Without it the run arguments are used as given.
    srs
        A ceremony SRS (from :func:`zkagg.load_srs`); by default a dev SRS of the circuit's logrows
        is generated or reused (INSECURE).
    home
        Cache root (default ``$ZKAGG_HOME`` or ``~/.cache/zkagg``).
    progress
        Called as ``progress(phase, "start" | "done", seconds)`` around each slow step.

    Returns
    -------
    CircuitArtifacts
        With ``cached`` telling whether the entry was reused.
    """
    run_args = run_args if run_args is not None else RunArgs()
    report = progress or _no_progress
    data = _read_model(model)
    input_shapes = _onnx_input_shapes(data)
    model_sha = hashlib.sha256(data).hexdigest()
    calibration_sha = None
    if calibration_data is not None:
        cal_path = Path(calibration_data)
        if not cal_path.is_file():
            raise InvalidArgument(f"calibration_data must be an existing JSON file, not {str(cal_path)!r}")
        calibration_sha = sha256_file(cal_path)
    if srs is not None and run_args.logrows is not None and srs.logrows != run_args.logrows:
        raise InvalidArgument(f"srs has logrows {srs.logrows} but run_args.logrows is {run_args.logrows}")
    srs_id = srs.sha256 if srs is not None else "dev"
    key = _cache_key(model_sha, run_args, calibration_sha, srs_id)
    root = zkagg_home(home) / "artifacts"
    root.mkdir(parents=True, exist_ok=True)
    entry = root / key
    with FileLock(str(root / f"{key}.lock")):
        existing = _load_cached(entry, key, srs, home)
        if existing is not None:
            return existing
        if entry.exists():
            aside = root / f"{key}.corrupt.{int(time.time() * 1000)}"
            os.replace(entry, aside)
            shutil.rmtree(aside, ignore_errors=True)
        return _build(
            data,
            input_shapes,
            model_sha,
            run_args,
            calibration_data,
            calibration_sha,
            srs,
            home,
            entry,
            key,
            report,
        )


def _load_cached(
    entry: Path, key: str, srs: SRS | None, home: str | os.PathLike[str] | None
) -> CircuitArtifacts | None:
    if not entry.is_dir():
        return None
    manifest = _verify_entry(entry)
    if manifest is None:
        return None
    logrows = int(manifest["logrows"])
    if srs is None:
        try:
            current = dev_srs(logrows, home=home)
        except ArtifactError:
            return None
        if current.sha256 != manifest["srs"]["sha256"]:
            return None  # keys were made with a dev SRS that has since been replaced
        srs = current
    return CircuitArtifacts(
        key=key, directory=entry, logrows=logrows, srs=srs, manifest=manifest, cached=True
    )


def _timed(report: Progress, timings: dict[str, float], phase: str, fn: Callable[[], Any]) -> Any:
    report(phase, "start", 0.0)
    t0 = time.perf_counter()
    result = fn()
    timings[phase] = time.perf_counter() - t0
    report(phase, "done", timings[phase])
    return result


def _build(
    data: bytes,
    input_shapes: list[list[int]],
    model_sha: str,
    run_args: RunArgs,
    calibration_data: str | os.PathLike[str] | None,
    calibration_sha: str | None,
    srs: SRS | None,
    home: str | os.PathLike[str] | None,
    entry: Path,
    key: str,
    report: Progress,
) -> CircuitArtifacts:
    timings: dict[str, float] = {}
    tmp = Path(tempfile.mkdtemp(prefix=f".{key[:16]}.", dir=entry.parent))
    try:
        model_path = tmp / "model.onnx"
        model_path.write_bytes(data)
        settings_path = tmp / "settings.json"
        compiled_path = tmp / "model.compiled"
        first_k = run_args.logrows if run_args.logrows is not None else 17  # a probe: rows are counted

        def settings_at(k: int) -> None:
            call_ezkl("gen_settings", str(model_path), str(settings_path), py_run_args=run_args.to_ezkl(k))

        _timed(report, timings, "settings", lambda: settings_at(first_k))
        if calibration_data is not None:
            _timed(
                report,
                timings,
                "calibrate",
                lambda: call_ezkl(
                    "calibrate_settings",
                    str(calibration_data),
                    str(model_path),
                    str(settings_path),
                    "resources",
                    scales=[run_args.input_scale],
                    max_logrows=run_args.logrows,
                ),
            )
        settings = json.loads(settings_path.read_text())
        if calibration_data is None:
            k = run_args.logrows if run_args.logrows is not None else _auto_logrows(settings)
            if k != first_k:
                settings_at(k)
        else:
            # calibration picks its own logrows; the run arguments' logrows (or the floor) wins
            calibrated = int(settings["run_args"]["logrows"])
            k = (
                run_args.logrows
                if run_args.logrows is not None
                else max(MIN_LOGROWS, calibrated, _auto_logrows(settings))
            )
            if k != calibrated:
                settings["run_args"]["logrows"] = k
                atomic_write_text(settings_path, json.dumps(settings))
        if srs is not None and srs.logrows != k:
            raise ArtifactError(
                f"the circuit needs an SRS of logrows {k}, but the SRS given ({srs.path}) has logrows "
                f"{srs.logrows}: an SRS must match the circuit's logrows exactly"
            )
        _timed(
            report,
            timings,
            "compile",
            lambda: call_ezkl("compile_circuit", str(model_path), str(compiled_path), str(settings_path)),
        )
        the_srs = srs or _timed(report, timings, "srs", lambda: dev_srs(k, home=home))
        _timed(
            report,
            timings,
            "setup",
            lambda: call_ezkl(
                "setup", str(compiled_path), str(tmp / "vk.key"), str(tmp / "pk.key"), str(the_srs.path)
            ),
        )
        manifest = {
            "format": ARTIFACTS_FORMAT,
            "key": key,
            "ezkl_version": EZKL_VERSION,
            "model_sha256": model_sha,
            "run_args": run_args.canonical(),
            "calibration_sha256": calibration_sha,
            "logrows": k,
            "input_shapes": input_shapes,
            "srs": {k2: v for k2, v in the_srs.describe().items() if k2 != "path"},
            "files": {
                name: {"size": (tmp / name).stat().st_size, "sha256": sha256_file(tmp / name)}
                for name in _FILES
            },
            "created": time.time(),
        }
        atomic_write_text(tmp / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True))
        os.replace(tmp, entry)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return CircuitArtifacts(
        key=key, directory=entry, logrows=k, srs=the_srs, manifest=manifest, cached=False, timings=timings
    )


def load_artifacts(
    directory: str | os.PathLike[str],
    *,
    home: str | os.PathLike[str] | None = None,
    srs: SRS | None = None,
) -> CircuitArtifacts:
    """Load artifacts from a directory (a cache entry or one made by :func:`export_artifacts`).

    Only the files needed to verify are required (``settings.json``, ``vk.key``, ``manifest.json``);
    each present file must match the manifest. The SRS is looked up by the hash the manifest records,
    in the directory itself, the dev cache and the registered ceremony files, unless given.
    """
    path = Path(directory).expanduser()
    if not path.is_dir():
        raise ArtifactError(f"artifacts directory {str(path)!r} does not exist")
    present = tuple(name for name in _FILES if (path / name).exists())
    for name in _VERIFY_FILES:
        if name not in present:
            raise ArtifactError(f"artifacts directory {path} has no {name}")
    manifest = _verify_entry(path, present)
    if manifest is None:
        raise ArtifactError(
            f"artifacts in {path} do not match their manifest.json (missing, truncated or modified files)"
        )
    logrows = int(manifest["logrows"])
    if srs is None:
        srs = find_srs(str(manifest["srs"]["sha256"]), logrows, home=home, search=[path])
    elif srs.logrows != logrows:
        raise ArtifactError(f"the circuit in {path} needs an SRS of logrows {logrows}, not {srs.logrows}")
    return CircuitArtifacts(
        key=str(manifest["key"]), directory=path, logrows=logrows, srs=srs, manifest=manifest, cached=True
    )


def find_cached_artifacts(key: str, *, home: str | os.PathLike[str] | None = None) -> CircuitArtifacts:
    """Load the cache entry ``key`` (as recorded in a proof file)."""
    entry = zkagg_home(home) / "artifacts" / key
    if not entry.is_dir():
        raise ArtifactError(
            f"the artifacts this proof needs (key {key[:16]}...) are not in the cache "
            f"{entry.parent}: pass them with --artifacts DIR"
        )
    return load_artifacts(entry, home=home)


def export_artifacts(
    artifacts: CircuitArtifacts, destination: str | os.PathLike[str], *, include_srs: bool = True
) -> Path:
    """Copy what a verifier needs (settings, verification key, manifest, model, SRS) to a directory.

    The proving key is not copied. The SRS goes along as ``k<logrows>.srs`` when ``include_srs``;
    a verifier treats an SRS that arrives this way as INSECURE unless it registered that hash itself.
    """
    dest = Path(destination).expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("settings.json", "vk.key", "model.onnx", "manifest.json"):
        src = artifacts.directory / name
        if src.exists():
            shutil.copyfile(src, dest / name)
    if include_srs:
        if artifacts.srs is None:
            raise ArtifactError("these artifacts have no SRS to export")
        shutil.copyfile(artifacts.srs.path, dest / f"k{artifacts.logrows}.srs")
    return dest


def _ensure_pk(artifacts: CircuitArtifacts) -> Path:
    pk = artifacts.pk_path
    if pk is None:
        raise ProvingError(
            f"artifacts in {artifacts.directory} have no proving key (a verify-only directory)"
        )
    return pk
