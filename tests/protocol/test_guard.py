"""Binding, replay, assignment and deadline checks: every rejection has its own message and reason."""

from __future__ import annotations

import dataclasses
import hashlib
import re

import pytest

from tests.protocol.conftest import DEPLOYMENT, SEED, Deployment, signing_key
from zkagg._errors import ProtocolError
from zkagg._protocol.guard import MessageGuard, check_manifest
from zkagg._protocol.keys import SigningKey
from zkagg._protocol.messages import (
    BlobRef,
    ClientUpdate,
    ExcludedUpdate,
    ExclusionReason,
    GlobalResult,
    IncludedUpdate,
    RoundManifest,
    ShardResult,
    ShardVerdict,
    VerdictReason,
)
from zkagg._protocol.sharding import deployment_namespaces

# seed height 10, updates_by 15, results_by 20, 4 shards, quorum 3


def _resign(update: ClientUpdate, key: SigningKey, **changes: object) -> ClientUpdate:
    return dataclasses.replace(update, signature=b"", **changes).sign(key)  # type: ignore[arg-type]


def _blob_commitment(update: ClientUpdate) -> bytes:
    return hashlib.sha256(update.to_bytes()).digest()  # stands in for the share commitment


@pytest.fixture
def manifest(deployment: Deployment) -> RoundManifest:
    return deployment.manifest(round=3, seed_height=10)


@pytest.fixture
def guard(manifest: RoundManifest) -> MessageGuard:
    return MessageGuard(manifest, SEED)


def _client_in(deployment: Deployment, manifest: RoundManifest, shard: int, skip: int = 0) -> SigningKey:
    found = [c for c in deployment.clients if deployment.shard_of(manifest, c) == shard]
    return found[skip]


# -- manifests -------------------------------------------------------------------------------------


def test_check_manifest(deployment: Deployment, manifest: RoundManifest) -> None:
    key = deployment.coordinator.public_key
    check_manifest(manifest, height=9, coordinator_key=key, deployment=DEPLOYMENT, round=3)
    with pytest.raises(ProtocolError, match="RoundManifest deployment must be 00"):
        check_manifest(manifest, height=9, coordinator_key=key, deployment=bytes(32))
    with pytest.raises(ProtocolError, match="RoundManifest round must be 4, not 3"):
        check_manifest(manifest, height=9, coordinator_key=key, round=4)
    with pytest.raises(ProtocolError, match="RoundManifest signer must be"):
        check_manifest(manifest, height=9, coordinator_key=signing_key("impostor").public_key)
    with pytest.raises(ProtocolError, match=r"posted at height 10 must name a seed height above 10.*not 10"):
        check_manifest(manifest, height=10, coordinator_key=key)


# -- client updates --------------------------------------------------------------------------------


def test_valid_updates_are_accepted_and_recorded(
    deployment: Deployment, manifest: RoundManifest, guard: MessageGuard
) -> None:
    # Prepare
    namespaces = deployment_namespaces(DEPLOYMENT, 4)
    updates = [deployment.update(manifest, c) for c in deployment.clients[:8]]
    # Execute
    for height, u in enumerate(updates, start=12):
        guard.check_client_update(
            u,
            height=min(height, 15),
            namespace=namespaces.shard(u.shard),
            blob_commitment=_blob_commitment(u),
        )
    # Assert
    for shard in range(4):
        recorded = {i.client_id for i in guard.accepted_updates(shard)}
        assert recorded == {u.client_id for u in updates if u.shard == shard}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"deployment": bytes(32)}, "deployment must be 3caeb9"),
        ({"round": 2}, "round must be 3, not 2"),
        ({"shard": 7}, r"shard must be in \[0, 4\), not 7"),
    ],
)
def test_update_bound_elsewhere_is_rejected(
    deployment: Deployment,
    manifest: RoundManifest,
    guard: MessageGuard,
    change: dict[str, object],
    message: str,
) -> None:
    client = deployment.clients[0]
    update = _resign(deployment.update(manifest, client), client, **change)
    with pytest.raises(ProtocolError, match=message):
        guard.check_client_update(update, height=12)


