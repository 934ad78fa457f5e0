"""The ``snn-zoo`` command line: list, train, eval, bench and its errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import snn_zoo
import torch
from snn_zoo import list_models
from snn_zoo._checkpoint import sha256_of
from snn_zoo.cli import main
from snn_zoo.monitor import E_AC_PJ, E_MAC_PJ

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    code = main(
        ["train", "--epochs", "2", "--batch-size", "64", "--output-dir", str(out), "--no-progress"]
    )
    assert code == 0
    return out


def test_list_shows_every_variant(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in list_models():
        assert name in out


def test_list_unknown_pattern_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "nothing_like_this*"]) == 1
    assert "no model matches" in capsys.readouterr().err


def test_train_writes_metrics_checkpoint_card_and_plots(trained_run: Path) -> None:
    history = json.loads((trained_run / "metrics.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]
    for row in history:
        assert 0.0 <= row["test_acc"] <= 1.0 and row["images_per_s"] > 0
    with open(trained_run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and float(rows[1]["test_acc"]) == pytest.approx(history[1]["test_acc"])
    # Two epochs learn something: far above the 10% of chance.
    assert history[-1]["test_acc"] > 0.3
    card = json.loads((trained_run / "card.json").read_text())
    assert card["sha256"] == sha256_of(trained_run / "checkpoint.safetensors")
    assert card["trained"]["test_acc"] == pytest.approx(history[-1]["test_acc"])
    for name in ("curves.png", "raster.png", "firing_rates.png"):
        assert (trained_run / name).read_bytes()[:8] == PNG_MAGIC
    assert not list(trained_run.glob("*.tmp"))


def test_eval_reproduces_the_trained_accuracy(
    trained_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = trained_run / "checkpoint.safetensors"
    assert main(["eval", "--model", "spikformer_digits", "--checkpoint", str(ckpt)]) == 0
    result = json.loads(capsys.readouterr().out)
    history = json.loads((trained_run / "metrics.json").read_text())
    assert result["test_acc"] == pytest.approx(history[-1]["test_acc"])
    assert result["samples"] == 450


def test_bench_reports_speed_rates_and_energy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--model", "spikformer_digits", "--batch-size", "4", "--steps", "1"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["images_per_s"] > 0 and res["peak_memory_mb"] > 0
    assert set(res["firing_rates"]) and all(0 <= r <= 1 for r in res["firing_rates"].values())
    # The first layer, fed by pixels, is at least a 3x3 conv from 1 to C channels over 8x8
    # pixels at each of T steps, charged as MACs; spike-fed layers as ACs (papers' convention).
    model = snn_zoo.create_model("spikformer_digits")
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    first = model.T * 8 * 8 * conv.out_channels * conv.in_channels * 9
    assert res["mac_ops"] >= first and res["ac_ops"] > 0
    expected = (E_MAC_PJ * res["mac_ops"] + E_AC_PJ * res["ac_ops"]) * 1e-6
    assert res["energy_uJ"] == pytest.approx(expected)
    assert res["energy_constants_pJ"] == {"E_MAC": E_MAC_PJ, "E_AC": E_AC_PJ}


def test_unknown_model_lists_close_matches(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--model", "spikformer_digit", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "spikformer_digits" in err


def test_missing_data_dir_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope"
    assert main(["train", "--dataset", "cifar10", "--data-dir", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_bad_checkpoint_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    assert main(["eval", "--model", "spikformer_digits", "--checkpoint", str(bad)]) == 2
    assert "error" in capsys.readouterr().err
    missing = tmp_path / "missing.safetensors"
    assert main(["eval", "--model", "spikformer_digits", "--checkpoint", str(missing)]) == 2
    assert "not found" in capsys.readouterr().err


def test_interrupted_save_leaves_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import safetensors.torch
    from snn_zoo import create_model, save_checkpoint

    model = create_model("spikformer_digits")
    path = tmp_path / "ckpt.safetensors"
    sha = save_checkpoint(model, path)

    def dies_midway(tensors, filename, metadata=None):  # writes part of a file, then dies
        Path(filename).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.torch, "save_file", dies_midway)
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(model, path)
    assert sha256_of(path) == sha
    assert not list(tmp_path.glob("*.tmp"))


def test_bundled_weights_reproduce_the_stated_accuracy(capsys: pytest.CaptureFixture[str]) -> None:
    from snn_zoo import get_pretrained_cfg

    card = get_pretrained_cfg("spikformer_digits")
    assert main(["eval", "--model", "spikformer_digits", "--pretrained"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["test_acc"] >= 0.95
    assert 100 * result["test_acc"] == pytest.approx(card["reported_accuracy"], abs=0.25)


def test_bundled_weights_are_checked_against_the_card_sha256() -> None:
    from snn_zoo import create_model

    with pytest.raises(ValueError, match="does not match the sha256"):
        create_model(
            "spikformer_digits", pretrained=True, pretrained_cfg_overlay={"sha256": "0" * 64}
        )


def test_cifar_from_an_empty_directory_says_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--dataset", "cifar10", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    # Without torchvision: how to install it; with it: torchvision's "not found" for the files.
    assert "pip install torchvision" in err or "not found" in err.lower()
