r"""Where a round happens on the DA layer: shard assignment, namespaces, deadlines and quorum.

**Assignment.** Client ``c`` belongs in round ``r`` to shard::

    int(SHA-256("zkagg/shard-assignment/v1\0" | seed | deployment | r (u64) | c (u32 length, bytes))) mod n

where ``seed`` is the round's assignment seed (:mod:`zkagg._protocol.seed`): the block hash at the
manifest's ``seed_height``, recomputed from the header's fields, mixed with a value each shard
aggregator reveals after that height from a hash chain fixed when its keys were made. The manifest
fixes ``seed_height`` above its own height, so when the coordinator signs it the seed does not exist
yet; the DA operator fixes the block hash before any honest shard's value is known, so grinding
block hashes (or block times, which the hash covers) gains it nothing; a shard can only reveal or
withhold its predetermined value, a choice between two seeds (measured in
``benchmarks/seed_grinding.py``, and listed by the audit). Cohorts rotate every round. (Sybil
clients that can mint ids after the seed is known could still aim at a shard: use a client
registry, as deployments do.)

**Namespaces.** A deployment uses version-0 namespaces derived from its id: one *control*
namespace for manifests, shard results and global results, one *payloads* namespace for the pieces
of large payloads, and one namespace per shard for client updates. Each user id is a kind byte
(1 control, 2 payloads, 3 shard) and 9 bytes of ``SHA-256("zkagg/namespace/v1\0" | deployment |
kind | shard (u16))``; the non-zero kind byte keeps every namespace clear of Celestia's reserved
ones. Anyone can post to any namespace, so readers must expect and skip foreign blobs.

**Deadlines** are heights: a shard's seed reveal counts when included in
``(seed_height, reveal_by]``, a client update in ``(reveal_by, updates_by]`` (clients learn their
shard at ``reveal_by``), a shard result in ``(updates_by, results_by]``, and the global result is
posted after ``results_by``. The deployment fixes every window (``reveal_window``,
``update_window``, ``result_window``) and :func:`~zkagg._protocol.guard.check_manifest_rules`
checks a manifest's heights against them. **Quorum**: a global model needs at least ``quorum``
shards that made a verified result available (accepted, or proven but below the quality
threshold) and at least one accepted shard (:func:`has_quorum`).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from zkagg._errors import InvalidArgument, ProtocolError
from zkagg._protocol.keys import MAX_CLIENT_ID
from zkagg._protocol.messages import DEPLOYMENT_SIZE, MAX_SHARDS, RoundManifest, ShardVerdict, VerdictReason
from zkagg._wire import Writer
from zkagg.da import Namespace

__all__ = [
    "AVAILABLE_VERDICTS",
    "SEED_SIZE",
    "DeploymentNamespaces",
    "RoundPhase",
    "assign_shard",
    "check_quorum",
    "cohorts",
    "deployment_namespaces",
    "has_quorum",
    "round_phase",
]

#: The seed is 32 bytes (:func:`zkagg._protocol.seed.round_seed`).
SEED_SIZE: Final = 32
_ASSIGN_TAG: Final = b"zkagg/shard-assignment/v1\x00"
_NAMESPACE_TAG: Final = b"zkagg/namespace/v1\x00"
_KIND_CONTROL: Final = 1
_KIND_PAYLOADS: Final = 2
_KIND_SHARD: Final = 3


def _check_seed(seed: object) -> bytes:
    if not isinstance(seed, bytes) or len(seed) != SEED_SIZE:
        got = f"{len(seed)} bytes" if isinstance(seed, bytes) else type(seed).__name__
        raise InvalidArgument(f"seed must be {SEED_SIZE} bytes (a round seed), not {got}")
    return seed


def assign_shard(seed: bytes, deployment: bytes, round: int, client_id: bytes, num_shards: int) -> int:
    """Return the shard of ``client_id`` in ``round`` (see the module docstring).

    Parameters
    ----------
    seed
        The round's 32-byte assignment seed (:func:`zkagg._protocol.seed.fetch_seed`).
    deployment
        The 32-byte deployment id.
    round
        The round number.
    client_id
        The client's id, 1 to 64 bytes.
    num_shards
        Number of shards, 1 to 1024.

    Examples
    --------
    >>> assign_shard(bytes(32), bytes(32), 0, b"client", 4) in range(4)
    True
    """
    if isinstance(num_shards, bool) or not isinstance(num_shards, int) or not 1 <= num_shards <= MAX_SHARDS:
        raise InvalidArgument(f"num_shards must be an integer in [1, {MAX_SHARDS}], not {num_shards!r}")
    w = Writer.raw()
    w.fixed("tag", _ASSIGN_TAG, len(_ASSIGN_TAG))
    w.fixed("seed", _check_seed(seed), SEED_SIZE)
    w.fixed("deployment", deployment, DEPLOYMENT_SIZE)
    w.u64("round", round)
    w.bytes_("client_id", client_id, min_len=1, max_len=MAX_CLIENT_ID)
    # A 256-bit value mod n <= 1024: the bias is below 2**-246.
    return int.from_bytes(hashlib.sha256(w.getvalue()).digest(), "big") % num_shards


def cohorts(manifest: RoundManifest, seed: bytes, client_ids: Iterable[bytes]) -> list[list[bytes]]:
    """Return each shard's clients for the manifest's round, in the order ``client_ids`` gives them."""
    out: list[list[bytes]] = [[] for _ in range(manifest.num_shards)]
    for cid in client_ids:
        out[assign_shard(seed, manifest.deployment, manifest.round, cid, manifest.num_shards)].append(cid)
    return out


@dataclass(frozen=True)
class DeploymentNamespaces:
    """The DA namespaces of one deployment (see the module docstring).

    Attributes
    ----------
    control
        Manifests, shard results and global results.
    payloads
        Pieces of large payloads (global models, large aggregates).
    shards
        Client updates of shard ``i`` go to ``shards[i]``.
    """

    control: Namespace
    payloads: Namespace
    shards: tuple[Namespace, ...]

    def shard(self, index: int) -> Namespace:
        """Return the namespace of shard ``index``."""
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self.shards):
            raise InvalidArgument(f"shard must be an integer in [0, {len(self.shards)}), not {index!r}")
        return self.shards[index]


def _namespace(deployment: bytes, kind: int, shard: int) -> Namespace:
    w = Writer.raw()
    w.fixed("tag", _NAMESPACE_TAG, len(_NAMESPACE_TAG))
    w.fixed("deployment", deployment, DEPLOYMENT_SIZE)
    w.u8("kind", kind)
    w.u16("shard", shard)
    return Namespace.v0(bytes([kind]) + hashlib.sha256(w.getvalue()).digest()[:9])


def deployment_namespaces(deployment: bytes, num_shards: int) -> DeploymentNamespaces:
    """Derive a deployment's namespaces from its 32-byte id.

    Raises
    ------
    InvalidArgument
        If ``deployment`` is not 32 bytes or ``num_shards`` is not in ``[1, 1024]``.
    """
    if not isinstance(deployment, bytes) or len(deployment) != DEPLOYMENT_SIZE:
        got = f"{len(deployment)} bytes" if isinstance(deployment, bytes) else type(deployment).__name__
        raise InvalidArgument(f"deployment must be {DEPLOYMENT_SIZE} bytes, not {got}")
    if isinstance(num_shards, bool) or not isinstance(num_shards, int) or not 1 <= num_shards <= MAX_SHARDS:
        raise InvalidArgument(f"num_shards must be an integer in [1, {MAX_SHARDS}], not {num_shards!r}")
    return DeploymentNamespaces(
        control=_namespace(deployment, _KIND_CONTROL, 0),
        payloads=_namespace(deployment, _KIND_PAYLOADS, 0),
        shards=tuple(_namespace(deployment, _KIND_SHARD, i) for i in range(num_shards)),
    )


class RoundPhase(enum.Enum):
    """Where a round stands at a DA height."""

    #: At or before the seed height: the assignment is not known yet.
    AWAITING_SEED = "awaiting-seed"
    #: ``(seed_height, reveal_by]``: shard aggregators reveal their seed-chain values.
    REVEALS = "reveals"
    #: ``(reveal_by, updates_by]``: clients post updates.
    UPDATES = "updates"
    #: ``(updates_by, results_by]``: shard aggregators post results.
    RESULTS = "results"
    #: After ``results_by``: the coordinator judges and posts the global result.
    CLOSED = "closed"


def round_phase(manifest: RoundManifest, height: int) -> RoundPhase:
    """Return the phase of the manifest's round at DA ``height``."""
    if isinstance(height, bool) or not isinstance(height, int) or height < 1:
        raise InvalidArgument(f"height must be a positive integer, not {height!r}")
    if height <= manifest.seed_height:
        return RoundPhase.AWAITING_SEED
    if height <= manifest.reveal_by:
        return RoundPhase.REVEALS
    if height <= manifest.updates_by:
        return RoundPhase.UPDATES
    if height <= manifest.results_by:
        return RoundPhase.RESULTS
    return RoundPhase.CLOSED


