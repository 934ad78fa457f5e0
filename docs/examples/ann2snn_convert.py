"""Convert a trained ReLU network checkpoint to a spiking network, with a JSON card.

Inputs: the function that builds the ANN (``--model package.module:function`` or
``--model path/to/file.py:function``, called with no arguments), its ``state_dict``
checkpoint (``--checkpoint``, a ``torch.save`` file read with ``weights_only=True``, or a
``.safetensors`` file) and calibration inputs (``--calib``, a saved tensor ``[N, ...]``;
optional ``--labels`` ``[N]`` to report the ANN's and the SNN's accuracy).

Outputs in ``--out``: ``snn_state_dict.pt`` (the converted network's tensors, thresholds
included) and ``card.json`` (source, checksum, recipe settings, per-layer thresholds,
input shape, accuracies). ``load_converted(out_dir)`` rebuilds the SNN from the two.

Run:  python docs/examples/ann2snn_convert.py --model my_models:make_cnn \\
          --checkpoint cnn.pt --calib calib.pt --mode 99.9% --out converted/
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

import torch
from snn_core import functional
from snn_layers import ann2snn
from torch import nn


def load_factory(spec: str) -> Callable[[], nn.Module]:
    """``'pkg.module:fn'`` or ``'file.py:fn'`` -> the function ``fn``."""
    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name:
        raise ValueError(f"--model must look like 'package.module:function', got {spec!r}")
    if where.endswith(".py"):
        module_spec = importlib.util.spec_from_file_location(Path(where).stem, where)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(where)
    return getattr(module, name)


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from ``.safetensors`` or a ``torch.save`` file (``weights_only=True``)."""
    if str(path).endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(str(path))
    return torch.load(path, map_location="cpu", weights_only=True)


def thresholds(snn: nn.Module) -> dict[str, list[float] | float]:
    """The calibrated scale ``λ`` of every converted activation (its ``scaler1``)."""
    out: dict[str, list[float] | float] = {}
    for name, module in snn.named_modules():
        if name.endswith("scaler1") and hasattr(module, "scale"):
            s = module.scale.detach().cpu()
            out[name.rsplit(".", 1)[0]] = s.item() if s.dim() == 0 else s.tolist()
    return out


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int | None) -> float:
    if steps is None:
        return 100.0 * (model(x).argmax(1) == y).float().mean().item()
    functional.set_step_mode(model, "m")
    functional.reset_net(model)
    out = model(x.unsqueeze(0).expand(steps, *x.shape)).mean(0)
    functional.reset_net(model)
    functional.set_step_mode(model, "s")
    return 100.0 * (out.argmax(1) == y).float().mean().item()


def _recipe(
    mode: str, momentum: float, fuse: bool, channel_wise: bool, data
) -> ann2snn.RateCodingRecipe:
    mode_value: str | float = float(mode) if mode.replace(".", "", 1).isdigit() else mode
    return ann2snn.RateCodingRecipe(
        data, mode=mode_value, momentum=momentum, fuse_flag=fuse, channel_wise=channel_wise
    )


def convert_checkpoint(args: argparse.Namespace) -> dict:
    ann = load_factory(args.model)()
    ann.load_state_dict(load_tensors(args.checkpoint))
    ann.eval()
    calib = torch.load(args.calib, map_location="cpu", weights_only=True)
    batches = [calib[i : i + args.batch_size] for i in range(0, len(calib), args.batch_size)]
    recipe = _recipe(args.mode, args.momentum, not args.no_fuse, args.channel_wise, batches)
    snn = ann2snn.Converter(recipe).convert(ann)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(snn.state_dict(), out / "snn_state_dict.pt")
    card = {
        "source": {
            "model": args.model,
            "checkpoint": str(args.checkpoint),
            "sha256": hashlib.sha256(Path(args.checkpoint).read_bytes()).hexdigest(),
        },
        "recipe": {
            "name": "RateCodingRecipe",
            "mode": args.mode,
            "momentum": args.momentum,
            "fuse_flag": not args.no_fuse,
            "channel_wise": args.channel_wise,
            "calibration_samples": len(calib),
        },
        "input_shape": list(calib.shape[1:]),
        "neuron": "IFNode(v_threshold=1.0, v_reset=None) between two scalers",
        "thresholds": thresholds(snn),
        "usage": "functional.set_step_mode(snn, 'm'); snn(x.repeat(T, 1, ...)).mean(0)",
    }
    if args.labels:
        labels = torch.load(args.labels, map_location="cpu", weights_only=True)
        card["accuracy"] = {"ann": accuracy(ann, calib, labels, None)}
        for steps in args.time_steps:
            card["accuracy"][f"snn_T{steps}"] = accuracy(snn, calib, labels, steps)
    (out / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def load_converted(out_dir: str | Path) -> nn.Module:
    """Rebuild the converted SNN written by this script (graph from the card's recipe,
    tensors and thresholds from ``snn_state_dict.pt``)."""
    out = Path(out_dir)
    card = json.loads((out / "card.json").read_text())
    ann = load_factory(card["source"]["model"])().eval()
    r = card["recipe"]
    # any positive calibration builds the same graph; the saved scales then replace its
    probe = [torch.rand(2, *card["input_shape"]) + 0.5]
    recipe = _recipe(r["mode"], r["momentum"], r["fuse_flag"], r["channel_wise"], probe)
    snn = ann2snn.Converter(recipe).convert(ann)
    snn.load_state_dict(load_tensors(out / "snn_state_dict.pt"))
    return snn


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="'package.module:function' building the ANN")
    p.add_argument("--checkpoint", required=True, help="ANN state_dict (.pt or .safetensors)")
    p.add_argument("--calib", required=True, help="calibration inputs, a saved tensor [N, ...]")
    p.add_argument("--labels", help="labels [N] of --calib, to report accuracies")
    p.add_argument("--mode", default="max", help="'max', a percentile like '99.9%%' or (0, 1]")
    p.add_argument("--momentum", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--no-fuse", action="store_true", help="keep BatchNorm layers")
    p.add_argument("--channel-wise", action="store_true", help="one threshold per channel")
    p.add_argument("--time-steps", type=int, nargs="*", default=[32, 128])
    p.add_argument("--out", required=True, help="output folder")
    card = convert_checkpoint(p.parse_args(argv))
    print(json.dumps({k: card[k] for k in ("recipe", "accuracy") if k in card}, indent=2))
    return card


if __name__ == "__main__":
    main()
