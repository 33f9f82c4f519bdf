"""Complete inclusion: a shard accounts for every update posted to it in time (DESIGN.md §1, step 3).

An update that passes the public checks of :class:`~zkagg._protocol.guard.MessageGuard` (signed by
a registered client, assigned to the shard, in the window, within the sample-count bound, no
replay) must appear in its shard's :class:`~zkagg._protocol.messages.ShardResult`, either included
or excluded with an :class:`~zkagg._protocol.messages.ExclusionReason` that anyone can check from
the DA layer. The guard refuses a result that leaves one out; judging checks each exclusion with
:func:`check_exclusion`. Either failure excludes the shard as
:attr:`~zkagg._protocol.messages.VerdictReason.UNJUSTIFIED_EXCLUSION`, so a shard cannot choose
the inputs of its median by dropping clients it dislikes.

The shard screens an update with :func:`screen_update`: public faults first (ephemeral key,
commitment domain, norm proof), then the sealed content. Only when the content is at fault does it
disclose that one ciphertext's shared secret (:mod:`zkagg._protocol.disclosure`), so a faulty
client's update may be revealed and an honest client's never is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zkagg._aggregation.compose import MAX_MODEL_QUANTA
from zkagg._errors import ArtifactError, ProtocolError, ZkaggError
from zkagg._field import IntArray, dequantize
from zkagg._kzg.commit import UpdateCommitment, commit_update
from zkagg._protocol import workload
from zkagg._protocol.deployment import Deployment
from zkagg._protocol.disclosure import check_ephemeral, disclose, open_disclosed
from zkagg._protocol.guard import verify_client_norm
from zkagg._protocol.keys import EncryptionKey, update_aad
from zkagg._protocol.messages import DISCLOSED_REASONS, ClientUpdate, ExclusionReason
from zkagg._protocol.vectors import decode_vector

__all__ = ["Fault", "check_exclusion", "screen_update"]


@dataclass(frozen=True)
class Fault:
    """Why a shard leaves an update out: the reason, what it found, and the evidence it posts."""

    reason: ExclusionReason
    detail: str
    evidence: bytes = b""


def _public_fault(dep: Deployment, update: ClientUpdate, *, check_norm: bool) -> Fault | UpdateCommitment:
    """The first fault anyone can see without opening the ciphertext, or the update's decoded commitment."""
    try:
        check_ephemeral(update.ciphertext, _aad(update), update.ephemeral_proof)
    except ProtocolError as exc:
        return Fault(ExclusionReason.BAD_EPHEMERAL_KEY, str(exc))
    try:
        claimed = UpdateCommitment.from_bytes(update.commitments)
        dep.spec().domain().require_same(claimed.domain, "the client's commitment")
    except ZkaggError as exc:
        return Fault(ExclusionReason.BAD_COMMITMENT, str(exc))
    # Before the norm proof: its number of EZKL proofs follows the commitment's length, which a
    # client could otherwise inflate hundreds of times (one proof of zero chunks repeated) to make
    # every verifier work for it.
    n_params = workload.n_params(dep)
    if claimed.length != n_params:
        return Fault(
            ExclusionReason.BAD_COMMITMENT,
            f"the client's commitment covers {claimed.length} values, not the model's {n_params}",
        )
    if check_norm and dep.client_norm_bound is not None:
        try:
            verify_client_norm(dep, update)
        except ArtifactError:
            raise  # a local failure (a missing SRS or key file) is not the client's fault
        except ZkaggError as exc:
            return Fault(ExclusionReason.BAD_NORM_PROOF, f"no valid norm proof: {exc}")
    return claimed


