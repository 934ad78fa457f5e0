"""The snn-zoo command line: list, train, eval, bench, profile.

    snn-zoo list [PATTERN]
    snn-zoo train [--model spikformer_digits] [--dataset digits] [--epochs N] ...
    snn-zoo train --resume [RUN_DIR]
    snn-zoo eval --model NAME (--checkpoint FILE | --pretrained) [--dataset digits]
    snn-zoo bench --model NAME [--pretrained | --checkpoint FILE] [--batch-size 8] [--train]
    snn-zoo profile --model NAME [--pretrained | --checkpoint FILE] [--dataset digits] [--samples N]

Multi-process: torchrun --nproc_per_node 2 -m snn_zoo train ...

Exit status: 0 done, 1 training stopped on a non-finite loss, 2 bad arguments or files,
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main", "build_parser"]

_DESCRIPTION = "Train, evaluate, list and benchmark the snn-zoo spiking-network models."
_EPILOG = __doc__.split("\n", 2)[2]


class _Formatter(argparse.HelpFormatter):
    """Shows each option's default (except None / False) after its help."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        hidden = default is None or default is False or default is argparse.SUPPRESS
        if action.option_strings and "%(default)" not in text and not hidden:
            text += " (default: %(default)s)"
        return text


class _TopFormatter(argparse.RawDescriptionHelpFormatter, _Formatter):
    """Keeps the usage examples of the epilog as written."""


def _adder(p: argparse.ArgumentParser, suppress: bool):
    """``add_argument`` whose defaults become ``SUPPRESS`` in the parser that finds which
    options the user gave (``--resume`` keeps the run's settings for the others)."""

    def add(*flags: str, default: Any = None, **kw: Any) -> None:
        if kw.get("action") in ("store_true",):
            default = False if default is None else default
        p.add_argument(*flags, default=argparse.SUPPRESS if suppress else default, **kw)

    return add


def _add_model_args(p: argparse.ArgumentParser, default: str | None, suppress: bool) -> None:
    add = _adder(p, suppress)
    add("--model", default=default, required=default is None, help="zoo model name")
    add("--T", type=int, help="number of time steps (default: the variant's)")
    add("--backend", help="neuron backend: torch, triton or cupy (default: the variant's)")
    add("--img-size", type=int, help="input size (default: the data set's)")
    add("--device", help="cpu or cuda (default: cuda if available)")


def _add_data_args(p: argparse.ArgumentParser, suppress: bool) -> None:
    from snn_zoo.data import DATASETS

    add = _adder(p, suppress)
    add("--dataset", default="digits", choices=DATASETS, help="data set")
    add("--data-dir", help="local data directory (not used by digits, which ships with sklearn)")
    add("--batch-size", type=int, default=64, help="batch size per process")
    add("--workers", type=int, default=0, help="data-loading worker processes")


_AMP_HELP = (
    "mixed precision: bf16 (CPU or CUDA autocast) or fp16 (CUDA only, with a gradient "
    "scaler); default: float32"
)


