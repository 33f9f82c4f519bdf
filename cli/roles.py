"""``zkagg init | coordinator | shard | client``: the roles of a deployment as separate processes.

The processes share nothing but a DA URL and the public ``deployment.json``; each role gets only its
own key directory. ``zkagg init`` writes both for a simulated deployment.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from zkagg._errors import InvalidArgument
from zkagg.cli._common import (
    HomeOption,
    JsonOption,
    SrsOption,
    emit_json,
    handle_errors,
    no_model_reason,
    use_deployment_srs,
)

if TYPE_CHECKING:
    from zkagg._protocol.deployment import Deployment
    from zkagg._protocol.keys import Identity
    from zkagg.da import CelestiaClient

DeploymentOpt = Annotated[
    Path, typer.Option("--deployment", help="The deployment.json written by zkagg init.")
]
KeysOpt = Annotated[Path, typer.Option("--keys", help="This party's key directory (from zkagg init).")]
DaOpt = Annotated[str, typer.Option("--da", envvar="ZKAGG_DA_URL", help="The DA node's JSON-RPC address.")]
TokenOpt = Annotated[
    str | None, typer.Option("--token", envvar="CELESTIA_NODE_AUTH_TOKEN", help="JWT for the DA node.")
]
RoundsOpt = Annotated[int, typer.Option("--rounds", help="Rounds to take part in.", min=1)]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for a round's next step.", min=1)
]
FromHeightOpt = Annotated[
    int,
    typer.Option("--from-height", help="Look for the deployment's manifests from this DA height on.", min=1),
]


def _say(json_output: bool, text: str, **fields: object) -> None:
    if json_output:
        emit_json({"ok": True, **fields})
    else:
        sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _load(deployment: Path, keys: Path) -> tuple[Deployment, Identity]:
    from zkagg._protocol.deployment import Deployment
    from zkagg._protocol.keys import Identity as _Identity

    return Deployment.load(deployment), _Identity.load(keys)


def _backend(da: str, token: str | None) -> CelestiaClient:
    from zkagg.da import CelestiaClient

    return CelestiaClient(da, token)


def parse_indices(text: str, n: int, name: str) -> list[int]:
    """``"3"``, ``"0,2,5"`` or ``"0-3"`` -> indices, each in ``[0, n)``."""
    out: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part:
                lo, hi = part.split("-", 1)
                out.extend(range(int(lo), int(hi) + 1))
            else:
                out.append(int(part))
    except ValueError:
        out = []
    if not out or any(not 0 <= i < n for i in out) or len(set(out)) != len(out):
        raise InvalidArgument(
            f"{name} must be distinct indices in [0, {n}) like 3, 0,2,5 or 0-3, not {text!r}"
        )
    return out


@handle_errors
def init(
    directory: Annotated[Path, typer.Argument(help="Folder for deployment.json and keys/ (created).")],
    clients: Annotated[int, typer.Option(help="Clients.", min=1)] = 16,
    shards: Annotated[int, typer.Option(help="Shards.", min=1)] = 4,
    rule: Annotated[
        str, typer.Option(help="fedavg, median, trimmed_mean, clipped_fedavg or fedavg_snark.")
    ] = "fedavg",
    beta: Annotated[float | None, typer.Option(help="trimmed_mean: fraction trimmed at each end.")] = None,
    clip_norm: Annotated[float | None, typer.Option(help="clipped_fedavg: L2 bound.")] = None,
    quality: Annotated[
        bool, typer.Option("--quality/--no-quality", help="Quality proofs of shard models.")
    ] = True,
    quorum: Annotated[
        int,
        typer.Option(
            help="Shards that must post a verified result (accepted or below the quality threshold) for a "
            "global model (0: a majority).",
            min=0,
        ),
    ] = 0,
    reveal_window: Annotated[
        int, typer.Option(help="Blocks for the shards' seed reveals after the seed height.", min=1)
    ] = 10,
    update_window: Annotated[int, typer.Option(help="Blocks for client updates.", min=1)] = 60,
    result_window: Annotated[int, typer.Option(help="Blocks for shard results.", min=1)] = 120,
    seed: Annotated[int, typer.Option(help="Seed of the data split and initial model.", min=0)] = 0,
    name: Annotated[str, typer.Option(help="Deployment label.")] = "zkagg",
    norm_bound: Annotated[
        float | None,
        typer.Option(
            "--norm-bound",
            help="Clients prove the L2 norm of their updates is at most this (positive); default: off.",
        ),
    ] = None,
    max_samples: Annotated[
        int | None,
        typer.Option(
            "--max-samples",
            help="Largest sample count a client may declare (its FedAvg weight); default: 2**32 - 1.",
            min=1,
        ),
    ] = None,
    srs: Annotated[
        list[Path] | None,
        typer.Option(
            "--srs",
            help="Pin a ceremony SRS file (one per logrows the circuits use; repeat the option): its "
            "SHA-256 enters deployment.json and the deployment id. Default: none pinned, every party uses "
            "its own INSECURE dev SRS.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Create a deployment: public deployment.json and one key directory per party."""
    from zkagg._protocol.deployment import DeploymentKeys
    from zkagg._prover.srs import srs_pins

    if norm_bound is not None and not (math.isfinite(norm_bound) and norm_bound > 0):
        raise InvalidArgument(f"--norm-bound must be a positive finite number, not {norm_bound}")
    target = directory / "deployment.json"
    if target.exists():
        raise InvalidArgument(f"directory already holds a deployment ({target}); choose another")
    pins = srs_pins(srs) if srs else None
    keys = DeploymentKeys.generate(clients, shards)
    dep = keys.deployment(
        name=name,
        rule=rule,
        beta=beta,
        clip_norm=clip_norm,
        quality=quality,
        quorum=quorum,
        reveal_window=reveal_window,
        update_window=update_window,
        result_window=result_window,
        data_seed=seed,
        client_norm_bound=norm_bound,
        max_sample_count=max_samples,
        srs_sha256=pins,
    )
    directory.mkdir(parents=True, exist_ok=True)
    keys.save(directory / "keys")
    dep.save(target)
    _say(
        json_output,
        f"deployment {dep.deployment_id.hex()} written to {target}; keys in {directory / 'keys'}",
        deployment=dep.deployment_id.hex(),
        path=str(target),
        srs_sha256=None if dep.srs_sha256 is None else {str(k): v for k, v in dep.srs_sha256.items()},
    )


