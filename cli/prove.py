"""``zkagg prove MODEL.onnx INPUT.json --out PROOF``: compile (cached), prove, self-check, write."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from zkagg.cli._common import HomeOption, JsonOption, emit_json, handle_errors

VIS_HELP = "public | private | fixed | hashed | polycommit"


@handle_errors
def prove(
    model: Annotated[Path, typer.Argument(help="ONNX model to prove.", show_default=False)],
    input_file: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT", help='EZKL input JSON: {"input_data": [[...], ...]}.', show_default=False
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the proof file.")] = Path(
        "proof.json"
    ),
    input_visibility: Annotated[str, typer.Option(help=f"Visibility of the inputs: {VIS_HELP}.")] = "public",
    output_visibility: Annotated[
        str, typer.Option(help=f"Visibility of the outputs: {VIS_HELP}.")
    ] = "public",
    param_visibility: Annotated[str, typer.Option(help=f"Visibility of the weights: {VIS_HELP}.")] = "fixed",
    scale: Annotated[int, typer.Option(help="Fixed-point scale of inputs (x * 2**scale).")] = 7,
    param_scale: Annotated[int | None, typer.Option(help="Scale of the weights (default: --scale).")] = None,
    logrows: Annotated[
        int | None, typer.Option(help="Circuit size 2**logrows (default: smallest that fits).")
    ] = None,
    calibrate: Annotated[
        Path | None, typer.Option(help="Calibrate settings on this input JSON (part of the cache key).")
    ] = None,
    srs: Annotated[
        Path | None, typer.Option(help="Ceremony SRS file (default: a cached INSECURE dev SRS).")
    ] = None,
    srs_sha256: Annotated[
        str | None, typer.Option(help="Expected SHA-256 of --srs (required with it).")
    ] = None,
    export_artifacts: Annotated[
        Path | None,
        typer.Option(help="Also copy what a verifier needs (settings, vk, SRS) to this directory."),
    ] = None,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Prove MODEL on INPUT with EZKL; keys are built once per model and reused from the cache."""
    from zkagg._errors import InvalidArgument
    from zkagg._prover.artifacts import RunArgs, build_circuit
    from zkagg._prover.artifacts import export_artifacts as export
    from zkagg._prover.proof import prove as run_prove
    from zkagg._prover.srs import load_srs, warn_insecure
    from zkagg.cli._progress import PhaseProgress

    started = time.perf_counter()
    if not model.is_file():
        raise InvalidArgument(f"MODEL must be an existing ONNX file, not {str(model)!r}")
    if not input_file.is_file():
        raise InvalidArgument(f"INPUT must be an existing JSON file, not {str(input_file)!r}")
    if (srs is None) != (srs_sha256 is None):
        raise InvalidArgument("--srs and --srs-sha256 go together: a ceremony SRS is always checked by hash")
    run_args = RunArgs(
        input_visibility=input_visibility,
        output_visibility=output_visibility,
        param_visibility=param_visibility,
        input_scale=scale,
        param_scale=scale if param_scale is None else param_scale,
        logrows=logrows,
    )
    ceremony = load_srs(srs, sha256=srs_sha256, home=home) if srs is not None and srs_sha256 else None
    progress = PhaseProgress(quiet=json_output)
    artifacts = build_circuit(
        model, run_args, calibration_data=calibrate, srs=ceremony, home=home, progress=progress
    )
    proof = run_prove(artifacts, input_file, out=out, progress=progress)
    exported = export(artifacts, export_artifacts) if export_artifacts is not None else None
    elapsed = time.perf_counter() - started
    assert artifacts.srs is not None
    if artifacts.srs.insecure:
        warn_insecure(artifacts.srs)
    summary = {
        "ok": True,
        "proof": str(out),
        "artifact_key": artifacts.key,
        "artifacts": str(artifacts.directory),
        "keys_cached": artifacts.cached,
        "logrows": artifacts.logrows,
        "rows": artifacts.num_rows,
        "proof_bytes": proof.proof_size,
        "srs": artifacts.srs.describe(),
        "timings": {**artifacts.timings, **proof.timings, "total": elapsed},
        "exported": str(exported) if exported else None,
    }
    if json_output:
        emit_json(summary)
        return
    cache_note = "reused from cache" if artifacts.cached else "built and cached"
    typer.echo(
        f"proof written to {out} ({proof.proof_size} bytes, logrows {artifacts.logrows}, keys {cache_note})"
    )
    typer.echo(f"artifacts: {artifacts.directory}")
    if exported:
        typer.echo(f"verifier artifacts exported to {exported}")
    typer.echo(f"total {elapsed:.2f} s")
