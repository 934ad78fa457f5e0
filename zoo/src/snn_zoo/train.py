"""Training and evaluation loops behind ``snn-zoo train`` and ``snn-zoo eval``.

Runs single-process or under ``torchrun`` (DistributedDataParallel; gloo on CPU, nccl on
GPU). Rank 0 logs and writes the run directory (see :mod:`snn_zoo._runs`): metrics (JSON
and CSV), a safetensors checkpoint with its card, plots, and after every epoch a resumable
training state. Every file is written under a unique temporary name and renamed, so an
interrupted run never leaves a half-written file, and a directory holding a run is never
overwritten unless asked (``overwrite=True``). ``resume`` continues a run from its last
complete epoch and ends with the same metrics as an uninterrupted run. A NaN / inf loss
stops training before anything non-finite is saved.

Longer than our usual 600 lines: the loop, its resumable state and its fault handling
(interrupts, non-finite losses, file-system errors) belong together and are read as one.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, Subset

from snn_zoo import _runs
from snn_zoo._checkpoint import save_checkpoint
from snn_zoo._runs import NonFiniteError, TrainingInterrupted
from snn_zoo.data import DataSpec, frames_T, load_dataset, time_first
from snn_zoo.distributed import DistInfo, all_reduce_sum, barrier, cleanup, init_distributed
from snn_zoo.monitor import SpikeMonitor

__all__ = ["TrainConfig", "train", "evaluate", "resume_config", "TrainingInterrupted"]

DEFAULT_MODEL = "spikformer_digits"
DEFAULT_OUTPUT_DIR = "runs/{model}"

#: settings that decide a run's numbers: a resumed run must keep them
RESULT_FIELDS = (
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
    "train_samples",
    "test_samples",
    "overrides",
)
# Card entries that describe the shipped weights, not a new run's.
_SHIPPED_WEIGHTS_KEYS = ("file", "sha256", "reported_accuracy", "hf_hub_id", "url", "notes")


@dataclass
class TrainConfig:
    """Options of ``snn-zoo train`` (defaults train the digits model to >= 95% on 2 cores).

    ``output_dir`` defaults to ``runs/{model}`` (or, when resuming, the resumed run's
    directory). ``resume``: ``None`` starts a new run; ``''`` resumes the run in
    ``output_dir``; a path names a run directory or its ``train_state.pt``.
    ``train_samples`` / ``test_samples`` use only the first N samples of each split.
    """

    model: str = DEFAULT_MODEL
    dataset: str = "digits"
    data_dir: str | None = None
    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.01
    label_smoothing: float = 0.0
    seed: int = 0
    T: int | None = None
    img_size: int | None = None
    backend: str | None = None
    output_dir: str | None = None
    device: str | None = None
    workers: int = 0
    progress: bool = True
    threads: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    resume: str | None = None
    overwrite: bool = False
    train_samples: int | None = None
    test_samples: int | None = None
    detect_anomaly: bool = False
    plots: bool = True
    amp: str | None = None


def resume_config(resume: str = "", **changes: Any) -> TrainConfig:
    """The :class:`TrainConfig` of the run that ``resume`` names, with ``changes`` applied.

    Changing a setting that decides the run's numbers (:data:`RESULT_FIELDS`) is a
    ``ValueError`` naming the old and new values.
    """
    default_dir = Path(
        (changes.get("output_dir") or DEFAULT_OUTPUT_DIR).format(
            model=changes.get("model", DEFAULT_MODEL)
        )
    )
    path = _runs.find_state_file(resume, default_dir)
    saved = _runs.load_train_state(path)["config"]
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    base = {k: v for k, v in saved.items() if k in names}
    clashes = [
        f"{k}: {base.get(k)!r} -> {v!r}"
        for k, v in changes.items()
        if k in RESULT_FIELDS and v != base.get(k)
    ]
    if clashes:
        raise ValueError(
            f"cannot resume {str(path)!r} with other settings ({'; '.join(clashes)}); a resumed "
            f"run keeps its settings. Drop those options, or start a new run with "
            f"--output-dir DIR"
        )
    base.update(changes)
    base["resume"] = str(path)
    if "output_dir" not in changes:
        base["output_dir"] = str(path.parent)
    return TrainConfig(**base)


def _save(model: nn.Module, path: Path, card: dict[str, Any]) -> str:
    return save_checkpoint(model, path, {"card": json.dumps(card, default=str)})


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def _loader(ds: Any, cfg: TrainConfig, info: DistInfo, train: bool) -> DataLoader:
    sampler = None
    if info.enabled:
        sampler = DistributedSampler(
            ds, num_replicas=info.world_size, rank=info.rank, shuffle=train, seed=cfg.seed
        )
    gen = torch.Generator().manual_seed(cfg.seed)
    return DataLoader(
        ds,
        batch_size=cfg.batch_size,
        shuffle=train and sampler is None,
        sampler=sampler,
        num_workers=cfg.workers,
        generator=gen,
        drop_last=False,
    )


AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_amp(amp: str | None, device: Any) -> None:
    """A clear error for an ``--amp`` value this device cannot run."""
    if amp is None:
        return
    if amp not in AMP_DTYPES:
        raise ValueError(f"--amp must be one of {sorted(AMP_DTYPES)}, got {amp!r}")
    dev_type = torch.device(device).type if device is not None else None
    if amp == "fp16" and dev_type != "cuda":
        raise ValueError(
            f"--amp fp16 needs a CUDA device (float16 autocast with a gradient scaler), "
            f"got device {str(device)!r}; on CPU use --amp bf16"
        )


def autocast(amp: str | None, device: Any) -> Any:
    """``torch.autocast`` for ``--amp`` (``bf16`` / ``fp16``) on ``device``; a no-op for None."""
    dev_type = torch.device(device).type
    if amp is None:
        return contextlib.nullcontext()
    return torch.autocast(dev_type, dtype=AMP_DTYPES[amp])


@torch.no_grad()
def evaluate(
    model: nn.Module, loader: DataLoader, info: DistInfo | None = None, amp: str | None = None
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` over ``loader`` (summed over ranks);
    ``amp``: run the forward under ``torch.autocast`` (``'bf16'`` or ``'fp16'``)."""
    info = info or DistInfo()
    model.eval()
    loss_sum, correct, count = 0.0, 0.0, 0.0
    for x, y in loader:
        x, y = time_first(x).to(info.device), y.to(info.device)
        with autocast(amp, info.device):
            logits = model(x)
        logits = logits.float()
        loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        count += y.numel()
    loss_sum, correct, count = all_reduce_sum([loss_sum, correct, count], info)
    return loss_sum / max(count, 1), correct / max(count, 1)


