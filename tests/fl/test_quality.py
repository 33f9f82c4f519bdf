"""Real EZKL quality proofs of a trained shard model: honest proofs verify, the rest is rejected.

The proofs here use a 16-sample probe and 2 advice columns (26k rows, logrows 15) so that the
module stays within about a minute of proving on a quiet 2-core machine; the deployment default
(:class:`zkagg._fl.quality.QualitySpec`: 40 samples, 4 columns) differs only in size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from zkagg import CommitmentMismatch, InvalidArgument, InvalidProof, dequantize, quantize
from zkagg._fl.data import load_digits_task
from zkagg._fl.quality import (
    QualityProof,
    QualitySpec,
    model_commitments,
    prove_quality,
    quality_artifacts,
    verify_quality,
)
from zkagg._fl.sim import FLConfig, run_reference
from zkagg._kzg.commit import shard_model_commitments
from zkagg.circuits.shard_model import correct_count, margins

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Proven:
    spec: QualitySpec
    q_params: np.ndarray
    q_global: np.ndarray
    proof: QualityProof


@pytest.fixture(scope="module")
def proven() -> Proven:
    data = load_digits_task(probe_size=16)
    spec = QualitySpec.for_digits(data, num_inner_cols=2)
    # a global model after one round and a shard model one more round on
    first = run_reference(FLConfig(rounds=1), data=data).params
    second = run_reference(FLConfig(rounds=2), data=data).params
    q_global = quantize(first, spec.scale)
    q_params = quantize(second, spec.scale)
    proof = prove_quality(dequantize(q_params, spec.scale), spec)
    return Proven(spec, q_params, q_global, proof)


def test_circuit_fits_the_commitment_domain(proven: Proven) -> None:
    artifacts = quality_artifacts(proven.spec)
    assert artifacts.logrows == 15
    assert artifacts.num_rows < 2**15


def test_honest_proof_verifies_and_counts_like_numpy(proven: Proven) -> None:
    # Execute
    verify_quality(proven.proof, 0.5, proven.spec)
    # Assert: the proven count equals the float count, up to samples within a few quanta of a tie
    params = dequantize(proven.q_params, proven.spec.scale)
    m = margins(params, 16, proven.spec.x_probe, proven.spec.y_probe)
    eps = 2.0**-5  # generous: rounding of 64 + 16 products per logit at scale 13
    assert int((m > eps).sum()) <= proven.proof.correct <= int((m > -eps).sum())
    if np.all(np.abs(m) > eps):
        assert proven.proof.correct == correct_count(params, 16, proven.spec.x_probe, proven.spec.y_probe)
    assert proven.proof.accuracy >= 0.5


def test_threshold_above_proven_accuracy_is_rejected(proven: Proven) -> None:
    correct, n = proven.proof.correct, proven.spec.n_probe
    too_high = (correct + 1) / n
    with pytest.raises(InvalidProof, match=rf"accuracy {correct}/{n} = .* below the threshold"):
        verify_quality(proven.proof, too_high, proven.spec)
    verify_quality(proven.proof, correct / n, proven.spec)  # exactly at the threshold passes


def test_changed_count_is_rejected(proven: Proven) -> None:
    data = json.loads(proven.proof.to_bytes())
    column = data["proof"]["proof"]["instances"][0]
    column[0] = (proven.proof.correct + 1).to_bytes(32, "little").hex()
    forged = QualityProof.from_bytes(json.dumps(data).encode())
    assert forged.correct == proven.proof.correct + 1
    with pytest.raises(InvalidProof, match="not satisfied"):
        verify_quality(forged, 0.0, proven.spec)


def test_flipped_proof_byte_is_rejected(proven: Proven) -> None:
    data = json.loads(proven.proof.to_bytes())
    data["proof"]["proof"]["proof"][300] ^= 0x01
    with pytest.raises(InvalidProof):
        verify_quality(QualityProof.from_bytes(json.dumps(data).encode()), 0.0, proven.spec)


def test_serialized_proof_round_trips(proven: Proven) -> None:
    again = QualityProof.from_bytes(proven.proof.to_bytes())
    verify_quality(again, 0.5, proven.spec)
    assert again.correct == proven.proof.correct
    with pytest.raises(InvalidProof, match="not a quality proof"):
        QualityProof.from_bytes(b'{"format": "other"}')


def test_proof_for_another_probe_size_is_rejected(proven: Proven) -> None:
    other = QualitySpec.for_digits(load_digits_task(probe_size=20), num_inner_cols=2)
    with pytest.raises(InvalidProof, match="the proof is for 16 probe samples"):
        verify_quality(proven.proof, 0.0, other)


def test_committed_inputs_are_the_kzg_commitments_of_the_parameters(proven: Proven) -> None:
    # Execute
    expected = model_commitments(proven.q_params, proven.spec)
    # Assert
    assert proven.proof.commitments == expected
    assert len(expected) == 2  # 1,210 parameters in chunks of 1,024
    verify_quality(proven.proof, 0.5, proven.spec, expected_commitments=expected)


def test_binding_to_global_plus_update_is_homomorphic(proven: Proven) -> None:
    # Prepare: the coordinator knows commit(global) and commit(update) and B = commit(0)
    spec = proven.spec
    q_update = proven.q_params - proven.q_global
    global_points = model_commitments(proven.q_global, spec)
    update_points = model_commitments(q_update, spec)
    zero = model_commitments(np.zeros(spec.n_params, dtype=np.int64), spec)[0]
    # Execute
    expected = shard_model_commitments(global_points, update_points, zero)
    # Assert
    verify_quality(proven.proof, 0.5, spec, expected_commitments=expected)
    off_by_one = q_update.copy()
    off_by_one[1100] += 1  # in the second chunk
    wrong = shard_model_commitments(global_points, model_commitments(off_by_one, spec), zero)
    assert wrong[0] == expected[0]
    with pytest.raises(CommitmentMismatch, match="at chunk 1"):
        verify_quality(proven.proof, 0.5, spec, expected_commitments=wrong)


def test_bad_arguments(proven: Proven) -> None:
    with pytest.raises(InvalidArgument, match=r"threshold must be a number in \[0, 1\], not 1.5"):
        verify_quality(proven.proof, 1.5, proven.spec)
    with pytest.raises(InvalidArgument, match="params must be a flat vector of 1210 values"):
        prove_quality(np.zeros(5), proven.spec)


def test_wire_form_is_compact_and_verifies(proven: Proven) -> None:
    # Execute
    wire = proven.proof.to_wire()
    again = QualityProof.from_wire(wire)
    # Assert
    assert len(wire) == 44 + proven.proof.proof.proof_size
    assert len(wire) < len(proven.proof.to_bytes()) / 3
    verify_quality(
        again, 0.5, proven.spec, expected_commitments=model_commitments(proven.q_params, proven.spec)
    )
    assert again.correct == proven.proof.correct
    with pytest.raises(InvalidProof, match="proof bytes, but says"):
        QualityProof.from_wire(wire[:-1])
    with pytest.raises(InvalidProof, match="not a wire quality proof"):
        QualityProof.from_wire(b"XXXX" + wire[4:])
    forged = bytearray(wire)
    forged[8] += 1  # the public count, little-endian
    with pytest.raises(InvalidProof, match="not satisfied"):
        verify_quality(QualityProof.from_wire(bytes(forged)), 0.0, proven.spec)


def test_proof_for_another_probe_set_is_rejected(proven: Proven) -> None:
    # Prepare: the verifier's manifest names another probe set of the same size (its own key)
    other = QualitySpec.for_digits(load_digits_task(seed=1, probe_size=16), num_inner_cols=2)
    assert other.fingerprint() != proven.spec.fingerprint()
    # Execute / Assert: the probe is fixed in the verification key, so the proof fails
    with pytest.raises(InvalidProof):
        verify_quality(proven.proof, 0.0, other)
