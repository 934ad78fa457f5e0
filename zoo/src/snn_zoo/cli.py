"""The ``snn-zoo`` command line: ``list``, ``train``, ``eval``, ``bench``.

    snn-zoo list [PATTERN]
    snn-zoo train [--model spikformer_digits] [--dataset digits] [--epochs N] ...
    snn-zoo eval --model NAME (--checkpoint FILE | --pretrained) [--dataset digits]
    snn-zoo bench --model NAME [--batch-size 8] [--train]

Multi-process: ``torchrun --nproc_per_node 2 -m snn_zoo train ...``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main", "build_parser"]


def _add_model_args(p: argparse.ArgumentParser, default: str | None) -> None:
    p.add_argument("--model", default=default, required=default is None, help="zoo model name")
    p.add_argument("--T", type=int, default=None, help="override the number of time steps")
    p.add_argument("--backend", default=None, help="neuron backend override (torch/triton/cupy)")
    p.add_argument("--img-size", type=int, default=None, help="override the input size")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")


def _add_data_args(p: argparse.ArgumentParser) -> None:
    from snn_zoo.data import DATASETS

    p.add_argument("--dataset", default="digits", choices=DATASETS)
    p.add_argument("--data-dir", default=None, help="local data directory (not for digits)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--workers", type=int, default=0)


def build_parser() -> argparse.ArgumentParser:
    from snn_zoo.train import DEFAULT_MODEL

    parser = argparse.ArgumentParser(prog="snn-zoo", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list model variants with their parameters and cards")
    p.add_argument("pattern", nargs="?", default="*")
    p.add_argument("--cards", action="store_true", help="print each variant's full card")

    p = sub.add_parser("train", help="train a model (default: digits, no download)")
    _add_model_args(p, DEFAULT_MODEL)
    _add_data_args(p)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output-dir", default="runs/{model}")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")

    p = sub.add_parser("eval", help="evaluate a checkpoint or the shipped weights")
    _add_model_args(p, None)
    _add_data_args(p)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--checkpoint", help="a .safetensors (or weights-only torch) checkpoint")
    g.add_argument("--pretrained", action="store_true", help="the weights shipped with snn-zoo")

    p = sub.add_parser("bench", help="speed, memory, firing rates, SOPs and energy")
    _add_model_args(p, None)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--train", action="store_true", help="time training steps, not inference")
    return parser


def _cmd_list(args: argparse.Namespace) -> int:
    from snn_zoo import get_pretrained_cfg, list_models

    names = list_models(args.pattern)
    if not names:
        print(f"no model matches {args.pattern!r}", file=sys.stderr)
        return 1
    print(f"{'model':<28} {'params (M)':>10} {'input':>14} {'T':>3}  {'top-1':>6}  paper")
    for name in names:
        card = get_pretrained_cfg(name)
        size = "x".join(str(s) for s in card.get("input_size", ()))
        acc = card.get("reported_accuracy")
        acc_s = f"{acc:.2f}" if isinstance(acc, (int, float)) else "-"
        params = card.get("params_m")
        params_s = f"{params:.2f}" if isinstance(params, (int, float)) else "-"
        print(
            f"{name:<28} {params_s:>10} {size:>14} {card.get('T', '-')!s:>3}  {acc_s:>6}  "
            f"{card.get('paper', '')}"
        )
        if args.cards:
            print(json.dumps(card, indent=2, default=str))
    return 0


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("T", "backend", "img_size"):
        value = getattr(args, key, None)
        if value is not None:
            out[key] = value
    return out


def _cmd_train(args: argparse.Namespace) -> int:
    from snn_zoo.train import TrainConfig, train

    cfg = TrainConfig(
        model=args.model,
        dataset=args.dataset,
        data_dir=args.data_dir,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        label_smoothing=args.label_smoothing,
        seed=args.seed,
        T=args.T,
        img_size=args.img_size,
        backend=args.backend,
        output_dir=args.output_dir,
        device=args.device,
        workers=args.workers,
        progress=not args.no_progress,
        threads=args.threads,
    )
    train(cfg)
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    import torch
    from torch.utils.data import DataLoader

    from snn_zoo import create_model
    from snn_zoo.data import load_dataset
    from snn_zoo.train import evaluate

    spec = load_dataset(args.dataset, args.data_dir, T=args.T or 16, img_size=args.img_size)
    overrides = _overrides(args)
    overrides.setdefault("num_classes", spec.num_classes)
    overrides.setdefault("in_chans", spec.in_chans)
    overrides.setdefault("img_size", spec.img_size)
    model = create_model(
        args.model, pretrained=args.pretrained, checkpoint_path=args.checkpoint, **overrides
    )
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    from snn_zoo.distributed import DistInfo

    loss, acc = evaluate(
        model.to(device), DataLoader(spec.test, batch_size=args.batch_size), DistInfo(device=device)
    )
    print(
        json.dumps(
            {
                "model": args.model,
                "dataset": args.dataset,
                "test_loss": loss,
                "test_acc": acc,
                "samples": len(spec.test),
            },
            indent=2,
        )
    )
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from snn_zoo import create_model, get_pretrained_cfg
    from snn_zoo.bench import bench_model

    model = create_model(args.model, **_overrides(args))
    card = get_pretrained_cfg(args.model)
    shape = tuple(card["input_size"])
    if args.img_size:
        shape = (shape[0], args.img_size, args.img_size)
    res = bench_model(model, shape, args.batch_size, args.steps, args.train, args.device or "cpu")
    print(json.dumps({"model": args.model, "input_size": shape, **res}, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"list": _cmd_list, "train": _cmd_train, "eval": _cmd_eval, "bench": _cmd_bench}
    try:
        return handler[args.command](args)
    except (ValueError, FileNotFoundError, RuntimeError, KeyError) as e:
        print(f"snn-zoo {args.command}: error: {e}", file=sys.stderr)
        return 2
