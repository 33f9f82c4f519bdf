"""``zkagg verify PROOF [--artifacts DIR]``: exit 0 when valid, a distinct code and one line when not."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from zkagg.cli._common import HomeOption, JsonOption, emit_json, handle_errors


@handle_errors
def verify(
    proof: Annotated[Path, typer.Argument(help="Proof file written by `zkagg prove`.", show_default=False)],
    artifacts: Annotated[
        Path | None,
        typer.Option(
            help="Directory with the circuit to check against (default: the cached artifacts the proof names)."
        ),
    ] = None,
    srs: Annotated[
        Path | None, typer.Option(help="SRS file to verify with (default: found by the hash recorded).")
    ] = None,
    srs_sha256: Annotated[str | None, typer.Option(help="Expected SHA-256 of --srs.")] = None,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Verify PROOF. Exit codes: 0 valid, 6 invalid proof, 7 missing or corrupt artifacts, 2 bad arguments."""
    from zkagg._errors import InvalidArgument
    from zkagg._prover.artifacts import find_cached_artifacts, load_artifacts
    from zkagg._prover.proof import Proof, public_values
    from zkagg._prover.proof import verify as run_verify
    from zkagg._prover.srs import load_srs, warn_insecure

    if (srs is None) != (srs_sha256 is None):
        raise InvalidArgument("--srs and --srs-sha256 go together: an SRS given by hand is checked by hash")
    started = time.perf_counter()
    the_proof = Proof.load(proof)
    the_srs = load_srs(srs, sha256=srs_sha256, home=home) if srs is not None and srs_sha256 else None
    if artifacts is not None:
        circuit = load_artifacts(artifacts, home=home, srs=the_srs)
    else:
        circuit = find_cached_artifacts(the_proof.artifact_key, home=home)
    run_verify(the_proof, circuit, srs=the_srs, home=home)
    elapsed = time.perf_counter() - started
    used_srs = the_srs or circuit.srs
    assert used_srs is not None
    if used_srs.insecure:
        warn_insecure(used_srs)
    values = public_values(the_proof, circuit)
    result = {
        "ok": True,
        "valid": True,
        "proof": str(proof),
        "artifact_key": circuit.key,
        "model_sha256": circuit.manifest.get("model_sha256"),
        "srs": used_srs.describe(),
        "public_outputs": values["outputs"],
        "seconds": elapsed,
    }
    if json_output:
        emit_json(result)
        return
    typer.echo(
        f"valid: {proof} verifies against circuit {circuit.key[:16]} (model sha256 {str(result['model_sha256'])[:16]})"
    )
    if values["outputs"]:
        typer.echo(f"public outputs: {values['outputs']}")