def _add_train_parser(sub: Any, suppress: bool = False) -> argparse.ArgumentParser:
    from snn_zoo.train import DEFAULT_MODEL, DEFAULT_OUTPUT_DIR

    p = sub.add_parser(
        "train",
        help="train a model (default: digits, no download)",
        description="Train a zoo model; writes metrics, a checkpoint, its card, plots and a "
        "resumable state (train_state.pt) to --output-dir. A directory that already holds a "
        "run is refused unless --resume or --overwrite is given.",
        formatter_class=_Formatter,
    )
    _add_model_args(p, DEFAULT_MODEL, suppress)
    _add_data_args(p, suppress)
    add = _adder(p, suppress)
    add("--epochs", type=int, default=30, help="training epochs")
    add("--lr", type=float, default=2e-3, help="AdamW learning rate (cosine schedule)")
    add("--weight-decay", type=float, default=0.01, help="AdamW weight decay")
    add("--label-smoothing", type=float, default=0.0, help="cross-entropy label smoothing")
    add("--seed", type=int, default=0, help="random seed (weights, shuffling)")
    add("--output-dir", default=DEFAULT_OUTPUT_DIR, help="run directory ({model} is replaced)")
    add(
        "--resume",
        nargs="?",
        const="",
        metavar="PATH",
        help="continue an interrupted run from its last complete epoch: PATH is its run "
        "directory or train_state.pt (no PATH: --output-dir); it keeps the run's settings",
    )
    add("--overwrite", action="store_true", help="replace a run already in --output-dir")
    add("--train-samples", type=int, help="use only the first N training samples")
    add("--test-samples", type=int, help="use only the first N test samples")
    add(
        "--detect-anomaly",
        action="store_true",
        help="stop at the first neuron whose input or state becomes NaN / inf, naming it",
    )
    add("--no-progress", action="store_true", help="hide the progress bar")
    add("--no-plots", action="store_true", help="skip the PNG plots (faster)")
    add("--threads", type=int, help="torch intra-op threads (default: torch's)")
    add("--amp", choices=("bf16", "fp16"), help=_AMP_HELP)
    return p


def build_parser(_suppress_train_defaults: bool = False) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snn-zoo", description=_DESCRIPTION, epilog=_EPILOG, formatter_class=_TopFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "list",
        help="list model variants with their parameters and cards",
        formatter_class=_Formatter,
    )
    p.add_argument("pattern", nargs="?", default="*", help="shell-style name pattern")
    p.add_argument("--cards", action="store_true", help="print each variant's full card")

    _add_train_parser(sub, _suppress_train_defaults)

    p = sub.add_parser(
        "eval", help="evaluate a checkpoint or the shipped weights", formatter_class=_Formatter
    )
    _add_model_args(p, None, False)
    _add_data_args(p, False)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--checkpoint", help="a .safetensors (or weights-only torch) checkpoint")
    g.add_argument("--pretrained", action="store_true", help="the weights shipped with snn-zoo")
    p.add_argument("--amp", choices=("bf16", "fp16"), help=_AMP_HELP)

    p = sub.add_parser(
        "bench",
        help="speed, memory, firing rates, SOPs and energy",
        description="Speed, memory, firing rates, synaptic operations and energy of one "
        "model. Without --pretrained / --checkpoint the weights are random (untrained), so "
        "firing rates, SOPs and energy describe an untrained network.",
        formatter_class=_Formatter,
    )
    _add_model_args(p, None, False)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--checkpoint", help="measure these weights")
    g.add_argument("--pretrained", action="store_true", help="measure the shipped weights")
    p.add_argument(
        "--input",
        choices=("auto", "digits", "random"),
        default="auto",
        help="input batch: test images of the digits data set, or N(0, 1) noise; auto: "
        "digits for the 1x8x8 digits models, noise otherwise",
    )
    p.add_argument("--batch-size", type=int, default=8, help="batch size")
    p.add_argument("--steps", type=int, default=5, help="timed steps (after one warm-up)")
    p.add_argument("--train", action="store_true", help="time training steps, not inference")

    p = sub.add_parser(
        "profile",
        help="per-layer firing rates, operations and energy (the papers' convention)",
        description="Per-layer firing rates, SOPs / MACs and energy of one model on real samples, "
        "E = E_MAC*FLOPs(real-input layers) + E_AC*sum(fr*T*FLOPs) (snn_core.op_counter."
        "estimate_paper_energy); writes <model>_profile.csv/.json/.png into --out-dir.",
        formatter_class=_Formatter,
    )
    _add_model_args(p, None, False)
    _add_data_args(p, False)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--checkpoint", help="profile these weights")
    g.add_argument("--pretrained", action="store_true", help="profile the shipped weights")
    p.add_argument(
        "--samples", type=int, help="number of test samples (default: the whole test split)"
    )
    p.add_argument(
        "--cost", choices=("fp32", "fp16", "int8"), default="fp32", help="energy per operation"
    )
    p.add_argument(
        "--multi-spike",
        action="store_true",
        help="count integer spike counts (e.g. residual sums of spikes) as ACs instead of MACs",
    )
    p.add_argument("--out-dir", default=".", help="directory for the CSV, JSON and PNG")
    return parser


