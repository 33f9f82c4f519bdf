"""``zkagg run``: a whole deployment's rounds in one process, every message through the DA layer.

One process plays every party in turn: the coordinator opens the round, every shard aggregator
posts its seed reveal after the seed height, every client that does not drop out learns its shard
at ``reveal_by``, trains and posts its update, every shard aggregator aggregates, proves and posts its
result, and the coordinator judges and composes. They share nothing but the DA backend (an embedded
node in instant mode by default, or a running ``zkagg da serve`` / celestia-node). On an instant
chain the run advances heights with tick blobs (:class:`zkagg._protocol.reading.Ticker`) as soon as every party
is done, instead of waiting for the deadlines to pass in real time.

Byzantine parties (for demonstrations and fault tests): a fraction of the clients attack with
``sign-flip`` or ``scaled`` updates, and a number of shard aggregators with ``tamper-aggregate``,
``replay``, ``withhold``, ``include-unproven`` or ``censor``; the coordinator's verdicts say what it caught.

With ``norm_bound`` (``zkagg run --norm-bound``) every client proves the L2 norm of its update
(:mod:`zkagg._protocol.coordinator`); each round's row counts the clients the shards left out for a missing or
invalid norm proof (``norm_excluded``), and lists every shard's rejections.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from zkagg._errors import InvalidArgument
from zkagg._kzg import engine
from zkagg._protocol import workload
from zkagg._protocol.client import ClientParty
from zkagg._protocol.coordinator import Coordinator
from zkagg._protocol.deployment import Deployment, DeploymentKeys
from zkagg._protocol.faults import CLIENT_ATTACKS, SHARD_ATTACKS
from zkagg._protocol.reading import Ticker, wait_height
from zkagg._protocol.shard import ShardAggregator
from zkagg.da import Blob, DABackend, EmbeddedNode, Header, Namespace, TxConfig

__all__ = [
    "DEFAULT_TRIMMED_MEAN_BETA",
    "CountingBackend",
    "RoundRow",
    "RunConfig",
    "RunReport",
    "run_deployment",
]

#: ``beta`` of ``trimmed_mean`` when a run names none: trims one value at each end of a 4-client
#: cohort (as 0.25 does) and of a 3-client one (0.25 trims none), two of a 6- or 7-client one.
DEFAULT_TRIMMED_MEAN_BETA: Final = 0.375


@dataclass(frozen=True)
class RunConfig:
    """What ``zkagg run`` runs (defaults: 16 clients, 4 shards, 5 FedAvg rounds with the quality gate).

    The defaults are chosen to defend: a quality margin of 0.1 (one probe sample of 16 below the
    global model passes), the deployment's majority quorum counted on available shards
    (:func:`~zkagg._protocol.sharding.has_quorum`), 5 rounds, and ``beta``
    :data:`DEFAULT_TRIMMED_MEAN_BETA` for ``trimmed_mean`` when none is given. Proven runs with
    them (``benchmarks/results/fl_rounds.md``, rows ``-m10``, one cohort draw each) reached 0.886
    test accuracy with the median and 0.908 with the trimmed mean under 30% sign-flipping clients,
    and 0.961 for an honest run. With a margin of 0.05 the proven median reached only 0.839: its
    last two rounds had every shard, honest ones too, below the threshold.
    ``benchmarks/robust_defaults.py`` is the proof-free proxy these choices started from.
    """

    clients: int = 16
    shards: int = 4
    rounds: int = 5
    rule: str = "fedavg"
    beta: float | None = None
    clip_norm: float | None = None
    dropout: float = 0.0
    byzantine_clients: float = 0.0
    client_attack: str = "sign-flip"
    attack_scale: float = 10.0
    byzantine_shards: int = 0
    shard_attack: str = "tamper-aggregate"
    quality: bool = True
    probe_size: int = 16
    quality_margin: float = 0.1
    quality_floor: float = 0.3
    quorum: int = 0
    seed: int = 0
    hidden: int = 16
    epochs: int = 10
    lr: float = 0.05
    chunk_size: int = 1024
    scale: int = 13
    reveal_window: int | None = None
    update_window: int | None = None
    result_window: int | None = None
    norm_bound: float | None = None
    #: The deployment's bound on declared sample counts; ``None``: the size of the whole digits
    #: data set (no client of this simulation holds more, so a larger claim is a lie).
    max_samples: int | None = None
    #: The ceremony SRS files the deployment pins, ``{logrows: SHA-256}`` (registered beforehand,
    #: :func:`~zkagg._prover.srs.srs_pins`); ``None``: this machine's INSECURE dev SRS.
    srs_sha256: Mapping[int, str] | None = None

    def __post_init__(self) -> None:
        for name in ("clients", "shards", "rounds"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InvalidArgument(f"{name} must be a positive integer, not {v!r}")
        if self.shards > self.clients:
            raise InvalidArgument(f"shards must be at most clients ({self.clients}), not {self.shards}")
        if not (isinstance(self.dropout, int | float) and 0 <= self.dropout < 1):
            raise InvalidArgument(f"dropout must be a fraction in [0, 1), not {self.dropout!r}")
        if not (isinstance(self.byzantine_clients, int | float) and 0 <= self.byzantine_clients < 1):
            raise InvalidArgument(
                f"byzantine_clients must be a fraction in [0, 1), not {self.byzantine_clients!r}"
            )
        if self.client_attack not in CLIENT_ATTACKS:
            raise InvalidArgument(
                f"client_attack must be one of {', '.join(CLIENT_ATTACKS)}, not {self.client_attack!r}"
            )
        if self.shard_attack not in SHARD_ATTACKS:
            raise InvalidArgument(
                f"shard_attack must be one of {', '.join(SHARD_ATTACKS)}, not {self.shard_attack!r}"
            )
        b = self.byzantine_shards
        if isinstance(b, bool) or not isinstance(b, int) or not 0 <= b <= self.shards:
            raise InvalidArgument(f"byzantine_shards must be an integer in [0, {self.shards}], not {b!r}")
        ms = self.max_samples
        if ms is not None and (isinstance(ms, bool) or not isinstance(ms, int) or ms < 1):
            raise InvalidArgument(f"max_samples must be a positive integer or None, not {ms!r}")
        nb = self.norm_bound
        if nb is not None and not (
            isinstance(nb, int | float) and not isinstance(nb, bool) and math.isfinite(nb) and nb > 0
        ):
            raise InvalidArgument(f"norm_bound must be a positive finite number or None, not {nb!r}")

    def deployment(self, keys: DeploymentKeys) -> Deployment:
        """The deployment this run sets up with ``keys``; windows sized for an instant chain by default."""
        beta = self.beta
        if self.rule == "trimmed_mean" and beta is None:
            beta = DEFAULT_TRIMMED_MEAN_BETA
        return keys.deployment(
            name=f"zkagg-run-{self.seed}",
            rule=self.rule,
            beta=beta,
            clip_norm=self.clip_norm,
            chunk_size=self.chunk_size,
            scale=self.scale,
            hidden=self.hidden,
            data_seed=self.seed,
            epochs=self.epochs,
            lr=self.lr,
            quality=self.quality,
            probe_size=self.probe_size,
            quality_floor=self.quality_floor,
            quality_margin=self.quality_margin,
            quorum=self.quorum,
            reveal_window=self.reveal_window or self.shards + 2,
            update_window=self.update_window or self.clients + 8,
            result_window=self.result_window or 4 * self.shards + 8,
            client_norm_bound=self.norm_bound,
            max_sample_count=self.max_samples if self.max_samples is not None else workload.TASK_SAMPLES,
            srs_sha256=self.srs_sha256,
        )


class CountingBackend:
    """A DA backend wrapper that counts the blobs, data bytes and sparse shares submitted through it.

    ``zkagg run`` reports the bytes per round; ``zkagg bench`` the bytes and shares of a round's payloads.
    """

    def __init__(self, inner: DABackend) -> None:
        self.inner = inner
        self.bytes = 0
        self.blobs = 0
        self.shares = 0

    def submit(self, blobs: Sequence[Blob], config: TxConfig | None = None) -> int:
        """Submit and count."""
        height = self.inner.submit(blobs, config)
        self.bytes += sum(len(b.data) for b in blobs)
        self.blobs += len(blobs)
        self.shares += sum(b.share_count for b in blobs)
        return height

    def get(self, height: int | str, namespace: Namespace, commitment: bytes) -> Blob:
        """Delegate."""
        return self.inner.get(height, namespace, commitment)

    def get_all(self, height: int | str, namespaces: Sequence[Namespace]) -> list[Blob]:
        """Delegate."""
        return self.inner.get_all(height, namespaces)

    def get_proof(self, height: int | str, namespace: Namespace, commitment: bytes) -> list[dict[str, Any]]:
        """Delegate."""
        return self.inner.get_proof(height, namespace, commitment)

    def included(self, height: int | str, namespace: Namespace, proof: Any, commitment: bytes) -> bool:
        """Delegate."""
        return self.inner.included(height, namespace, proof, commitment)

    def local_head(self) -> Header:
        """Delegate."""
        return self.inner.local_head()

    def network_head(self) -> Header:
        """Delegate."""
        return self.inner.network_head()

    def get_header(self, height: int | str) -> Header:
        """Delegate."""
        return self.inner.get_header(height)

    def wait_for_height(self, height: int | str, timeout: float = 60.0) -> Header:
        """Delegate."""
        return self.inner.wait_for_height(height, timeout)

    def close(self) -> None:
        """Close the wrapped backend."""
        self.inner.close()


@dataclass
class RoundRow:
    """One round of a run, as the progress table and the report show it.

    ``cohort_sizes`` counts the clients that posted to each shard: the assignment is a hash of the
    round's seed, so a shard may draw no client in a round (it then posts an empty result: verdict ``empty``).
    ``norm_excluded`` counts the clients that shards left out for a missing or invalid norm proof
    (always 0 without a norm bound), ``norm_clipped`` the honest clients that scaled their update down
    to the bound before committing, ``norm_seconds`` the clients' proving time for those proofs, and
    ``rejected`` holds every shard's reasons for leaving a client out (``"shard k: ..."``),
    ``absent_reveals`` the shards whose seed reveal did not count (:mod:`zkagg._protocol.seed`), and
    ``commit_seconds`` the seconds each role (``client``, ``shard``, ``coordinator``) spent in the
    commitment engine (:mod:`zkagg._kzg.engine`: committing, checking openings, group arithmetic).
    """

    round: int
    test_accuracy: float
    shards_accepted: int
    verdicts: list[dict[str, Any]]
    clients_posted: int
    dropped: list[int]
    prove_seconds: float
    verify_seconds: float
    seconds: float
    da_bytes: int
    global_model: bool
    threshold: float | None
    cohort_sizes: list[int] = field(default_factory=list)
    norm_excluded: int = 0
    norm_clipped: int = 0
    norm_seconds: float = 0.0
    rejected: list[str] = field(default_factory=list)
    absent_reveals: list[int] = field(default_factory=list)
    commit_seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class RunReport:
    """What a run produced (``--report FILE`` writes :meth:`to_json`)."""

    config: RunConfig
    deployment_id: str
    control_namespace: str
    initial_accuracy: float
    rounds: list[RoundRow] = field(default_factory=list)
    byzantine_clients: list[int] = field(default_factory=list)
    byzantine_shards: list[int] = field(default_factory=list)
    seconds: float = 0.0
    setup_seconds: float = 0.0

    @property
    def final_accuracy(self) -> float:
        """Test accuracy after the last round."""
        return self.rounds[-1].test_accuracy if self.rounds else self.initial_accuracy

    def to_json(self) -> dict[str, Any]:
        """The report as JSON."""
        return {
            "format": "zkagg-run-report/1",
            "config": asdict(self.config),
            "deployment_id": self.deployment_id,
            "control_namespace": self.control_namespace,
            "initial_accuracy": self.initial_accuracy,
            "final_accuracy": self.final_accuracy,
            "byzantine_clients": self.byzantine_clients,
            "byzantine_shards": self.byzantine_shards,
            "setup_seconds": self.setup_seconds,
            "seconds": self.seconds,
            "rounds": [asdict(r) for r in self.rounds],
        }

    def write(self, path: Path | str) -> Path:
        """Write the JSON report."""
        p = Path(path)
        p.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        return p


def run_deployment(
    config: RunConfig | None = None,
    *,
    backend: DABackend | None = None,
    state_dir: Path | str | None = None,
    instant: bool = True,
    home: str | None = None,
    on_round: Callable[[RoundRow], None] | None = None,
    progress: Callable[[str], None] | None = None,
    timeout: float = 600.0,
    keys: DeploymentKeys | None = None,
) -> RunReport:
    """Run ``config.rounds`` rounds of a fresh deployment; every message goes through the DA layer.

    Parameters
    ----------
    config
        The run (default :class:`RunConfig` ``()``).
    backend
        The DA layer; by default an embedded node in instant mode under ``state_dir``.
    state_dir
        Where the embedded node, the coordinator's state and the keys live (default: a temporary
        directory removed afterwards).
    instant
        Whether the chain makes blocks only when something is submitted, so that the run advances
        it with tick blobs (true for the default embedded node); false waits for blocks.
    on_round, progress
        Called with each finished round, and with short status lines.
    keys
        Every party's keys (default: fresh ones). Tests pass derived keys
        (``DeploymentKeys.generate(..., seed=...)``) and a node with a
        :class:`~zkagg.da.SteppedClock`, so that every run draws the same cohorts.
    """
    cfg = config if config is not None else RunConfig()
    if keys is not None and (len(keys.clients), len(keys.shards)) != (cfg.clients, cfg.shards):
        raise InvalidArgument(
            f"keys must be for {cfg.clients} clients and {cfg.shards} shards (the config's), "
            f"not {len(keys.clients)} and {len(keys.shards)}"
        )
    say = progress or (lambda _: None)
    with tempfile.TemporaryDirectory(prefix="zkagg-run-") as tmp:
        root = Path(state_dir) if state_dir is not None else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        own = backend is None
        inner: DABackend = EmbeddedNode(root / "da", block_time=None) if backend is None else backend
        try:
            return _run(
                cfg,
                keys if keys is not None else DeploymentKeys.generate(cfg.clients, cfg.shards),
                CountingBackend(inner),
                root,
                instant,
                home,
                on_round,
                say,
                timeout,
            )
        finally:
            if own:
                inner.close()


def _run(
    cfg: RunConfig,
    keys: DeploymentKeys,
    da: CountingBackend,
    root: Path,
    instant: bool,
    home: str | None,
    on_round: Callable[[RoundRow], None] | None,
    say: Callable[[str], None],
    timeout: float,
) -> RunReport:
    t_start = time.perf_counter()
    dep = cfg.deployment(keys)
    dep.save(root / "deployment.json")
    keys.save(root / "keys", overwrite=True)
    data = workload.load_digits_task(seed=cfg.seed, probe_size=cfg.probe_size)
    parts = workload.dirichlet_partition(data.y_train, cfg.clients, alpha=dep.alpha, seed=cfg.seed)
    rng = np.random.default_rng([cfg.seed, 104729])
    n_byz = round(cfg.byzantine_clients * cfg.clients)
    byz_clients = sorted(int(c) for c in rng.choice(cfg.clients, size=n_byz, replace=False))
    byz_shards = list(range(cfg.shards - cfg.byzantine_shards, cfg.shards))
    ticker = Ticker.for_deployment(da, dep) if instant else None
    coordinator = Coordinator(
        dep,
        keys.coordinator,
        da,
        state_dir=root / "coordinator",
        advance=ticker,
        timeout=timeout,
        home=home,
        progress=say,
    )
    clients = [
        ClientParty(
            dep,
            i,
            keys.clients[i],
            da,
            data.x_train[parts[i]],
            data.y_train[parts[i]],
            attack=cfg.client_attack if i in byz_clients else None,
            attack_scale=cfg.attack_scale,
            timeout=timeout,
        )
        for i in range(cfg.clients)
    ]
    shards = [
        ShardAggregator(
            dep,
            k,
            keys.shards[k],
            da,
            attack=cfg.shard_attack if k in byz_shards else None,
            timeout=timeout,
            home=home,
        )
        for k in range(cfg.shards)
    ]
    initial = workload.probe_accuracy(dep, workload.initial_model(dep), data.x_test, data.y_test)
    report = RunReport(
        cfg,
        dep.deployment_id.hex(),
        coordinator.namespaces.control.hex(),
        initial,
        byzantine_clients=byz_clients,
        byzantine_shards=byz_shards,
    )
    try:
        coordinator.announce()
        if dep.quality:
            say("building the quality circuit (cached after the first run)")
            workload.quality_artifacts(coordinator.quality_spec(), home=home)
        report.setup_seconds = time.perf_counter() - t_start
        accuracy = initial
        drop_rng = np.random.default_rng([cfg.seed, 15485863])
        for r in range(1, cfg.rounds + 1):
            t0 = time.perf_counter()
            bytes0 = da.bytes
            engine0 = engine.commitment_seconds()
            with engine.accounted("coordinator"):
                manifest, _ = coordinator.open_round(r)
            wait_height(da, manifest.seed_height, ticker, timeout)
            for s in shards:  # each posts its seed reveal in (seed_height, reveal_by]
                s.reveal(manifest)
            wait_height(da, manifest.reveal_by, ticker, timeout)
            n_drop = round(cfg.dropout * cfg.clients)
            dropped = sorted(int(c) for c in drop_rng.choice(cfg.clients, size=n_drop, replace=False))
            say(f"round {r}: {cfg.clients - n_drop} clients training")
            posted = 0
            cohort_sizes = [0] * cfg.shards
            norm_seconds = 0.0
            norm_clipped = 0
            for c in clients:
                if c.index in dropped:
                    continue
                with engine.accounted("client"):
                    client_report = c.run_round(manifest)
                cohort_sizes[client_report.shard] += 1
                norm_seconds += client_report.norm_seconds
                norm_clipped += client_report.clipped
                posted += 1
            wait_height(da, manifest.updates_by, ticker, timeout)
            prove = 0.0
            norm_excluded = 0
            rejected: list[str] = []
            for s in shards:
                say(f"round {r}: shard {s.index} aggregating and proving")
                with engine.accounted("shard"):
                    shard_report = s.run_round(manifest)
                prove += shard_report.prove_seconds
                norm_excluded += len(shard_report.norm_rejected)
                rejected.extend(f"shard {s.index}: {line}" for line in shard_report.rejected)
            with engine.accounted("coordinator"):
                outcome = coordinator.close_round(r)
            judgement = outcome.judgement
            engine1 = engine.commitment_seconds()
            if judgement is not None and judgement.next_global is not None:
                accuracy = workload.probe_accuracy(dep, judgement.next_global, data.x_test, data.y_test)
            row = RoundRow(
                round=r,
                test_accuracy=accuracy,
                shards_accepted=len(outcome.global_result.accepted_shards),
                verdicts=[
                    {"shard": v.shard, "reason": v.reason.value, "detail": v.detail}
                    for v in outcome.global_result.verdicts
                ],
                clients_posted=posted,
                dropped=dropped,
                prove_seconds=prove,
                verify_seconds=judgement.verify_seconds if judgement is not None else 0.0,
                seconds=time.perf_counter() - t0,
                da_bytes=da.bytes - bytes0,
                global_model=outcome.global_result.global_model is not None,
                threshold=manifest.quality_threshold_ppm / 1e6 if dep.quality else None,
                cohort_sizes=cohort_sizes,
                norm_excluded=norm_excluded,
                norm_clipped=norm_clipped,
                norm_seconds=norm_seconds,
                rejected=rejected,
                absent_reveals=judgement.seed.absent if judgement is not None and judgement.seed else [],
                commit_seconds={
                    role: engine1[role] - engine0.get(role, 0.0)
                    for role in ("client", "shard", "coordinator")
                    if role in engine1
                },
            )
            report.rounds.append(row)
            if on_round is not None:
                on_round(row)
    finally:
        coordinator.close()
    report.seconds = time.perf_counter() - t_start
    return report
