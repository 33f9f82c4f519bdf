"""Rounds with client norm-bound proofs (``client_norm_bound``): real EZKL proofs, about 7 s per client.

The model has 1,210 parameters (2 chunks of 1,024), so each client makes one k15 norm proof per
round. Cohorts are kept to one shard and two clients so that every test proves at most two norms.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zkagg._aggregation.norm import NormProof, clip_to_norm, prove_norm
from zkagg._errors import CommitmentMismatch, InvalidArgument, InvalidProof, ProtocolError, ZkaggError
from zkagg._kzg.commit import commit_update
from zkagg._protocol.audit import audit
from zkagg._protocol.client import ClientParty
from zkagg._protocol.coordinator import Coordinator
from zkagg._protocol.deployment import Deployment, DeploymentKeys
from zkagg._protocol.guard import verify_client_norm
from zkagg._protocol.judge import LATE_GRACE, judge_round
from zkagg._protocol.keys import SEAL_OVERHEAD, client_id_for
from zkagg._protocol.messages import (
    BlobRef,
    ClientUpdate,
    GlobalResult,
    RoundManifest,
    ShardVerdict,
    VerdictReason,
)
from zkagg._protocol.reading import Ticker, read_range, wait_height
from zkagg._protocol.run import RunConfig
from zkagg._protocol.shard import ShardAggregator, ShardReport
from zkagg._protocol.sharding import deployment_namespaces
from zkagg._protocol.vectors import encode_vector, vector_commitment
from zkagg.da import Blob, EmbeddedNode, write_payload

BOUND = 1.0


def posted_updates(node: EmbeddedNode, dep: Deployment) -> list[ClientUpdate]:
    ns = deployment_namespaces(dep.deployment_id, dep.n_shards)
    head = node.local_head().height
    return [
        p.message for p in read_range(node, list(ns.shards), 1, head) if isinstance(p.message, ClientUpdate)
    ]


# -- the pieces, without a DA layer -------------------------------------------------------------------


def test_clip_to_norm_fits_exactly_and_leaves_short_vectors_alone() -> None:
    # Prepare
    q = np.array([30000, -40000, 7, -7], dtype=np.int64)  # norm 50000.001 quanta
    # Execute
    clipped = clip_to_norm(q, 2.0, 13)  # 16384 quanta
    # Assert
    assert int((clipped.astype(object) ** 2).sum()) <= 16384**2
    assert np.all(np.abs(clipped) <= np.abs(q)) and np.all(np.sign(clipped) * np.sign(q) >= 0)
    assert 16384 - 3 <= np.linalg.norm(clipped) <= 16384
    assert clip_to_norm(q, 50001 / 2**13, 13) is q


@pytest.mark.parametrize("bound", [0, -1.0, float("nan"), float("inf"), True, "1"])
def test_run_config_refuses_a_bad_norm_bound(bound: object) -> None:
    with pytest.raises(InvalidArgument, match="norm_bound must be a positive finite number or None, not"):
        RunConfig(norm_bound=bound)  # type: ignore[arg-type]


def test_client_refuses_an_unknown_norm_evasion(tmp_path: Path) -> None:
    keys = DeploymentKeys.generate(1, 1)
    dep = keys.deployment(client_norm_bound=BOUND)
    node = EmbeddedNode(tmp_path / "da", block_time=None)
    try:
        with pytest.raises(InvalidArgument, match="norm_evasion must be one of forge, omit, not 'lie'"):
            ClientParty(dep, 0, keys.clients[0], node, np.zeros((1, 64)), np.zeros(1), norm_evasion="lie")
    finally:
        node.close()


@dataclass(frozen=True)
class NormCase:
    """A deployment with a norm bound, a short and a long update, and their norm proofs."""

    deployment: Deployment
    short: np.ndarray
    long: np.ndarray
    short_proof: NormProof  # proven at BOUND
    long_proof: NormProof  # proven at 2 * BOUND: valid, but above the deployment's bound


@pytest.fixture(scope="module")
def case() -> NormCase:
    dep = DeploymentKeys.generate(2, 1).deployment(quality=False, client_norm_bound=BOUND)
    domain = dep.spec().domain()
    rng = np.random.default_rng(3)
    short = rng.normal(size=1210)
    short *= 0.5 / np.linalg.norm(short)
    long = rng.normal(size=1210)
    long *= 1.5 / np.linalg.norm(long)
    return NormCase(
        dep,
        short,
        long,
        prove_norm(domain, short, l2_bound=BOUND),
        prove_norm(domain, long, l2_bound=2 * BOUND),
    )


def client_update(dep: Deployment, committed: np.ndarray | None, proofs: bytes | None) -> ClientUpdate:
    """An (unsigned) update as a client would post it: only the commitments and proofs matter here."""
    commitments = commit_update(dep.spec(), committed).to_bytes() if committed is not None else b"junk"
    return ClientUpdate(
        deployment=dep.deployment_id,
        round=1,
        shard=0,
        client_id=client_id_for(dep.client_keys[0]),
        client_key=dep.client_keys[0],
        commitments=commitments,
        sample_count=10,
        ciphertext=bytes(SEAL_OVERHEAD),
        ephemeral_proof=bytes(64),
        proofs=proofs,
    )


@pytest.mark.slow
def test_valid_norm_proof_passes(case: NormCase) -> None:
    verify_client_norm(
        case.deployment, client_update(case.deployment, case.short, case.short_proof.to_bytes())
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda c: client_update(c.deployment, c.short, None), ProtocolError, "carries no norm proof, but"),
        (lambda c: client_update(c.deployment, c.short, b"ZKAG\x11"), ProtocolError, "NormProof: truncated"),
        (
            lambda c: client_update(
                c.deployment, c.short, dataclasses.replace(c.short_proof, chunks_per_proof=3).to_bytes()
            ),
            ProtocolError,
            "must group 15 chunks per proof with method 'lookup', not 3",
        ),
        (
            lambda c: client_update(c.deployment, None, c.short_proof.to_bytes()),
            CommitmentMismatch,
            "not an update commitment",
        ),
        (
            lambda c: client_update(c.deployment, c.long, c.short_proof.to_bytes()),
            CommitmentMismatch,
            "is not bound to the client's chunk 0",
        ),
        (
            lambda c: client_update(c.deployment, c.long, c.long_proof.to_bytes()),
            InvalidProof,
            r"L2 norm 1\.50\d* exceeds the bound 1\.0",
        ),
    ],
    ids=["missing", "malformed", "other-grouping", "bad-commitment", "other-vector", "above-bound"],
)
def test_invalid_norm_proofs_are_refused(
    case: NormCase, make: Callable[[NormCase], ClientUpdate], error: type[ZkaggError], message: str
) -> None:
    with pytest.raises(error, match=message):
        verify_client_norm(case.deployment, make(case))


def test_a_deployment_without_norm_bound_verifies_nothing() -> None:
    dep = DeploymentKeys.generate(1, 1).deployment(quality=False)
    with pytest.raises(InvalidArgument, match="sets no client_norm_bound: nothing to verify"):
        verify_client_norm(dep, client_update(dep, None, None))


# -- whole rounds ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_honest_round_with_norm_bound_is_accepted_and_audits_clean(run_rounds: Any) -> None:
    # Execute
    ran = run_rounds(clients=2, shards=1, rounds=1, quality=False, norm_bound=BOUND)
    # Assert: every client proved, nobody was left out, and the audit re-checks the proofs
    row = ran.report.rounds[0]
    assert [v["reason"] for v in row.verdicts] == ["accepted"] and row.global_model
    assert row.norm_excluded == 0 and row.rejected == [] and row.norm_seconds > 0
    assert row.norm_clipped == 2  # round-1 updates have norms of 3 to 8: both scaled down to 1
    assert ran.deployment.client_norm_bound == BOUND
    updates = posted_updates(ran.node, ran.deployment)
    assert len(updates) == 2 and all(u.proofs is not None for u in updates)
    for u in updates:
        verify_client_norm(ran.deployment, u)
    result = audit(ran.node, ran.deployment)
    assert result.ok, result.mismatches
    assert [v["reason"] for v in result.rounds[0].verdicts] == ["accepted"]


@pytest.mark.slow
def test_client_above_the_bound_is_left_out_by_its_shard(run_rounds: Any) -> None:
    # Execute: one of two clients sign-flips 10x and posts a proof of another (clipped honest) vector
    ran = run_rounds(clients=2, shards=1, rounds=1, quality=False, norm_bound=BOUND, byzantine_clients=0.5)
    # Assert
    row = ran.report.rounds[0]
    byzantine = ran.deployment.client_keys[ran.report.byzantine_clients[0]]
    assert row.norm_excluded == 1 and len(row.rejected) == 1
    assert f"client {client_id_for(byzantine).hex()}" in row.rejected[0]
    assert (
        "no valid norm proof" in row.rejected[0] and "is not bound to the client's chunk 0" in row.rejected[0]
    )
    assert [v["reason"] for v in row.verdicts] == ["accepted"] and row.global_model
    result = audit(ran.node, ran.deployment)
    assert result.ok, result.mismatches


@pytest.mark.slow
def test_shard_including_a_client_with_a_forged_proof_is_excluded(run_rounds: Any) -> None:
    # Execute: the shard includes the Byzantine client although its proof is of another vector
    ran = run_rounds(
        clients=2,
        shards=1,
        rounds=1,
        quality=False,
        norm_bound=BOUND,
        byzantine_clients=0.5,
        byzantine_shards=1,
        shard_attack="include-unproven",
        quorum=1,
    )
    # Assert: the coordinator excludes the shard with the norm reason, and the audit agrees
    row = ran.report.rounds[0]
    assert row.norm_excluded == 0  # the shard did not check
    assert [v["reason"] for v in row.verdicts] == ["bad-norm-proof"] and not row.global_model
    assert "has no valid norm proof" in row.verdicts[0]["detail"]
    assert "is not bound to the client's chunk 0" in row.verdicts[0]["detail"]
    result = audit(ran.node, ran.deployment)
    assert result.ok, result.mismatches
    assert [v["reason"] for v in result.rounds[0].verdicts] == ["bad-norm-proof"]


@dataclass
class ManualRound:
    """One round driven party by party, stopped before the coordinator judges it."""

    deployment: Deployment
    keys: DeploymentKeys
    node: EmbeddedNode
    coordinator: Coordinator
    ticker: Ticker
    manifest: RoundManifest
    shard: ShardReport


@pytest.fixture
def manual_round(tmp_path: Path) -> Iterator[Callable[..., ManualRound]]:
    """``manual_round(omitting=i, shard_attack=...)``: two clients; client ``i`` sign-flips, posts no proof."""
    from zkagg._fl.data import dirichlet_partition, load_digits_task

    opened: list[tuple[EmbeddedNode, Coordinator]] = []

    def run(*, omitting: int, shard_attack: str | None = None) -> ManualRound:
        keys = DeploymentKeys.generate(2, 1)
        dep = keys.deployment(
            name="norm-manual",
            quality=False,
            quorum=1,
            update_window=10,
            result_window=12,
            client_norm_bound=BOUND,
        )
        node = EmbeddedNode(tmp_path / "da", block_time=None)
        ticker = Ticker.for_deployment(node, dep)
        coordinator = Coordinator(
            dep, keys.coordinator, node, state_dir=tmp_path / "coordinator", advance=ticker
        )
        opened.append((node, coordinator))
        coordinator.announce()
        manifest, _ = coordinator.open_round(1)
        wait_height(node, manifest.reveal_by, ticker, 60)
        data = load_digits_task(seed=dep.data_seed, probe_size=dep.probe_size)
        parts = dirichlet_partition(data.y_train, 2, alpha=dep.alpha, seed=dep.data_seed)
        for i in range(2):
            byzantine = i == omitting
            ClientParty(
                dep,
                i,
                keys.clients[i],
                node,
                data.x_train[parts[i]],
                data.y_train[parts[i]],
                attack="sign-flip" if byzantine else None,
                norm_evasion="omit",
            ).run_round(manifest)
        wait_height(node, manifest.updates_by, ticker, 60)
        shard = ShardAggregator(dep, 0, keys.shards[0], node, attack=shard_attack).run_round(manifest)
        return ManualRound(dep, keys, node, coordinator, ticker, manifest, shard)

    yield run
    for node, coordinator in opened:
        coordinator.close()
        node.close()


@pytest.mark.slow
def test_client_without_a_norm_proof_is_left_out_by_its_shard(manual_round: Any) -> None:
    # Execute: client 1 sign-flips and posts no norm proof; the shard is honest
    r = manual_round(omitting=1)
    outcome = r.coordinator.close_round(1)
    # Assert
    omitted = client_id_for(r.deployment.client_keys[1]).hex()
    assert r.shard.included == 1 and r.shard.norm_rejected == (omitted,)
    assert "carries no norm proof, but the deployment bounds updates to 1" in r.shard.rejected[0]
    assert outcome.global_result.accepted_shards == (0,)
    assert audit(r.node, r.deployment).ok


@pytest.mark.slow
def test_audit_flags_a_coordinator_that_accepts_a_shard_with_an_unproven_client(manual_round: Any) -> None:
    # Prepare: the shard includes client 1, which posted no norm proof
    r = manual_round(omitting=1, shard_attack="include-unproven")
    assert r.shard.included == 2 and r.shard.norm_rejected == ()
    wait_height(r.node, r.manifest.results_by + LATE_GRACE, r.ticker, 60)
    # Execute: judging excludes the shard ...
    judgement = judge_round(r.node, r.deployment, r.manifest)
    # ... and a lying coordinator accepts it anyway, with a global model
    verdict = judgement.shards[0].verdict
    assert verdict.reason is VerdictReason.BAD_NORM_PROOF and verdict.result is not None
    dep = r.deployment
    ns = deployment_namespaces(dep.deployment_id, dep.n_shards)
    model = judgement.global_q + 1
    ref = write_payload(r.node, ns.payloads, encode_vector(model, dep.scale))
    lie = GlobalResult(
        deployment=dep.deployment_id,
        round=1,
        verdicts=(
            ShardVerdict(
                0, VerdictReason.ACCEPTED, "", BlobRef(verdict.result.height, verdict.result.commitment)
            ),
        ),
        global_model=ref,
        global_model_commitment=vector_commitment(dep, model).to_bytes(),
        coordinator_key=dep.coordinator_key,
    ).sign(r.keys.coordinator.signing)
    r.node.submit([Blob.new(ns.control, lie.to_bytes())])
    result = audit(r.node, dep)
    # Assert
    unproven = client_id_for(dep.client_keys[1]).hex()
    assert f"client {unproven}" in verdict.detail and "carries no norm proof" in verdict.detail
    assert judgement.next_global is None
    assert not result.ok
    assert [str(m) for m in result.mismatches] == [
        "round 1: shard 0: the coordinator says accepted, the audit finds bad-norm-proof",
        "round 1: the coordinator published a global model although the audit finds no quorum",
    ]
