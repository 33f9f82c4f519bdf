r"""The assignment seed of a round: a recomputed block hash mixed with values the shards revealed.

No single party may choose the cohorts (DESIGN.md §1; :func:`~zkagg._protocol.sharding.assign_shard`
turns a seed into cohorts). The seed of round ``r`` is::

    SHA-256("zkagg/assignment-seed/v1\0" | block hash at seed_height
            | for each shard k in order: 0x01 | v_r(k)   or   0x00 when shard k's reveal is absent)

**Seed chains.** When its keys are made, each shard aggregator fixes a hash chain: a secret ``s``
(derived from its Ed25519 private key, :func:`chain_secret`, so it is kept with its private keys
and needs no file of its own), ``H(x) = SHA-256("zkagg/seed-chain/v1\0" | signing key | x)`` and
the *anchor* ``a = H^L(s)`` with ``L =`` :data:`SEED_CHAIN_LENGTH`. The anchors are public, in the
deployment (``ShardKeys.seed_anchor``, part of its id) and in every manifest. In round ``r`` the
shard reveals ``v_r = H^(L-r)(s)`` in a signed :class:`~zkagg._protocol.messages.SeedReveal`, and
anyone checks ``H^r(v_r) == a`` (``r <= L`` is checked before any hashing, so a verifier hashes
at most ``L`` times per shard and round). The values are fixed in advance: a shard can reveal its
value or withhold it, never pick another. A round needs no commit phase and no coordinator.

**Phases.** The manifest's ``seed_height`` lies above its own height, and the block hash there is
recomputed from the header's fields (:meth:`zkagg.da.Header.computed_hash`: CometBFT's
``Header.Hash()``, the same for the embedded node and a celestia-node), never taken from the node's
word; a header whose fields do not hash to its block hash is refused. After ``seed_height`` each
shard posts its reveal to the control namespace; a reveal counts when it is included in
``(seed_height, reveal_by]``, signed by the shard's aggregator, for this deployment and round, and
on the shard's chain. Only the *first* reveal of a shard that its aggregator signed for the round
is considered (a later one is ignored), so the chain work is one check per shard and round, and a
shard whose first signed reveal is wrong is absent. Clients learn their shard after ``reveal_by``.

**What each party can still do.** The DA operator chooses the block at ``seed_height`` before any
honest reveal exists (honest shards reveal only after that block), so grinding the block hash
(10,000 tries, or any number) does not help it: the seed stays uniform while one honest shard's
value is unknown. What remains is a choice between few outcomes, made after the honest reveals are
known: a shard that *withholds* its reveal picks between two seeds (reveal or not), ``b`` colluding
shards between ``2**b``; a DA operator that *censors* reveals in the window picks among the subsets
of the reveals it leaves out (``2**n`` for ``n`` shards, in the worst case of one operator that
builds every block of the window). ``benchmarks/seed_grinding.py`` measures these biases.
Withholding and censorship are visible: judging records the shards whose reveal is absent
(:class:`SeedDraw`), and the audit lists them for every round. ``SEED_CHAIN_LENGTH`` bounds the
rounds of a deployment; rekey it (``zkagg init``) before round ``L``.
"""

from __future__ import annotations

import enum
import functools
import hashlib
from dataclasses import dataclass
from typing import Final

from zkagg._errors import InvalidArgument, ProtocolError
from zkagg._protocol.keys import SigningKey
from zkagg._protocol.messages import SEED_VALUE_SIZE, RoundManifest, SeedReveal, decode_message
from zkagg._protocol.sharding import SEED_SIZE, deployment_namespaces
from zkagg._wire import Writer
from zkagg.da import DABackend, Header, Namespace

__all__ = [
    "SEED_CHAIN_LENGTH",
    "RevealReason",
    "RevealRefused",
    "SeedDraw",
    "block_hash_at",
    "chain_anchor",
    "chain_secret",
    "chain_value",
    "check_reveal",
    "draw_seed",
    "fetch_seed",
    "header_block_hash",
    "make_reveal",
    "round_seed",
]

