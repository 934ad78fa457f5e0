"""`snn-zoo train` under torchrun: two processes on loopback (gloo), the default recipe.

Rank 0 alone logs and writes the checkpoint and metrics; the two-process run reaches the
same >= 95% test accuracy on the digits as the single-process default.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("snn_zoo")
pytest.importorskip("sklearn")


def test_two_process_training_reaches_the_single_process_accuracy(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "snn_zoo",
        "train",
        "--output-dir",
        str(out),
        "--no-progress",
        "--threads",
        "1",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # Only rank 0 prints the per-epoch lines.
    assert proc.stdout.count("epoch   1/") == 1, proc.stdout
    result = json.loads((out / "result.json").read_text())
    assert result["world_size"] == 2
    assert result["test_acc"] >= 0.95, result
    assert (out / "checkpoint.safetensors").is_file()
    assert not list(out.glob("*.tmp"))
