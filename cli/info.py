"""``zkagg info``: versions, cache location, SRS files and cached circuits."""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import typer

from zkagg.cli._common import HomeOption, JsonOption, emit_json, handle_errors

_PACKAGES = ("zkagg", "ezkl", "onnx", "onnxruntime", "torch", "numpy", "py-ecc", "httpx", "typer")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _srs_files(root: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for meta in sorted((root / "srs" / "dev").glob("k*.srs.json")):
        try:
            record = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        path = meta.with_name(meta.name.removesuffix(".json"))
        found.append(
            {
                "path": str(path),
                "logrows": record.get("logrows"),
                "sha256": record.get("sha256"),
                "kind": "dev (INSECURE)",
                "bytes": path.stat().st_size if path.exists() else None,
            }
        )
    for meta in sorted((root / "srs" / "registered").glob("*.json")):
        try:
            record = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        found.append(
            {
                "path": record.get("path"),
                "logrows": record.get("logrows"),
                "sha256": record.get("sha256"),
                "kind": "ceremony",
            }
        )
    return found


@handle_errors
def info(
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show versions, the cache directory, SRS files and cached circuits."""
    from zkagg._home import zkagg_home

    root = zkagg_home(home)
    entries = (
        [p for p in (root / "artifacts").glob("*") if p.is_dir() and len(p.name) == 64]
        if (root / "artifacts").exists()
        else []
    )
    size = sum(f.stat().st_size for e in entries for f in e.iterdir() if f.is_file())
    versions = {name: _version(name) for name in _PACKAGES}
    srs_files = _srs_files(root)
    data: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "home": str(root),
        "srs": srs_files,
        "artifacts": {"entries": len(entries), "bytes": size},
    }
    if json_output:
        emit_json(data)
        return
    typer.echo(f"zkagg {versions['zkagg']} on Python {data['python']} ({data['platform']})")
    for name, version in versions.items():
        if name != "zkagg":
            typer.echo(f"  {name:<12} {version or 'not installed'}")
    typer.echo(f"cache: {root}")
    typer.echo(f"  circuits: {len(entries)} ({size / 2**20:.1f} MiB)")
    if not srs_files:
        typer.echo("  SRS files: none yet (a dev SRS is generated on first use)")
    for s in srs_files:
        typer.echo(f"  SRS k={s['logrows']:<3} {s['kind']:<16} {s['path']}")
