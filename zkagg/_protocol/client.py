"""The client of a round: trains, commits, seals and posts its update (DESIGN.md §1, step 2).

Client ``i`` reads the round's manifest and global model ``g`` (integers at the deployment's scale
``s``; a value ``v`` stands for ``v / 2**s``), trains from ``g / 2**s`` on its data through
:mod:`zkagg._protocol.workload`, quantizes the difference to ``q_i``, commits to it
(:func:`~zkagg.commit_update`), seals ``q_i`` to its shard's aggregator and posts a signed
:class:`~zkagg._protocol.messages.ClientUpdate` into its shard's namespace (the shard is a hash of
the round's seed and the client's id, :func:`~zkagg.assign_shard`; the seed is known at the
manifest's ``reveal_by``, :mod:`zkagg._protocol.seed`).

Client norm bounds (opt-in: ``Deployment.client_norm_bound`` ``C``). A client proves
``||q_i / 2**s||_2 <= C`` for exactly the vector behind its posted commitment
(:func:`~zkagg.prove_norm`: per group of chunks an exact sum of squares, whose committed inputs
are the client's chunk commitments) and carries the proof in its ClientUpdate's ``proofs`` field
(why there: :class:`~zkagg._protocol.messages.ClientUpdate`). An honest client whose trained update
is longer than ``C`` first scales it down to fit (norm clipping as in DP-FedAvg, McMahan et al.,
ICLR 2018; :func:`~zkagg._aggregation.norm.clip_to_norm`), so it can always prove. Shards and
judging check the proof (:func:`~zkagg._protocol.guard.verify_client_norm`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from zkagg._aggregation.norm import clip_to_norm, prove_norm
from zkagg._errors import InvalidArgument, ProtocolError
from zkagg._field import IntArray, dequantize, quantize
from zkagg._kzg.commit import commit_update
from zkagg._protocol import workload
from zkagg._protocol.deployment import Deployment
from zkagg._protocol.faults import (
    CLIENT_ATTACKS,
    NORM_EVASIONS,
    attacked_update,
)
from zkagg._protocol.guard import check_manifest_rules
from zkagg._protocol.keys import Identity, client_id_for
from zkagg._protocol.messages import (
    ClientUpdate,
    RoundManifest,
)
from zkagg._protocol.seed import fetch_seed
from zkagg._protocol.sharding import assign_shard, deployment_namespaces
from zkagg._protocol.vectors import encode_vector, read_vector
from zkagg.da import Blob, DABackend, PayloadRef

__all__ = ["ClientParty", "ClientReport"]


@dataclass(frozen=True)
class ClientReport:
    """What one client did in a round."""

    index: int
    shard: int
    height: int
    bytes_posted: int
    seconds: float
    norm_seconds: float = 0.0
    clipped: bool = False


class ClientParty:
    """Client ``index`` of a deployment: trains, commits, seals and posts its update each round.

    Parameters
    ----------
    deployment, index, identity
        The deployment, the client's index in it (its data part) and its keys.
    backend
        The DA layer.
    x, y
        The client's training data (features ``[n, 64]`` and labels).
    attack, attack_scale
        A Byzantine client's attack: ``sign-flip`` posts ``-attack_scale`` times its honest update,
        ``scaled`` ``+attack_scale`` times (Fang et al., USENIX Security 2020).
    norm_evasion
        With a deployment norm bound: what a Byzantine client whose attacked update exceeds the
        bound posts instead of a proof it cannot make (:data:`NORM_EVASIONS`). An attacked update
        within the bound is proven like an honest one.
    """

    def __init__(
        self,
        deployment: Deployment,
        index: int,
        identity: Identity,
        backend: DABackend,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        *,
        attack: str | None = None,
        attack_scale: float = 10.0,
        norm_evasion: str = "forge",
        timeout: float = 600.0,
    ) -> None:
        if identity.signing.public_key != deployment.client_keys[index]:
            raise InvalidArgument(f"identity is not client {index}'s key in this deployment")
        if attack is not None and attack not in CLIENT_ATTACKS:
            raise InvalidArgument(
                f"attack must be one of {', '.join(CLIENT_ATTACKS)} or None, not {attack!r}"
            )
        if norm_evasion not in NORM_EVASIONS:
            raise InvalidArgument(
                f"norm_evasion must be one of {', '.join(NORM_EVASIONS)}, not {norm_evasion!r}"
            )
        self.deployment = deployment
        self.index = index
        self.identity = identity
        self.backend = backend
        self.x = np.asarray(x, dtype=np.float32)
        self.y = np.asarray(y, dtype=np.int64)
        self.attack = attack
        self.attack_scale = float(attack_scale)
        self.norm_evasion = norm_evasion
        self.timeout = timeout
        self.client_id = client_id_for(identity.signing.public_key)
        self._model_cache: dict[PayloadRef, IntArray] = {}

    def global_model(self, manifest: RoundManifest) -> IntArray:
        """The round's global model, read from its payload (cached per reference)."""
        ref = manifest.global_model
        if ref is None:
            raise ProtocolError(f"the manifest of round {manifest.round} names no global model")
        if ref not in self._model_cache:
            self._model_cache = {
                ref: read_vector(
                    self.backend,
                    ref,
                    workload.n_params(self.deployment),
                    self.deployment.scale,
                    "global model",
                )
            }
        return self._model_cache[ref]

    def run_round(self, manifest: RoundManifest) -> ClientReport:
        """Train, commit and post this round's update (waits for the manifest's ``reveal_by``: the seed)."""
        t0 = time.perf_counter()
        dep = self.deployment
        # Never seal to a key (or follow rules) the deployment does not name, whoever signed the manifest.
        check_manifest_rules(manifest, dep)
        seed = fetch_seed(self.backend, manifest, self.timeout)
        shard = assign_shard(seed, dep.deployment_id, manifest.round, self.client_id, dep.n_shards)
        g = self.global_model(manifest)
        honest, n_samples = workload.local_update(
            dep, g, self.x, self.y, round_=manifest.round, index=self.index
        )
        q = quantize(attacked_update(self.attack, self.attack_scale, honest), dep.scale)
        bound = dep.client_norm_bound
        clipped = False
        if bound is not None and self.attack is None:
            fitted = clip_to_norm(q, bound, dep.scale)
            clipped = fitted is not q
            q = fitted
        commitment = commit_update(dep.spec(), dequantize(q, dep.scale))
        t_norm = time.perf_counter()
        proofs = None if bound is None else self._norm_proof(q, honest, bound)
        norm_seconds = time.perf_counter() - t_norm if bound is not None else 0.0
        update = ClientUpdate.create(
            manifest,
            shard=shard,
            key=self.identity.signing,
            update=encode_vector(q, dep.scale),
            commitments=commitment.to_bytes(),
            sample_count=n_samples,
            proofs=proofs,
        )
        data = update.to_bytes()
        ns = deployment_namespaces(dep.deployment_id, dep.n_shards).shard(shard)
        height = self.backend.submit([Blob.new(ns, data)])
        return ClientReport(
            self.index, shard, height, len(data), time.perf_counter() - t0, norm_seconds, clipped
        )

    def _norm_proof(self, q: IntArray, honest: npt.NDArray[np.float64], bound: float) -> bytes | None:
        """The encoded norm proof of ``q`` (what this client committed to), or what a Byzantine one posts."""
        dep = self.deployment
        domain = dep.spec().domain()
        if clip_to_norm(q, bound, dep.scale) is q:  # within the bound: provable (every honest client)
            return prove_norm(domain, dequantize(q, dep.scale), l2_bound=bound).to_bytes()
        if self.norm_evasion == "omit":
            return None
        decoy = clip_to_norm(quantize(honest, dep.scale), bound, dep.scale)
        return prove_norm(domain, dequantize(decoy, dep.scale), l2_bound=bound).to_bytes()


# -- shard aggregator --------------------------------------------------------------------------------
