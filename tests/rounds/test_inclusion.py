"""Complete inclusion (issue 12, attack 4) on a real round: a shard accounts for every update.

A censoring shard that drops updates silently, or accuses honest ones falsely, is excluded as
``unjustified-exclusion`` by the coordinator, and ``zkagg audit`` agrees; faulty clients are
excluded with evidence anyone can check, and the shard stays accepted.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.rounds.world import (
    N_CLIENTS,
    World,
    caught,
    close_with_shard,
    mismatches,
    open_with_honest_clients,
    post_update,
    posted_result,
)
from zkagg._kzg.commit import commit_update
from zkagg._protocol import guard as guard_module
from zkagg._protocol import shard as shard_module
from zkagg._protocol import workload
from zkagg._protocol.disclosure import DISCLOSURE_SIZE, disclose, open_disclosed, prove_ephemeral
from zkagg._protocol.inclusion import Fault, screen_update
from zkagg._protocol.keys import EncryptionKey, seal, seal_with, update_aad
from zkagg._protocol.messages import (
    ClientUpdate,
    ExclusionReason,
    RoundManifest,
    VerdictReason,
)
from zkagg._protocol.vectors import encode_vector


def _sealed(recipient: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    """A box sealed to ``recipient`` and the sender's proof that it knows the box's ephemeral key."""
    ephemeral = EncryptionKey.generate()
    return seal_with(ephemeral, recipient, plaintext, aad), prove_ephemeral(ephemeral, aad)


def _post_sealed(
    w: World, manifest: RoundManifest, i: int, sealed: tuple[bytes, bytes], commitments: bytes
) -> int:
    """Client ``i`` signs and posts an update with the ciphertext (and its proof) and commitments it chose."""
    ciphertext, proof = sealed
    update = ClientUpdate(
        deployment=w.dep.deployment_id,
        round=1,
        shard=0,
        client_id=w.client(i).client_id,
        client_key=w.keys.clients[i].signing.public_key,
        commitments=commitments,
        sample_count=10,
        ciphertext=ciphertext,
        ephemeral_proof=proof,
    ).sign(w.keys.clients[i].signing)
    return w.post("shard", update.to_bytes())


def _honest(w: World) -> tuple[np.ndarray, bytes]:
    q = np.arange(workload.n_params(w.dep), dtype=np.int64) % 7 - 3
    return q, commit_update(w.dep.spec(), q / 2.0**w.dep.scale).to_bytes()


def test_censoring_shard_is_excluded_and_the_audit_agrees(world: World) -> None:
    coordinator, manifest = open_with_honest_clients(world, skip=-1)
    coordinator.close()
    report, outcome = close_with_shard(world, manifest, attack="censor")
    # The attack was exercised: the posted result names one of the four clients and excludes none
    result = posted_result(world, report)
    assert len(result.included) == 1 and result.excluded == ()
    verdict = outcome.global_result.verdicts[0]
    assert verdict.reason is VerdictReason.UNJUSTIFIED_EXCLUSION
    assert f"leaves out {N_CLIENTS - 1} accepted update(s) with no reason" in verdict.detail
    assert outcome.global_result.global_model is None
    assert "shard 0's aggregator signed a result excluded as unjustified-exclusion" in caught(world)


def test_coordinator_that_accepts_a_censoring_shard_fails_the_audit(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    coordinator, manifest = open_with_honest_clients(world, skip=-1)
    coordinator.close()
    # The coordinator skips the accounting check, so it accepts the censored result
    with monkeypatch.context() as patched:
        patched.setattr(guard_module.MessageGuard, "_check_accounting", lambda *a: None)
        _, outcome = close_with_shard(world, manifest, attack="censor")
    assert outcome.global_result.verdicts[0].reason is VerdictReason.ACCEPTED
    audit = world.audit()
    assert not audit.ok
    assert "unjustified-exclusion" in mismatches(audit)


def test_faulty_clients_are_excluded_with_evidence_and_the_shard_stays_accepted(world: World) -> None:
    coordinator, manifest = open_with_honest_clients(world, skip=3)
    coordinator.close()
    dep = world.dep
    q, honest_commitments = _honest(world)
    aad = update_aad(dep.deployment_id, 1, 0, world.client(3).client_id)
    # Client 3 seals its update to a key that is not its shard's: the shard cannot decrypt it
    wrong = _sealed(EncryptionKey.generate().public_key, encode_vector(q, dep.scale), aad)
    _post_sealed(world, manifest, 3, wrong, honest_commitments)
    report, outcome = close_with_shard(world, manifest)
    result = posted_result(world, report)
    assert [x.reason for x in result.excluded] == [ExclusionReason.UNDECRYPTABLE]
    assert len(result.excluded[0].evidence) == DISCLOSURE_SIZE
    assert len(result.included) == N_CLIENTS - 1
    assert outcome.global_result.verdicts[0].reason is VerdictReason.ACCEPTED
    assert caught(world).endswith(
        f"shard 0 excluded client {world.client(3).client_id.hex()} "
        f"(update at height {result.excluded[0].height}): UNDECRYPTABLE"
    )


def test_mismatched_update_is_revealed_by_its_disclosure(world: World) -> None:
    coordinator, manifest = open_with_honest_clients(world, skip=3)
    coordinator.close()
    dep = world.dep
    q, _ = _honest(world)
    other = commit_update(dep.spec(), (q + 1) / 2.0**dep.scale).to_bytes()
    aad = update_aad(dep.deployment_id, 1, 0, world.client(3).client_id)
    box, proof = _sealed(dep.shard_keys[0].encryption_key, encode_vector(q, dep.scale), aad)
    _post_sealed(world, manifest, 3, (box, proof), other)
    report, outcome = close_with_shard(world, manifest)
    excluded = posted_result(world, report).excluded
    assert [x.reason for x in excluded] == [ExclusionReason.COMMITMENT_MISMATCH]
    # Anyone opens the faulty client's box with the disclosure, and only that box
    opened = open_disclosed(dep.shard_keys[0].encryption_key, box, aad, excluded[0].evidence)
    assert opened == encode_vector(q, dep.scale)
    assert outcome.global_result.verdicts[0].reason is VerdictReason.ACCEPTED
    assert caught(world).endswith("COMMITMENT_MISMATCH")


def test_small_order_ephemeral_key_is_excluded_publicly(world: World) -> None:
    coordinator, manifest = open_with_honest_clients(world, skip=3)
    coordinator.close()
    _, commitments = _honest(world)
    _post_sealed(world, manifest, 3, (bytes(32) + b"\x01" * 40, b"\x01" * 64), commitments)  # u = 0: order 2
    report, outcome = close_with_shard(world, manifest)
    excluded = posted_result(world, report).excluded
    assert [(x.reason, x.evidence) for x in excluded] == [(ExclusionReason.BAD_EPHEMERAL_KEY, b"")]
    assert outcome.global_result.verdicts[0].reason is VerdictReason.ACCEPTED
    assert caught(world).endswith("BAD_EPHEMERAL_KEY")


def _false_undecryptable(key: EncryptionKey, update: ClientUpdate) -> Fault:
    # A disclosure of another box: a well-formed proof, but not of this box's shared secret
    return Fault(ExclusionReason.UNDECRYPTABLE, "", disclose(key, seal(key.public_key, b"x", b"")))


def _false_mismatch(key: EncryptionKey, update: ClientUpdate) -> Fault:
    # The true shared secret of an honest box: it opens, and matches its commitment
    return Fault(ExclusionReason.COMMITMENT_MISMATCH, "", disclose(key, update.ciphertext))


def _false_norm(key: EncryptionKey, update: ClientUpdate) -> Fault:
    return Fault(ExclusionReason.BAD_NORM_PROOF, "")


@pytest.mark.parametrize(
    ("accuse", "detail"),
    [
        (_false_undecryptable, "the disclosure is not the box's shared secret"),
        (_false_mismatch, "its disclosed update is well formed and matches its commitment"),
        (_false_norm, "accused of BAD_NORM_PROOF, but the update shows no public fault"),
    ],
)
def test_false_accusation_excludes_the_shard(
    world: World, monkeypatch: pytest.MonkeyPatch, accuse: object, detail: str
) -> None:
    coordinator, manifest = open_with_honest_clients(world, skip=3)
    coordinator.close()
    q, _ = _honest(world)
    post_update(world, manifest, 3, q, 10)
    victim = world.client(3).client_id
    real = screen_update

    def screen(
        dep: object, global_q: np.ndarray, u: ClientUpdate, key: EncryptionKey, *, check_norm: bool
    ) -> object:
        if u.client_id == victim:
            return accuse(key, u)  # type: ignore[operator]
        return real(dep, global_q, u, key, check_norm=check_norm)  # type: ignore[arg-type]

    monkeypatch.setattr(shard_module, "screen_update", screen)
    report, outcome = close_with_shard(world, manifest)
    assert [x.client_id for x in posted_result(world, report).excluded] == [victim]
    verdict = outcome.global_result.verdicts[0]
    assert verdict.reason is VerdictReason.UNJUSTIFIED_EXCLUSION
    assert detail in verdict.detail and victim.hex() in verdict.detail
    assert "excluded as unjustified-exclusion" in caught(world)


def _open(w: World) -> RoundManifest:
    """Round 1 opened, its reveal window over, and no client posted yet."""
    coordinator = w.coordinator()
    try:
        manifest, _ = coordinator.open_round(1)
    finally:
        coordinator.close()
    w.tick(manifest.reveal_by)
    return manifest


def test_a_shard_whose_every_update_is_faulty_posts_an_empty_result(world: World) -> None:
    # Prepare: every client seals its update to a key that is not its shard's
    manifest = _open(world)
    dep = world.dep
    q, commitments = _honest(world)
    for i in range(N_CLIENTS):
        aad = update_aad(dep.deployment_id, 1, 0, world.client(i).client_id)
        _post_sealed(
            world,
            manifest,
            i,
            _sealed(EncryptionKey.generate().public_key, encode_vector(q, dep.scale), aad),
            commitments,
        )
    # Execute
    report, outcome = close_with_shard(world, manifest)
    # Assert: the shard took part and said why it has nothing; the faulty clients are named
    result = posted_result(world, report)
    assert result.is_empty and result.aggregate == b"" and result.quality_proof == b""
    assert [x.reason for x in result.excluded] == [ExclusionReason.UNDECRYPTABLE] * N_CLIENTS
    verdict = outcome.global_result.verdicts[0]
    assert verdict.reason is VerdictReason.EMPTY
    assert verdict.detail == f"no update to aggregate ({N_CLIENTS} excluded with a checked reason)"
    assert outcome.global_result.global_model is None  # available, but nothing accepted
    found = caught(world)
    assert all(f"excluded client {world.client(i).client_id.hex()}" in found for i in range(N_CLIENTS))
    assert "aggregator signed" not in found  # nothing against the shard


def test_a_shard_that_drew_no_update_posts_an_empty_result(world: World) -> None:
    manifest = _open(world)
    report, outcome = close_with_shard(world, manifest)
    assert posted_result(world, report).excluded == ()
    assert [v.reason for v in outcome.global_result.verdicts] == [VerdictReason.EMPTY]
    audit = world.audit()
    assert audit.clean, (mismatches(audit), audit.findings)


def test_a_shard_that_empties_itself_by_false_accusations_is_excluded(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare: four honest updates; the shard accuses every one of a missing norm proof
    coordinator, manifest = open_with_honest_clients(world, skip=-1)
    coordinator.close()
    monkeypatch.setattr(
        shard_module, "screen_update", lambda dep, g, u, key, *, check_norm: _false_norm(key, u)
    )
    # Execute
    report, outcome = close_with_shard(world, manifest)
    # Assert: the empty result is judged like any other: each accusation must hold
    assert posted_result(world, report).is_empty
    verdict = outcome.global_result.verdicts[0]
    assert verdict.reason is VerdictReason.UNJUSTIFIED_EXCLUSION
    assert "accused of BAD_NORM_PROOF, but the update shows no public fault" in verdict.detail
    assert "excluded as unjustified-exclusion" in caught(world)