def _progress(iterable: Any, enabled: bool, desc: str) -> Any:
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, desc=desc, leave=False, dynamic_ncols=True, file=sys.stderr)


def _build(cfg: TrainConfig, spec: DataSpec) -> nn.Module:
    from snn_zoo import create_model

    overrides = dict(cfg.overrides)
    overrides.setdefault("num_classes", spec.num_classes)
    overrides.setdefault("in_chans", spec.in_chans)
    overrides.setdefault("img_size", cfg.img_size or spec.img_size)
    if cfg.T is not None:
        overrides["T"] = cfg.T
    if cfg.backend is not None:
        overrides["backend"] = cfg.backend
    return create_model(cfg.model, **overrides)


def _write_metrics(out: Path, history: list[dict[str, float]]) -> None:
    _runs.atomic_write_text(out / "metrics.json", json.dumps(history, indent=2))
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=list(history[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    _runs.atomic_write_text(out / "metrics.csv", buf.getvalue())


def _final_artifacts(
    model: nn.Module, spec: DataSpec, out: Path, history: list[dict], plots: bool = True
) -> dict:
    """Per-layer firing rates on a test batch and (``plots``) the plots: curves, spike
    raster of one test sample, firing rates."""
    model.eval()
    x, _ = next(iter(DataLoader(spec.test, batch_size=64)))
    with torch.no_grad(), SpikeMonitor(model, keep_raster=True) as mon:
        model(time_first(x).to(next(model.parameters()).device))
    rates = mon.rates()
    if not plots:
        return rates
    from snn_zoo.plots import plot_curves, plot_firing_rates, plot_raster

    plot_curves(history, out / "curves.png")
    plot_raster(mon.raster, out / "raster.png")
    plot_firing_rates(rates, out / "firing_rates.png")
    return rates


def _run_card(model: nn.Module, cfg: TrainConfig, spec: DataSpec, n_params: int) -> dict:
    """The card of this run's weights: the variant's architecture and paper, this model's
    actual input size, classes and parameters; nothing of the shipped weights' card."""
    card = {
        k: v
        for k, v in (getattr(model, "pretrained_cfg", {}) or {}).items()
        if k not in _SHIPPED_WEIGHTS_KEYS
    }
    img = cfg.img_size or spec.img_size
    card.update(
        name=cfg.model,
        dataset=spec.name,
        input_size=[spec.in_chans, img, img],
        num_classes=spec.num_classes,
        T=getattr(model, "T", card.get("T")),
        params_m=round(n_params / 1e6, 4),
        file="checkpoint.safetensors",
        config=asdict(cfg),
    )
    return card


def _subset(ds: Any, n: int | None, name: str) -> Any:
    if n is None:
        return ds
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"{name} must be a positive int or None, got {n!r}")
    return Subset(ds, range(min(n, len(ds))))


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train ``cfg.model`` on ``cfg.dataset``; return the final metrics.

    Raises :class:`~snn_zoo._runs.TrainingInterrupted` (a ``KeyboardInterrupt``) on Ctrl-C,
    with a message saying how to resume, and :class:`~snn_zoo._runs.NonFiniteError` when
    the loss or the weights become NaN / inf.
    """
    _check_config(cfg)
    info = init_distributed(cfg.device)
    try:
        result = _train(cfg, info)
        # Leave together: rank 0 may still be writing the checkpoint and plots, and a rank
        # that tears down its gloo threads and exits meanwhile can abort the job.
        barrier(info)
        return result
    finally:
        cleanup(info)


def check_device(device: str) -> None:
    """A clear error for a device string torch rejects or this machine lacks."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"--device {device!r} is not a device: {exc}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"--device {device!r}: no CUDA device is available here "
            f"(torch.cuda.is_available() is False); use --device cpu"
        )


