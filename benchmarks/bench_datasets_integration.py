"""Frame-integration benchmark: snn_datasets vs the reference (SpikingJelly 2.0.0).

Three sample sizes (``--sizes``): N-MNIST-like (34 x 34, 4,000 uint32 events over 0.3 s),
DVS128-Gesture-like (128 x 128, 300,000 int64 events over 6 s) and ``large`` (128 x 128,
``--events`` int64 events, default 1e6); sorted timestamps, polarities 0/1. For each it
times, in this process:

- ``frames_number=16, split_by='number'`` and ``split_by='time'``;
- ``duration`` chosen to give 16 frames, and a shorter one giving 128 frames;
- file to file (what preprocessing does per sample): each side's data-set events loader
  reads the events ``.npz``, integrates (``frames_number=16``, both splits) and writes a
  new frames ``.npz`` (compressed; ours at zlib level 1, the reference at NumPy's level 6;
  both read back to the same arrays);
- a whole folder (256, 16 or 4 files) converted by each side's ``FrameFixedNumberBuilder``
  (ours in worker processes, the reference in threads).

Ours and the reference run in turn, ``--repeat`` times or more for small samples (so that a
change of load on a shared machine hits both alike); the best wall time and best CPU time
(this process and its finished worker processes) of each are printed as 1e6 events per
second, with the ratios. Every reference result is first checked to equal ours (values and
dtype). For the in-memory cases, ``bound`` is the reference's wall time over the memory
traffic any integration must make on one thread (one read of ``x``, ``y`` and ``p``, one
write of the float64 frames, no counting): the most a single pass could gain on this
machine. The reference needs torchvision, so run the script with the reference's Python
and our package on the path, e.g. ``PYTHONPATH=packages/snn-datasets/src <venv with
spikingjelly==2.0.0>/bin/python benchmarks/bench_datasets_integration.py`` (without
``spikingjelly`` only ours is timed).

Measured on this project's 2-core CPU VM (``torch.get_num_threads()`` = 2), SpikingJelly
2.0.0 with torch 2.14.1 CPU, NumPy 2.4; speed-up over the reference in events per second,
wall (CPU in parentheses), and the bound [in brackets].

In memory, speed-up (bound):

| size    | number          | time             | dur. 16          | dur. 128           |
|---------|-----------------|------------------|------------------|--------------------|
| N-MNIST | 2.7 (2.8) [9.9] | 3.1 (3.1) [14.1] | 2.8 (2.8) [14.3] | 11.1 (11.1) [25.3] |
| DVS128  | 1.1 (1.1) [4.2] | 2.3 (2.3) [9.3]  | 1.3 (1.3) [5.3]  | 1.6 (1.6) [2.4]    |
| 1e6     | 1.1 (1.1) [4.0] | 3.1 (3.0) [13.5] | 1.3 (1.3) [5.2]  | 1.3 (1.3) [2.8]    |

Files:

| size    | file, num. | file, time | folder    |
|---------|------------|------------|-----------|
| N-MNIST | 2.1 (2.1)  | 2.3 (2.3)  | 4.5 (3.5) |
| DVS128  | 3.4 (2.8)  | 3.5 (2.3)  | 2.6 (2.6) |
| 1e6     | 2.5 (1.5)  | 2.6 (1.7)  | 1.7 (1.8) |

Small samples gain most: frames with few events are added in place instead of through a
``2 * H * W`` count table per frame. Frames with many events (``split_by='number'`` on
DVS128-sized samples) stay on par: one ``np.bincount`` per frame costs about 1.5-2 ns per
event here, the coordinate checks and the flat index another 3, and the reference makes the
same passes. The bound is 4-5x for those rows and under 3x for 128 frames (8x more frames to
write), so no implementation that makes NumPy's several passes reaches 3x here. Tried and
not kept: frames split between two threads (at most 1.3x faster; the passes are bound by
memory traffic), torch's row-parallel ``scatter_add_`` on two threads (2.6x the reference
for DVS128, 1.7x for 1e6, at twice the CPU), a fused compiled loop with Numba (about 2x on
one thread, 2.4-3.6x on two). File to file and
folders are bound by zlib: both sides inflate the same events ``.npz`` (for 1e6 events about
76 ms of the reference's 263 ms CPU per file) and deflate frames (ours at level 1, about 24
ms), so the CPU speed-up of a folder, where both sides keep both cores busy, stays near 2x.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from snn_datasets import base as ours_base
from snn_datasets import utils as ours

try:
    from spikingjelly.datasets import base as reference_base
    from spikingjelly.datasets import utils as reference
except Exception as err:  # the reference is optional; its data sets import torchvision and
    # loguru, and PyPI's torchvision fails to import beside some torch builds
    print(f"(the reference is not importable here: {err!r}; ours only)")
    reference = reference_base = None

# name: (H, W, events, dtype, time span in us, files in the folder conversion)
SIZES = {
    "N-MNIST": (34, 34, 4_000, np.uint32, 300_000, 256),
    "DVS128": (128, 128, 300_000, np.int64, 6_000_000, 16),
    "large": (128, 128, 1_000_000, np.int64, 6_000_000, 4),
}


def synthetic_events(n: int, H: int, W: int, dtype, span: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "t": np.sort(rng.integers(0, span, n)).astype(dtype),
        "x": rng.integers(0, W, n).astype(dtype),
        "y": rng.integers(0, H, n).astype(dtype),
        "p": rng.integers(0, 2, n).astype(dtype),
    }


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (worker processes)."""
    times = os.times()
    return time.process_time() + times.children_user + times.children_system