#: The verdicts of a shard that made its result *available*: its aggregator posted, in time and
#: signed, a result whose aggregate is on the DA layer and verifies against its clients'
#: commitments, with a valid quality proof, whether or not its shard model met the round's quality
#: threshold; or a verifiably empty result (every update posted to the shard excluded with a
#: checked reason, or none posted). The quorum counts these shards; see :func:`has_quorum` for why.
AVAILABLE_VERDICTS: Final = frozenset(
    {VerdictReason.ACCEPTED, VerdictReason.BELOW_THRESHOLD, VerdictReason.EMPTY}
)


def _tally(manifest: RoundManifest, verdicts: Iterable[ShardVerdict]) -> tuple[set[int], set[int]]:
    """The distinct available shards and the distinct accepted shards among ``verdicts``."""
    available: set[int] = set()
    accepted: set[int] = set()
    bad = []
    for v in verdicts:
        if not isinstance(v, ShardVerdict):
            raise InvalidArgument(f"verdicts must be ShardVerdicts, not {type(v).__name__}")
        if not (isinstance(v.shard, int) and 0 <= v.shard < manifest.num_shards):
            bad.append(v.shard)
            continue
        if v.reason in AVAILABLE_VERDICTS:
            available.add(v.shard)
        if v.accepted:
            accepted.add(v.shard)
    if bad:
        raise InvalidArgument(f"verdicts must name shards in [0, {manifest.num_shards}), not {sorted(bad)}")
    return available, accepted