def _check_config(cfg: TrainConfig) -> None:
    if cfg.resume is not None and cfg.overwrite:
        raise ValueError(
            "--resume continues the run in its directory and --overwrite replaces it; give one"
        )
    if cfg.device is not None:
        check_device(cfg.device)
    default_device = "cuda" if torch.cuda.is_available() else "cpu"
    check_amp(cfg.amp, cfg.device or default_device)
    for name in ("epochs", "batch_size"):
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if cfg.threads is not None and cfg.threads < 1:
        raise ValueError(f"threads must be >= 1, got {cfg.threads}")
    for name in ("lr", "weight_decay", "label_smoothing"):
        value = getattr(cfg, name)
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if cfg.label_smoothing >= 1:
        raise ValueError(f"label_smoothing must be in [0, 1), got {cfg.label_smoothing!r}")


def _output_dir(cfg: TrainConfig) -> tuple[Path, Path | None]:
    """The run directory and, when resuming, the state file."""
    pattern = cfg.output_dir or DEFAULT_OUTPUT_DIR
    try:
        default = Path(pattern.format(model=cfg.model))
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"--output-dir {pattern!r}: the only placeholder it may hold is {{model}} ({exc})"
        ) from exc
    if cfg.resume is None:
        return default, None
    state_file = _runs.find_state_file(cfg.resume, default)
    return (default if cfg.output_dir else state_file.parent), state_file


def _restore(
    cfg: TrainConfig, state_file: Path, model: nn.Module, opt: Any, sched: Any, gen: Any
) -> dict[str, Any]:
    state = _runs.load_train_state(state_file)
    saved = state["config"]
    mine = json.loads(json.dumps(asdict(cfg), default=str))
    clashes = [
        f"{k}: {saved.get(k)!r} -> {mine[k]!r}" for k in RESULT_FIELDS if saved.get(k) != mine[k]
    ]
    if clashes:
        raise ValueError(
            f"cannot resume {str(state_file)!r} with other settings ({'; '.join(clashes)}); "
            f"a resumed run keeps its settings"
        )
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    _runs.set_rng_state(state["rng"], gen)
    return state