def test_update_in_the_wrong_namespace(
    deployment: Deployment, manifest: RoundManifest, guard: MessageGuard
) -> None:
    update = deployment.update(manifest, deployment.clients[0])
    wrong = deployment_namespaces(DEPLOYMENT, 4).shard((update.shard + 1) % 4)
    with pytest.raises(ProtocolError, match=f"must be posted in shard {update.shard}'s namespace"):
        guard.check_client_update(update, height=12, namespace=wrong)


def test_update_with_a_changed_field_fails_its_signature(
    deployment: Deployment, manifest: RoundManifest, guard: MessageGuard
) -> None:
    # An aggregator inflating a client's weight, or swapping its commitments, breaks the signature.
    update = deployment.update(manifest, deployment.clients[0])
    for change in ({"sample_count": 10**6}, {"commitments": b"\x00" * 64}, {"ciphertext": bytes(60)}):
        with pytest.raises(ProtocolError, match="ClientUpdate: the signature does not verify"):
            guard.check_client_update(dataclasses.replace(update, **change), height=12)


def test_client_id_must_be_bound_to_the_key(deployment: Deployment, manifest: RoundManifest) -> None:
    # Prepare: an impostor claims client 0's id under its own key
    victim, impostor = deployment.clients[0], signing_key("impostor")
    update = deployment.update(manifest, victim)
    claimed = _resign(update, impostor, client_key=impostor.public_key)
    # Execute / Assert: self-certifying ids
    with pytest.raises(ProtocolError, match=r"client id must be .* \(derived from its key"):
        MessageGuard(manifest, SEED).check_client_update(claimed, height=12)
    # ...and with a registry
    registry = {update.client_id: victim.public_key}
    guard = MessageGuard(manifest, SEED, client_registry=registry)
    with pytest.raises(ProtocolError, match="client key must be the registered"):
        guard.check_client_update(claimed, height=12)
    stranger = deployment.update(manifest, deployment.clients[1])
    with pytest.raises(ProtocolError, match="the client is not registered"):
        guard.check_client_update(stranger, height=12)
    guard.check_client_update(update, height=12)


def test_update_for_a_shard_the_client_is_not_assigned_to(
    deployment: Deployment, manifest: RoundManifest, guard: MessageGuard
) -> None:
    client = deployment.clients[0]
    assigned = deployment.shard_of(manifest, client)
    other = (assigned + 1) % 4
    update = deployment.update(manifest, client, shard=other)
    with pytest.raises(
        ProtocolError,
        match=f"is for shard {other}, but the client is assigned to shard {assigned} in round 3",
    ):
        guard.check_client_update(update, height=12)


def test_update_deadlines(deployment: Deployment, manifest: RoundManifest, guard: MessageGuard) -> None:
    update = deployment.update(manifest, deployment.clients[0])
    with pytest.raises(
        ProtocolError, match="at height 11 is too early: it must be posted after reveal_by 11"
    ):
        guard.check_client_update(update, height=11)
    with pytest.raises(ProtocolError, match="at height 16 is past its deadline: updates_by is 15"):
        guard.check_client_update(update, height=16)
    # rejected messages do not use up the client's slot
    guard.check_client_update(update, height=15)


def test_replayed_and_duplicate_updates(
    deployment: Deployment, manifest: RoundManifest, guard: MessageGuard
) -> None:
    client = deployment.clients[0]
    update = deployment.update(manifest, client)
    guard.check_client_update(update, height=12)
    with pytest.raises(
        ProtocolError, match="is a replay: the same message was already accepted at height 12"
    ):
        guard.check_client_update(update, height=13)
    with pytest.raises(ProtocolError, match="is a replay"):
        guard.check_client_update(update, height=12)
    second = deployment.update(manifest, client, plaintext=b"another update")
    with pytest.raises(
        ProtocolError, match="is a duplicate: the client already has an update in round 3 \\(at height 12\\)"
    ):
        guard.check_client_update(second, height=13)