def has_quorum(manifest: RoundManifest, verdicts: Iterable[ShardVerdict]) -> bool:
    """Whether a round with these verdicts publishes a global model.

    The rule is **quorum on availability, not on verdicts**: at least ``manifest.quorum`` distinct
    shards made their result available (:data:`AVAILABLE_VERDICTS`: accepted, proven correct
    but below the quality threshold, or verifiably empty), and at least one shard is accepted. The
    model is composed from the accepted shards only. An empty shard counts because its aggregator
    took part and accounted for every update of its shard; what it lacked was clients worth
    including, and throwing the other shards' work away for that would let a few faulty clients
    that happen to fill one cohort stop the round.

    Why not count accepted shards, as the first release did: a shard whose cohort holds enough
    poisoned updates fails the quality gate, and that is the gate doing its job. If that shard
    also counted against the quorum, a few Byzantine clients could stop every round (with 5
    sign-flippers among 16 clients in 4 shards, two poisoned shards stop a majority quorum) and
    the honest shards' work would be thrown away: the gate would turn into a denial of service.

    What an attacker gains by getting shards rejected on purpose: only fewer cohorts in the
    global model. Every accepted shard still passed the gate, so a round's model is the sample-
    weighted mean of shard models each at least at ``global probe accuracy - margin`` on the probe
    set; getting other shards rejected amplifies whatever slips through the gate (up to the whole
    round when one shard remains), but it cannot push a shard model below the threshold into the
    global model. The quorum still protects against rounds that too few shards took part in:
    shards that are missing, late, withheld their aggregate or posted one that does not verify do
    not count, so a round where most aggregators are down or cheating publishes nothing. Keeping
    aggregators online is liveness, which the protocol trusts (README, threat model).
    """
    available, accepted = _tally(manifest, verdicts)
    return len(available) >= manifest.quorum and bool(accepted)


def check_quorum(manifest: RoundManifest, verdicts: Iterable[ShardVerdict]) -> None:
    """Raise unless the verdicts reach the manifest's quorum (:func:`has_quorum`).

    Raises
    ------
    ProtocolError
        ``round 3 has 2 available shards ([0, 2]) but its quorum is 3``, or ``round 3 has no
        accepted shard``.
    """
    available, accepted = _tally(manifest, verdicts)
    if len(available) < manifest.quorum:
        raise ProtocolError(
            f"round {manifest.round} has {len(available)} available shards ({sorted(available)}) "
            f"but its quorum is {manifest.quorum}"
        )
    if not accepted:
        raise ProtocolError(f"round {manifest.round} has no accepted shard")
