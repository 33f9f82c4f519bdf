"""``zkagg run``: the main job, a few verified federated rounds with every message on the DA layer."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from zkagg.cli._common import HomeOption, JsonOption, SrsOption, emit_json, handle_errors, no_model_reason

if TYPE_CHECKING:
    from zkagg._protocol.run import RoundRow, RunReport

RULES = ("fedavg", "median", "trimmed_mean", "clipped_fedavg", "fedavg_snark")


_RIGHT = "right"
#: The roles whose seconds in the commitment engine the table shows (RoundRow.commit_seconds).
_ROLES = ("client", "shard", "coordinator")


def _cells(r: RoundRow, *, norm: bool) -> list[tuple[str, str, str]]:
    """One round as ``(column, justification, text)`` cells: the table's row, or the plain line."""
    excluded = ", ".join(f"{v['shard']}:{v['reason']}" for v in r.verdicts if v["reason"] != "accepted")
    cells = [
        ("round", _RIGHT, str(r.round)),
        ("test acc", _RIGHT, f"{r.test_accuracy:.3f}"),
        (
            "shards ok",
            _RIGHT,
            f"{r.shards_accepted}/{len(r.verdicts)}"
            + ("" if r.global_model else f" ({no_model_reason(r.shards_accepted)})"),
        ),
        ("excluded (reason)", "left", excluded or "-"),
        ("clients", _RIGHT, str(r.clients_posted)),
    ]
    if norm:  # clients left out by their shard for a missing or invalid norm proof; clients' proving
        cells += [("norm excl", _RIGHT, str(r.norm_excluded)), ("norm s", _RIGHT, f"{r.norm_seconds:.1f}")]
    cells += [
        ("prove s", _RIGHT, f"{r.prove_seconds:.1f}"),
        ("verify s", _RIGHT, f"{r.verify_seconds:.2f}"),
        # seconds in the commitment engine per role: clients / shards / coordinator
        ("commit s c/s/co", _RIGHT, "/".join(f"{r.commit_seconds.get(k, 0.0):.2f}" for k in _ROLES)),
        ("round s", _RIGHT, f"{r.seconds:.1f}"),
        ("DA KiB", _RIGHT, f"{r.da_bytes / 1024:.0f}"),
    ]
    return cells


def _table(rows: list[RoundRow], title: str, *, norm: bool = False) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    # The columns come from the cells of a round; a placeholder round gives them before the first.
    for name, justify, _text in _cells(rows[0], norm=norm) if rows else _header_cells(norm):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(*(text for _name, _justify, text in _cells(r, norm=norm)))
    return table


def _header_cells(norm: bool) -> list[tuple[str, str, str]]:
    from zkagg._protocol.run import RoundRow

    empty = RoundRow(0, 0.0, 0, [], 0, [], 0.0, 0.0, 0.0, 0, True, None)
    return _cells(empty, norm=norm)