def _params_m(name: str, card: dict[str, Any]) -> str:
    params = card.get("params_m")
    if isinstance(params, (int, float)):
        return f"{params:.2f}"
    import torch

    from snn_zoo import create_model

    with torch.device("meta"):
        model = create_model(name)
    return f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}*"


def _cmd_list(args: argparse.Namespace) -> int:
    from snn_zoo import get_pretrained_cfg, list_models

    names = list_models(args.pattern)
    if not names:
        print(f"no model matches {args.pattern!r}", file=sys.stderr)
        return 1
    print(f"{'model':<28} {'params (M)':>10} {'input':>14} {'T':>3}  {'top-1':>6}  paper")
    counted = False
    for name in names:
        card = get_pretrained_cfg(name)
        size = "x".join(str(s) for s in card.get("input_size", ()))
        acc = card.get("reported_accuracy")
        acc_s = f"{acc:.2f}" if isinstance(acc, (int, float)) else "-"
        params_s = _params_m(name, card)
        counted |= params_s.endswith("*")
        print(
            f"{name:<28} {params_s:>10} {size:>14} {card.get('T', '-')!s:>3}  {acc_s:>6}  "
            f"{card.get('paper', '')}"
        )
        if args.cards:
            print(json.dumps(card, indent=2, default=str))
    if counted:
        print("* counted from the built model (no published count)")
    return 0


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("T", "backend", "img_size"):
        value = getattr(args, key, None)
        if value is not None:
            out[key] = value
    return out


_TRAIN_KEYS = (
    "model",
    "dataset",
    "data_dir",
    "epochs",
    "batch_size",
    "lr",
    "weight_decay",
    "label_smoothing",
    "seed",
    "T",
    "img_size",
    "backend",
    "output_dir",
    "device",
    "workers",
    "threads",
    "overwrite",
    "train_samples",
    "test_samples",
    "detect_anomaly",
    "amp",
)


def _train_config(args: argparse.Namespace, argv: Sequence[str] | None) -> Any:
    from snn_zoo.train import TrainConfig, resume_config

    given = vars(build_parser(_suppress_train_defaults=True).parse_args(argv))
    if "resume" in given:
        changes = {k: given[k] for k in _TRAIN_KEYS if k in given}
        if "no_progress" in given:
            changes["progress"] = not given["no_progress"]
        if "no_plots" in given:
            changes["plots"] = not given["no_plots"]
        return resume_config(given["resume"], **changes)
    fields = {k: getattr(args, k) for k in _TRAIN_KEYS}
    return TrainConfig(**fields, progress=not args.no_progress, plots=not args.no_plots)


