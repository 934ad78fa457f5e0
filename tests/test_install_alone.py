"""Each package installs alone from the checkout and pulls nothing but torch and its siblings.

Resolution is checked with ``pip install --dry-run --report`` (no download beyond metadata);
one real install into a fresh virtual environment shows that `snn-neurons` alone gives
working neurons.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "ci" / "constraints.txt"


def _resolve(tmp_path: Path, *specs: str) -> set[str]:
    report = tmp_path / "report.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "-c",
            str(CONSTRAINTS),
            "--report",
            str(report),
            *specs,
        ],
        check=True,
        cwd=ROOT,
    )
    data = json.loads(report.read_text())
    return {item["metadata"]["name"].lower().replace("_", "-") for item in data["install"]}


@pytest.fixture(scope="module")
def torch_closure(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    return _resolve(tmp_path_factory.mktemp("torch"), "torch")


@pytest.mark.parametrize(
    ("specs", "own"),
    [
        (["./packages/snn-core"], {"snn-core"}),
        (["./packages/snn-core", "./packages/snn-neurons"], {"snn-core", "snn-neurons"}),
        (
            ["./packages/snn-core", "./packages/snn-neurons", "./packages/snn-layers"],
            {"snn-core", "snn-neurons", "snn-layers"},
        ),
    ],
    ids=["snn-core", "snn-neurons", "snn-layers"],
)
def test_package_pulls_only_torch(
    tmp_path: Path, torch_closure: set[str], specs: list[str], own: set[str]
) -> None:
    resolved = _resolve(tmp_path, *specs)
    assert own <= resolved
    assert resolved - own == torch_closure


def test_snn_datasets_pulls_only_numpy_and_torch(tmp_path: Path, torch_closure: set[str]) -> None:
    resolved = _resolve(tmp_path, "./packages/snn-datasets")
    assert "snn-datasets" in resolved
    assert resolved - {"snn-datasets"} == torch_closure | {"numpy"}


def test_snn_neurons_alone_gives_working_neurons(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run(
        [
            str(py),
            "-m",
            "pip",
            "install",
            "--quiet",
            "-c",
            str(CONSTRAINTS),
            "./packages/snn-core",
            "./packages/snn-neurons",
        ],
        check=True,
        cwd=ROOT,
    )
    code = (
        "import torch, snn_neurons, snn_core\n"
        "lif = snn_neurons.LIFNode(step_mode='m')\n"
        "x = torch.full((3, 2), 1.5, requires_grad=True)\n"
        "s = lif(x)\n"
        "assert s.tolist() == [[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]], s\n"
        "s.sum().backward()\n"
        "assert x.grad is not None and torch.isfinite(x.grad).all()\n"
        "print('ok')\n"
    )
    out = subprocess.run([str(py), "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "ok"