def _train(cfg: TrainConfig, info: DistInfo) -> dict[str, Any]:
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    out, state_file = _output_dir(cfg)
    # Data and model first: a bad name or setting fails before the output dir is touched.
    torch.manual_seed(cfg.seed)
    spec = load_dataset(
        cfg.dataset, cfg.data_dir, T=frames_T(cfg.model, cfg.T), img_size=cfg.img_size
    )
    spec.train = _subset(spec.train, cfg.train_samples, "train_samples")
    spec.test = _subset(spec.test, cfg.test_samples, "test_samples")
    model = _build(cfg, spec).to(info.device)
    # Every rank checks (so all stop together on a refusal); rank 0 alone removes old files.
    # Resuming into the run's own directory continues it; any other directory is guarded
    # like a new run's (it must not hold another run).
    in_place = state_file is not None and out.resolve() == state_file.parent.resolve()
    _runs.prepare_output_dir(out, resume=in_place, overwrite=cfg.overwrite, remove_old=info.is_main)
    n_params = sum(p.numel() for p in model.parameters())
    train_loader = _loader(spec.train, cfg, info, train=True)
    test_loader = _loader(spec.test, cfg, info, train=False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * len(train_loader)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
    )
    history: list[dict[str, float]] = []
    best_acc, first_epoch = -1.0, 1
    if state_file is not None:
        state = _restore(cfg, state_file, model, opt, sched, train_loader.generator)
        history, best_acc = list(state["history"]), float(state["best_acc"])
        first_epoch = int(state["epoch"]) + 1
        done = out / "result.json"
        if first_epoch > cfg.epochs and done.is_file():  # finished, final files written
            if info.is_main:
                print(f"{out}: the run already finished all {cfg.epochs} epochs; nothing to resume")
            return json.loads(done.read_text())
    if info.enabled:
        model = nn.parallel.DistributedDataParallel(model)
    if info.is_main:
        what = f"resuming after epoch {first_epoch - 1}" if state_file else "writing"
        print(
            f"model {cfg.model} ({n_params / 1e6:.3f}M params) on {cfg.dataset}: "
            f"{len(spec.train)} train / {len(spec.test)} test, {info.world_size} process(es), "
            f"device {info.device}, {what} to {out}",
            flush=True,
        )
    loop = _Loop(cfg, info, out, model, opt, sched, train_loader, test_loader, n_params)
    loop.history, loop.best_acc = history, best_acc
    from snn_core.anomaly import detect_anomaly

    start = time.perf_counter()
    try:
        with detect_anomaly(_unwrap(model), mode=cfg.detect_anomaly):
            for epoch in range(first_epoch, cfg.epochs + 1):
                loop.epoch = epoch
                loop.run_epoch(epoch)
            loop.epoch = None
            return loop.finish(spec, time.perf_counter() - start)
    except KeyboardInterrupt as exc:
        raise TrainingInterrupted(loop.interrupted_message(state_file)) from exc


