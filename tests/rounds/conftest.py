"""Helpers of the round tests: run a deployment in one process on a real embedded node, then audit it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.rounds.world import World, make_world
from zkagg._protocol.deployment import Deployment
from zkagg._protocol.run import RunConfig, RunReport, run_deployment
from zkagg.da import EmbeddedNode


@dataclass
class Ran:
    """A finished in-process run: its report, deployment and the (open) node it ran on."""

    report: RunReport
    deployment: Deployment
    node: EmbeddedNode
    state: Path


@pytest.fixture
def run_rounds(tmp_path: Path) -> Iterator[object]:
    """``run_rounds(**config)`` runs a deployment on a fresh embedded node in ``tmp_path``."""
    nodes: list[EmbeddedNode] = []

    def run(**config: object) -> Ran:
        state = tmp_path / f"run{len(nodes)}"
        node = EmbeddedNode(state / "da", block_time=None)
        nodes.append(node)
        report = run_deployment(RunConfig(**config), backend=node, state_dir=state)  # type: ignore[arg-type]
        return Ran(report, Deployment.load(state / "deployment.json"), node, state)

    yield run
    for node in nodes:
        node.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A one-shard deployment of four clients on a fresh embedded node (:mod:`tests.rounds.world`)."""
    yield from make_world(tmp_path)
