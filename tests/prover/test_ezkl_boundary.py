"""Every ezkl error message seen with ezkl 23.0.5 maps to the right zkagg exception."""

from __future__ import annotations

import pytest

from zkagg import ArtifactError, CircuitError, InvalidArgument, InvalidProof, ProvingError
from zkagg._prover.ezkl import KNOWN_MESSAGES, call_ezkl, translate_ezkl_error

# (function, message as ezkl 23.0.5 raised it, expected class). Collected by provoking each failure.
OBSERVED = [
    (
        "verify",
        "Failed to run verify: [halo2] Transcript error: Invalid elliptic curve point encoding in proof",
        InvalidProof,
    ),
    ("verify", "Failed to run verify: [halo2] The constraint system is not satisfied", InvalidProof),
    (
        "verify",
        "Failed to run verify: [pfsys] failed to load the proof: EOF while parsing a value at line 1 column 9460",
        InvalidProof,
    ),
    ("verify", "Failed to run verify: [halo2] Transcript error: failed to fill whole buffer", InvalidProof),
    (
        "verify",
        "Failed to run verify: [pfsys] failed to load the proof: No such file or directory (os error 2)",
        InvalidProof,
    ),
    (
        "verify",
        "Failed to run verify: [pfsys] failed to load vk from file: No such file or directory (os error 2)",
        ArtifactError,
    ),
    ("verify", "Failed to run verify: [srs] failed to load srs from nope.srs", ArtifactError),
    (
        "verify",
        "Failed to run verify: [pfsys] failed to load vk from file: failed to fill whole buffer",
        ArtifactError,
    ),
    ("verify", "Failed to run verify: invalid multi-opening", InvalidProof),
    ("verify", "Failed to run verify: [io] EOF while parsing a string at line 1 column 100", ArtifactError),
    (
        "gen_witness",
        "Failed to generate witness: [graph] [tensor] dimensionality error when manipulating a tensor: "
        "Cannot reshape tensor of length 5 to [1, 8]",
        InvalidArgument,
    ),
    (
        "gen_witness",
        'Failed to generate witness: [graph] [json] invalid type: string "x", expected a sequence at line 1 column 18',
        InvalidArgument,
    ),
    ("gen_witness", "Failed to generate witness: [graph] [halo2] General synthesis error", ProvingError),
    (
        "gen_witness",
        "Failed to generate witness: [graph] failed to ser/deser model: io error: failed to fill whole buffer",
        ArtifactError,
    ),
    (
        "gen_witness",
        "Failed to generate witness: [graph] [io] (nope.json) No such file or directory (os error 2)",
        ArtifactError,
    ),
    (
        "prove",
        "Failed to run prove: [pfsys] failed to load pk from file: failed to fill whole buffer",
        ArtifactError,
    ),
    (
        "prove",
        "Failed to run prove: [pfsys] failed to load pk from file: No such file or directory (os error 2)",
        ArtifactError,
    ),
    ("setup", "Failed to run setup: [halo2] General synthesis error", ProvingError),
    ("gen_settings", "Failed to generate settings: [graph] [tract] Reading proto model", CircuitError),
    ("compile_circuit", "Failed to compile circuit: [graph] [tract] Reading proto model", CircuitError),
    (
        "compile_circuit",
        "Failed to compile circuit: [graph] [io] (missing.onnx) No such file or directory (os error 2)",
        ArtifactError,
    ),
    ("float_to_felt", "Failed to quantize input", InvalidArgument),
]


@pytest.mark.parametrize(("function", "message", "expected"), OBSERVED)
def test_observed_messages_map(function: str, message: str, expected: type) -> None:
    err = translate_ezkl_error(function, RuntimeError(message))
    assert type(err) is expected
    assert message in str(err)


def test_every_known_needle_is_observed() -> None:
    for needle, cls in KNOWN_MESSAGES:
        hits = [m for _, m, _ in OBSERVED if needle in m]
        assert hits, f"{needle!r} is in the table but no observed message contains it"
        assert cls in {e for _, m, e in OBSERVED if needle in m}


def test_captured_output_is_attached() -> None:
    err = translate_ezkl_error(
        "gen_witness",
        RuntimeError("Failed to generate witness: [graph] [halo2] General synthesis error"),
        "[tensor] decomposition error: integer 8191999966445568 is too large to be represented by base 16384 and n 2\n",
    )
    assert "too large to be represented" in str(err)


def test_real_ezkl_failure_is_translated(tmp_path) -> None:  # type: ignore[no-untyped-def]
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not onnx")
    with pytest.raises(CircuitError, match="Reading proto model") as info:
        call_ezkl("gen_settings", str(junk), str(tmp_path / "s.json"))
    assert isinstance(info.value.__cause__, RuntimeError)