#: ``L``: the length of every shard's seed chain, hence the last round a deployment can seed.
SEED_CHAIN_LENGTH: Final = 2**16
_CHAIN_TAG: Final = b"zkagg/seed-chain/v1\x00"
_SECRET_TAG: Final = b"zkagg/seed-chain-secret/v1\x00"
_SEED_TAG: Final = b"zkagg/assignment-seed/v1\x00"
_PRESENT: Final = 1
_ABSENT: Final = 0


# -- seed chains --------------------------------------------------------------------------------------


def chain_secret(signing: SigningKey) -> bytes:
    r"""The secret ``s`` at the foot of a shard aggregator's seed chain.

    ``SHA-256("zkagg/seed-chain-secret/v1\0" | Ed25519 private key)``: whoever holds the shard's
    signing key can rebuild the chain, nobody else can compute a value before it is revealed.
    """
    if not isinstance(signing, SigningKey):
        raise InvalidArgument(f"signing must be a SigningKey, not {type(signing).__name__}")
    return hashlib.sha256(_SECRET_TAG + signing.to_bytes()).digest()


def _iterate(aggregator_key: bytes, value: bytes, times: int) -> bytes:
    """``H^times(value)`` with ``H(x) = SHA-256(tag | aggregator_key | x)``."""
    prefix = hashlib.sha256(_CHAIN_TAG + aggregator_key)
    for _ in range(times):
        h = prefix.copy()
        h.update(value)
        value = h.digest()
    return value


@functools.lru_cache(maxsize=256)
def _anchor(aggregator_key: bytes, secret: bytes) -> bytes:
    return _iterate(aggregator_key, secret, SEED_CHAIN_LENGTH)


def chain_anchor(signing: SigningKey) -> bytes:
    """The public anchor ``H^L(s)`` of a shard aggregator's seed chain (``ShardKeys.seed_anchor``)."""
    return _anchor(signing.public_key, chain_secret(signing))


def chain_value(signing: SigningKey, round: int) -> bytes:
    """The value ``v_r = H^(L-r)(s)`` a shard aggregator reveals in round ``r`` (``1 <= r <= L``)."""
    if isinstance(round, bool) or not isinstance(round, int) or not 1 <= round <= SEED_CHAIN_LENGTH:
        raise InvalidArgument(f"round must be an integer in [1, {SEED_CHAIN_LENGTH}], not {round!r}")
    return _iterate(signing.public_key, chain_secret(signing), SEED_CHAIN_LENGTH - round)


def make_reveal(manifest: RoundManifest, shard: int, signing: SigningKey) -> SeedReveal:
    """The signed :class:`~zkagg._protocol.messages.SeedReveal` of ``shard`` for the manifest's round."""
    return SeedReveal(
        deployment=manifest.deployment,
        round=manifest.round,
        shard=shard,
        value=chain_value(signing, manifest.round),
        aggregator_key=signing.public_key,
    ).sign(signing)


# -- checking a reveal --------------------------------------------------------------------------------


class RevealReason(enum.StrEnum):
    """Why a :class:`~zkagg._protocol.messages.SeedReveal` does not count."""

    #: Another deployment, a shard outside the manifest, or not in the control namespace.
    MISBOUND = "misbound"
    #: A reveal of another round.
    WRONG_ROUND = "wrong-round"
    #: Not signed by the aggregator the manifest names for the shard, or the signature fails.
    BAD_SIGNATURE = "bad-signature"
    #: Included at or before ``seed_height`` (the block hash could then depend on it).
    EARLY = "early"
    #: Included after ``reveal_by``.
    LATE = "late"
    #: A round beyond the seed chains' length: no value exists (checked before any hashing).
    BEYOND_CHAIN = "beyond-chain"
    #: The value is not on the shard's chain: ``H^r(value)`` is not its anchor.
    BAD_CHAIN = "bad-chain"


