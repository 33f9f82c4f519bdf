"""``zkagg audit``: re-derive every verdict of a deployment's rounds from the DA layer alone."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from zkagg.cli._common import (
    HomeOption,
    JsonOption,
    SrsOption,
    emit_json,
    fail,
    handle_errors,
    use_deployment_srs,
)

#: Exit status when every verdict reproduces but the protocol caught a party cheating.
FINDINGS_EXIT_CODE = 15


@handle_errors
def audit(
    da: Annotated[str, typer.Option("--da", envvar="ZKAGG_DA_URL", help="The DA node's JSON-RPC address.")],
    namespace: Annotated[
        str,
        typer.Option(
            "--namespace", help="The deployment's control namespace (58 hex digits, as zkagg run prints)."
        ),
    ],
    round_: Annotated[int | None, typer.Option("--round", help="Audit only this round.", min=1)] = None,
    deployment_id: Annotated[
        str | None,
        typer.Option("--deployment-id", help="Pick one deployment when several share the namespace."),
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", envvar="CELESTIA_NODE_AUTH_TOKEN", help="JWT for the DA node.")
    ] = None,
    from_height: Annotated[
        int, typer.Option("--from-height", help="Read the control namespace from this DA height on.", min=1)
    ] = 1,
    srs: SrsOption = None,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Re-judge every round (or --round N) from DA data and compare with the coordinator's verdicts.

    Exit status 0 when everything reproduces and nobody was caught cheating; 14 (a protocol error)
    when something does not reproduce (the mismatches are listed); 15 when everything reproduces but
    the protocol caught a party cheating (each finding is listed, naming the party): the global
    models are right, and the listed parties tried to make them wrong. A deployment that pins its
    SRS is audited with the pinned SRS files only (--srs, or registered here by hash); a result
    made under another SRS is wrong-srs.
    """
    from zkagg._errors import InvalidArgument, ProtocolError
    from zkagg._protocol.announce import find_deployment
    from zkagg._protocol.audit import audit as run_audit
    from zkagg.da import CelestiaClient, Namespace

    try:
        ns = Namespace.from_bytes(bytes.fromhex(namespace.removeprefix("0x")))
    except (ValueError, InvalidArgument) as exc:
        raise InvalidArgument(f"--namespace must be 29 bytes as 58 hex digits, not {namespace!r}") from exc
    dep_id = None
    if deployment_id is not None:
        try:
            dep_id = bytes.fromhex(deployment_id)
        except ValueError:
            dep_id = b""
        if len(dep_id) != 32:
            raise InvalidArgument(f"--deployment-id must be 64 hex digits, not {deployment_id!r}")
    backend = CelestiaClient(da, token)
    try:
        deployment = find_deployment(backend, ns, dep_id, start=from_height)
        use_deployment_srs(deployment, srs, home)
        report = run_audit(
            backend,
            deployment,
            rounds=[round_] if round_ is not None else None,
            start=from_height,
            home=str(home) if home else None,
        )
    finally:
        backend.close()
    if json_output:
        emit_json(report.to_json())
    else:
        for r in report.rounds:
            verdicts = ", ".join(f"{v['shard']}:{v['reason']}" for v in r.verdicts) or "-"
            state = "ok" if not r.mismatches else f"{len(r.mismatches)} mismatch(es)"
            absent = f"; absent seed reveals: shards {r.absent_reveals}" if r.absent_reveals else ""
            sys.stdout.write(f"round {r.round}: {state}; verdicts {verdicts}{absent}\n")
        for m in report.mismatches:
            sys.stdout.write(f"MISMATCH {m}\n")
        for f in report.findings:
            sys.stdout.write(f"FINDING {f}\n")
    if not report.rounds and not report.mismatches:
        raise fail(
            "no round of this deployment was found on the DA layer",
            ProtocolError.exit_code,
            as_json=json_output,
        )
    if not report.ok:
        if not json_output:
            sys.stderr.write(f"error: the audit found {len(report.mismatches)} mismatch(es)\n")
        raise typer.Exit(code=ProtocolError.exit_code)
    if report.findings:
        if not json_output:
            sys.stderr.write(
                f"error: every verdict reproduces, but the protocol caught {len(report.findings)} cheat(s)\n"
            )
        raise typer.Exit(code=FINDINGS_EXIT_CODE)
    if not json_output:
        sys.stdout.write(
            f"audit passed: {len(report.rounds)} round(s) of deployment {deployment.deployment_id.hex()}\n"
        )
