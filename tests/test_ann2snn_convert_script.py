"""docs/examples/ann2snn_convert.py: checkpoint in, SNN state dict and JSON card out."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "examples" / "ann2snn_convert.py"
FACTORY = """
import torch.nn as nn
def make():
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
"""


def _script():
    spec = importlib.util.spec_from_file_location("ann2snn_convert_example", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_convert_script_writes_card_and_state_dict_that_reload(tmp_path):
    (tmp_path / "factory.py").write_text(FACTORY)
    script = _script()
    torch.manual_seed(0)
    ann = script.load_factory(f"{tmp_path / 'factory.py'}:make")().eval()
    with torch.no_grad():
        ann[0].weight.abs_()  # positive activations for positive inputs
    torch.save(ann.state_dict(), tmp_path / "ann.pt")
    calib = torch.rand(20, 3)
    torch.save(calib, tmp_path / "calib.pt")
    torch.save(ann(calib).argmax(1), tmp_path / "labels.pt")
    out = tmp_path / "out"
    card = script.main(
        [
            "--model", f"{tmp_path / 'factory.py'}:make", "--checkpoint", str(tmp_path / "ann.pt"),
            "--calib", str(tmp_path / "calib.pt"), "--labels", str(tmp_path / "labels.pt"),
            "--out", str(out), "--time-steps", "64",
        ]
    )  # fmt: skip
    on_disk = json.loads((out / "card.json").read_text())
    assert on_disk == card
    # the card's threshold is the max of relu(fc1(calib)) (one batch: no averaging)
    with torch.no_grad():
        expected = torch.relu(ann[0](calib)).max().item()
    assert card["thresholds"]["spiking_0"] == torch.tensor(expected).item()
    assert card["accuracy"]["ann"] == 100.0
    snn = script.load_converted(out)
    assert snn.spiking_0.scaler1.scale.item() == card["thresholds"]["spiking_0"]
