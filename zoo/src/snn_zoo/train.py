"""Training and evaluation loops behind ``snn-zoo train`` and ``snn-zoo eval``.

Runs single-process or under ``torchrun`` (DistributedDataParallel; gloo on CPU, nccl on
GPU). Rank 0 logs, writes metrics (JSON and CSV), plots and a safetensors checkpoint with
its card; checkpoints are written to a temporary file and renamed, so an interrupted run
never leaves a half-written checkpoint.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from snn_zoo._checkpoint import save_checkpoint
from snn_zoo.data import DataSpec, load_dataset
from snn_zoo.distributed import DistInfo, all_reduce_sum, barrier, cleanup, init_distributed
from snn_zoo.monitor import SpikeMonitor

__all__ = ["TrainConfig", "train", "evaluate"]

DEFAULT_MODEL = "spikformer_digits"


@dataclass
class TrainConfig:
    """Options of ``snn-zoo train`` (defaults train the digits model to >= 95% on 2 cores)."""

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
    output_dir: str = "runs/{model}"
    device: str | None = None
    workers: int = 0
    progress: bool = True
    threads: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


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


@torch.no_grad()
def evaluate(
    model: nn.Module, loader: DataLoader, info: DistInfo | None = None
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` over ``loader`` (summed over ranks)."""
    info = info or DistInfo()
    model.eval()
    loss_sum, correct, count = 0.0, 0.0, 0.0
    for x, y in loader:
        x, y = x.to(info.device), y.to(info.device)
        logits = model(x)
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
    _atomic_write_text(out / "metrics.json", json.dumps(history, indent=2))
    tmp = out / "metrics.csv.tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    os.replace(tmp, out / "metrics.csv")


def _final_artifacts(model: nn.Module, spec: DataSpec, out: Path, history: list[dict]) -> dict:
    """Plots: curves, spike raster of one test sample, per-layer firing rates."""
    from snn_zoo.plots import plot_curves, plot_firing_rates, plot_raster

    model.eval()
    x, _ = next(iter(DataLoader(spec.test, batch_size=64)))
    with torch.no_grad(), SpikeMonitor(model, keep_raster=True) as mon:
        model(x.to(next(model.parameters()).device))
    rates = mon.rates()
    plot_curves(history, out / "curves.png")
    plot_raster(mon.raster, out / "raster.png")
    plot_firing_rates(rates, out / "firing_rates.png")
    return rates


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train ``cfg.model`` on ``cfg.dataset``; return the final metrics."""
    info = init_distributed(cfg.device)
    try:
        result = _train(cfg, info)
        # Leave together: rank 0 may still be writing the checkpoint and plots, and a rank
        # that tears down its gloo threads and exits meanwhile can abort the job.
        barrier(info)
        return result
    finally:
        cleanup(info)


def _train(cfg: TrainConfig, info: DistInfo) -> dict[str, Any]:
    if cfg.epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {cfg.epochs}")
    if cfg.batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {cfg.batch_size}")
    if cfg.threads is not None:
        if cfg.threads < 1:
            raise ValueError(f"threads must be >= 1, got {cfg.threads}")
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    spec = load_dataset(cfg.dataset, cfg.data_dir, T=cfg.T or 16, img_size=cfg.img_size)
    model = _build(cfg, spec).to(info.device)
    n_params = sum(p.numel() for p in model.parameters())
    if info.enabled:
        model = nn.parallel.DistributedDataParallel(model)
    out = Path(cfg.output_dir.format(model=cfg.model))
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        print(
            f"model {cfg.model} ({n_params / 1e6:.3f}M params) on {cfg.dataset}: "
            f"{len(spec.train)} train / {len(spec.test)} test, {info.world_size} process(es), "
            f"device {info.device}, writing to {out}",
            flush=True,
        )
    train_loader = _loader(spec.train, cfg, info, train=True)
    test_loader = _loader(spec.test, cfg, info, train=False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * len(train_loader)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
    )
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    ckpt = out / "checkpoint.safetensors"
    best_acc = -1.0
    for epoch in range(1, cfg.epochs + 1):
        if isinstance(train_loader.sampler, DistributedSampler):
            train_loader.sampler.set_epoch(epoch)
        model.train()
        t0 = time.perf_counter()
        loss_sum, correct, count = 0.0, 0.0, 0.0
        bar = _progress(train_loader, cfg.progress and info.is_main, f"epoch {epoch}")
        for x, y in bar:
            x, y = x.to(info.device), y.to(info.device)
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * y.numel()
            correct += (logits.argmax(1) == y).sum().item()
            count += y.numel()
        loss_sum, correct, count = all_reduce_sum([loss_sum, correct, count], info)
        epoch_time = time.perf_counter() - t0
        test_loss, test_acc = evaluate(model, test_loader, info)
        row = {
            "epoch": epoch,
            "train_loss": loss_sum / count,
            "train_acc": correct / count,
            "test_loss": test_loss,
            "test_acc": test_acc,
            "images_per_s": count / epoch_time,
            "epoch_time_s": epoch_time,
            "lr": opt.param_groups[0]["lr"],
        }
        history.append(row)
        if info.is_main:
            print(
                f"epoch {epoch:3d}/{cfg.epochs}  train loss {row['train_loss']:.4f} "
                f"acc {100 * row['train_acc']:.2f}%  test loss {test_loss:.4f} "
                f"acc {100 * test_acc:.2f}%  {row['images_per_s']:.0f} img/s  "
                f"{epoch_time:.1f}s",
                flush=True,
            )
            _write_metrics(out, history)
            card = dict(getattr(_unwrap(model), "pretrained_cfg", {}) or {})
            card.update(epoch=epoch, config=asdict(cfg))
            _save(_unwrap(model), ckpt, card)  # atomic: never half-written
        best_acc = max(best_acc, test_acc)
    wall = time.perf_counter() - start
    result: dict[str, Any] = {
        "model": cfg.model,
        "dataset": cfg.dataset,
        "params": n_params,
        "test_acc": history[-1]["test_acc"],
        "best_test_acc": best_acc,
        "wall_time_s": wall,
        "world_size": info.world_size,
        "images_per_s": sum(h["images_per_s"] for h in history) / len(history),
    }
    if info.is_main:
        base = _unwrap(model)
        card = dict(getattr(base, "pretrained_cfg", {}) or {})
        card.update(trained=result, config=asdict(cfg))
        sha = _save(base, ckpt, card)
        result["checkpoint"] = str(ckpt)
        result["sha256"] = sha
        card["sha256"] = sha
        _atomic_write_text(out / "card.json", json.dumps(card, indent=2, default=str))
        result["firing_rates"] = _final_artifacts(base, spec, out, history)
        _atomic_write_text(out / "result.json", json.dumps(result, indent=2))
        print(
            f"done in {wall:.1f}s: test accuracy {100 * result['test_acc']:.2f}% "
            f"(best {100 * best_acc:.2f}%); checkpoint {ckpt} (sha256 {sha[:12]}...)",
            flush=True,
        )
    return result
