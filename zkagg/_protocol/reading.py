"""Reading a round from the DA layer: blobs in DA order, the round's manifest, waiting for heights."""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from zkagg._errors import DAError, ProtocolError, ZkaggError
from zkagg._field import IntArray
from zkagg._protocol import workload
from zkagg._protocol.deployment import Deployment
from zkagg._protocol.guard import check_manifest, check_manifest_rules
from zkagg._protocol.messages import Message, RoundManifest, decode_message
from zkagg._protocol.sharding import deployment_namespaces
from zkagg._protocol.vectors import read_vector, vector_commitment
from zkagg.da import Blob, DABackend, Namespace, PayloadRef

__all__ = ["Posted", "Ticker", "find_manifest", "global_ref", "read_range", "wait_height"]


@dataclass(frozen=True)
class Posted:
    """A blob read from the DA layer with its decoded message (``None`` for foreign blobs)."""

    height: int
    namespace: Namespace
    blob: Blob
    message: Message | None


def _check_blob(blob: Blob, verify_commitments: bool) -> None:
    if verify_commitments:
        recomputed = Blob.new(blob.namespace, blob.data, blob.share_version, blob.signer).commitment
        if recomputed != blob.commitment:
            raise ProtocolError(
                f"the DA node returned a blob in namespace {blob.namespace.hex()} whose data does not "
                f"match its commitment {blob.commitment.hex()} (recomputed {recomputed.hex()})"
            )


def read_range(
    backend: DABackend,
    namespaces: Sequence[Namespace],
    first: int,
    last: int,
    *,
    verify_commitments: bool = False,
) -> Iterator[Posted]:
    """Every blob of ``namespaces`` at heights ``first..last`` in DA order, decoded where it is ours.

    With ``verify_commitments`` each blob's commitment is recomputed from its data (a DA node that
    alters data is caught: :class:`~zkagg.ProtocolError`).
    """
    for height in range(max(1, first), last + 1):
        for blob in backend.get_all(height, list(namespaces)):
            _check_blob(blob, verify_commitments)
            try:
                message = decode_message(blob.data)
            except ProtocolError:
                message = None
            yield Posted(height, blob.namespace, blob, message)


def find_manifest(
    backend: DABackend,
    deployment: Deployment,
    round_: int,
    *,
    start: int = 1,
    timeout: float = 600.0,
    poll: float = 0.05,
) -> tuple[RoundManifest, int]:
    """Wait for the round's canonical manifest in the control namespace; return it and its height.

    The canonical manifest is the first one in DA order that passes
    :func:`~zkagg._protocol.guard.check_manifest` (signed by the deployment's coordinator, seed
    height above its own), :func:`~zkagg._protocol.guard.check_manifest_rules` (everything the
    deployment fixes) and :func:`check_round_start` (its global model and quality threshold). Every
    party follows that one; any other manifest the coordinator signed for the round is evidence of
    equivocation, which the audit reports. Scans heights from ``start`` as they appear.

    Raises
    ------
    DAError
        No such manifest within ``timeout`` seconds.
    """
    control = deployment_namespaces(deployment.deployment_id, deployment.n_shards).control
    deadline = time.monotonic() + timeout
    height = max(1, start)
    while True:
        head = backend.local_head().height
        while height <= head:
            for posted in read_range(backend, [control], height, height):
                m = posted.message
                if isinstance(m, RoundManifest) and m.round == round_:
                    try:
                        check_manifest(
                            m,
                            height=posted.height,
                            coordinator_key=deployment.coordinator_key,
                            deployment=deployment.deployment_id,
                            round=round_,
                        )
                        check_manifest_rules(m, deployment)
                        check_round_start(backend, deployment, m)
                    except ProtocolError:
                        continue
                    return m, posted.height
            height += 1
        if time.monotonic() > deadline:
            raise DAError(f"no manifest of round {round_} appeared by height {head} within {timeout:g} s")
        time.sleep(poll)


def check_round_start(backend: DABackend, deployment: Deployment, manifest: RoundManifest) -> IntArray:
    """The global model a manifest starts its round from, once it checks out; else :class:`~zkagg.ProtocolError`.

    The payload must hold the deployment's number of values at its scale and commit to the
    manifest's ``global_model_commitment``; round 1 must start from the deployment's initial model
    (seeded by ``data_seed``); the quality threshold must be the deployment's rule applied to this
    model (:func:`~zkagg._protocol.workload.quality_threshold_ppm`). That round ``r > 1`` starts
    from round ``r - 1``'s published model is checked by the audit, which follows the chain.
    """
    what = f"RoundManifest of round {manifest.round}"
    try:
        q = read_vector(
            backend, global_ref(manifest), workload.n_params(deployment), deployment.scale, "global model"
        )
    except ZkaggError as exc:
        raise ProtocolError(f"{what}: its global model cannot be read: {exc}") from exc
    if vector_commitment(deployment, q).to_bytes() != manifest.global_model_commitment:
        raise ProtocolError(f"{what}: its global model does not match global_model_commitment")
    if manifest.round == 1 and not np.array_equal(q, workload.initial_model(deployment)):
        raise ProtocolError(f"{what}: round 1 must start from the deployment's initial model")
    want = workload.quality_threshold_ppm(deployment, q)
    if manifest.quality_threshold_ppm != want:
        raise ProtocolError(
            f"{what}: quality_threshold_ppm must be the deployment's rule on its global model, "
            f"{want}, not {manifest.quality_threshold_ppm}"
        )
    return q


def wait_height(
    backend: DABackend, height: int, advance: Callable[[int], None] | None, timeout: float
) -> None:
    """Make sure the chain has reached ``height``: ``advance`` it (instant chains) or wait for it."""
    if advance is not None:
        advance(height)
    backend.wait_for_height(height, timeout=timeout)


def global_ref(manifest: RoundManifest) -> PayloadRef:
    """The payload of the global model a round starts from (:class:`~zkagg.ProtocolError` when none is named)."""
    if manifest.global_model is None:
        raise ProtocolError(f"the manifest of round {manifest.round} names no global model")
    return manifest.global_model


@dataclass
class Ticker:
    """Advances an instant chain by posting small tick blobs in a deployment's tick namespace."""

    backend: DABackend
    namespace: Namespace
    ticks: int = field(default=0)

    @classmethod
    def for_deployment(cls, backend: DABackend, deployment: Deployment) -> Ticker:
        """The ticker of a deployment (namespace derived from its id)."""
        ident = b"\x04" + hashlib.sha256(b"zkagg/tick/v1\x00" + deployment.deployment_id).digest()[:9]
        return cls(backend, Namespace.v0(ident))

    def __call__(self, height: int) -> None:
        while self.backend.local_head().height < height:
            self.backend.submit([Blob.new(self.namespace, struct.pack(">Q", self.ticks))])
            self.ticks += 1
