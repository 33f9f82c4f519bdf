"""Helpers of the round tests: run a deployment in one process on a real embedded node, then audit it.

Every run is reproducible: the parties' keys are derived from a seed (``key_seed``, insecure on
purpose) and the node's block times come from a :class:`~zkagg.da.SteppedClock`, so block hashes,
cohort seeds and cohorts are the same on every run and machine. With ``ZKAGG_VERDICT_LOG`` set to
a file, each test appends its verdicts (one JSON line per run or world) to it; ``scripts/rounds-loop``
compares those lines across repeated runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.rounds.world import KEY_SEED, World, make_world
from zkagg._protocol.deployment import Deployment, DeploymentKeys
from zkagg._protocol.run import RunConfig, RunReport, run_deployment
from zkagg.da import EmbeddedNode, SteppedClock


@dataclass
class Ran:
    """A finished in-process run: its report, deployment and the (open) node it ran on."""

    report: RunReport
    deployment: Deployment
    node: EmbeddedNode
    state: Path


def log_verdicts(request: pytest.FixtureRequest, entry: dict[str, Any]) -> None:
    """Append ``entry`` for this test to ``$ZKAGG_VERDICT_LOG`` (when set)."""
    path = os.environ.get("ZKAGG_VERDICT_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"test": request.node.nodeid, **entry}, sort_keys=True) + "\n")


@pytest.fixture
def run_rounds(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[object]:
    """``run_rounds(key_seed=..., **config)`` runs a deployment on a fresh embedded node in ``tmp_path``."""
    nodes: list[EmbeddedNode] = []

    def run(key_seed: bytes = KEY_SEED, **config: Any) -> Ran:
        state = tmp_path / f"run{len(nodes)}"
        node = EmbeddedNode(state / "da", block_time=None, clock=SteppedClock())
        nodes.append(node)
        cfg = RunConfig(**config)
        keys = DeploymentKeys.generate(cfg.clients, cfg.shards, seed=key_seed)
        report = run_deployment(cfg, backend=node, state_dir=state, keys=keys)
        log_verdicts(
            request,
            {
                "deployment": report.deployment_id,
                "rounds": [
                    {"round": r.round, "cohorts": r.cohort_sizes, "verdicts": r.verdicts}
                    for r in report.rounds
                ],
            },
        )
        return Ran(report, Deployment.load(state / "deployment.json"), node, state)

    yield run
    for node in nodes:
        node.close()


@pytest.fixture
def world(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    """A one-shard deployment of four clients on a fresh embedded node (:mod:`tests.rounds.world`)."""
    for w in make_world(tmp_path):
        yield w
        if os.environ.get("ZKAGG_VERDICT_LOG"):
            log_verdicts(request, {"audit": w.audit().to_json()})