def test_update_replayed_in_the_next_round(deployment: Deployment, manifest: RoundManifest) -> None:
    update = deployment.update(manifest, deployment.clients[0])
    MessageGuard(manifest, SEED).check_client_update(update, height=12)
    next_round = MessageGuard(deployment.manifest(round=4, seed_height=30), SEED)
    with pytest.raises(ProtocolError, match="round must be 4, not 3"):
        next_round.check_client_update(update, height=32)


# -- shard results ---------------------------------------------------------------------------------


@pytest.fixture
def fed(
    deployment: Deployment, manifest: RoundManifest, guard: MessageGuard
) -> dict[int, list[IncludedUpdate]]:
    """Every client's update accepted by ``guard``; the inclusion list of each shard."""
    out: dict[int, list[IncludedUpdate]] = {s: [] for s in range(4)}
    for i, client in enumerate(deployment.clients[:12]):
        u = deployment.update(manifest, client)
        height = 12 + i % 4
        guard.check_client_update(u, height=height, blob_commitment=_blob_commitment(u))
        out[u.shard].append(IncludedUpdate(u.client_id, height, _blob_commitment(u)))
    return out


def test_valid_shard_result(
    deployment: Deployment, manifest: RoundManifest, guard: MessageGuard, fed: dict[int, list[IncludedUpdate]]
) -> None:
    namespaces = deployment_namespaces(DEPLOYMENT, 4)
    for shard in range(4):
        result = deployment.result(manifest, shard, fed[shard])
        assert guard.judge_shard_result(result, height=18, namespace=namespaces.control) == (
            VerdictReason.ACCEPTED,
            "",
        )
    assert guard.accepted_shards() == [0, 1, 2, 3]


def test_shard_result_rejections(
    deployment: Deployment, manifest: RoundManifest, guard: MessageGuard, fed: dict[int, list[IncludedUpdate]]
) -> None:
    good = deployment.result(manifest, 1, fed[1])
    stranger = IncludedUpdate(b"nobody", 12, bytes(32))
    moved = dataclasses.replace(fed[1][0], height=fed[1][0].height + 1)
    swapped = dataclasses.replace(fed[1][0], commitment=bytes(32))
    by_other = dataclasses.replace(
        good, aggregator_key=deployment.aggregators[2].public_key, signature=b""
    ).sign(deployment.aggregators[2])
    other_round = dataclasses.replace(good, round=2, signature=b"").sign(deployment.aggregators[1])
    cases = [
        (
            other_round,
            18,
            VerdictReason.REPLAYED,
            "round must be 3, not 2 (a message of an earlier round replayed)",
        ),
        (by_other, 18, VerdictReason.BAD_SIGNATURE, "ShardResult signer must be"),
        (
            good,
            15,
            VerdictReason.MISBOUND,
            "at height 15 is too early: it must be posted after updates_by 15",
        ),
        (good, 21, VerdictReason.LATE, "at height 21 is past its deadline: results_by is 20"),
        (
            deployment.result(manifest, 1, [*fed[1], stranger]),
            18,
            VerdictReason.BAD_INCLUSION,
            "includes client 6e6f626f6479, which has no accepted update in shard 1",
        ),
        (
            deployment.result(manifest, 1, [moved]),
            18,
            VerdictReason.BAD_INCLUSION,
            "but its accepted update is at height",
        ),
        (
            deployment.result(manifest, 1, [swapped]),
            18,
            VerdictReason.BAD_INCLUSION,
            "with blob commitment 0000",
        ),
        (
            deployment.result(manifest, 1, [fed[0][0]]),
            18,
            VerdictReason.BAD_INCLUSION,
            "which has no accepted update in shard 1",
        ),
    ]
    for result, height, reason, message in cases:
        got_reason, detail = guard.judge_shard_result(result, height=height)
        assert got_reason is reason, detail
        assert message in detail
        with pytest.raises(ProtocolError, match=re.escape(message)):
            guard.check_shard_result(result, height=height)
    assert guard.accepted_shards() == []
    with pytest.raises(ProtocolError, match="must be posted in the control namespace"):
        guard.check_shard_result(good, height=18, namespace=deployment_namespaces(DEPLOYMENT, 4).shard(1))
    # after all that, the honest result still gets in, once
    guard.check_shard_result(good, height=18)
    assert guard.judge_shard_result(good, height=19)[0] is VerdictReason.REPLAYED
    again = deployment.result(manifest, 1, fed[1], aggregate=b"a different aggregate")
    reason, detail = guard.judge_shard_result(again, height=19)
    assert reason is VerdictReason.REPLAYED
    assert "shard 1 already has a result in round 3 (at height 18)" in detail


