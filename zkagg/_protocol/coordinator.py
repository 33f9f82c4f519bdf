"""The coordinator of a round: opens it, judges it and posts the global result (DESIGN.md §1, step 4).

It posts each round's signed :class:`~zkagg._protocol.messages.RoundManifest` (the global model the
round starts from, the deadlines as DA heights, the seed height), and after ``results_by`` +
:data:`~zkagg._protocol.judge.LATE_GRACE` judges every shard (:func:`~zkagg._protocol.judge.judge_round`)
and, with quorum, posts the next global model with a signed
:class:`~zkagg._protocol.messages.GlobalResult`. Crash-safe: what it posted is recorded in
:class:`~zkagg._protocol.state.CoordinatorState`, and on restart it looks on the DA layer for what
it posted but did not record, so every round closes exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

from zkagg._errors import InvalidArgument, ProtocolError
from zkagg._field import IntArray
from zkagg._protocol import workload
from zkagg._protocol.announce import announce_deployment
from zkagg._protocol.deployment import Deployment
from zkagg._protocol.guard import QUALITY_CIRCUIT
from zkagg._protocol.judge import LATE_GRACE, Progress, RoundJudgement, judge_round, quiet
from zkagg._protocol.keys import Identity
from zkagg._protocol.messages import (
    CircuitRef,
    GlobalResult,
    RoundManifest,
)
from zkagg._protocol.reading import read_range, wait_height
from zkagg._protocol.sharding import deployment_namespaces
from zkagg._protocol.state import CoordinatorState
from zkagg._protocol.vectors import encode_vector, read_vector, vector_commitment
from zkagg.da import Blob, DABackend, PayloadRef, write_payload

__all__ = ["Coordinator", "RoundOutcome"]

_OwnT = TypeVar("_OwnT", RoundManifest, GlobalResult)
#: Blocks between the head and a manifest's seed height, tried in turn while the manifest lands late.
_SEED_MARGINS: Final = (2, 4, 8, 16)


@dataclass(frozen=True)
class RoundOutcome:
    """A closed round as the coordinator recorded it."""

    round: int
    global_result: GlobalResult
    height: int
    judgement: RoundJudgement | None
    bytes_posted: int
    seconds: float


class Coordinator:
    """Opens rounds, judges them and posts the global results; crash-safe through :class:`CoordinatorState`.

    Parameters
    ----------
    deployment, identity, backend
        The deployment, the coordinator's keys and the DA layer.
    state_dir
        Where ``coordinator.sqlite`` lives.
    advance
        For instant chains: called with a height the coordinator needs to reach (``zkagg run``
        posts tick blobs); ``None`` waits for blocks.
    """

    def __init__(
        self,
        deployment: Deployment,
        identity: Identity,
        backend: DABackend,
        *,
        state_dir: Path | str,
        advance: Callable[[int], None] | None = None,
        timeout: float = 600.0,
        home: str | None = None,
        progress: Progress = quiet,
    ) -> None:
        if identity.signing.public_key != deployment.coordinator_key:
            raise InvalidArgument("identity is not the coordinator key of this deployment")
        self.deployment = deployment
        self.identity = identity
        self.backend = backend
        self.state = CoordinatorState(Path(state_dir) / "coordinator.sqlite")
        self.advance = advance
        self.timeout = timeout
        self.home = home
        self.progress = progress
        self.namespaces = deployment_namespaces(deployment.deployment_id, deployment.n_shards)
        self._qspec: workload.QualitySpec | None = None
        #: Heights below this were on the chain before this coordinator's state existed.
        self.start = self.state.start_height(backend.local_head().height)

    def announce(self) -> int:
        """Post the deployment's configuration (once) for auditors; return its height."""
        return announce_deployment(self.backend, self.deployment, start=self.start)

    def quality_spec(self) -> workload.QualitySpec:
        """The deployment's quality spec (built once)."""
        if self._qspec is None:
            self._qspec = workload.quality_spec(self.deployment)
        return self._qspec

    def _find_own(self, kind: type[_OwnT], round_: int, first: int) -> tuple[_OwnT, int] | None:
        """A message of ``kind`` for ``round_`` signed by this coordinator, posted at or after ``first``."""
        head = self.backend.local_head().height
        for posted in read_range(self.backend, [self.namespaces.control], first, head):
            m = posted.message
            if isinstance(m, kind) and m.round == round_ and m.deployment == self.deployment.deployment_id:
                try:
                    m.verify_signature(self.deployment.coordinator_key)
                except ProtocolError:
                    continue
                if isinstance(m, RoundManifest) and posted.height >= m.seed_height:
                    continue  # it landed when its seed was known: nobody follows it (check_manifest)
                return m, posted.height
        return None

    def _global_for(self, round_: int) -> tuple[PayloadRef, bytes, IntArray]:
        """The global model round ``round_`` starts from: the last composed one, or the initial model."""
        dep = self.deployment
        n_params = workload.n_params(dep)
        for r in range(round_ - 1, 0, -1):
            recorded = self.state.result(dep.deployment_id, r)
            if recorded is not None and recorded[0].global_model is not None:
                gr = recorded[0]
                assert gr.global_model is not None
                q = read_vector(self.backend, gr.global_model, n_params, dep.scale, "global model")
                return gr.global_model, gr.global_model_commitment, q
            opened = self.state.manifest(dep.deployment_id, r)
            if opened is not None and opened[0].global_model is not None and recorded is not None:
                m = opened[0]
                assert m.global_model is not None
                q = read_vector(self.backend, m.global_model, n_params, dep.scale, "global model")
                return m.global_model, m.global_model_commitment, q
        q = workload.initial_model(dep)
        ref = write_payload(self.backend, self.namespaces.payloads, encode_vector(q, dep.scale))
        return ref, vector_commitment(dep, q).to_bytes(), q

    def open_round(self, round_: int) -> tuple[RoundManifest, int]:
        """Post the manifest of ``round_`` (or return the one already posted) and its height."""
        dep = self.deployment
        recorded = self.state.manifest(dep.deployment_id, round_)
        if recorded is not None:
            return recorded
        if round_ > 1 and self.state.result(dep.deployment_id, round_ - 1) is None:
            raise ProtocolError(f"round {round_} cannot open before round {round_ - 1} is closed")
        previous = self.state.manifest(dep.deployment_id, round_ - 1) if round_ > 1 else None
        found = self._find_own(RoundManifest, round_, previous[1] if previous else self.start)
        if found is not None:  # posted before a crash, not recorded
            self.state.record_manifest(dep.deployment_id, found[0], found[1])
            return found
        self.progress(f"round {round_}: opening")
        ref, commitment, q = self._global_for(round_)
        circuits: tuple[CircuitRef, ...] = ()
        if dep.quality:
            artifacts = workload.quality_artifacts(self.quality_spec(), home=self.home)
            circuits = (CircuitRef(QUALITY_CIRCUIT, bytes.fromhex(artifacts.vk_sha256)),)
        # A manifest must land below its seed height, or nobody follows it. On a busy chain the
        # submission can take longer than the margin: then post again with twice the margin (the
        # late one is harmless, as every party and the audit skip it).
        for margin in _SEED_MARGINS:
            seed_height = self.backend.local_head().height + margin
            manifest = RoundManifest(
                deployment=dep.deployment_id,
                round=round_,
                global_model_commitment=commitment,
                global_model=ref,
                aggregation_rule=dep.rule,
                aggregation_spec=dep.spec().to_bytes(),
                quantization_scale=dep.scale,
                chunk_size=dep.chunk_size,
                circuits=circuits,
                num_shards=dep.n_shards,
                seed_height=seed_height,
                reveal_by=seed_height + dep.reveal_window,
                updates_by=seed_height + dep.reveal_window + dep.update_window,
                results_by=seed_height + dep.reveal_window + dep.update_window + dep.result_window,
                quorum=dep.quorum,
                quality_threshold_ppm=workload.quality_threshold_ppm(dep, q),
                coordinator_key=dep.coordinator_key,
                shard_keys=dep.shard_keys,
            ).sign(self.identity.signing)
            height = self.backend.submit([Blob.new(self.namespaces.control, manifest.to_bytes())])
            if height < seed_height:
                self.state.record_manifest(dep.deployment_id, manifest, height)
                return manifest, height
            self.progress(
                f"round {round_}: the manifest landed at height {height}, not below its seed height "
                f"{seed_height}; posting it again with a larger margin"
            )
        raise ProtocolError(
            f"the manifest of round {round_} landed at or above its seed height {len(_SEED_MARGINS)} "
            f"times (last margin {_SEED_MARGINS[-1]} blocks): the chain outruns this coordinator's "
            "submissions; open the round again"
        )

    def close_round(self, round_: int) -> RoundOutcome:
        """Judge ``round_`` once its windows are closed and post the global result (exactly once)."""
        dep = self.deployment
        t0 = time.perf_counter()
        recorded = self.state.result(dep.deployment_id, round_)
        if recorded is not None:
            return RoundOutcome(round_, recorded[0], recorded[1], None, 0, 0.0)
        opened = self.state.manifest(dep.deployment_id, round_)
        if opened is None:
            raise ProtocolError(f"round {round_} was never opened")
        manifest, _ = opened
        wait_height(self.backend, manifest.results_by + LATE_GRACE, self.advance, self.timeout)
        found = self._find_own(GlobalResult, round_, manifest.results_by + 1)
        if found is not None:  # posted before a crash, not recorded
            self.state.record_result(dep.deployment_id, found[0], found[1])
            return RoundOutcome(round_, found[0], found[1], None, 0, time.perf_counter() - t0)
        self.progress(f"round {round_}: judging")
        judgement = judge_round(
            self.backend,
            dep,
            manifest,
            quality_spec=self.quality_spec() if dep.quality else None,
            timeout=self.timeout,
            home=self.home,
            progress=self.progress,
        )
        posted_bytes = 0
        ref = None
        commitment = b""
        if judgement.next_global is not None:
            payload = encode_vector(judgement.next_global, dep.scale)
            ref = write_payload(self.backend, self.namespaces.payloads, payload)
            commitment = vector_commitment(dep, judgement.next_global).to_bytes()
            posted_bytes += len(payload)
        result = GlobalResult(
            deployment=dep.deployment_id,
            round=round_,
            verdicts=judgement.verdicts,
            global_model=ref,
            global_model_commitment=commitment,
            coordinator_key=dep.coordinator_key,
        ).sign(self.identity.signing)
        data = result.to_bytes()
        height = self.backend.submit([Blob.new(self.namespaces.control, data)])
        posted_bytes += len(data)
        self.state.record_result(dep.deployment_id, result, height)
        return RoundOutcome(round_, result, height, judgement, posted_bytes, time.perf_counter() - t0)

    def close(self) -> None:
        """Close the durable state."""
        self.state.close()
