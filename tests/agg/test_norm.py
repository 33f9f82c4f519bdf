"""Client norm-bound proofs, linked to the client's chunk commitments (real EZKL proofs)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from zkagg import CommitmentMismatch, InvalidArgument, InvalidProof
from zkagg._commit import CommitmentDomain, UpdateCommitment, commit_update, commitment_domain
from zkagg._field import quantize
from zkagg._norm import NormProof, chunks_per_proof, prove_norm, verify_norm

SCALE = 13
L2 = 12.0
LINF = 3.0


@pytest.fixture(scope="module")
def domain() -> CommitmentDomain:
    return commitment_domain(logrows=15, chunk_size=64, scale=SCALE)


@pytest.fixture(scope="module")
def update() -> np.ndarray:
    return np.random.default_rng(7).normal(size=150)  # three chunks: groups [0, 1] and [2, padding]


@pytest.fixture(scope="module")
def commitment(domain: CommitmentDomain, update: np.ndarray) -> UpdateCommitment:
    return commit_update(domain, update)


@pytest.fixture(scope="module")
def proven(domain: CommitmentDomain, update: np.ndarray) -> NormProof:
    return prove_norm(domain, update, l2_bound=L2, linf_bound=LINF, k=2)


def test_chunks_per_proof_fills_the_domain() -> None:
    big = CommitmentDomain(15, 1024, SCALE, "0" * 64)
    assert chunks_per_proof(big) == 3
    assert chunks_per_proof(big, range_checked=False) == 27
    with pytest.raises(InvalidArgument, match="chunk_size"):
        chunks_per_proof(CommitmentDomain(15, 16384, SCALE, "0" * 64), linf=True)


def test_norm_outside_the_bound_is_not_proven(domain: CommitmentDomain, update: np.ndarray) -> None:
    with pytest.raises(InvalidArgument, match="exceeds l2_bound"):
        prove_norm(domain, update, l2_bound=1.0, k=2)
    with pytest.raises(InvalidArgument, match="linf_bound"):
        prove_norm(domain, update, l2_bound=L2, linf_bound=0.5, k=2)


@pytest.mark.slow
def test_honest_norm_proof_verifies_and_sums_exactly(
    domain: CommitmentDomain, update: np.ndarray, commitment: UpdateCommitment, proven: NormProof
) -> None:
    # Execute
    verify_norm(domain, commitment, proven, l2_bound=L2, linf_bound=LINF)
    # Assert: the partial sums add up to the exact squared norm of the committed integers
    q = quantize(update, SCALE)
    assert len(proven.proofs) == 2
    assert sum(proven.partial_sums) == int((q.astype(object) ** 2).sum())
    np.testing.assert_allclose(
        np.sqrt(sum(proven.partial_sums)) / 2**SCALE, np.linalg.norm(update), rtol=0, atol=150 * 2**-SCALE
    )


@pytest.mark.slow
def test_a_tighter_bound_is_rejected(
    domain: CommitmentDomain, update: np.ndarray, commitment: UpdateCommitment, proven: NormProof
) -> None:
    tight = float(np.linalg.norm(update)) * 0.99
    with pytest.raises(InvalidProof, match="exceeds the bound"):
        verify_norm(domain, commitment, proven, l2_bound=tight, linf_bound=LINF)
    with pytest.raises(InvalidProof, match="L-infinity bound"):
        verify_norm(domain, commitment, proven, l2_bound=L2, linf_bound=LINF / 2)


@pytest.mark.slow
def test_another_clients_commitment_is_rejected(
    domain: CommitmentDomain, update: np.ndarray, proven: NormProof
) -> None:
    other = commit_update(domain, update * 0.5)
    with pytest.raises(CommitmentMismatch, match="chunk 0"):
        verify_norm(domain, other, proven, l2_bound=L2, linf_bound=LINF)


@pytest.mark.slow
def test_reordered_or_missing_proofs_are_rejected(
    domain: CommitmentDomain, commitment: UpdateCommitment, proven: NormProof
) -> None:
    swapped = dataclasses.replace(proven, proofs=proven.proofs[::-1])
    with pytest.raises(CommitmentMismatch, match="norm proof 0"):
        verify_norm(domain, commitment, swapped, l2_bound=L2, linf_bound=LINF)
    short = dataclasses.replace(proven, proofs=proven.proofs[:1])
    with pytest.raises(InvalidProof, match="expected 2 norm proofs"):
        verify_norm(domain, commitment, short, l2_bound=L2, linf_bound=LINF)


@pytest.mark.slow
def test_proof_of_another_circuit_is_rejected(
    domain: CommitmentDomain, commitment: UpdateCommitment, proven: NormProof
) -> None:
    # Claimed as a 1-chunk-per-proof set: the expected circuit (and key) differs.
    relabelled = dataclasses.replace(proven, chunks_per_proof=1)
    with pytest.raises(InvalidProof):
        verify_norm(domain, commitment, relabelled, l2_bound=L2, linf_bound=LINF)
    forged = dataclasses.replace(
        proven,
        proofs=(
            dataclasses.replace(proven.proofs[1], vk_sha256=proven.proofs[0].vk_sha256),
            *proven.proofs[1:],
        ),
    )
    with pytest.raises((InvalidProof, CommitmentMismatch)):
        verify_norm(domain, commitment, forged, l2_bound=L2, linf_bound=LINF)