def test_shard_result_replayed_in_the_next_round(
    deployment: Deployment, manifest: RoundManifest, guard: MessageGuard, fed: dict[int, list[IncludedUpdate]]
) -> None:
    result = deployment.result(manifest, 0, fed[0])
    guard.check_shard_result(result, height=18)
    next_round = MessageGuard(deployment.manifest(round=4, seed_height=30), SEED)
    assert next_round.judge_shard_result(result, height=38)[0] is VerdictReason.REPLAYED


# -- global results --------------------------------------------------------------------------------


def test_global_result_checks(deployment: Deployment, manifest: RoundManifest, guard: MessageGuard) -> None:
    good = deployment.global_result(manifest, [0, 1, 2])
    with pytest.raises(ProtocolError, match="GlobalResult at height 20 is too early"):
        guard.check_global_result(good, height=20)
    impostor = signing_key("impostor")
    forged = dataclasses.replace(good, coordinator_key=impostor.public_key, signature=b"").sign(impostor)
    with pytest.raises(ProtocolError, match="GlobalResult signer must be"):
        guard.check_global_result(forged, height=21, check_verdicts=False)
    thin = deployment.global_result(manifest, [0, 1], model=True)
    with pytest.raises(
        ProtocolError,
        match="publishes a global model with 2 available and 2 accepted shards, but the quorum is 3 "
        "available shards and at least one accepted",
    ):
        guard.check_global_result(thin, height=21, check_verdicts=False)
    withheld = deployment.global_result(manifest, [0, 1, 2], model=False)
    with pytest.raises(
        ProtocolError, match="does not publish a global model with 3 available and 3 accepted shards"
    ):
        guard.check_global_result(withheld, height=21, check_verdicts=False)
    # Quorum on availability: shards proven below the quality threshold count, only accepted ones compose
    gated = deployment.global_result(manifest, [0], below=[1, 2], model=False)
    with pytest.raises(
        ProtocolError, match="does not publish a global model with 3 available and 1 accepted shards"
    ):
        guard.check_global_result(gated, height=21, check_verdicts=False)
    guard.check_global_result(
        deployment.global_result(manifest, [0, 1], model=False), height=21, check_verdicts=False
    )
    with pytest.raises(ProtocolError, match="round 3 already has a global result \\(at height 21\\)"):
        guard.check_global_result(good, height=22, check_verdicts=False)
    with pytest.raises(ProtocolError, match="round must be 3, not 4"):
        guard.check_global_result(
            deployment.global_result(deployment.manifest(round=4), [0, 1, 2]), height=22
        )


def _post_results(
    deployment: Deployment, manifest: RoundManifest, guard: MessageGuard, fed: dict[int, list[IncludedUpdate]]
) -> dict[int, BlobRef]:
    """Shards 0-2 post results including their updates (heights 17-19); where each landed."""
    refs = {}
    for shard in range(3):
        result = deployment.result(manifest, shard, fed[shard])
        commitment = hashlib.sha256(result.to_bytes()).digest()
        guard.check_shard_result(result, height=17 + shard, blob_commitment=commitment)
        refs[shard] = BlobRef(17 + shard, commitment)
    return refs