class RevealRefused(ProtocolError):
    """A refused seed reveal, with its :class:`RevealReason`."""

    def __init__(self, reason: RevealReason, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason


def _check_signed(manifest: RoundManifest, reveal: SeedReveal, namespace: Namespace | None) -> None:
    """Binding and signature: whether this is the shard's own reveal of this round (no chain work)."""
    what = f"SeedReveal of shard {reveal.shard}"
    if reveal.deployment != manifest.deployment:
        raise RevealRefused(
            RevealReason.MISBOUND,
            f"{what}: deployment must be {manifest.deployment.hex()}, not {reveal.deployment.hex()}",
        )
    if reveal.round != manifest.round:
        raise RevealRefused(
            RevealReason.WRONG_ROUND, f"{what}: round must be {manifest.round}, not {reveal.round}"
        )
    if not 0 <= reveal.shard < manifest.num_shards:
        raise RevealRefused(
            RevealReason.MISBOUND, f"{what}: shard must be in [0, {manifest.num_shards}), not {reveal.shard}"
        )
    if namespace is not None:
        control = deployment_namespaces(manifest.deployment, manifest.num_shards).control
        if namespace != control:
            raise RevealRefused(
                RevealReason.MISBOUND,
                f"{what} must be posted in the control namespace {control.hex()}, not in {namespace.hex()}",
            )
    try:
        reveal.verify_signature(manifest.shard_keys[reveal.shard].signing_key)
    except ProtocolError as exc:
        raise RevealRefused(RevealReason.BAD_SIGNATURE, str(exc)) from exc


def _check_value(manifest: RoundManifest, reveal: SeedReveal, height: int) -> None:
    """Window, chain length (before any hashing), then the chain itself."""
    what = f"SeedReveal of shard {reveal.shard}"
    if isinstance(height, bool) or not isinstance(height, int) or height < 1:
        raise InvalidArgument(f"height must be a positive integer, not {height!r}")
    if height <= manifest.seed_height:
        raise RevealRefused(
            RevealReason.EARLY,
            f"{what} at height {height} is too early: it must be posted after seed height {manifest.seed_height}",
        )
    if height > manifest.reveal_by:
        raise RevealRefused(
            RevealReason.LATE,
            f"{what} at height {height} is past its deadline: reveal_by is {manifest.reveal_by}",
        )
    if not 1 <= reveal.round <= SEED_CHAIN_LENGTH:
        raise RevealRefused(
            RevealReason.BEYOND_CHAIN,
            f"{what}: round {reveal.round} is beyond the seed chains, which end at round {SEED_CHAIN_LENGTH}",
        )
    anchor = manifest.shard_keys[reveal.shard].seed_anchor
    if _iterate(reveal.aggregator_key, reveal.value, reveal.round) != anchor:
        raise RevealRefused(
            RevealReason.BAD_CHAIN,
            f"{what}: value {reveal.value.hex()} is not round {reveal.round}'s value of the shard's seed "
            f"chain (anchor {anchor.hex()})",
        )


def check_reveal(
    manifest: RoundManifest, reveal: SeedReveal, *, height: int, namespace: Namespace | None = None
) -> None:
    """Check a seed reveal read at ``height`` (in ``namespace``, when given) against the manifest.

    The manifest must already be checked against the deployment
    (:func:`~zkagg._protocol.guard.check_manifest_rules`): its shard keys and anchors are the
    deployment's.

    Raises
    ------
    RevealRefused
        With the :class:`RevealReason`: another deployment, shard or namespace (``misbound``),
        another round (``wrong-round``), not signed by the shard's aggregator (``bad-signature``),
        included at or before ``seed_height`` (``early``) or after ``reveal_by`` (``late``), a round
        beyond the chains (``beyond-chain``), or a value off the shard's chain (``bad-chain``).
    """
    if not isinstance(reveal, SeedReveal):
        raise InvalidArgument(f"reveal must be a SeedReveal, not {type(reveal).__name__}")
    _check_signed(manifest, reveal, namespace)
    _check_value(manifest, reveal, height)


# -- the block hash -----------------------------------------------------------------------------------


def header_block_hash(header: Header, height: int) -> bytes:
    """The block hash of ``header``, which must be at ``height``, recomputed from its fields.

    Raises
    ------
    ProtocolError
        The header is at another height, does not carry the fields its hash is computed from, or
        its fields do not hash to the block hash it states (a forged hash).
    """
    if header.height != height:
        raise ProtocolError(f"seed header must be at height {height}, not {header.height}")
    try:
        computed = header.computed_hash()
    except InvalidArgument as exc:
        raise ProtocolError(
            f"the header at height {height} does not give the fields its block hash is computed from: {exc}"
        ) from exc
    try:
        stated = bytes.fromhex(header.hash)
    except ValueError as exc:
        raise ProtocolError(f"seed header hash must be hex, not {header.hash!r:.80}") from exc
    if stated != computed:
        raise ProtocolError(
            f"the header at height {height} states block hash {header.hash[:80]}, but its fields hash to "
            f"{computed.hex().upper()}: a forged header hash"
        )
    if len(computed) != SEED_SIZE:  # pragma: no cover - SHA-256 Merkle roots are 32 bytes
        raise ProtocolError(f"seed header hash must be {SEED_SIZE} bytes, not {len(computed)}")
    return computed


def block_hash_at(backend: DABackend, height: int, timeout: float = 60.0) -> bytes:
    """Wait for ``height`` and return its block hash, recomputed from the header's fields."""
    header = backend.wait_for_height(height, timeout=timeout)
    if header.height != height:
        header = backend.get_header(height)
    return header_block_hash(header, height)


# -- the seed -----------------------------------------------------------------------------------------


def round_seed(block_hash: bytes, reveals: tuple[bytes | None, ...]) -> bytes:
    """The assignment seed from the block hash at ``seed_height`` and each shard's reveal (see the module)."""
    w = Writer.raw()
    w.fixed("tag", _SEED_TAG, len(_SEED_TAG))
    w.fixed("block_hash", block_hash, SEED_SIZE)
    for k, value in enumerate(reveals):
        if value is None:
            w.u8(f"reveals[{k}]", _ABSENT)
        else:
            w.u8(f"reveals[{k}]", _PRESENT)
            w.fixed(f"reveals[{k}]", value, SEED_VALUE_SIZE)
    return hashlib.sha256(w.getvalue()).digest()


@dataclass(frozen=True)
class SeedDraw:
    """How a round's seed came about, as every party recomputes it from the DA layer.

    Attributes
    ----------
    block_hash
        The block hash at ``seed_height``, recomputed from the header's fields.
    reveals
        Per shard, the chain value that counted, or ``None`` when its reveal is absent.
    refused
        Why reveals in the window did not count (``"height h: reason: detail"``), in DA order.
    seed
        :func:`round_seed` of the two.
    """

    block_hash: bytes
    reveals: tuple[bytes | None, ...]
    refused: tuple[str, ...]
    seed: bytes

    @property
    def absent(self) -> list[int]:
        """Shards whose reveal did not count (withheld, censored, late or wrong)."""
        return [k for k, v in enumerate(self.reveals) if v is None]


def draw_seed(backend: DABackend, manifest: RoundManifest, timeout: float = 60.0) -> SeedDraw:
    """Wait for the manifest's ``reveal_by`` and recompute the round's seed from the DA layer alone.

    Reads the control namespace in ``(seed_height, reveal_by]`` in DA order. For each shard the
    first reveal that its aggregator signed for this deployment and round is the one considered: it
    counts when it is on the shard's chain (:func:`check_reveal`), otherwise the shard is absent.
    """
    block_hash = block_hash_at(backend, manifest.seed_height, timeout)
    backend.wait_for_height(manifest.reveal_by, timeout=timeout)
    control = deployment_namespaces(manifest.deployment, manifest.num_shards).control
    reveals: list[bytes | None] = [None] * manifest.num_shards
    considered: set[int] = set()
    refused: list[str] = []
    for height in range(manifest.seed_height + 1, manifest.reveal_by + 1):
        for blob in backend.get_all(height, [control]):
            try:
                message = decode_message(blob.data)
            except ProtocolError:
                continue
            if not isinstance(message, SeedReveal):
                continue
            try:
                _check_signed(manifest, message, blob.namespace)
            except RevealRefused as exc:
                refused.append(f"height {height}: {exc}")
                continue
            if message.shard in considered:
                continue
            considered.add(message.shard)
            try:
                _check_value(manifest, message, height)
            except RevealRefused as exc:
                refused.append(f"height {height}: {exc}")
                continue
            reveals[message.shard] = message.value
    values = tuple(reveals)
    return SeedDraw(block_hash, values, tuple(refused), round_seed(block_hash, values))


def fetch_seed(backend: DABackend, manifest: RoundManifest, timeout: float = 60.0) -> bytes:
    """The round's assignment seed (:func:`draw_seed`), what clients, shards, judging and the audit use."""
    return draw_seed(backend, manifest, timeout).seed
