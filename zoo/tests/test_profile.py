"""``snn-zoo profile`` and :func:`snn_zoo.profile.profile_model`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from snn_core import op_counter
from snn_zoo import create_model
from snn_zoo.cli import main
from snn_zoo.profile import profile_model

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_profile_writes_table_csv_json_and_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "profile",
            "--model",
            "spikformer_digits",
            "--pretrained",
            "--samples",
            "3",
            "--batch-size",
            "2",
        ]
        + ["--out-dir", str(tmp_path), "--multi-spike"]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "mJ per sample" in out and "Spikformer.block.0.attn" in out
    data = json.loads((tmp_path / "spikformer_digits_profile.json").read_text())
    assert data["samples"] == 3 and data["weights"] == "pretrained"
    rows = list(csv.DictReader((tmp_path / "spikformer_digits_profile.csv").open()))
    assert [r["name"] for r in rows] == [layer["name"] for layer in data["layers"]]
    total_pj = sum(float(r["energy_pj"]) for r in rows)
    assert data["energy_total_mj"] == pytest.approx(total_pj * 1e-9)
    assert rows[0]["kind"] == "MAC"  # the encoding convolution sees real pixels
    assert {"bmm#0", "bmm#1"} <= {r["op"] for r in rows}  # both attention products
    assert (tmp_path / "spikformer_digits_profile.png").read_bytes()[:8] == PNG_MAGIC


def test_pooled_batches_equal_one_batch() -> None:
    model = create_model("spikformer_digits", pretrained=True)
    x = torch.rand(3, 1, 8, 8) * 2
    pooled = profile_model(model, [(x[:2], None), (x[2:], None)], time_steps=4)
    whole = op_counter.estimate_paper_energy(model.eval(), x, time_steps=4)
    assert pooled.batch_size == 3
    assert [r.ops for r in pooled.layers] == pytest.approx([r.ops for r in whole.layers])
    assert pooled.energy_total_mj == pytest.approx(whole.energy_total_mj)
    first_two = profile_model(model, [x[:2], x[2:]], samples=2)
    assert first_two.batch_size == 2


def test_profile_rejects_bad_samples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "--model", "spikformer_digits", "--samples", "0"]) == 2
    assert "samples must be a positive int" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize(
    ("multi_spike", "key"), [(False, "energy_mj"), (True, "energy_mj_multi_spike")]
)
def test_digits_card_states_the_energy_of_the_bundled_weights(multi_spike: bool, key: str) -> None:
    from snn_zoo import create_model, get_pretrained_cfg
    from snn_zoo.data import load_dataset
    from snn_zoo.profile import profile_model
    from torch.utils.data import DataLoader

    card = get_pretrained_cfg("spikformer_digits")
    spec = load_dataset("digits")
    model = create_model("spikformer_digits", pretrained=True)
    report = profile_model(
        model, DataLoader(spec.test, batch_size=150), time_steps=4, multi_spike=multi_spike
    )
    assert report.batch_size == 450
    assert round(report.energy_total_mj, 6) == card[key]