def test_global_result_verdicts_against_the_accepted_results(
    deployment: Deployment, manifest: RoundManifest, guard: MessageGuard, fed: dict[int, list[IncludedUpdate]]
) -> None:
    # Prepare: shards 0-2 post results, shard 3 does not
    refs = _post_results(deployment, manifest, guard, fed)
    # Execute / Assert
    unjudged = dataclasses.replace(deployment.global_result(manifest, [0, 1, 2], refs=refs), signature=b"")
    unjudged = dataclasses.replace(unjudged, verdicts=unjudged.verdicts[:3]).sign(deployment.coordinator)
    with pytest.raises(
        ProtocolError, match=r"one verdict for each of the 4 shards, not verdicts for shards \[0, 1, 2\]"
    ):
        guard.check_global_result(unjudged, height=21)
    phantom = deployment.global_result(manifest, [0, 1, 3], refs=refs)
    with pytest.raises(
        ProtocolError,
        match=r"judges shard 3 accepted on its result at height 20 .* but the accepted result of shard 3 "
        "is none",
    ):
        guard.check_global_result(phantom, height=21)
    # A coordinator cannot make up an available shard to reach the quorum either
    made_up = deployment.global_result(manifest, [0], below=[1, 3], refs=refs)
    with pytest.raises(
        ProtocolError, match=r"judges shard 3 below-threshold on its result at height 20 .* is none"
    ):
        guard.check_global_result(made_up, height=21)
    unnamed = dataclasses.replace(
        made_up,
        signature=b"",
        verdicts=(*made_up.verdicts[:3], ShardVerdict(3, VerdictReason.BELOW_THRESHOLD, "", None)),
    ).sign(deployment.coordinator)
    with pytest.raises(ProtocolError, match="judges shard 3 below-threshold but names no result of it"):
        guard.check_global_result(unnamed, height=21)
    moved = deployment.global_result(manifest, [0, 1, 2], refs={**refs, 1: BlobRef(18, bytes(32))})
    with pytest.raises(
        ProtocolError, match="judges shard 1 accepted on its result at height 18 \\(blob 0000"
    ):
        guard.check_global_result(moved, height=21)
    # Shard 2 proven but below the threshold counts for the quorum of 3: a model with 2 accepted
    guard.check_global_result(deployment.global_result(manifest, [0, 1], below=[2], refs=refs), height=21)


def test_an_empty_verdict_must_name_an_empty_result_and_only_an_empty_one(
    deployment: Deployment, manifest: RoundManifest, guard: MessageGuard, fed: dict[int, list[IncludedUpdate]]
) -> None:
    # Prepare: shards 0-2 post results with their updates; shard 3 excludes all of its own (if any)
    refs = _post_results(deployment, manifest, guard, fed)
    empty = ShardResult(
        deployment=manifest.deployment,
        round=manifest.round,
        shard=3,
        included=(),
        aggregate=b"",
        quality_proof=b"",
        aggregator_key=deployment.aggregators[3].public_key,
        excluded=tuple(
            ExcludedUpdate(u.client_id, u.height, u.commitment, ExclusionReason.BAD_NORM_PROOF)
            for u in fed[3]
        ),
    ).sign(deployment.aggregators[3])
    refs[3] = BlobRef(20, hashlib.sha256(empty.to_bytes()).digest())
    guard.check_shard_result(empty, height=20, blob_commitment=refs[3].commitment)

    def judged(reasons: list[VerdictReason]) -> GlobalResult:
        """The coordinator's signed global result (with a model) under these verdicts."""
        honest = deployment.global_result(manifest, [0, 1, 2], refs=refs)
        verdicts = tuple(ShardVerdict(k, r, "", refs[k]) for k, r in enumerate(reasons))
        return dataclasses.replace(honest, signature=b"", verdicts=verdicts).sign(deployment.coordinator)

    accepted, empty_ = VerdictReason.ACCEPTED, VerdictReason.EMPTY
    # Execute / Assert: a shard with updates relabelled empty (dropped while the quorum holds) ...
    with pytest.raises(
        ProtocolError, match="judges shard 1 empty, but its result at height 18 includes updates"
    ):
        guard.check_global_result(judged([accepted, empty_, accepted, empty_]), height=21)
    # ... and the empty shard called accepted (a made-up model when nothing was aggregated)
    with pytest.raises(
        ProtocolError, match="judges shard 3 accepted, but its result at height 20 includes no update"
    ):
        guard.check_global_result(judged([accepted, accepted, accepted, accepted]), height=21)
    # the honest judgement: three accepted, one empty (available: the quorum of 3 holds)
    guard.check_global_result(judged([accepted, accepted, accepted, empty_]), height=21)
