"""Binding, replay and deadline checks for the messages of one round.

A valid signature proves who wrote a message, not that it belongs here. Before a verifier (shard
aggregator, coordinator, auditor) uses a decoded message, :class:`MessageGuard` checks, in order:

1. **binding**: the deployment and round are the manifest's (a message of an earlier round is a
   replay), the shard exists, and the blob sits in the namespace of that shard (or the control
   namespace);
2. **identity and signature**: the signer is the key the manifest (or the client registry) names
   for that role, and the signature verifies;
3. **assignment**: a client update's shard is the one :func:`~zkagg._protocol.sharding.assign_shard` gives
   the client this round;
4. **deadline**: the blob's height lies in its phase's window (:mod:`zkagg._protocol.sharding`);
5. **replay**: the same message bytes were not already accepted (at this or another height), and
   the client (or shard, or coordinator) has not already had a message accepted this round;
6. **inclusion** (shard results): every included update is one this guard accepted for that
   shard, at the same height and blob commitment.

Each failure is a :class:`~zkagg.ProtocolError` with its own message. Only messages that pass every
check are recorded, so a rejected message never uses up a client's or shard's slot, and the first
valid message wins. The guard is a one-pass filter: feed it blobs in the order the DA layer fixes,
height by height and within a height as ``get_all`` returns them (namespace order, then position in
the block), so that every verifier, and a coordinator restarted from scratch, reaches the same
decisions; build a fresh guard to re-read a round.
:meth:`MessageGuard.judge_shard_result` returns the :class:`~zkagg._protocol.messages.VerdictReason` of a
failure instead of raising, which is what the coordinator records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from zkagg._aggregation.norm import NormProof, chunks_per_proof, verify_norm
from zkagg._errors import InvalidArgument, ProtocolError
from zkagg._kzg.commit import UpdateCommitment
from zkagg._protocol import workload
from zkagg._protocol.deployment import Deployment
from zkagg._protocol.keys import client_id_for
from zkagg._protocol.messages import (
    ClientUpdate,
    GlobalResult,
    IncludedUpdate,
    RoundManifest,
    ShardKeys,
    ShardResult,
    VerdictReason,
)
from zkagg._protocol.seed import SEED_CHAIN_LENGTH
from zkagg._protocol.sharding import (
    AVAILABLE_VERDICTS,
    DeploymentNamespaces,
    assign_shard,
    deployment_namespaces,
    has_quorum,
)
from zkagg.da import Namespace

__all__ = [
    "QUALITY_CIRCUIT",
    "MessageGuard",
    "check_manifest",
    "check_manifest_rules",
    "verify_client_norm",
]

#: The name of the shard-model quality circuit in a manifest's ``circuits``.
QUALITY_CIRCUIT: Final = "quality"


class _Rejected(ProtocolError):
    """A guard rejection that remembers which verdict reason it stands for (private)."""

    def __init__(self, reason: VerdictReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_manifest(
    manifest: RoundManifest,
    *,
    height: int,
    coordinator_key: bytes,
    deployment: bytes | None = None,
    round: int | None = None,
) -> None:
    """Check a manifest read from the DA layer at ``height`` before trusting it.

    Parameters
    ----------
    manifest
        The decoded manifest.
    height
        The height of the manifest's blob.
    coordinator_key
        The coordinator's Ed25519 public key, pinned from the deployment's configuration.
    deployment, round
        The deployment and round the reader expects, when it expects particular ones.

    Raises
    ------
    ProtocolError
        If the manifest belongs to another deployment or round, is not signed by
        ``coordinator_key``, or names a seed height at or below its own height (the coordinator
        could then choose the cohorts).
    """
    if deployment is not None and manifest.deployment != deployment:
        raise ProtocolError(
            f"RoundManifest deployment must be {deployment.hex()}, not {manifest.deployment.hex()}"
        )
    if round is not None and manifest.round != round:
        raise ProtocolError(f"RoundManifest round must be {round}, not {manifest.round}")
    manifest.verify_signature(coordinator_key)
    if manifest.seed_height <= height:
        raise ProtocolError(
            f"RoundManifest of round {manifest.round} posted at height {height} must name a seed height "
            f"above {height} (so that nobody knows the seed when it is signed), not {manifest.seed_height}"
        )


def check_manifest_rules(manifest: RoundManifest, deployment: Deployment) -> None:
    """Check everything in a manifest that the deployment fixes, before anyone follows it.

    A coordinator signs manifests, but it does not choose the rules of a round: the shard keys
    clients seal to and the anchors of their seed chains, the spec (hence the SRS and the domain),
    scale, chunk size, number of shards, quorum, the windows after the seed height (reveals,
    updates, results) and the names of the circuits are the deployment's
    (``deployment.json``, whose hash is the deployment id). Clients, shards, judging and the audit
    all call this, so a manifest that names other keys or weaker rules is followed by nobody.
    The quality threshold depends on the round's global model as well; it is checked where the
    model is read (:func:`zkagg._protocol.reading.check_round_start`).

    Raises
    ------
    ProtocolError
        A field differs from what the deployment fixes; the message names the field, what it must
        be and what it was. A round beyond the seed chains
        (:data:`~zkagg._protocol.seed.SEED_CHAIN_LENGTH`) is refused too.
    """
    what = f"RoundManifest of round {manifest.round}"
    if manifest.round > SEED_CHAIN_LENGTH:
        raise ProtocolError(
            f"{what}: round must be at most {SEED_CHAIN_LENGTH}, where the shards' seed chains end "
            "(rekey the deployment)"
        )
    reveal_by = manifest.seed_height + deployment.reveal_window
    updates_by = reveal_by + deployment.update_window
    fixed: tuple[tuple[str, object, object], ...] = (
        ("deployment", manifest.deployment, deployment.deployment_id),
        ("coordinator_key", manifest.coordinator_key, deployment.coordinator_key),
        ("num_shards", manifest.num_shards, deployment.n_shards),
        ("aggregation_rule", manifest.aggregation_rule, deployment.rule),
        ("aggregation_spec", manifest.aggregation_spec, deployment.spec().to_bytes()),
        ("quantization_scale", manifest.quantization_scale, deployment.scale),
        ("chunk_size", manifest.chunk_size, deployment.chunk_size),
        ("quorum", manifest.quorum, deployment.quorum),
        ("reveal_by", manifest.reveal_by, reveal_by),
        ("updates_by", manifest.updates_by, updates_by),
        ("results_by", manifest.results_by, updates_by + deployment.result_window),
        (
            "circuits",
            tuple(c.circuit_id for c in manifest.circuits),
            (QUALITY_CIRCUIT,) if deployment.quality else (),
        ),
    )
    for k, keys in enumerate(deployment.shard_keys):
        named = manifest.shard_keys[k] if k < len(manifest.shard_keys) else None
        if named != keys:
            raise ProtocolError(
                f"{what}: shard {k}'s keys must be the deployment's ({_show_keys(keys)}), not "
                + ("missing" if named is None else _show_keys(named))
            )
    for name, have, want in fixed:
        if have != want:
            raise ProtocolError(f"{what}: {name} must be the deployment's {_show(want)}, not {_show(have)}")
    if not deployment.quality and manifest.quality_threshold_ppm != 0:
        raise ProtocolError(
            f"{what}: quality_threshold_ppm must be 0 in a deployment without the quality gate, "
            f"not {manifest.quality_threshold_ppm}"
        )


def _show_keys(keys: ShardKeys) -> str:
    return (
        f"signing {keys.signing_key.hex()[:16]}..., encryption {keys.encryption_key.hex()[:16]}..., "
        f"seed anchor {keys.seed_anchor.hex()[:16]}..."
    )


def _show(value: object) -> str:
    if isinstance(value, bytes):
        return value.hex() if len(value) <= 16 else f"{value[:8].hex()}... ({len(value)} bytes)"
    return repr(value)


@dataclass(frozen=True)
class _Seen:
    height: int
    commitment: bytes | None
    #: For a shard result: whether it includes no update (only such a result may be judged empty).
    empty: bool = False


class MessageGuard:
    """The stateful checks of one round, as one verifier sees it (see the module docstring).

    Parameters
    ----------
    manifest
        The round's manifest, already checked with :func:`check_manifest`.
    seed
        The assignment seed (:func:`zkagg._protocol.seed.fetch_seed`).
    client_registry
        Known clients, ``{client id: Ed25519 public key}``. Without one, a client id must be
        :func:`zkagg._protocol.keys.client_id_for` of the update's key (self-certifying ids). With one, the
        key must be the registered one, and unregistered clients are rejected.
    max_sample_count
        The deployment's bound on declared sample counts (:attr:`Deployment.sample_count_bound`);
        an update declaring more is rejected. ``None``: no bound beyond the encoding's.
    """

    def __init__(
        self,
        manifest: RoundManifest,
        seed: bytes,
        *,
        client_registry: Mapping[bytes, bytes] | None = None,
        max_sample_count: int | None = None,
    ) -> None:
        if not isinstance(manifest, RoundManifest):
            raise InvalidArgument(f"manifest must be a RoundManifest, not {type(manifest).__name__}")
        self.manifest = manifest
        self.seed = seed
        self.namespaces: DeploymentNamespaces = deployment_namespaces(
            manifest.deployment, manifest.num_shards
        )
        self._registry = dict(client_registry) if client_registry is not None else None
        self._max_samples = max_sample_count
        self._ids: dict[bytes, int] = {}  # message id -> height accepted
        self._updates: list[dict[bytes, _Seen]] = [{} for _ in range(manifest.num_shards)]
        self._client_shard: dict[bytes, int] = {}
        self._results: dict[int, _Seen] = {}
        self._global: int | None = None
        # Fail early on a bad seed rather than at the first update.
        assign_shard(seed, manifest.deployment, manifest.round, b"\x00", manifest.num_shards)

    # -- accessors ------------------------------------------------------------------------------

    def accepted_updates(self, shard: int) -> list[IncludedUpdate]:
        """Return the updates accepted for ``shard`` (those checked with a blob commitment)."""
        self.manifest.shard_key(shard)  # raises for a shard outside the manifest
        return [
            IncludedUpdate(cid, seen.height, seen.commitment)
            for cid, seen in self._updates[shard].items()
            if seen.commitment is not None
        ]

    def accepted_shards(self) -> list[int]:
        """Return the shards whose result this guard accepted, in order."""
        return sorted(self._results)

    # -- shared steps ---------------------------------------------------------------------------

    def _binding(self, what: str, deployment: bytes, round_: int) -> None:
        m = self.manifest
        if deployment != m.deployment:
            raise _Rejected(
                VerdictReason.MISBOUND,
                f"{what} deployment must be {m.deployment.hex()}, not {deployment.hex()}",
            )
        if round_ < m.round:
            raise _Rejected(
                VerdictReason.REPLAYED,
                f"{what} round must be {m.round}, not {round_} (a message of an earlier round replayed)",
            )
        if round_ != m.round:
            raise _Rejected(VerdictReason.MISBOUND, f"{what} round must be {m.round}, not {round_}")

    def _shard(self, what: str, shard: int) -> None:
        if not 0 <= shard < self.manifest.num_shards:
            raise _Rejected(
                VerdictReason.MISBOUND,
                f"{what} shard must be in [0, {self.manifest.num_shards}), not {shard}",
            )

    def _namespace(self, what: str, namespace: Namespace | None, expected: Namespace, where: str) -> None:
        if namespace is not None and namespace != expected:
            raise _Rejected(
                VerdictReason.MISBOUND,
                f"{what} must be posted in {where} namespace {expected.hex()}, not in {namespace.hex()}",
            )

    def _signature(self, message: ClientUpdate | ShardResult | GlobalResult, key: bytes) -> None:
        try:
            message.verify_signature(key)
        except ProtocolError as exc:
            raise _Rejected(VerdictReason.BAD_SIGNATURE, str(exc)) from exc

    def _window(
        self, what: str, height: int, after: int, until: int, after_name: str, until_name: str
    ) -> None:
        if isinstance(height, bool) or not isinstance(height, int) or height < 1:
            raise InvalidArgument(f"height must be a positive integer, not {height!r}")
        if height <= after:
            raise _Rejected(
                VerdictReason.MISBOUND,
                f"{what} at height {height} is too early: it must be posted after {after_name} {after}",
            )
        if height > until:
            raise _Rejected(
                VerdictReason.LATE,
                f"{what} at height {height} is past its deadline: {until_name} is {until}",
            )

    def _replay(self, what: str, message_id: bytes) -> None:
        seen = self._ids.get(message_id)
        if seen is not None:
            raise _Rejected(
                VerdictReason.REPLAYED,
                f"{what} is a replay: the same message was already accepted at height {seen}",
            )

    # -- client updates -------------------------------------------------------------------------

    def check_client_update(
        self,
        update: ClientUpdate,
        *,
        height: int,
        namespace: Namespace | None = None,
        blob_commitment: bytes | None = None,
    ) -> None:
        """Check a client update read at ``height`` and record it.

        Parameters
        ----------
        update
            The decoded update.
        height
            The height of its blob.
        namespace
            The namespace of its blob (checked when given).
        blob_commitment
            The blob's share commitment; recorded so that shard results can be checked against it.

        Raises
        ------
        ProtocolError
            Another deployment, round or shard namespace; a shard outside the manifest; a client id
            not bound to the key; a bad signature; a client not assigned to the shard; posted at or
            before ``reveal_by`` (when the seed is not known yet) or after ``updates_by``; a sample count above the bound; a replay, or a second
            update of the same client.
        """
        what = f"ClientUpdate of client {update.client_id.hex()}"
        m = self.manifest
        self._binding(what, update.deployment, update.round)
        self._shard(what, update.shard)
        self._namespace(what, namespace, self.namespaces.shard(update.shard), f"shard {update.shard}'s")
        if self._registry is not None:
            registered = self._registry.get(update.client_id)
            if registered is None:
                raise _Rejected(VerdictReason.MISBOUND, f"{what}: the client is not registered")
            if registered != update.client_key:
                raise _Rejected(
                    VerdictReason.BAD_SIGNATURE,
                    f"{what}: client key must be the registered {registered.hex()}, "
                    f"not {update.client_key.hex()}",
                )
        elif update.client_id != client_id_for(update.client_key):
            raise _Rejected(
                VerdictReason.BAD_SIGNATURE,
                f"{what}: client id must be {client_id_for(update.client_key).hex()} (derived from its "
                f"key {update.client_key.hex()}), not {update.client_id.hex()}",
            )
        self._signature(update, update.client_key)
        assigned = assign_shard(self.seed, m.deployment, m.round, update.client_id, m.num_shards)
        if assigned != update.shard:
            raise _Rejected(
                VerdictReason.MISBOUND,
                f"{what} is for shard {update.shard}, but the client is assigned to shard {assigned} "
                f"in round {m.round}",
            )
        self._window(what, height, m.reveal_by, m.updates_by, "reveal_by", "updates_by")
        if self._max_samples is not None and update.sample_count > self._max_samples:
            raise _Rejected(
                VerdictReason.MALFORMED,
                f"{what}: sample_count must be at most the deployment's bound {self._max_samples}, "
                f"not {update.sample_count}",
            )
        message_id = update.message_id()
        self._replay(what, message_id)
        if update.client_id in self._client_shard:
            earlier = self._updates[self._client_shard[update.client_id]][update.client_id]
            raise _Rejected(
                VerdictReason.REPLAYED,
                f"{what} is a duplicate: the client already has an update in round {m.round} "
                f"(at height {earlier.height})",
            )
        self._ids[message_id] = height
        self._client_shard[update.client_id] = update.shard
        self._updates[update.shard][update.client_id] = _Seen(height, blob_commitment)

    def judge_client_update(
        self,
        update: ClientUpdate,
        *,
        height: int,
        namespace: Namespace | None = None,
        blob_commitment: bytes | None = None,
    ) -> tuple[VerdictReason, str]:
        """Run :meth:`check_client_update` and return ``(reason, detail)`` instead of raising.

        Returns ``(VerdictReason.ACCEPTED, "")`` when the update passes (and records it).
        """
        try:
            self.check_client_update(
                update, height=height, namespace=namespace, blob_commitment=blob_commitment
            )
        except _Rejected as exc:
            return exc.reason, str(exc)
        return VerdictReason.ACCEPTED, ""

    # -- shard results --------------------------------------------------------------------------

    def _shard_result_steps(
        self,
        result: ShardResult,
        height: int,
        namespace: Namespace | None,
        blob_commitment: bytes | None,
        check_inclusions: bool,
    ) -> Callable[[], None]:
        what = f"ShardResult of shard {result.shard}"
        m = self.manifest
        self._binding(what, result.deployment, result.round)
        self._shard(what, result.shard)
        self._namespace(what, namespace, self.namespaces.control, "the control")
        self._signature(result, m.shard_keys[result.shard].signing_key)
        self._window(what, height, m.updates_by, m.results_by, "updates_by", "results_by")
        message_id = result.message_id()
        self._replay(what, message_id)
        if result.shard in self._results:
            raise _Rejected(
                VerdictReason.REPLAYED,
                f"{what} is a duplicate: shard {result.shard} already has a result in round {m.round} "
                f"(at height {self._results[result.shard].height})",
            )
        if check_inclusions:
            self._check_accounting(what, result)

        def record() -> None:
            self._ids[message_id] = height
            self._results[result.shard] = _Seen(height, blob_commitment, result.is_empty)

        return record

    def _check_accounting(self, what: str, result: ShardResult) -> None:
        """Every listed update is one accepted for the shard, and every accepted one is listed."""
        accepted = self._updates[result.shard]
        listed = [("includes", u.client_id, u.height, u.commitment) for u in result.included]
        listed += [("excludes", x.client_id, x.height, x.commitment) for x in result.excluded]
        for verb, client_id, item_height, commitment in listed:
            seen = accepted.get(client_id)
            if seen is None:
                raise _Rejected(
                    VerdictReason.BAD_INCLUSION,
                    f"{what} {verb} client {client_id.hex()}, which has no accepted update "
                    f"in shard {result.shard} this round",
                )
            if seen.height != item_height or (seen.commitment is not None and seen.commitment != commitment):
                posted = seen.commitment.hex() if seen.commitment is not None else "?"
                raise _Rejected(
                    VerdictReason.BAD_INCLUSION,
                    f"{what} {verb} client {client_id.hex()} at height {item_height} with "
                    f"blob commitment {commitment.hex()}, but its accepted update is at height "
                    f"{seen.height} with blob commitment {posted}",
                )
        named = {client_id for _, client_id, _, _ in listed}
        left_out = [(cid, seen) for cid, seen in accepted.items() if cid not in named]
        if left_out:
            cid, seen = left_out[0]
            raise _Rejected(
                VerdictReason.UNJUSTIFIED_EXCLUSION,
                f"{what} leaves out {len(left_out)} accepted update(s) with no reason, the first of "
                f"client {cid.hex()} at height {seen.height}: a result must include or exclude (with "
                "a reason) every update posted to its shard in time",
            )

    def check_shard_result(
        self,
        result: ShardResult,
        *,
        height: int,
        namespace: Namespace | None = None,
        blob_commitment: bytes | None = None,
        check_inclusions: bool = True,
    ) -> None:
        """Check a shard result read at ``height`` and record it.

        Parameters
        ----------
        result
            The decoded result.
        height
            The height of its blob.
        namespace
            The namespace of its blob (checked when given: the control namespace).
        blob_commitment
            The blob's share commitment; recorded so that the global result's verdicts can be
            checked against it.
        check_inclusions
            Whether the result must account for exactly the updates this guard accepted for the
            shard: each included or excluded (whether an exclusion's reason holds is judging's
            work, :func:`zkagg._protocol.inclusion.check_exclusion`).

        Raises
        ------
        ProtocolError
            Another deployment or round; a shard outside the manifest; not signed by the shard's
            aggregator; posted before ``updates_by`` or after ``results_by``; a replay, or a second
            result of the shard; an included or excluded update that was not posted (where it says)
            in time; an accepted update the result neither includes nor excludes.
        """
        self._shard_result_steps(result, height, namespace, blob_commitment, check_inclusions)()

    def judge_shard_result(
        self,
        result: ShardResult,
        *,
        height: int,
        namespace: Namespace | None = None,
        blob_commitment: bytes | None = None,
        check_inclusions: bool = True,
    ) -> tuple[VerdictReason, str]:
        """Run :meth:`check_shard_result` and return ``(reason, detail)`` instead of raising.

        Returns ``(VerdictReason.ACCEPTED, "")`` when the result passes (and records it).
        """
        try:
            self.check_shard_result(
                result,
                height=height,
                namespace=namespace,
                blob_commitment=blob_commitment,
                check_inclusions=check_inclusions,
            )
        except _Rejected as exc:
            return exc.reason, str(exc)
        return VerdictReason.ACCEPTED, ""

    # -- global results -------------------------------------------------------------------------

    def check_global_result(
        self,
        result: GlobalResult,
        *,
        height: int,
        namespace: Namespace | None = None,
        check_verdicts: bool = True,
    ) -> None:
        """Check the coordinator's global result read at ``height`` and record it.

        Parameters
        ----------
        result
            The decoded global result.
        height
            The height of its blob.
        namespace
            The namespace of its blob (checked when given: the control namespace).
        check_verdicts
            Whether every verdict that counts for the quorum (*accepted*, *below-threshold* or
            *empty*, :data:`~zkagg._protocol.sharding.AVAILABLE_VERDICTS`) must name a shard result
            this guard accepted, at the same height and blob commitment (when recorded), so that a
            coordinator cannot make up an available shard; and *empty* exactly for a result that
            includes no update. Needs the round's shard results fed first; a reader that only
            wants the global model may pass ``False``. Exclusions, aggregates and quality proofs
            are not second-guessed here (a valid result relabelled *below-threshold*, or an empty
            one with unjust exclusions labelled *empty*, is the audit's to find: it re-judges).

        Raises
        ------
        ProtocolError
            Another deployment or round; not signed by the manifest's coordinator; posted at or
            before ``results_by``; verdicts that do not cover exactly the manifest's shards; an
            accepted or below-threshold verdict for a result this guard did not accept; a global
            model without quorum (:func:`~zkagg._protocol.sharding.has_quorum`),
            or quorum without a global model; a second global result.
        """
        what = "GlobalResult"
        m = self.manifest
        self._binding(what, result.deployment, result.round)
        self._namespace(what, namespace, self.namespaces.control, "the control")
        self._signature(result, m.coordinator_key)
        self._window(what, height, m.results_by, 2**64 - 1, "results_by", "the end of the chain")
        judged = [v.shard for v in result.verdicts]
        if judged != list(range(m.num_shards)):
            raise _Rejected(
                VerdictReason.MISBOUND,
                f"{what} must have one verdict for each of the {m.num_shards} shards, "
                f"not verdicts for shards {judged}",
            )
        if check_verdicts:
            for v in result.verdicts:
                if v.reason not in AVAILABLE_VERDICTS:
                    continue
                if v.result is None:  # accepted verdicts cannot decode without one
                    raise _Rejected(
                        VerdictReason.BAD_INCLUSION,
                        f"{what} judges shard {v.shard} {v.reason.value} but names no result of it",
                    )
                seen = self._results.get(v.shard)
                if (
                    seen is None
                    or seen.height != v.result.height
                    or (seen.commitment is not None and seen.commitment != v.result.commitment)
                ):
                    where = "none" if seen is None else f"the one at height {seen.height}"
                    raise _Rejected(
                        VerdictReason.BAD_INCLUSION,
                        f"{what} judges shard {v.shard} {v.reason.value} on its result at height "
                        f"{v.result.height} (blob {v.result.commitment.hex()}), but the accepted result "
                        f"of shard {v.shard} is {where}",
                    )
                if (v.reason is VerdictReason.EMPTY) != seen.empty:
                    kind = "includes no update" if seen.empty else "includes updates"
                    raise _Rejected(
                        VerdictReason.BAD_INCLUSION,
                        f"{what} judges shard {v.shard} {v.reason.value}, but its result at height "
                        f"{seen.height} {kind}",
                    )
        if (result.global_model is not None) != has_quorum(m, result.verdicts):
            state = "publishes" if result.global_model is not None else "does not publish"
            accepted = len(result.accepted_shards)
            available = sum(v.reason in AVAILABLE_VERDICTS for v in result.verdicts)
            raise _Rejected(
                VerdictReason.MISBOUND,
                f"{what} {state} a global model with {available} available and {accepted} accepted "
                f"shards, but the quorum is {m.quorum} available shards and at least one accepted",
            )
        self._replay(what, result.message_id())
        if self._global is not None:
            raise _Rejected(
                VerdictReason.REPLAYED,
                f"{what} is a duplicate: round {m.round} already has a global result (at height {self._global})",
            )
        self._ids[result.message_id()] = height
        self._global = height


def verify_client_norm(deployment: Deployment, update: ClientUpdate) -> None:
    """Check that a client update carries a valid norm proof for its own commitment. ``None`` or raises.

    The bound is the deployment's ``client_norm_bound``; the proof must group as many chunks per
    proof as the deployment's domain fixes for its range-check method
    (:func:`~zkagg._aggregation.norm.chunks_per_proof`), so that verifiers only ever build those two circuits.

    Raises
    ------
    InvalidArgument
        The deployment sets no ``client_norm_bound``.
    ProtocolError
        The update carries no proof, its proof or commitment does not decode, its commitment does
        not cover the model's number of values, or the proof groups another number of chunks than
        the deployment fixes.
    InvalidProof, CommitmentMismatch
        A proof does not verify, is bound to other commitments than the update's, or shows a norm
        above the bound (:func:`~zkagg.verify_norm`).
    """
    bound = deployment.client_norm_bound
    if bound is None:
        raise InvalidArgument(f"deployment {deployment.name!r} sets no client_norm_bound: nothing to verify")
    who = f"update of client {update.client_id.hex()}"
    if update.proofs is None:
        raise ProtocolError(f"{who} carries no norm proof, but the deployment bounds updates to {bound:g}")
    commitment = UpdateCommitment.from_bytes(update.commitments)
    # The number of proofs to verify follows the commitment's length: fixed by the deployment
    # before any proof is read, not by the client.
    n_params = workload.n_params(deployment)
    if commitment.length != n_params:
        raise ProtocolError(
            f"{who}: its commitment covers {commitment.length} values, not the model's {n_params}"
        )
    proof = NormProof.from_bytes(update.proofs)
    domain = deployment.spec().domain()
    fixed = chunks_per_proof(domain, method=proof.method)
    if proof.chunks_per_proof != fixed:
        raise ProtocolError(
            f"{who}: its norm proof must group {fixed} chunks per proof with method {proof.method!r}, "
            f"not {proof.chunks_per_proof}"
        )
    verify_norm(domain, commitment, proof, l2_bound=bound)