@handle_errors
def coordinator(
    deployment: DeploymentOpt,
    keys: KeysOpt,
    state: Annotated[Path, typer.Option("--state", help="Folder of the coordinator's durable state.")],
    da: DaOpt = "http://127.0.0.1:26658",
    token: TokenOpt = None,
    rounds: RoundsOpt = 1,
    timeout: TimeoutOpt = 3600.0,
    srs: SrsOption = None,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Open, judge and close rounds; restart it with the same --state after a crash."""
    from zkagg._protocol.coordinator import Coordinator

    dep, identity = _load(deployment, keys)
    use_deployment_srs(dep, srs, home)
    backend = _backend(da, token)
    coord = Coordinator(
        dep,
        identity,
        backend,
        state_dir=state,
        timeout=timeout,
        home=str(home) if home else None,
    )
    try:
        coord.announce()
        for r in range(1, rounds + 1):
            manifest, height = coord.open_round(r)
            _say(
                json_output,
                f"round {r}: manifest at height {height}; updates by {manifest.updates_by}, results by "
                f"{manifest.results_by}",
                event="opened",
                round=r,
                height=height,
                updates_by=manifest.updates_by,
                results_by=manifest.results_by,
            )
            outcome = coord.close_round(r)
            gr = outcome.global_result
            verdicts = {v.shard: v.reason.value for v in gr.verdicts}
            _say(
                json_output,
                f"round {r}: global result at height {outcome.height}; verdicts {verdicts}; "
                "global model "
                + (
                    "published"
                    if gr.global_model
                    else f"not published ({no_model_reason(len(gr.accepted_shards))})"
                ),
                event="closed",
                round=r,
                height=outcome.height,
                verdicts=verdicts,
                global_model=gr.global_model is not None,
            )
    finally:
        coord.close()
        backend.close()


@handle_errors
def shard(
    deployment: DeploymentOpt,
    keys: KeysOpt,
    index: Annotated[int, typer.Option("--index", help="This aggregator's shard index.", min=0)],
    da: DaOpt = "http://127.0.0.1:26658",
    token: TokenOpt = None,
    rounds: RoundsOpt = 1,
    attack: Annotated[
        str | None,
        typer.Option(
            help="Byzantine behaviour: tamper-aggregate, replay, withhold, include-unproven, censor or withhold-reveal."
        ),
    ] = None,
    timeout: TimeoutOpt = 3600.0,
    from_height: FromHeightOpt = 1,
    srs: SrsOption = None,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Aggregate and prove a shard's cohort every round."""
    from zkagg._protocol.reading import find_manifest
    from zkagg._protocol.shard import ShardAggregator

    dep, identity = _load(deployment, keys)
    if index >= dep.n_shards:
        raise InvalidArgument(f"--index must be in [0, {dep.n_shards}), not {index}")
    use_deployment_srs(dep, srs, home)
    backend = _backend(da, token)
    try:
        agg = ShardAggregator(
            dep,
            index,
            identity,
            backend,
            attack=attack,
            timeout=timeout,
            home=str(home) if home else None,
        )
        start = from_height
        for r in range(1, rounds + 1):
            manifest, height = find_manifest(backend, dep, r, start=start, timeout=timeout)
            start = height
            rep = agg.run_round(manifest)
            _say(
                json_output,
                f"round {r}: shard {index} aggregated {rep.included} updates, posted at height {rep.height}"
                + (f" ({len(rep.rejected)} rejected)" if rep.rejected else "")
                + (f" ({len(rep.norm_rejected)} for their norm proof)" if rep.norm_rejected else ""),
                event="posted",
                round=r,
                shard=index,
                included=rep.included,
                height=rep.height,
                rejected=list(rep.rejected),
                norm_rejected=list(rep.norm_rejected),
            )
    finally:
        backend.close()


@handle_errors
def client(
    deployment: DeploymentOpt,
    keys: Annotated[
        Path, typer.Option("--keys", help="Key folder: client-<i>/ for each index is read from it.")
    ],
    index: Annotated[str, typer.Option("--index", help="Client index or indices (3, 0,2,5 or 0-3).")],
    da: DaOpt = "http://127.0.0.1:26658",
    token: TokenOpt = None,
    rounds: RoundsOpt = 1,
    attack: Annotated[str | None, typer.Option(help="Byzantine behaviour: sign-flip or scaled.")] = None,
    attack_scale: Annotated[float, typer.Option(help="Factor of the attack.")] = 10.0,
    timeout: TimeoutOpt = 3600.0,
    from_height: FromHeightOpt = 1,
    srs: SrsOption = None,
    json_output: JsonOption = False,
) -> None:
    """Train, commit and post updates every round (one process may play several clients)."""
    from zkagg._fl.data import dirichlet_partition, load_digits_task
    from zkagg._protocol.client import ClientParty
    from zkagg._protocol.deployment import Deployment
    from zkagg._protocol.keys import Identity
    from zkagg._protocol.reading import find_manifest

    dep = Deployment.load(deployment)
    indices = parse_indices(index, dep.n_clients, "--index")
    use_deployment_srs(dep, srs, None)
    data = load_digits_task(seed=dep.data_seed, probe_size=dep.probe_size)
    parts = dirichlet_partition(data.y_train, dep.n_clients, alpha=dep.alpha, seed=dep.data_seed)
    backend = _backend(da, token)
    try:
        parties = []
        for i in indices:
            folder = keys / f"client-{i}" if (keys / f"client-{i}").is_dir() else keys
            parties.append(
                ClientParty(
                    dep,
                    i,
                    Identity.load(folder),
                    backend,
                    data.x_train[parts[i]],
                    data.y_train[parts[i]],
                    attack=attack,
                    attack_scale=attack_scale,
                    timeout=timeout,
                )
            )
        start = from_height
        for r in range(1, rounds + 1):
            manifest, height = find_manifest(backend, dep, r, start=start, timeout=timeout)
            start = height
            for p in parties:
                rep = p.run_round(manifest)
                _say(
                    json_output,
                    f"round {r}: client {p.index} posted its update to shard {rep.shard} at height {rep.height}",
                    event="posted",
                    round=r,
                    client=p.index,
                    shard=rep.shard,
                    height=rep.height,
                )
    finally:
        backend.close()
