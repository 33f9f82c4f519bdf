"""``zkagg example``: prove and verify the bundled example model end to end."""

from __future__ import annotations

import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from zkagg.cli._common import HomeOption, JsonOption, emit_json, handle_errors


@handle_errors
def example(
    out: Annotated[
        Path | None, typer.Option(help="Where to write the proof (default: a temporary directory).")
    ] = None,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Prove and verify the bundled 16-8-4 MLP: the quickest check that EZKL proving works here."""
    import numpy as np
    import onnxruntime as ort

    from zkagg._prover.artifacts import RunArgs, build_circuit
    from zkagg._prover.proof import load_input, prove, public_values, verify
    from zkagg._prover.srs import warn_insecure
    from zkagg.cli._progress import PhaseProgress

    started = time.perf_counter()
    files = resources.files("zkagg.examples")
    with (
        resources.as_file(files / "mlp.onnx") as model,
        resources.as_file(files / "mlp_input.json") as input_file,
    ):
        progress = PhaseProgress(quiet=json_output)
        artifacts = build_circuit(
            model, RunArgs(input_scale=10, param_scale=10), home=home, progress=progress
        )
        workdir = Path(tempfile.mkdtemp(prefix="zkagg-example-"))
        proof_path = out or workdir / "proof.json"
        proof = prove(artifacts, input_file, out=proof_path, progress=progress)
        t0 = time.perf_counter()
        verify(proof_path, artifacts)
        verify_s = time.perf_counter() - t0
        values = public_values(proof, artifacts)["outputs"][0]
        session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        x = np.asarray(load_input(input_file)[0], dtype=np.float32).reshape(1, -1)
        reference = session.run(None, {session.get_inputs()[0].name: x})[0].ravel().tolist()
    assert artifacts.srs is not None
    if artifacts.srs.insecure:
        warn_insecure(artifacts.srs)  # fine for a demo, not for production
    result = {
        "ok": True,
        "proof": str(proof_path),
        "logrows": artifacts.logrows,
        "keys_cached": artifacts.cached,
        "proven_outputs": values,
        "onnxruntime_outputs": reference,
        "max_abs_error": max(abs(a - b) for a, b in zip(values, reference, strict=True)),
        "verify_seconds": verify_s,
        "total_seconds": time.perf_counter() - started,
        "srs_insecure": artifacts.srs.insecure,
    }
    if json_output:
        emit_json(result)
        return
    typer.echo(
        f"proof: {proof_path} ({proof.proof_size} bytes, logrows {artifacts.logrows}) verified in {verify_s:.2f} s"
    )
    typer.echo(f"proven outputs:      {[round(v, 4) for v in values]}")
    typer.echo(f"onnxruntime outputs: {[round(v, 4) for v in reference]}")
    typer.echo(f"max |difference| {result['max_abs_error']:.4g} (fixed point, scale 2**10)")
    typer.echo(f"total {result['total_seconds']:.1f} s")
