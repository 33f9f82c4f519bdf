"""The assignment seed: seed chains, reveals refused with their named reason, recomputed block hashes.

Issue 12, attack 8: the seed was a block hash nobody recomputed, and the DA operator could grind it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import Any

import pytest

from tests.da.test_cometbft import REAL_HEADER
from tests.protocol.conftest import DEPLOYMENT, Deployment, signing_key
from zkagg._errors import InvalidArgument, ProtocolError
from zkagg._protocol.keys import client_id_for
from zkagg._protocol.messages import RoundManifest, SeedReveal
from zkagg._protocol.seed import (
    SEED_CHAIN_LENGTH,
    RevealReason,
    RevealRefused,
    chain_anchor,
    chain_value,
    check_reveal,
    draw_seed,
    fetch_seed,
    header_block_hash,
    make_reveal,
    round_seed,
)
from zkagg._protocol.sharding import assign_shard, deployment_namespaces
from zkagg.da import Blob, DABackend, Header, MemoryBackend, Namespace


def _advance_to(backend: DABackend, height: int) -> None:
    while backend.local_head().height < height:
        backend.submit([Blob.new(Namespace.v0(b"filler"), os.urandom(8))])


def _iterate(key: bytes, value: bytes, times: int) -> bytes:
    """The chain step written out from the module docstring (an independent copy of the rule)."""
    for _ in range(times):
        value = hashlib.sha256(b"zkagg/seed-chain/v1\x00" + key + value).digest()
    return value


# -- seed chains ------------------------------------------------------------------------------------


def test_each_rounds_value_hashes_to_the_anchor_in_round_steps() -> None:
    # Prepare
    key = signing_key("aggregator-0")
    anchor = chain_anchor(key)
    # Execute / Assert: H^r(v_r) == a, and v_r = H(v_{r+1}): each reveal follows from the next
    for r in (1, 2, 7):
        assert _iterate(key.public_key, chain_value(key, r), r) == anchor
    assert _iterate(key.public_key, chain_value(key, 8), 1) == chain_value(key, 7)
    assert chain_anchor(signing_key("aggregator-1")) != anchor
    with pytest.raises(InvalidArgument, match=r"round must be an integer in \[1, 65536\], not 0"):
        chain_value(key, 0)
    with pytest.raises(InvalidArgument, match=r"round must be an integer in \[1, 65536\], not 65537"):
        chain_value(key, SEED_CHAIN_LENGTH + 1)


# -- checking a reveal -----------------------------------------------------------------------------


@pytest.fixture
def manifest(deployment: Deployment) -> RoundManifest:
    return deployment.manifest(round=3, seed_height=10, reveal_by=12)


def _refused(manifest: RoundManifest, reveal: SeedReveal, height: int = 11, **kw: Any) -> RevealReason:
    with pytest.raises(RevealRefused) as info:
        check_reveal(manifest, reveal, height=height, **kw)
    return info.value.reason


def test_an_honest_reveal_counts(deployment: Deployment, manifest: RoundManifest) -> None:
    control = deployment_namespaces(DEPLOYMENT, 4).control
    for shard in range(4):
        reveal = make_reveal(manifest, shard, deployment.aggregators[shard])
        check_reveal(manifest, reveal, height=11, namespace=control)
        check_reveal(manifest, reveal, height=12)


def test_reveals_are_refused_with_their_reason(deployment: Deployment, manifest: RoundManifest) -> None:
    # Prepare: shard 1's honest reveal, and what a cheating or confused party posts instead
    key = deployment.aggregators[1]
    honest = make_reveal(manifest, 1, key)

    def signed(**changes: Any) -> SeedReveal:
        return dataclasses.replace(honest, signature=b"", **changes).sign(key)

    next_round = make_reveal(deployment.manifest(round=4), 1, key)
    by_other = dataclasses.replace(
        honest, aggregator_key=deployment.aggregators[2].public_key, signature=b""
    ).sign(deployment.aggregators[2])
    forged = dataclasses.replace(honest, signature=bytes(64))
    # Execute / Assert
    assert _refused(manifest, signed(value=chain_value(key, 4))) is RevealReason.BAD_CHAIN
    assert _refused(manifest, signed(value=os.urandom(32))) is RevealReason.BAD_CHAIN
    assert _refused(manifest, next_round) is RevealReason.WRONG_ROUND
    assert _refused(manifest, by_other) is RevealReason.BAD_SIGNATURE
    assert _refused(manifest, forged) is RevealReason.BAD_SIGNATURE
    assert _refused(manifest, honest, height=13) is RevealReason.LATE
    assert _refused(manifest, honest, height=10) is RevealReason.EARLY
    assert _refused(manifest, signed(deployment=bytes(32))) is RevealReason.MISBOUND
    assert _refused(manifest, signed(shard=4)) is RevealReason.MISBOUND
    wrong_ns = deployment_namespaces(DEPLOYMENT, 4).shard(1)
    assert _refused(manifest, honest, namespace=wrong_ns) is RevealReason.MISBOUND
    with pytest.raises(
        RevealRefused, match=r"bad-chain: SeedReveal of shard 1: value .* is not round 3's value"
    ):
        check_reveal(manifest, signed(value=bytes(32)), height=11)
    with pytest.raises(RevealRefused, match=r"late: SeedReveal of shard 1 at height 13 is past its deadline"):
        check_reveal(manifest, honest, height=13)


def test_a_reveal_beyond_the_chains_is_refused_before_any_hashing(deployment: Deployment) -> None:
    # Prepare: a manifest and a signed reveal for round L + 1, where no chain value exists
    far = deployment.manifest(round=SEED_CHAIN_LENGTH + 1)
    key = deployment.aggregators[0]
    reveal = SeedReveal(far.deployment, far.round, 0, bytes(32), key.public_key).sign(key)
    # Execute / Assert
    with pytest.raises(RevealRefused, match=r"beyond-chain: .*round 65537 is beyond the seed chains") as info:
        check_reveal(far, reveal, height=11)
    assert info.value.reason is RevealReason.BEYOND_CHAIN


# -- the block hash ----------------------------------------------------------------------------------


def test_the_block_hash_is_recomputed_and_a_forged_one_is_refused() -> None:
    # Prepare
    da = MemoryBackend()
    _advance_to(da, 12)
    header = da.get_header(10)
    forged = dataclasses.replace(header, hash=hashlib.sha256(b"chosen").hexdigest().upper())
    bare = Header(height=10, time=header.time, hash=header.hash, data_hash=header.data_hash)
    # Execute / Assert
    assert header_block_hash(header, 10) == bytes.fromhex(header.hash)
    with pytest.raises(ProtocolError, match=r"its fields hash to .*: a forged header hash"):
        header_block_hash(forged, 10)
    with pytest.raises(ProtocolError, match="seed header must be at height 10, not 11"):
        header_block_hash(da.get_header(11), 10)
    with pytest.raises(ProtocolError, match="a forged header hash"):  # hand-made: fields do not match
        header_block_hash(bare, 10)
    broken = Header.from_json({**header.to_json(), "header": {"height": "10"}})
    with pytest.raises(ProtocolError, match=r"does not give the fields .*header.chain_id is missing"):
        header_block_hash(broken, 10)


def test_a_real_celestia_header_hash_is_recomputed_from_its_fields() -> None:
    header = Header.from_json(REAL_HEADER)
    assert header.computed_hash().hex().upper() == header.hash
    assert header_block_hash(header, header.height) == bytes.fromhex(header.hash)


class _ForgingNode(MemoryBackend):
    """A DA node that states another hash for one block (the fields stay what they were)."""

    def __init__(self, height: int) -> None:
        self.forged_height = height
        super().__init__()

    def _header(self, height: int) -> Header:
        header = super()._header(height)
        if height != self.forged_height:
            return header
        return dataclasses.replace(header, hash=hashlib.sha256(b"ground").hexdigest().upper())


def test_a_node_that_forges_the_seed_blocks_hash_is_refused(deployment: Deployment) -> None:
    da = _ForgingNode(10)
    _advance_to(da, 12)
    with pytest.raises(
        ProtocolError, match=r"the header at height 10 states block hash .*a forged header hash"
    ):
        fetch_seed(da, deployment.manifest(seed_height=10, reveal_by=12), timeout=1)


# -- the seed on the DA layer --------------------------------------------------------------------------


def _post(da: DABackend, message: SeedReveal, namespace: Namespace | None = None) -> int:
    where = namespace or deployment_namespaces(DEPLOYMENT, 4).control
    return da.submit([Blob.new(where, message.to_bytes())])


def test_the_seed_mixes_the_block_hash_with_the_reveals_and_an_absent_one_changes_it(
    deployment: Deployment,
) -> None:
    # Prepare: shards 0, 1 and 2 reveal in the window, shard 3 withholds
    da = MemoryBackend()
    _advance_to(da, 10)
    manifest = deployment.manifest(seed_height=10, reveal_by=14)
    reveals = [make_reveal(manifest, k, deployment.aggregators[k]) for k in range(4)]
    for k in range(3):
        assert _post(da, reveals[k]) <= manifest.reveal_by
    _advance_to(da, 14)
    # Execute
    draw = draw_seed(da, manifest, timeout=1)
    # Assert
    block = bytes.fromhex(da.get_header(10).hash)
    values = (reveals[0].value, reveals[1].value, reveals[2].value, None)
    assert draw.block_hash == block and draw.reveals == values and draw.absent == [3]
    assert draw.seed == round_seed(block, values) == fetch_seed(da, manifest, timeout=1)
    with_all = round_seed(block, (*values[:3], reveals[3].value))
    assert len({draw.seed, with_all, round_seed(block, (None,) * 4), block}) == 4


def test_only_a_shards_first_signed_reveal_in_the_window_counts(deployment: Deployment) -> None:
    # Prepare: shard 0 first signs a wrong value, then the right one; a stranger's reveal claiming
    # shard 1 comes before shard 1's own; shard 2 reveals before the seed height; shard 3 too late
    da = MemoryBackend()
    _advance_to(da, 9)
    manifest = deployment.manifest(seed_height=10, reveal_by=14)
    reveals = [make_reveal(manifest, k, deployment.aggregators[k]) for k in range(4)]
    wrong = dataclasses.replace(reveals[0], value=bytes(32), signature=b"").sign(deployment.aggregators[0])
    stranger = signing_key("stranger")
    claimed = dataclasses.replace(reveals[1], aggregator_key=stranger.public_key, signature=b"").sign(
        stranger
    )
    assert _post(da, reveals[2]) == 10  # at the seed height: before the block hash is fixed
    for message in (wrong, reveals[0], claimed, reveals[1]):
        _post(da, message)
    _advance_to(da, 14)
    assert _post(da, reveals[3]) == 15
    # Execute
    draw = draw_seed(da, manifest, timeout=1)
    # Assert
    assert draw.reveals == (None, reveals[1].value, None, None)
    assert draw.absent == [0, 2, 3]
    assert [line.split(": ")[1] for line in draw.refused] == ["bad-chain", "bad-signature"]


def _together(seed: bytes, round_: int, clients: list[bytes]) -> bool:
    """Whether every one of ``clients`` lands in the same shard (of 4) in ``round_``."""
    return len({assign_shard(seed, DEPLOYMENT, round_, c, 4) for c in clients}) == 1


def test_an_operator_grinding_the_block_hash_cannot_steer_cohorts(deployment: Deployment) -> None:
    # Prepare: five Byzantine clients (the attack put all five into one shard); for each of
    # 12 rounds the operator grinds block hashes until one puts them together under what it knows
    # when it must fix the block: no reveal exists yet
    byzantine = [client_id_for(c.public_key) for c in deployment.clients[:5]]
    hits_old = hits_new = 0
    for r in range(1, 13):
        reveals = tuple(chain_value(deployment.aggregators[k], r) for k in range(4))
        for attempt in range(100_000):
            block = hashlib.sha256(b"block %d %d" % (r, attempt)).digest()
            guess = round_seed(block, (None,) * 4)
            if _together(guess, r, byzantine):
                break
        else:  # pragma: no cover - expected after about 4**4 tries
            pytest.fail("grinding found no block hash")
        # Execute: the honest shards then reveal their values, fixed at key generation
        hits_old += _together(guess, r, byzantine)
        hits_new += _together(round_seed(block, reveals), r, byzantine)
    # Assert: without reveals the ground block wins every round; with them only as often as chance
    # puts five clients into one shard (1 in 256 a round)
    assert hits_old == 12
    assert hits_new == 0