class _Loop:
    """The epochs of one run and the files they write (rank 0)."""

    def __init__(
        self,
        cfg: TrainConfig,
        info: DistInfo,
        out: Path,
        model: nn.Module,
        opt: Any,
        sched: Any,
        train_loader: DataLoader,
        test_loader: DataLoader,
        n_params: int,
    ) -> None:
        self.cfg, self.info, self.out = cfg, info, out
        self.model, self.opt, self.sched = model, opt, sched
        self.train_loader, self.test_loader = train_loader, test_loader
        self.n_params = n_params
        self.history: list[dict[str, float]] = []
        self.best_acc = -1.0
        self.epoch: int | None = None
        self.ckpt = out / "checkpoint.safetensors"
        # float16 autocast (CUDA) scales the loss against underflow; a pass-through otherwise
        self.scaler = torch.amp.GradScaler("cuda", enabled=cfg.amp == "fp16")

    def _check_finite_loss(self, loss: torch.Tensor, epoch: int, batch: int) -> float:
        value = loss.item()
        bad = not math.isfinite(value)
        if self.info.enabled:  # every rank must stop at the same batch
            bad = all_reduce_sum([float(bad)], self.info)[0] > 0
        if bad:
            kept = (
                f"the files in {str(self.out)!r} hold epoch {self.history[-1]['epoch']}, the "
                f"last finite one"
                if self.history
                else "no epoch had completed, so nothing was saved"
            )
            raise NonFiniteError(
                f"the training loss became non-finite ({value}) at epoch {epoch}, batch "
                f"{batch}; training stopped before saving anything of this epoch ({kept}). "
                f"Lower --lr (now {self.cfg.lr:g}), or run with --detect-anomaly to find the "
                f"first layer that goes non-finite"
            )
        return value

    def _check_finite_weights(self, epoch: int) -> None:
        bad = [n for n, p in _unwrap(self.model).named_parameters() if not torch.isfinite(p).all()]
        if bad:
            raise NonFiniteError(
                f"after epoch {epoch} the weights {bad[:4]} hold NaN / inf; training stopped "
                f"before saving them. Lower --lr (now {self.cfg.lr:g})"
            )

    def run_epoch(self, epoch: int) -> None:
        cfg, info, model = self.cfg, self.info, self.model
        sampler = self.train_loader.sampler
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(epoch)
        model.train()
        t0 = time.perf_counter()
        loss_sum, correct, count = 0.0, 0.0, 0.0
        bar = _progress(self.train_loader, cfg.progress and info.is_main, f"epoch {epoch}")
        for batch, (x, y) in enumerate(bar, start=1):
            x, y = time_first(x).to(info.device), y.to(info.device)
            with autocast(cfg.amp, info.device):
                logits = model(x)
            logits = logits.float()
            loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
            value = self._check_finite_loss(loss, epoch, batch)
            self.opt.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.opt)
            self.scaler.update()
            self.sched.step()
            loss_sum += value * y.numel()
            correct += (logits.argmax(1) == y).sum().item()
            count += y.numel()
        loss_sum, correct, count = all_reduce_sum([loss_sum, correct, count], info)
        epoch_time = time.perf_counter() - t0
        self._check_finite_weights(epoch)
        test_loss, test_acc = evaluate(model, self.test_loader, info, cfg.amp)
        row = {
            "epoch": epoch,
            "train_loss": loss_sum / count,
            "train_acc": correct / count,
            "test_loss": test_loss,
            "test_acc": test_acc,
            "train_images": int(count),
            "images_per_s": count / epoch_time,
            "epoch_time_s": epoch_time,
            "lr": self.opt.param_groups[0]["lr"],
        }
        self.history.append(row)
        self.best_acc = max(self.best_acc, test_acc)
        if info.is_main:
            print(
                f"epoch {epoch:3d}/{cfg.epochs}  train loss {row['train_loss']:.4f} "
                f"acc {100 * row['train_acc']:.2f}%  test loss {test_loss:.4f} "
                f"acc {100 * test_acc:.2f}%  {row['images_per_s']:.0f} img/s  "
                f"{epoch_time:.1f}s",
                flush=True,
            )
            self._save_epoch(epoch)

    def _save_epoch(self, epoch: int) -> None:
        base = _unwrap(self.model)
        _write_metrics(self.out, self.history)
        card = {"name": self.cfg.model, "epoch": epoch, "config": asdict(self.cfg)}
        _save(base, self.ckpt, card)
        state = _runs.make_train_state(
            epoch=epoch,
            best_acc=self.best_acc,
            history=self.history,
            model=base.state_dict(),
            optimizer=self.opt.state_dict(),
            scheduler=self.sched.state_dict(),
            rng=_runs.rng_state(self.train_loader.generator),
            config=asdict(self.cfg),
        )
        _runs.atomic_torch_save(state, self.out / _runs.STATE_FILE)

    def finish(self, spec: DataSpec, wall: float) -> dict[str, Any]:
        """Write the final checkpoint, card, plots and ``result.json``; return the result."""
        cfg, history = self.cfg, self.history
        train_images = sum(int(h["train_images"]) for h in history)
        train_time = sum(h["epoch_time_s"] for h in history)
        result: dict[str, Any] = {
            "model": cfg.model,
            "dataset": cfg.dataset,
            "params": self.n_params,
            "epochs": len(history),
            "test_acc": history[-1]["test_acc"],
            "best_test_acc": self.best_acc,
            "train_images": train_images,
            "train_time_s": train_time,
            # total images over total training time (not a mean of per-epoch rates)
            "images_per_s": train_images / train_time if train_time > 0 else float("nan"),
            "wall_time_s": wall,
            "world_size": self.info.world_size,
        }
        if not self.info.is_main:
            return result
        base = _unwrap(self.model)
        card = _run_card(base, cfg, spec, self.n_params)
        card["trained"] = {k: result[k] for k in ("epochs", "test_acc", "best_test_acc")}
        card["test_accuracy"] = round(100 * result["test_acc"], 2)
        sha = _save(base, self.ckpt, card)
        result["checkpoint"] = str(self.ckpt)
        result["sha256"] = sha
        card["sha256"] = sha
        _runs.atomic_write_text(self.out / "card.json", json.dumps(card, indent=2, default=str))
        result["firing_rates"] = _final_artifacts(base, spec, self.out, history, cfg.plots)
        _runs.atomic_write_text(self.out / "result.json", json.dumps(result, indent=2))
        print(
            f"done in {wall:.1f}s: test accuracy {100 * result['test_acc']:.2f}% "
            f"(best {100 * self.best_acc:.2f}%); checkpoint {self.ckpt} (sha256 {sha[:12]}...)",
            flush=True,
        )
        return result

    def interrupted_message(self, state_file: Path | None) -> str:
        done = self.history[-1]["epoch"] if self.history else None
        where = (
            f"during epoch {self.epoch}/{self.cfg.epochs}"
            if self.epoch is not None
            else "while writing the final results"
        )
        if done is None:
            return (
                f"interrupted {where}, before any epoch completed: nothing was saved, so "
                f"there is nothing to resume; run the same command again to start over"
            )
        return (
            f"interrupted {where}; the run is saved up to epoch {done} in "
            f"{str(self.out / _runs.STATE_FILE)!r}. Continue it with:\n"
            f"  snn-zoo train --resume {self.out}"
        )
