"""The ``zkagg`` typer application: it only registers the command modules.

Heavy dependencies (ezkl, torch, onnxruntime) are imported inside the commands, so that
``zkagg --help`` answers in well under a second.
"""

from __future__ import annotations

import typer

from zkagg.cli import audit, bench, da, example, info, prove, roles, run, verify

app = typer.Typer(
    name="zkagg",
    help="Verifiable sharded federated learning: EZKL proofs, KZG commitments, Celestia-style DA.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.command(name="prove")(prove.prove)
app.command(name="verify")(verify.verify)
app.command(name="info")(info.info)
app.command(name="example")(example.example)
app.command(name="run")(run.run)
app.command(name="audit")(audit.audit)
app.command(name="init")(roles.init)
app.command(name="coordinator")(roles.coordinator)
app.command(name="shard")(roles.shard)
app.command(name="client")(roles.client)
app.command(name="bench")(bench.bench)
app.add_typer(da.app, name="da")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