def best_seconds(fns: list[Callable[[], object]], repeat: int) -> list[tuple[float, float]]:
    """Best ``(CPU, wall)`` seconds of each of ``fns``, run in turn ``repeat`` times (so that
    a change of load on a shared machine hits every one alike)."""
    best = [(float("inf"), float("inf"))] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            cpu, wall = _cpu(), time.perf_counter()
            fn()
            cpu, wall = _cpu() - cpu, time.perf_counter() - wall
            best[k] = (min(best[k][0], cpu), min(best[k][1], wall))
    return best


def memory_floor(events: dict, shape: tuple) -> None:
    """The memory traffic any integration must make, on one thread: one read of ``x``, ``y``
    and ``p`` and one write of the float64 frames (no counting at all)."""
    for key in ("x", "y", "p"):
        events[key].max()
    np.empty(shape).fill(0.0)


def _loaders():
    """Each side's data-set event loader (what its preprocessing reads events files with)."""
    loaders = {ours: ours_base.FrameFixedNumberBuilder._event_loader}
    if reference is not None:
        loaders[reference] = reference_base.FrameFixedNumberBuilder._event_loader
    return loaders


def cases(events: dict, H: int, W: int, files: int, folder: str) -> dict[str, Callable]:
    span = int(events["t"][-1] - events["t"].min())
    events_file = os.path.join(folder, "events.npz")
    np.savez_compressed(events_file, **events)
    raw = os.path.join(folder, "raw", "class0")
    os.makedirs(raw)
    for k in range(files):
        shutil.copyfile(events_file, os.path.join(raw, f"sample{k}.npz"))
    loaders = _loaders()

    def file_to_file(split_by: str) -> Callable:
        def run(m, check: bool = False):
            out = os.path.join(folder, m.__name__.split(".")[0])
            os.makedirs(out, exist_ok=True)
            # a new file, as in preprocessing (replacing an existing one costs ext4 a flush)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(out, "events.npz"))
            m.integrate_events_file_to_frames_file_by_fixed_frames_number(
                loaders[m], events_file, out, split_by, 16, H, W
            )
            if check:  # read back for the comparison only (not timed)
                with np.load(os.path.join(out, "events.npz")) as archive:
                    return archive["frames"]

        return run

    def whole_folder(m, check: bool = False):
        """The data set's preprocessing: every file of a folder, in its parallel workers."""
        b = ours_base if m is ours else reference_base
        root = Path(folder) / f"root_{m.__name__.split('.')[0]}"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir()
        cfg = b.NeuromorphicDatasetConfig(
            root=root, train=None, data_type="frame", frames_number=16, split_by="number"
        )
        with contextlib.redirect_stderr(io.StringIO()):  # progress bars and logs
            processed, _ = b.FrameFixedNumberBuilder(cfg, Path(folder) / "raw", H, W).build()
        if check:  # read back for the comparison only (not timed)
            with np.load(processed / "class0" / f"sample{files - 1}.npz") as archive:
                return archive["frames"]

    return {
        "number, 16 frames": lambda m, check=False: m.integrate_events_by_fixed_frames_number(
            events, "number", 16, H, W
        ),
        "time, 16 frames": lambda m, check=False: m.integrate_events_by_fixed_frames_number(
            events, "time", 16, H, W
        ),
        "duration, 16 frames": lambda m, check=False: m.integrate_events_by_fixed_duration(
            events, -(-span // 16), H, W
        ),
        "duration, 128 frames": lambda m, check=False: m.integrate_events_by_fixed_duration(
            events, -(-span // 128), H, W
        ),
        "file to file, number": file_to_file("number"),
        "file to file, time": file_to_file("time"),
        f"folder of {files}, number": whole_folder,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events of 'large'")
    parser.add_argument("--repeat", type=int, default=11, help="repeats of 'large'")
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    args = parser.parse_args()
    print(
        f"best of --repeat (more for smaller samples), torch.get_num_threads() = "
        f"{torch.get_num_threads()}; Mev/s = 1e6 events per second (wall) or per CPU-second "
        "(all threads and worker processes); bound = the reference's wall time over one "
        "read of x, y, p plus one write of the frames (the most any single pass could gain)"
    )
    columns = ("size", "case", "ours wall", "ref wall", "speed-up", "ours CPU", "ref CPU")
    columns += ("speed-up", "bound")
    widths = (24, 22, 9, 8, 8, 8, 7, 8, 7)
    print("| " + " | ".join(f"{c:{w}s}" for c, w in zip(columns, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for size in args.sizes:
        H, W, n, dtype, span, files = SIZES[size]
        n = args.events if size == "large" else n
        events = synthetic_events(n, H, W, dtype, span)
        label = f"{size} {H}x{W} {n:,} ev"
        folder = tempfile.mkdtemp(prefix="bench_datasets_")
        try:
            for name, run in cases(events, H, W, files, folder).items():
                n_events = n * files if name.startswith("folder") else n
                repeat = max(args.repeat, min(201, 3 * 10**6 // n_events))
                if name.startswith("folder"):
                    repeat = max(3, args.repeat // 3)
                mev = n_events / 1e6
                if reference is None:
                    ((cpu, wall),) = best_seconds([lambda run=run: run(ours)], repeat)
                    print(
                        f"| {label:24s} | {name:22s} | {mev / wall:9.1f} | {'-':>8s} | "
                        f"{'-':>8s} | {mev / cpu:8.1f} | {'-':>7s} | {'-':>8s} | {'-':>7s} |"
                    )
                    continue
                a, b = run(ours, check=True), run(reference, check=True)
                if a.dtype != b.dtype or not np.array_equal(a, b):
                    raise SystemExit(f"{size}, {name}: frames differ from the reference")
                fns = [lambda run=run: run(ours), lambda run=run: run(reference)]
                in_memory = not name.startswith(("file", "folder"))
                if in_memory:
                    fns.append(lambda ev=events, shape=a.shape: memory_floor(ev, shape))
                timings = best_seconds(fns, repeat)
                (cpu, wall), (ref_cpu, ref_wall) = timings[:2]
                bound = f"{ref_wall / timings[2][1]:6.1f}x" if in_memory else f"{'-':>7s}"
                print(
                    f"| {label:24s} | {name:22s} | {mev / wall:9.1f} | {mev / ref_wall:8.1f} | "
                    f"{ref_wall / wall:7.1f}x | {mev / cpu:8.1f} | {mev / ref_cpu:7.1f} | "
                    f"{ref_cpu / cpu:7.1f}x | {bound} |",
                    flush=True,
                )
        finally:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
