"""Real EZKL proofs of small circuits: honest proofs verify, every tampering is rejected."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from zkagg import ArtifactError, InvalidArgument, InvalidProof, Proof, is_valid, prove, public_values, verify
from zkagg._field import felt_to_hex, hex_to_felt
from zkagg._prover import proof as proof_module
from zkagg.cli.app import app

pytestmark = pytest.mark.slow


def _tampered(src: Path, dst: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    """``src`` edited by ``edit`` and written in the one form zkagg writes (compact, sorted keys)."""
    data = json.loads(src.read_text())
    edit(data)
    dst.write_text(json.dumps(data, sort_keys=True, separators=(",", ":")))
    return dst


def test_honest_proof_verifies(example_proven) -> None:  # type: ignore[no-untyped-def]
    # Execute
    verify(example_proven.proof_path, example_proven.artifacts)
    verify(example_proven.proof_path)  # artifacts found in the cache by the hashes the proof records
    # Assert
    assert is_valid(example_proven.proof_path, example_proven.artifacts)


def test_public_outputs_match_onnxruntime(example_proven) -> None:  # type: ignore[no-untyped-def]
    proof = Proof.load(example_proven.proof_path)
    outputs = np.asarray(public_values(proof, example_proven.artifacts)["outputs"][0])
    x = np.asarray(json.loads(example_proven.input_path.read_text())["input_data"][0], dtype=np.float32)
    session = ort.InferenceSession(str(example_proven.model_path), providers=["CPUExecutionProvider"])
    reference = session.run(None, {"input": x.reshape(1, -1)})[0].ravel()
    assert np.max(np.abs(outputs - reference)) < 0.01  # scale 2**10, two layers


def test_flipped_proof_byte_is_invalid(example_proven, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    def flip(d: dict) -> None:  # type: ignore[type-arg]
        d["proof"]["proof"][200] ^= 0x01

    bad = _tampered(example_proven.proof_path, tmp_path / "flip.json", flip)
    with pytest.raises(InvalidProof):
        verify(bad, example_proven.artifacts)
    assert not is_valid(bad, example_proven.artifacts)


def test_changed_public_instance_is_invalid(example_proven, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    def change(d: dict) -> None:  # type: ignore[type-arg]
        column = d["proof"]["instances"][0]
        column[-1] = felt_to_hex(hex_to_felt(column[-1]) ^ 1)

    bad = _tampered(example_proven.proof_path, tmp_path / "inst.json", change)
    with pytest.raises(InvalidProof, match="not satisfied"):
        verify(bad, example_proven.artifacts)


def test_verification_key_of_another_circuit(example_proven, other_proven) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidProof, match="made for verification key"):
        verify(example_proven.proof_path, other_proven.artifacts)


def test_truncated_proof_file(example_proven, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    raw = example_proven.proof_path.read_bytes()
    bad = tmp_path / "trunc.json"
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InvalidProof, match="truncated"):
        verify(bad, example_proven.artifacts)


def test_short_proof_bytes(example_proven, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    def cut(d: dict) -> None:  # type: ignore[type-arg]
        d["proof"]["proof"] = d["proof"]["proof"][:300]

    bad = _tampered(example_proven.proof_path, tmp_path / "short.json", cut)
    with pytest.raises(InvalidProof):
        verify(bad, example_proven.artifacts)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(format="something-else"), "not a zkagg proof file"),
        (lambda d: d["proof"].update(proof=[1, 2, 999]), r"\[0, 255\]"),
        (lambda d: d["proof"].update(instances=[["zz"]]), "malformed public instances"),
        (lambda d: d.pop("srs"), "malformed field|does not record"),
    ],
)
def test_malformed_proof_files(example_proven, tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    bad = _tampered(example_proven.proof_path, tmp_path / "bad.json", edit)
    with pytest.raises(InvalidProof, match=message):
        verify(bad, example_proven.artifacts)


def test_missing_artifacts_are_an_artifact_error(example_proven, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ArtifactError, match="not in the cache"):
        verify(example_proven.proof_path, home=tmp_path / "empty-home")


@pytest.mark.parametrize(
    ("inputs", "error", "message"),
    [
        ({"input_data": [[0.1] * 5]}, InvalidArgument, r"must have 16 values \(shape \[1, 16\]\), not 5"),
        ({"input_data": [[0.1] * 16, [0.2] * 16]}, InvalidArgument, "takes 1 input"),
        ({"input_data": [[float("nan")] * 16]}, InvalidArgument, "must be finite"),
        ({"input_data": [[1e9] * 16]}, InvalidArgument, "too large for this circuit"),
        ({"data": []}, InvalidArgument, "'input_data'"),
        ({"input_data": []}, InvalidArgument, "non-empty list"),
        ({"input_data": [["a"] * 16]}, InvalidArgument, "list of numbers"),
    ],
)
def test_bad_inputs_are_refused_before_ezkl(example_proven, inputs, error, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message):
        prove(example_proven.artifacts, inputs)


def test_missing_or_invalid_input_file(example_proven, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidArgument, match="readable JSON file"):
        prove(example_proven.artifacts, tmp_path / "none.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(InvalidArgument, match="not valid JSON"):
        prove(example_proven.artifacts, broken)


def test_public_values_with_committed_inputs(example_proven) -> None:  # type: ignore[no-untyped-def]
    # ezkl lists only public instances in the settings: committed inputs must not shift the outputs
    from tests.conftest import EXAMPLES
    from zkagg import RunArgs, build_circuit

    committed = build_circuit(
        EXAMPLES / "mlp.onnx", RunArgs(input_visibility="polycommit", input_scale=10, param_scale=10)
    )
    proof = prove(committed, example_proven.input_path)
    values = public_values(proof, committed)
    reference = public_values(Proof.load(example_proven.proof_path), example_proven.artifacts)
    assert values["inputs"] == []
    assert values["outputs"] == reference["outputs"]


# -- one valid form (issue 12): what a reader sees is what is verified -----------------------------


def _pretty(d: dict, outputs: list[str]) -> None:  # type: ignore[type-arg]
    """Add ezkl's ``pretty_public_inputs`` with the rescaled outputs a reader would see."""
    d["proof"]["pretty_public_inputs"] = {"rescaled_outputs": [outputs]}


