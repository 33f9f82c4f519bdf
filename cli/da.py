"""``zkagg da ...``: the data-availability commands (filled in by the DA work)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Celestia-compatible data availability: serve, submit, get, commit.", no_args_is_help=True
)
