"""Client norm-bound proofs, linked to the client's chunk commitments (real EZKL proofs)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest

from zkagg import CommitmentMismatch, InvalidArgument, InvalidProof, ProtocolError
from zkagg._aggregation.norm import NormProof, chunks_per_proof, lookup_bound, prove_norm, verify_norm
from zkagg._field import quantize
from zkagg._kzg.commit import CommitmentDomain, UpdateCommitment, commit_update, commitment_domain

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


@pytest.fixture(scope="module")
def small_update() -> np.ndarray:
    return np.random.default_rng(8).normal(scale=0.3, size=150)  # every |x| well within lookup_bound


@pytest.fixture(scope="module")
def lookup_proven(domain: CommitmentDomain, small_update: np.ndarray) -> NormProof:
    return prove_norm(domain, small_update, l2_bound=L2, k=2)


@pytest.mark.slow
def test_lookup_range_checked_norm_proof_verifies_and_sums_exactly(
    domain: CommitmentDomain, small_update: np.ndarray, lookup_proven: NormProof
) -> None:
    # Prepare
    commitment = commit_update(domain, small_update)
    # Execute
    verify_norm(domain, commitment, lookup_proven, l2_bound=L2)
    # Assert: chosen by default for small values, and exact
    q = quantize(small_update, SCALE)
    assert lookup_proven.method == "lookup" and lookup_proven.range_checked
    assert sum(lookup_proven.partial_sums) == int((q.astype(object) ** 2).sum())
    with pytest.raises(InvalidProof, match="exceeds the bound"):
        verify_norm(domain, commitment, lookup_proven, l2_bound=float(np.linalg.norm(small_update)) * 0.99)


@pytest.mark.slow
def test_lookup_proof_relabelled_or_unchecked_is_rejected(
    domain: CommitmentDomain, small_update: np.ndarray, lookup_proven: NormProof
) -> None:
    commitment = commit_update(domain, small_update)
    # Claimed as a decomposition proof: the verifier builds that circuit, whose key differs.
    relabelled = dataclasses.replace(lookup_proven, method="decomposition")
    with pytest.raises(InvalidProof, match="another circuit's key"):
        verify_norm(domain, commitment, relabelled, l2_bound=L2)
    with pytest.raises(InvalidProof, match="range-check method 'none'"):
        verify_norm(domain, commitment, dataclasses.replace(lookup_proven, method="none"), l2_bound=L2)
    # A verifier that asks for range checks never accepts an unchecked proof.
    unchecked = prove_norm(domain, small_update, l2_bound=L2, k=2, range_checked=False)
    with pytest.raises(InvalidProof, match="range checks False, not None and True"):
        verify_norm(domain, commitment, unchecked, l2_bound=L2)


def test_lookup_method_refuses_values_beyond_its_table(domain: CommitmentDomain) -> None:
    x = np.full(64, 0.1)
    x[3] = 2.5  # 20480 quanta at scale 13, beyond lookup_bound = 16351
    assert lookup_bound(domain) == 16351
    with pytest.raises(InvalidArgument, match="method='lookup' takes values up to 16351 quanta"):
        prove_norm(domain, x, l2_bound=10.0, method="lookup")
    with pytest.raises(InvalidArgument, match="method must be one of lookup, decomposition, not 'table'"):
        prove_norm(domain, x, l2_bound=10.0, method="table")
    assert chunks_per_proof(CommitmentDomain(15, 1024, SCALE, "0" * 64), method="lookup") == 15


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"range_checked": True, "lookup_bound": 100}, "pass range_checked=False"),
        ({"range_checked": False, "lookup_bound": 0}, "lookup_bound must be a positive integer, not 0"),
        ({"range_checked": False, "lookup_bound": 16352}, "lookup_bound must be at most 16351 at logrows 15"),
    ],
)
def test_lookup_bound_arguments_are_checked(kwargs: dict[str, object], message: str) -> None:
    from zkagg.circuits.norm_bound import norm_bound_circuit

    with pytest.raises(InvalidArgument, match=message):
        norm_bound_circuit(1, 64, logrows=15, **kwargs)  # type: ignore[arg-type]


def test_lookup_range_run_argument_is_validated_and_keeps_old_cache_keys() -> None:
    from zkagg._prover.artifacts import RunArgs

    assert "lookup_range" not in RunArgs().canonical()
    assert RunArgs(lookup_range=(-5, 5)).canonical()["lookup_range"] == [-5, 5]
    assert RunArgs.from_dict(RunArgs(lookup_range=(-5, 5)).canonical()).lookup_range == (-5, 5)
    with pytest.raises(InvalidArgument, match=r"lookup_range must be None or two integers \(low, high\)"):
        RunArgs(lookup_range=(5, -5))


# -- the NormProof encoding --------------------------------------------------------------------------


def _encode(proof: NormProof, **override: object) -> bytes:
    """The documented layout written field by field, with any field replaced (for corrupt encodings)."""
    from zkagg._wire import Writer

    f: dict[str, object] = {
        "type": 17,
        "version": 1,
        "length": proof.length,
        "k": proof.chunks_per_proof,
        "linf": proof.linf_quanta,
        "range_checked": 1 if proof.range_checked else 0,
        "method": proof.method,
        "proofs": [p.to_bytes() for p in proof.proofs],
    }
    f.update(override)
    w = Writer(int(f["type"]), int(f["version"]))  # type: ignore[call-overload]
    w.u64("length", f["length"])  # type: ignore[arg-type]
    w.u32("k", f["k"])  # type: ignore[arg-type]
    w.flag("linf", f["linf"] is not None)
    if f["linf"] is not None:
        w.u64("linf", f["linf"])  # type: ignore[arg-type]
    w.u8("range_checked", f["range_checked"])  # type: ignore[arg-type]
    w.str_("method", f["method"], max_len=64)  # type: ignore[arg-type]
    items: list[bytes] = f["proofs"]  # type: ignore[assignment]
    w.count("proofs", len(items), max_count=1 << 20)
    for item in items:
        w.bytes_("proof", item, max_len=1 << 21)
    return w.getvalue()


@pytest.mark.slow
def test_norm_proof_encoding_round_trips_and_still_verifies(
    domain: CommitmentDomain,
    commitment: UpdateCommitment,
    proven: NormProof,
    small_update: np.ndarray,
    lookup_proven: NormProof,
) -> None:
    # Execute
    data = proven.to_bytes()
    decoded = NormProof.from_bytes(data)
    lookup_decoded = NormProof.from_bytes(lookup_proven.to_bytes())
    # Assert: the same value, the documented layout, and the proofs still verify after the trip
    assert decoded == proven and lookup_decoded == lookup_proven
    assert data[:6] == b"ZKAG\x11\x01" and data == _encode(proven)
    assert decoded.to_bytes() == data
    verify_norm(domain, commitment, decoded, l2_bound=L2, linf_bound=LINF)
    verify_norm(domain, commit_update(domain, small_update), lookup_decoded, l2_bound=L2)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda p: p.to_bytes()[:-1], "NormProof: truncated at proofs\\[1\\]"),
        (lambda p: p.to_bytes()[:10], "NormProof: truncated at length"),
        (lambda p: p.to_bytes() + b"\x00", "1 trailing bytes follow"),
        (lambda p: b"ZKAX" + p.to_bytes()[4:], "magic must be"),
        (lambda p: _encode(p, type=16), "message type must be 17, not 16"),
        (lambda p: _encode(p, version=2), r"version must be one of \[1\]"),
        (lambda p: _encode(p, range_checked=2), "range_checked must be 0 or 1, not 2"),
        (
            lambda p: _encode(p, method="sorting"),
            "method must be one of lookup, decomposition, not 'sorting'",
        ),
        (lambda p: _encode(p, method=""), "method must be 1 to 32 bytes long"),
        (lambda p: _encode(p, proofs=[]), "proofs must have 1 to 4096 items, not 0"),
        (lambda p: _encode(p, length=0), "length and chunks_per_proof must be positive, not 0, 2"),
        (lambda p: _encode(p, k=0), "length and chunks_per_proof must be positive, not 150, 0"),
        (lambda p: _encode(p, proofs=[b"{not json"]), r"proofs\[0\] is not a zkagg proof"),
    ],
)
def test_corrupted_norm_proof_encodings_are_refused(
    proven: NormProof, corrupt: Callable[[NormProof], bytes], message: str
) -> None:
    with pytest.raises(ProtocolError, match=message):
        NormProof.from_bytes(corrupt(proven))


@pytest.mark.slow
def test_norm_proof_that_does_not_encode_is_refused(proven: NormProof) -> None:
    with pytest.raises(InvalidArgument, match="proofs must have 1 to 4096 items, not 0"):
        dataclasses.replace(proven, proofs=()).to_bytes()
    with pytest.raises(InvalidArgument, match=r"proofs\[0\] must be a Proof, not bytes"):
        dataclasses.replace(proven, proofs=(b"raw",)).to_bytes()  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="method must be 1 to 32 bytes long"):
        dataclasses.replace(proven, method="").to_bytes()
