"""Attacks on complete inclusion (issue 12, attack 4) on a real round: real keys, a real embedded DA node.

A faulty client against an honest shard (privacy of the other clients, duplicate postings), and
whether the shard, the coordinator and the audit agree.
"""

from __future__ import annotations

import contextlib

import numpy as np

from tests.rounds.world import (
    N_CLIENTS,
    World,
    close_with_shard,
    open_with_honest_clients,
    post_update,
    posted_result,
)
from zkagg._errors import ProtocolError
from zkagg._kzg.commit import commit_update
from zkagg._protocol import workload
from zkagg._protocol.disclosure import open_disclosed
from zkagg._protocol.keys import update_aad
from zkagg._protocol.messages import (
    ClientUpdate,
    ExclusionReason,
    RoundManifest,
    VerdictReason,
)
from zkagg._protocol.reading import read_range
from zkagg._protocol.sharding import deployment_namespaces


def _updates(w: World, manifest: RoundManifest) -> dict[bytes, ClientUpdate]:
    ns = deployment_namespaces(w.dep.deployment_id, 1)
    found: dict[bytes, ClientUpdate] = {}
    for posted in read_range(w.node, [ns.shard(0)], manifest.seed_height + 1, w.node.local_head().height):
        if isinstance(posted.message, ClientUpdate):
            found.setdefault(posted.message.client_id, posted.message)
    return found


def test_a_client_cannot_get_an_honest_update_disclosed_by_copying_its_ephemeral_key(world: World) -> None:
    # Clients 0-2 are honest; client 3 posts client 0's ciphertext (and its proof of the ephemeral
    # key) as its own. Were the box judged on its content, it would not open under client 3's
    # associated data, the shard would exclude it as UNDECRYPTABLE and disclose s*E, which opens
    # client 0's box. The proof of the ephemeral key is bound to client 0's update, so the copy is
    # refused publicly as BAD_EPHEMERAL_KEY and nothing is disclosed.
    coordinator, manifest = open_with_honest_clients(world, skip=3)
    coordinator.close()
    victim = _updates(world, manifest)[world.client(0).client_id]
    q = np.zeros(workload.n_params(world.dep), dtype=np.int64)
    copied = ClientUpdate(
        deployment=world.dep.deployment_id,
        round=1,
        shard=0,
        client_id=world.client(3).client_id,
        client_key=world.keys.clients[3].signing.public_key,
        commitments=commit_update(world.dep.spec(), q / 1.0).to_bytes(),
        sample_count=10,
        ciphertext=victim.ciphertext,
        ephemeral_proof=victim.ephemeral_proof,
    ).sign(world.keys.clients[3].signing)
    world.post("shard", copied.to_bytes())
    report, outcome = close_with_shard(world, manifest)
    assert outcome.global_result.verdicts[0].reason is VerdictReason.ACCEPTED
    assert len(posted_result(world, report).included) == N_CLIENTS - 1
    assert [(x.reason, x.evidence) for x in posted_result(world, report).excluded] == [
        (ExclusionReason.BAD_EPHEMERAL_KEY, b"")
    ]
    # Anyone reading the DA layer tries every disclosure on the honest client's box
    aad = update_aad(world.dep.deployment_id, 1, 0, victim.client_id)
    recipient = world.dep.shard_keys[0].encryption_key
    revealed = []
    for x in posted_result(world, report).excluded:
        if x.evidence:
            with contextlib.suppress(ProtocolError):
                revealed.append(open_disclosed(recipient, victim.ciphertext, aad, x.evidence))
    assert [r for r in revealed if r is not None] == [], "client 0's honest update was disclosed"


def test_the_same_update_posted_twice_and_a_second_update_keep_the_accounting_equal(world: World) -> None:
    # Client 3 posts its update twice (the same bytes) and then a different one, all in time: the
    # shard's guard (its namespace) and judging's (every namespace) keep the first, and the shard's
    # accounting is accepted as complete.
    coordinator, manifest = open_with_honest_clients(world, skip=3)
    coordinator.close()
    q = np.arange(workload.n_params(world.dep), dtype=np.int64) % 5 - 2
    post_update(world, manifest, 3, q, 10)
    first = _updates(world, manifest)[world.client(3).client_id]
    world.post("shard", first.to_bytes())
    world.post("shard", first.to_bytes())
    post_update(world, manifest, 3, q + 1, 11)
    report, outcome = close_with_shard(world, manifest)
    result = posted_result(world, report)
    assert len(result.included) == N_CLIENTS and result.excluded == ()
    assert outcome.global_result.verdicts[0].reason is VerdictReason.ACCEPTED
    assert world.audit().ok