_EZKL_ONLY = "is not read by ezkl's verify"
_NAMED = "is .*, but the proof is verified under"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # ezkl's own copies, equal to what they copy: refused all the same (zkagg writes none)
        (
            lambda d: d["proof"].update(hex_proof="0x" + bytes(d["proof"]["proof"]).hex()),
            f"'hex_proof' {_EZKL_ONLY}",
        ),
        # changed copies and notes: ezkl's verify alone would accept them
        (lambda d: d["proof"].update(hex_proof="0x" + bytes(len(d["proof"]["proof"])).hex()), "'hex_proof'"),
        (lambda d: _pretty(d, ["9.5", "0.0", "0.0", "0.0"]), f"'pretty_public_inputs' {_EZKL_ONLY}"),
        (lambda d: d["proof"].update(timestamp=1), f"'timestamp' {_EZKL_ONLY}"),
        # names of what the proof is verified under, other than the ones it is verified under
        (lambda d: d.update(model_sha256="ab" * 32), f"model_sha256 {_NAMED}"),
        (lambda d: d.update(settings_sha256="ab" * 32), f"settings_sha256 {_NAMED}"),
        (lambda d: d["srs"].update(sha256="ab" * 32), rf"srs\.sha256 {_NAMED}"),
        (lambda d: d["srs"].update(logrows=17), rf"srs\.logrows {_NAMED}"),
    ],
)
def test_a_proof_file_that_shows_what_is_not_verified_is_refused(  # type: ignore[no-untyped-def]
    example_proven, tmp_path: Path, edit, message: str
) -> None:
    bad = _tampered(example_proven.proof_path, tmp_path / "shown.json", edit)
    with pytest.raises(InvalidProof, match=f"proof field {message}"):
        verify(bad, example_proven.artifacts)


def test_zkagg_verify_refuses_changed_rescaled_outputs_naming_the_field(  # type: ignore[no-untyped-def]
    example_proven, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    bad = _tampered(example_proven.proof_path, tmp_path / "pretty.json", lambda d: _pretty(d, ["1.0"] * 4))
    result = CliRunner().invoke(app, ["verify", str(bad)])
    assert result.exit_code == InvalidProof.exit_code
    assert "proof field 'pretty_public_inputs' is not read by ezkl's verify" in result.stderr


def test_a_proof_written_by_zkagg_holds_only_what_ezkl_verifies(example_proven) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(example_proven.proof_path.read_text())
    assert sorted(data["proof"]) == ["instances", "proof"]
    assert Proof.load(example_proven.proof_path).to_bytes() == example_proven.proof_path.read_bytes()


def test_an_upper_case_instance_is_refused(example_proven, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # ezkl accepts upper-case hex for the same field element: zkagg does not
    def upper(d: dict) -> None:  # type: ignore[type-arg]
        d["proof"]["instances"] = [[v.upper() for v in c] for c in d["proof"]["instances"]]

    bad = _tampered(example_proven.proof_path, tmp_path / "upper.json", upper)
    with pytest.raises(InvalidProof, match=r"instances\[0\]\[0\] must be 64 lowercase hex digits"):
        verify(bad, example_proven.artifacts)


@pytest.mark.parametrize("learned", [False, True], ids=["first-proof", "length-known"])
def test_bytes_after_the_end_of_the_proof_are_refused(  # type: ignore[no-untyped-def]
    example_proven, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, learned: bool
) -> None:
    # Prepare: ezkl ignores what follows a proof, so the padded proof would verify
    honest = Proof.load(example_proven.proof_path)
    size = honest.proof_size
    bad = _tampered(
        example_proven.proof_path, tmp_path / "pad.json", lambda d: d["proof"]["proof"].extend([0, 7])
    )
    monkeypatch.setattr(proof_module, "_PROOF_LENGTHS", {})
    if learned:
        verify(honest, example_proven.artifacts)  # the first proof of the circuit teaches its length
        message = f"proof has {size + 2} bytes, but every proof of this circuit has {size}"
    else:
        message = "proof carries bytes after the end of the proof"
    # Execute / Assert
    with pytest.raises(InvalidProof, match=message):
        verify(bad, example_proven.artifacts)
    verify(honest, example_proven.artifacts)