def _cmd_train(args: argparse.Namespace, argv: Sequence[str] | None = None) -> int:
    from snn_zoo.train import train

    train(_train_config(args, argv))
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    import torch
    from torch.utils.data import DataLoader

    from snn_zoo import create_model
    from snn_zoo.data import frames_T, load_dataset
    from snn_zoo.distributed import DistInfo
    from snn_zoo.train import check_amp, check_device, evaluate

    if args.device is not None:
        check_device(args.device)
    check_amp(args.amp, args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    spec = load_dataset(
        args.dataset, args.data_dir, T=frames_T(args.model, args.T), img_size=args.img_size
    )
    overrides = _overrides(args)
    overrides.setdefault("num_classes", spec.num_classes)
    overrides.setdefault("in_chans", spec.in_chans)
    overrides.setdefault("img_size", spec.img_size)
    model = create_model(
        args.model, pretrained=args.pretrained, checkpoint_path=args.checkpoint, **overrides
    )
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    loss, acc = evaluate(
        model.to(device),
        DataLoader(spec.test, batch_size=args.batch_size),
        DistInfo(device=device),
        args.amp,
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
    from snn_zoo.bench import bench_inputs, bench_model

    card = get_pretrained_cfg(args.model)
    shape = tuple(card["input_size"])
    if args.img_size:
        shape = (shape[0], args.img_size, args.img_size)
    model = create_model(
        args.model, pretrained=args.pretrained, checkpoint_path=args.checkpoint, **_overrides(args)
    )
    if args.pretrained:
        weights = f"pretrained ({card.get('file')})"
    elif args.checkpoint:
        weights = f"checkpoint {args.checkpoint}"
    else:
        weights = "random initialization (untrained)"
    x, input_desc = bench_inputs(args.input, shape, args.batch_size)
    import torch

    from snn_zoo.train import check_device

    if args.device is not None:
        check_device(args.device)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    res = bench_model(model, shape, args.batch_size, args.steps, args.train, device, inputs=x)
    report = {"model": args.model, "input_size": shape, "weights": weights, "input": input_desc}
    if not (args.pretrained or args.checkpoint):
        report["note"] = (
            "random weights: firing rates, SOPs and energy describe an untrained network; "
            "pass --pretrained or --checkpoint FILE to measure trained weights"
        )
        print(f"snn-zoo bench: note: {report['note']}", file=sys.stderr)
    print(json.dumps({**report, **res}, indent=2))
    return 0


def _cmd_profile(args: argparse.Namespace) -> int:
    from torch.utils.data import DataLoader

    from snn_zoo import create_model
    from snn_zoo.data import frames_T, load_dataset
    from snn_zoo.profile import profile_model, write_profile

    T = frames_T(args.model, args.T)
    spec = load_dataset(args.dataset, args.data_dir, T=T, img_size=args.img_size)
    overrides = _overrides(args)
    overrides.setdefault("num_classes", spec.num_classes)
    overrides.setdefault("in_chans", spec.in_chans)
    overrides.setdefault("img_size", spec.img_size)
    model = create_model(
        args.model, pretrained=args.pretrained, checkpoint_path=args.checkpoint, **overrides
    )
    loader = DataLoader(spec.test, batch_size=args.batch_size)
    report = profile_model(
        model,
        loader,
        samples=args.samples,
        time_steps=T,
        cost=args.cost,
        multi_spike=args.multi_spike,
    )
    weights = (
        "pretrained"
        if args.pretrained
        else (args.checkpoint or "random initialization (untrained)")
    )
    meta = {
        "model": args.model,
        "dataset": args.dataset,
        "weights": weights,
        "samples": report.batch_size,
    }
    paths = write_profile(report, args.out_dir, args.model, meta)
    print(report.table())
    for warning in report.warnings:
        print(f"snn-zoo profile: warning: {warning}", file=sys.stderr)
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from snn_zoo._runs import NonFiniteError, TrainingInterrupted

    args = build_parser().parse_args(argv)
    handlers = {"list": _cmd_list, "eval": _cmd_eval, "bench": _cmd_bench, "profile": _cmd_profile}
    try:
        if args.command == "train":
            return _cmd_train(args, argv)
        return handlers[args.command](args)
    except TrainingInterrupted as e:
        print(f"\nsnn-zoo {args.command}: {e}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"\nsnn-zoo {args.command}: interrupted", file=sys.stderr)
        return 130
    except (NonFiniteError, FloatingPointError) as e:  # also anomaly mode's error
        print(f"snn-zoo {args.command}: error: {e}", file=sys.stderr)
        return 1
    except (ValueError, OSError, RuntimeError, KeyError, TypeError) as e:
        msg = str(e) if not isinstance(e, KeyError) else str(e.args[0] if e.args else e)
        print(f"snn-zoo {args.command}: error: {msg}", file=sys.stderr)
        return 2
