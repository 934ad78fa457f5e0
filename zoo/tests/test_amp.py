"""``snn-zoo train / eval --amp``: bfloat16 autocast on CPU reaches the neurons in bfloat16
and trains; float16 without CUDA is a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from snn_neurons import BaseNode
from snn_zoo.cli import main

pytest.importorskip("sklearn")

_TINY = ["--epochs", "1", "--batch-size", "32", "--train-samples", "96", "--test-samples", "64"]
_QUIET = ["--no-progress", "--no-plots"]


def _neuron_input_dtypes() -> tuple[set[torch.dtype], torch.utils.hooks.RemovableHandle]:
    seen: set[torch.dtype] = set()

    def hook(module, args, output):
        autocast_on = torch.is_autocast_enabled("cpu")
        if autocast_on and isinstance(module, BaseNode) and isinstance(args[0], torch.Tensor):
            seen.add(args[0].dtype)

    return seen, torch.nn.modules.module.register_module_forward_hook(hook)


def test_train_and_eval_with_bf16_autocast(tmp_path: Path, capsys) -> None:
    seen, handle = _neuron_input_dtypes()
    try:
        code = main(["train", "--amp", "bf16", *_TINY, *_QUIET, "--output-dir", str(tmp_path)])
    finally:
        handle.remove()
    assert code == 0
    # under autocast, conv / linear outputs reach every neuron in bf16 (the final spike
    # raster of the run is recorded in float32, outside autocast)
    assert seen == {torch.bfloat16}
    rows = json.loads((tmp_path / "metrics.json").read_text())
    assert rows and all(torch.isfinite(torch.tensor(r["train_loss"])) for r in rows)
    ckpt = tmp_path / "checkpoint.safetensors"
    capsys.readouterr()
    assert main(["eval", "--model", "spikformer_digits", "--checkpoint", str(ckpt)]) == 0
    fp32 = json.loads(capsys.readouterr().out)
    assert (
        main(["eval", "--amp", "bf16", "--model", "spikformer_digits", "--checkpoint", str(ckpt)])
        == 0
    )
    bf16 = json.loads(capsys.readouterr().out)
    assert abs(bf16["test_acc"] - fp32["test_acc"]) <= 0.05  # same weights, bf16 rounding


def test_fp16_on_cpu_is_a_clear_error(tmp_path: Path, capsys) -> None:
    code = main(
        [
            "train",
            "--amp",
            "fp16",
            "--device",
            "cpu",
            *_TINY,
            *_QUIET,
            "--output-dir",
            str(tmp_path),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "--amp fp16" in err and "CUDA" in err and "bf16" in err


def test_unknown_amp_value_is_rejected(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--amp", "fp8", *_TINY])
    assert "bf16" in capsys.readouterr().err