def _content_fault(
    dep: Deployment, global_q: IntArray, update: ClientUpdate, claimed: UpdateCommitment, plaintext: bytes
) -> Fault | IntArray:
    """The opened update as quantized values, or what is wrong with it."""
    n_params = global_q.size
    try:
        q, scale = decode_vector(plaintext, what="client update")
    except ZkaggError as exc:
        return Fault(ExclusionReason.BAD_CONTENT, str(exc))
    if scale != dep.scale or q.size != n_params:
        return Fault(
            ExclusionReason.BAD_CONTENT,
            f"client update must hold {n_params} values at scale {dep.scale}, not {q.size} at scale {scale}",
        )
    # Every rule then aggregates models within MAX_MODEL_QUANTA (a weighted mean, a median or a
    # trimmed mean of such values stays within it), so one client's huge update cannot get an
    # honest shard excluded for an out-of-range aggregate.
    bad = np.flatnonzero(np.abs(global_q.astype(object) + q.astype(object)) > MAX_MODEL_QUANTA)
    if bad.size:
        j = int(bad[0])
        return Fault(
            ExclusionReason.BAD_CONTENT,
            f"client update value {j} is {int(q[j])} quanta: the client's model would leave the range "
            f"of a model (+-2**53 quanta)",
        )
    if claimed != commit_update(dep.spec(), dequantize(q, dep.scale)):
        return Fault(
            ExclusionReason.COMMITMENT_MISMATCH,
            f"update of client {update.client_id.hex()} does not match its commitment",
        )
    return q


def _aad(update: ClientUpdate) -> bytes:
    return update_aad(update.deployment, update.round, update.shard, update.client_id)


def screen_update(
    dep: Deployment, global_q: IntArray, update: ClientUpdate, key: EncryptionKey, *, check_norm: bool = True
) -> Fault | IntArray:
    """What a shard does with an update that passed the guard: its quantized values, or why it is out.

    ``check_norm=False`` skips the norm proof (the ``include-unproven`` attack of fault tests).
    Content faults carry a disclosure of the ciphertext's shared secret as evidence.
    """
    claimed = _public_fault(dep, update, check_norm=check_norm)
    if isinstance(claimed, Fault):
        return claimed
    try:
        plaintext = update.decrypt(key)
    except ProtocolError as exc:
        return Fault(ExclusionReason.UNDECRYPTABLE, str(exc), disclose(key, update.ciphertext))
    found = _content_fault(dep, global_q, update, claimed, plaintext)
    if isinstance(found, Fault):
        return Fault(found.reason, found.detail, disclose(key, update.ciphertext))
    return found


def check_exclusion(
    dep: Deployment,
    global_q: IntArray,
    update: ClientUpdate,
    reason: ExclusionReason,
    evidence: bytes,
    recipient_key: bytes,
) -> str | None:
    """Check a shard's accusation against an update; ``None`` when it holds, else why it does not.

    Parameters
    ----------
    dep, global_q
        The deployment and the round's global model (the range of a model is relative to it).
    update
        The accused update (one the guard accepted for the shard).
    reason, evidence
        The shard's :class:`~zkagg._protocol.messages.ExcludedUpdate` fields.
    recipient_key
        The shard's X25519 public key in the deployment (what the disclosure must prove against).
    """
    claimed = _public_fault(dep, update, check_norm=True)
    if reason not in DISCLOSED_REASONS:
        if not isinstance(claimed, Fault) or claimed.reason is not reason:
            shows = (
                f"a {claimed.reason.name} fault first" if isinstance(claimed, Fault) else "no public fault"
            )
            return f"it is accused of {reason.name}, but the update shows {shows}"
        return None
    if isinstance(claimed, Fault):
        return None  # publicly faulty: leaving it out is justified whatever it disclosed
    try:
        plaintext = open_disclosed(recipient_key, update.ciphertext, _aad(update), evidence)
    except ProtocolError as exc:
        return f"it is accused of {reason.name}, but the disclosure is not the box's shared secret: {exc}"
    found: ExclusionReason
    if plaintext is None:
        found = ExclusionReason.UNDECRYPTABLE
    else:
        content = _content_fault(dep, global_q, update, claimed, plaintext)
        if not isinstance(content, Fault):
            return f"it is accused of {reason.name}, but its disclosed update is well formed and matches its commitment"
        found = content.reason
    if found is not reason:
        return f"it is accused of {reason.name}, but its disclosed content shows {found.name}"
    return None
