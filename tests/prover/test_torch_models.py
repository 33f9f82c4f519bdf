"""`zkagg prove` / `verify` on ONNX models the suite does not ship: exported from torch here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from typer.testing import CliRunner

from tests.conftest import export_torch
from zkagg.cli.app import app

pytestmark = pytest.mark.slow
runner = CliRunner()


class SmallMLP(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(10, 12),
            torch.nn.ReLU(),
            torch.nn.Linear(12, 6),
            torch.nn.ReLU(),
            torch.nn.Linear(6, 3),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


class SmallConv(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, kernel_size=3)
        self.fc = torch.nn.Linear(2 * 4 * 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc(torch.relu(self.conv(x)).flatten(1))
        return out


@pytest.mark.parametrize(
    ("factory", "shape"), [(SmallMLP, (1, 10)), (SmallConv, (1, 1, 6, 6))], ids=["mlp", "conv"]
)
def test_cli_proves_and_verifies_torch_export(tmp_path: Path, factory, shape) -> None:  # type: ignore[no-untyped-def]
    # Prepare: a freshly exported model and input, unknown to the package
    torch.manual_seed(11)
    model = factory().eval()
    x = torch.rand(*shape) - 0.5
    onnx_path = export_torch(model, x, tmp_path / "model.onnx")
    input_path = tmp_path / "input.json"
    input_path.write_text(json.dumps({"input_data": [x.flatten().tolist()]}))
    proof = tmp_path / "proof.json"
    # Execute
    proved = runner.invoke(
        app, ["prove", str(onnx_path), str(input_path), "--scale", "10", "--out", str(proof), "--json"]
    )
    verified = runner.invoke(app, ["verify", str(proof), "--json"])
    # Assert
    assert proved.exit_code == 0, proved.output
    assert verified.exit_code == 0, verified.output
    outputs = np.asarray(json.loads(verified.stdout)["public_outputs"][0])
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    reference = session.run(None, {"input": x.numpy()})[0].ravel()
    assert np.max(np.abs(outputs - reference)) < 0.02