def _plain_line(row: RoundRow, *, norm: bool) -> str:
    """A round as one plain line, for logs and CI (stdout not a terminal)."""
    return "  ".join(f"{name} {text}" for name, _justify, text in _cells(row, norm=norm))


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def run(
    clients: Annotated[int, typer.Option(help="Clients in the deployment.", min=1)] = 16,
    shards: Annotated[int, typer.Option(help="Shards (aggregators).", min=1)] = 4,
    rounds: Annotated[int, typer.Option(help="Rounds to run.", min=1)] = 5,
    rule: Annotated[str, typer.Option(help=f"Aggregation rule: {', '.join(RULES)}.")] = "fedavg",
    beta: Annotated[
        float | None, typer.Option(help="trimmed_mean: fraction trimmed at each end (default 0.375).")
    ] = None,
    clip_norm: Annotated[float | None, typer.Option(help="clipped_fedavg: L2 bound per client.")] = None,
    dropout: Annotated[float, typer.Option(help="Fraction of clients that send nothing each round.")] = 0.0,
    byzantine_clients: Annotated[
        float, typer.Option(help="Fraction of Byzantine clients (they attack every round).")
    ] = 0.0,
    client_attack: Annotated[str, typer.Option(help="Client attack: sign-flip or scaled.")] = "sign-flip",
    attack_scale: Annotated[float, typer.Option(help="Factor of the client attack.")] = 10.0,
    byzantine_shards: Annotated[int, typer.Option(help="Number of Byzantine shard aggregators.", min=0)] = 0,
    shard_attack: Annotated[
        str,
        typer.Option(
            help="Shard attack: tamper-aggregate, replay, withhold, include-unproven, censor or withhold-reveal."
        ),
    ] = "tamper-aggregate",
    quality: Annotated[
        bool, typer.Option("--quality/--no-quality", help="Shards prove their shard model's probe accuracy.")
    ] = True,
    quality_margin: Annotated[
        float,
        typer.Option(help="Quality threshold: the global model's probe accuracy minus this (floor 0.3)."),
    ] = 0.1,
    quorum: Annotated[
        int,
        typer.Option(
            help="Shards that must post a verified result (accepted or below the quality threshold) for a "
            "global model, composed from the accepted ones (0: a majority).",
            min=0,
        ),
    ] = 0,
    norm_bound: Annotated[
        float | None,
        typer.Option(
            "--norm-bound",
            help="Every client proves the L2 norm of its update is at most this (a positive number; honest "
            "clients clip to it) and shards leave out clients without a valid proof. About 5 s of proving "
            "per client per round. Default: off.",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Seed of the data split, model, attackers and dropout.", min=0)
    ] = 0,
    da: Annotated[
        str | None,
        typer.Option(
            "--da",
            envvar="ZKAGG_DA_URL",
            help="A running DA node (zkagg da serve, celestia-node); default: embedded.",
        ),
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", envvar="CELESTIA_NODE_AUTH_TOKEN", help="JWT for --da.")
    ] = None,
    instant: Annotated[
        bool,
        typer.Option(
            "--instant/--wait-blocks",
            help="With --da: the node makes blocks only on submission (zkagg da serve --instant), so the run "
            "posts tick blobs to move deadlines along; otherwise it waits for blocks.",
        ),
    ] = False,
    update_window: Annotated[
        int | None,
        typer.Option(help="Blocks for client updates (default: sized for an instant chain).", min=1),
    ] = None,
    result_window: Annotated[int | None, typer.Option(help="Blocks for shard results.", min=1)] = None,
    state: Annotated[
        Path | None, typer.Option(help="Keep the node, keys and coordinator state here (default: temporary).")
    ] = None,
    report: Annotated[Path | None, typer.Option(help="Write a JSON report here.")] = None,
    srs: SrsOption = None,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Run verified federated rounds on the digits task: clients, shard aggregators and a coordinator.

    Every update, result and global model travels as blobs through the DA layer; every shard's
    aggregate is verified (homomorphically for FedAvg, EZKL proofs otherwise) with its quality proof
    before it enters the global model.
    """
    handle_errors(_run)(**locals())


def _run(
    *,
    clients: int,
    shards: int,
    rounds: int,
    rule: str,
    beta: float | None,
    clip_norm: float | None,
    dropout: float,
    byzantine_clients: float,
    client_attack: str,
    attack_scale: float,
    byzantine_shards: int,
    shard_attack: str,
    quality: bool,
    quality_margin: float,
    quorum: int,
    norm_bound: float | None,
    seed: int,
    da: str | None,
    token: str | None,
    instant: bool,
    update_window: int | None,
    result_window: int | None,
    state: Path | None,
    report: Path | None,
    srs: list[Path] | None,
    home: Path | None,
    json_output: bool,
) -> None:
    from rich.console import Console
    from rich.live import Live

    from zkagg._errors import InvalidArgument
    from zkagg._protocol.run import RunConfig, run_deployment
    from zkagg._prover.srs import srs_pins, warn_insecure

    if rule not in RULES:
        raise InvalidArgument(f"--rule must be one of {', '.join(RULES)}, not {rule!r}")
    if rule == "clipped_fedavg" and clip_norm is None:
        clip_norm = 5.0
    if norm_bound is not None and not (math.isfinite(norm_bound) and norm_bound > 0):
        raise InvalidArgument(f"--norm-bound must be a positive finite number, not {norm_bound}")
    if report is not None and report.parent and not report.parent.exists():
        raise InvalidArgument(f"--report must be a file in an existing directory, not {report}")
    config = RunConfig(
        clients=clients,
        shards=shards,
        rounds=rounds,
        rule=rule,
        beta=beta,
        clip_norm=clip_norm,
        dropout=dropout,
        byzantine_clients=byzantine_clients,
        client_attack=client_attack,
        attack_scale=attack_scale,
        byzantine_shards=byzantine_shards,
        shard_attack=shard_attack,
        quality=quality,
        quality_margin=quality_margin,
        quorum=quorum,
        seed=seed,
        update_window=update_window,
        result_window=result_window,
        norm_bound=norm_bound,
        srs_sha256=srs_pins(srs, home=home) if srs else None,
    )
    if config.srs_sha256 is None:
        warn_insecure()
    backend = None
    if da is not None:
        from zkagg.da import CelestiaClient

        backend = CelestiaClient(da, token)
    console = Console(stderr=True, highlight=False)
    rows: list[RoundRow] = []
    where = da or "embedded DA node"
    title = f"zkagg run: {clients} clients, {shards} shards, {rule}, DA: {where}"
    if norm_bound is not None:
        title += f", client norm bound {norm_bound:g}"
    norm = norm_bound is not None
    home_str = str(home) if home is not None else None

    def run(
        on_round: Callable[[RoundRow], None] | None = None, progress: Callable[[str], None] | None = None
    ) -> RunReport:
        return run_deployment(
            config,
            backend=backend,
            state_dir=state,
            instant=da is None or instant,
            home=home_str,
            on_round=on_round,
            progress=progress,
        )

    try:
        if json_output:
            result = run()
        elif not sys.stdout.isatty():
            # Piped or redirected: no live table (it would show nothing until the end); one plain,
            # flushed line per round and per phase of a round instead.
            _say(title)
            result = run(lambda row: _say(_plain_line(row, norm=norm)), lambda line: _say(f"  {line}"))
        else:
            with Live(
                _table(rows, title, norm=norm), console=console, refresh_per_second=4, transient=False
            ) as live:

                def on_round(row: RoundRow) -> None:
                    rows.append(row)
                    live.update(_table(rows, title, norm=norm))

                def progress(line: str) -> None:
                    live.update(_table(rows, f"{title}\n  {line}", norm=norm))

                result = run(on_round, progress)
                live.update(_table(rows, title, norm=norm))
    finally:
        if backend is not None:
            backend.close()
    if report is not None:
        result.write(report)
    _summary(result, json_output, report)


def _summary(result: RunReport, json_output: bool, report: Path | None) -> None:
    if json_output:
        emit_json({"ok": True, **result.to_json()})
        return
    out = sys.stdout
    out.write(
        f"final test accuracy {result.final_accuracy:.3f} (from {result.initial_accuracy:.3f}) after "
        f"{len(result.rounds)} rounds in {result.seconds:.0f} s (set-up {result.setup_seconds:.0f} s)\n"
    )
    out.write(f"deployment {result.deployment_id}, control namespace {result.control_namespace}\n")
    if result.byzantine_clients:
        out.write(f"Byzantine clients: {result.byzantine_clients}\n")
    if result.byzantine_shards:
        out.write(f"Byzantine shards: {result.byzantine_shards}\n")
    if result.config.norm_bound is not None:
        excluded = sum(r.norm_excluded for r in result.rounds)
        clipped = sum(r.norm_clipped for r in result.rounds)
        out.write(
            f"client norm bound {result.config.norm_bound:g}: {excluded} client update(s) left out for a "
            f"missing or invalid norm proof; {clipped} honest update(s) scaled down to the bound\n"
        )
    if report is not None:
        out.write(f"report written to {report}\n")
