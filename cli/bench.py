"""``zkagg bench [--quick] --out DIR``: native vs EZKL used directly vs zkagg, with a report and plots."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer

from zkagg.cli._common import HomeOption, JsonOption, emit_json, handle_errors


def _int_list(option: str, text: str | None, low: int) -> tuple[int, ...] | None:
    from zkagg._errors import InvalidArgument

    if text is None:
        return None
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise InvalidArgument(
            f"{option} must be comma-separated integers >= {low} (such as 4,8), not {text!r}"
        ) from None
    if any(v < low for v in values):
        raise InvalidArgument(f"{option} must be comma-separated integers >= {low}, not {text!r}")
    return values


@handle_errors
def bench(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Directory for results.json, report.md and plots.")
    ] = Path("bench-results"),
    quick: Annotated[
        bool,
        typer.Option("--quick", help="Headline comparison only (8 clients x 128 values; under 3 minutes)."),
    ] = False,
    rules: Annotated[
        str | None, typer.Option(help="Comma-separated rules: fedavg, median, trimmed_mean.")
    ] = None,
    clients: Annotated[
        str | None,
        typer.Option(help="Clients per shard to sweep, comma-separated (the first is the headline)."),
    ] = None,
    chunk_sizes: Annotated[
        str | None,
        typer.Option(help="Chunk sizes to sweep, comma-separated powers of two (the first is the headline)."),
    ] = None,
    shards: Annotated[str | None, typer.Option(help="Shard counts to sweep, comma-separated.")] = None,
    length: Annotated[int | None, typer.Option(help="Values per client update.")] = None,
    ezkl: Annotated[
        bool,
        typer.Option(
            "--ezkl/--no-ezkl",
            help="Run the EZKL baselines: keys built once (hashed and polycommit inputs) and setup every round.",
        ),
    ] = True,
    ezkl_inputs: Annotated[
        str | None,
        typer.Option(
            help="EZKL baselines' input visibilities, comma-separated: hashed, polycommit (default both)."
        ),
    ] = None,
    ezkl_rounds: Annotated[
        int, typer.Option(help="Rounds each EZKL baseline proves on its keys (the last one is reported).")
    ] = 2,
    monolithic: Annotated[
        bool | None,
        typer.Option(
            "--monolithic/--no-monolithic", help="Monolithic vs sharded section (default: not with --quick)."
        ),
    ] = None,
    quality: Annotated[
        bool | None,
        typer.Option(
            "--quality/--no-quality", help="Pruning/quantization section (default: not with --quick)."
        ),
    ] = None,
    compare_executors: Annotated[
        str | None,
        typer.Option(
            help="Executors to compare on the same proofs, comma-separated, or 'none' (default: all but with --quick)."
        ),
    ] = None,
    executor: Annotated[str, typer.Option(help="Where zkagg's proofs run: serial, local or ray.")] = "serial",
    workers: Annotated[int, typer.Option(help="Workers of the local pool or of a local Ray instance.")] = 2,
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster for --executor ray (default: start a local instance).")
    ] = None,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Measure what verified aggregation costs: native numpy vs a naive EZKL pipeline vs zkagg, in one run.

    Calibrate, setup, prove and verify times, rows and logrows, proof sizes, peak memory and DA bytes.
    """
    from dataclasses import replace

    from rich.console import Console

    from zkagg._bench.measure import BASELINES, FULL, QUICK, BenchConfig, run_bench
    from zkagg._bench.report import headline_ratio, write_outputs
    from zkagg._errors import InvalidArgument
    from zkagg._prover.srs import warn_insecure

    started = time.perf_counter()
    base = QUICK if quick else FULL
    changes: dict[str, object] = {}
    if rules is not None:
        changes["rules"] = tuple(r.strip() for r in rules.split(",") if r.strip())
    for option, name, text, low in (
        ("--clients", "clients", clients, 3),
        ("--chunk-sizes", "chunk_sizes", chunk_sizes, 64),
        ("--shards", "shards", shards, 1),
    ):
        values = _int_list(option, text, low)
        if values is not None:
            changes[name] = values
    if length is not None:
        if length < 1:
            raise InvalidArgument(f"--length must be a positive integer, not {length}")
        changes["length"] = length
    if ezkl_inputs is not None:
        changes["ezkl_inputs"] = tuple(v.strip() for v in ezkl_inputs.split(",") if v.strip())
    if ezkl_rounds < 1:
        raise InvalidArgument(f"--ezkl-rounds must be a positive integer, not {ezkl_rounds}")
    if workers < 1:
        raise InvalidArgument(f"--workers must be a positive integer, not {workers}")
    if executor not in ("serial", "local", "ray"):
        raise InvalidArgument(f"--executor must be one of serial, local, ray, not {executor!r}")
    if out.exists() and not out.is_dir():
        raise InvalidArgument(f"--out must be a directory, not the existing file {str(out)!r}")
    if monolithic is not None:
        changes["monolithic"] = monolithic
    if quality is not None:
        changes["quality"] = quality
    if compare_executors is not None:
        names = () if compare_executors == "none" else tuple(e.strip() for e in compare_executors.split(","))
        for e in names:
            if e not in ("serial", "local", "ray"):
                raise InvalidArgument(
                    f"--compare-executors must be 'none' or a comma-separated list of serial, local, ray, not {compare_executors!r}"
                )
        changes["compare_executors"] = names
    changes.update(
        ezkl=ezkl, ezkl_rounds=ezkl_rounds, executor=executor, workers=workers, ray_address=ray_address
    )
    config: BenchConfig = replace(base, **changes)  # type: ignore[arg-type]
    if home is not None:
        os.environ["ZKAGG_HOME"] = str(home)  # the children inherit it (dev SRS files live there)
    console = Console(stderr=True, highlight=False)
    warn_insecure()  # every circuit of the benchmark is proven with the dev SRS

    def progress(message: str) -> None:
        if not json_output:
            console.print(f"  {time.perf_counter() - started:6.0f} s  {message}")

    results = run_bench(config, progress, checkpoint=lambda partial: write_outputs(partial, out))
    paths = write_outputs(results, out)
    speedups = {rule: headline_ratio(results, rule) for rule in config.rules}
    by_baseline = {b: {rule: headline_ratio(results, rule, b) for rule in config.rules} for b in BASELINES}
    if json_output:
        emit_json(
            {
                "ok": True,
                "out": str(out),
                "files": [str(p) for p in paths],
                "speedup_end_to_end": speedups,
                "speedup_by_baseline": by_baseline,
                "elapsed_s": time.perf_counter() - started,
            }
        )
        return
    for rule in config.rules:
        for b, ratios in by_baseline.items():
            ratio = ratios[rule]
            if ratio is not None:
                typer.echo(f"{rule}: zkagg's round is {ratio:,.1f}x faster than {b} ({BASELINES[b]})")
    typer.echo(f"wrote {', '.join(p.name for p in paths)} to {out} in {time.perf_counter() - started:.0f} s")
