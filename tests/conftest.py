"""Session fixtures (an isolated ZKAGG_HOME, small circuits proven once) and hypothesis profiles."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

from zkagg._prover.srs import DEV_SRS_SEED_ENV

if TYPE_CHECKING:
    import torch

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "zkagg" / "examples"

# Hypothesis in CI (CI=true): the same examples on every run, no per-example deadline on a shared
# runner, and a reproduction blob printed with every failure. Elsewhere each run draws new examples.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    settings.load_profile("ci")


#: Dev SRS files of the test session are derived from this seed (:mod:`zkagg._prover.seeded_srs`):
#: the same commitment domains, manifests, block hashes and cohorts on every machine and run.
DEV_SRS_SEED = "zkagg tests"


@pytest.fixture(scope="session", autouse=True)
def zkagg_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test runs against a fresh cache root (seeded dev SRS files are made once per session)."""
    home = tmp_path_factory.mktemp("zkagg-home")
    saved = {name: os.environ.get(name) for name in ("ZKAGG_HOME", DEV_SRS_SEED_ENV)}
    os.environ["ZKAGG_HOME"] = str(home)
    os.environ[DEV_SRS_SEED_ENV] = DEV_SRS_SEED
    yield home
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def export_torch(model: torch.nn.Module, example: torch.Tensor, path: Path) -> Path:
    """Export a torch module to ONNX with the legacy exporter (what ezkl 23 reads best)."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (example,), path, input_names=["input"], output_names=["output"], dynamo=False
        )
    return path


@dataclass(frozen=True)
class Proven:
    """A circuit built and proven once per session."""

    artifacts: object
    proof_path: Path
    input_path: Path
    model_path: Path


@pytest.fixture(scope="session")
def example_proven(tmp_path_factory: pytest.TempPathFactory, zkagg_home: Path) -> Proven:
    """The bundled example MLP, built and proven once (about 15 s with the dev SRS)."""
    from zkagg import RunArgs, build_circuit, prove

    out = tmp_path_factory.mktemp("example")
    artifacts = build_circuit(EXAMPLES / "mlp.onnx", RunArgs(input_scale=10, param_scale=10))
    proof_path = out / "proof.json"
    prove(artifacts, EXAMPLES / "mlp_input.json", out=proof_path)
    return Proven(artifacts, proof_path, EXAMPLES / "mlp_input.json", EXAMPLES / "mlp.onnx")


@pytest.fixture(scope="session")
def other_proven(tmp_path_factory: pytest.TempPathFactory, zkagg_home: Path) -> Proven:
    """A second, different circuit with the same input shape (a linear layer 16 -> 4)."""
    import torch

    from zkagg import RunArgs, build_circuit, prove

    out = tmp_path_factory.mktemp("other")
    torch.manual_seed(7)
    model = torch.nn.Linear(16, 4).eval()
    model_path = export_torch(model, torch.zeros(1, 16), out / "linear.onnx")
    input_path = out / "input.json"
    input_path.write_text(json.dumps({"input_data": [[0.25] * 16]}))
    artifacts = build_circuit(model_path, RunArgs(input_scale=10, param_scale=10))
    proof_path = out / "proof.json"
    prove(artifacts, input_path, out=proof_path)
    return Proven(artifacts, proof_path, input_path, model_path)
