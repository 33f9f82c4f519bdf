"""Generate the bundled example model (zkagg/examples/): a seeded MLP exported from torch.

Run with the project's venv: ``.venv/bin/python scripts/generate_examples.py``. The output is
deterministic for a given torch version (fixed seed); the files are committed so that nothing is
generated or downloaded at run time.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parents[1] / "zkagg" / "examples"


class ExampleMLP(torch.nn.Module):
    """16 inputs -> 8 hidden (ReLU) -> 4 outputs: a shard-sized classifier head."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = torch.nn.Linear(16, 8)
        self.out = torch.nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(x)))


def main() -> None:
    torch.manual_seed(20261122)
    model = ExampleMLP().eval()
    x = torch.rand(1, 16) * 2 - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (x,), OUT / "mlp.onnx", input_names=["input"], output_names=["output"], dynamo=False
        )
    (OUT / "mlp_input.json").write_text(
        json.dumps({"input_data": [[round(v, 6) for v in x.flatten().tolist()]]})
    )
    print(f"wrote {OUT / 'mlp.onnx'} and {OUT / 'mlp_input.json'}")


if __name__ == "__main__":
    main()
