"""Frame-integration benchmark: snn_datasets vs the reference (SpikingJelly 2.0.0).

On the same synthetic recording (``--events`` events, sorted timestamps over 6 s, a
128 x 128 sensor, polarities 0/1, int64 arrays) it times, in this process:

- ``frames_number=16, split_by='number'`` and ``split_by='time'``;
- ``duration`` chosen to give 16 frames, and a shorter one giving 128 frames;
- file to file (what preprocessing does per sample): load the events ``.npz``, integrate
  (``frames_number=16``, both splits), write the frames ``.npz`` (compressed; ours writes
  at zlib level 1, the reference at NumPy's level 6; both read back to the same arrays).

For each case ours and the reference run in turn, ``--repeat`` times (so that a change of
load on a shared machine hits both alike), and the best wall time (``time.perf_counter``)
and best CPU time (``time.process_time``, all threads) of each are printed as 1e6 events
per second, with the ratios. Every reference result is first checked to equal ours (values
and dtype). The reference needs torchvision, so run the script with the reference's Python
and our package on the path, e.g.
``PYTHONPATH=packages/snn-datasets/src <venv with spikingjelly==2.0.0>/bin/python
benchmarks/bench_datasets_integration.py`` (without ``spikingjelly`` only ours is timed;
``--events 100000`` for a quick run).

Measured on a shared 2-core CPU machine (other jobs running: absolute numbers vary by
20-50 % between runs, the ratios by about 10 %), 1e6 events, best of 11, SpikingJelly 2.0.0
with torch 2.14.1 CPU, NumPy 2.4:

| case                 | ours wall | ref wall | speed-up | ours CPU | ref CPU | speed-up |
|----------------------|-----------|----------|----------|----------|---------|----------|
| number, 16 frames    |     157.9 |    162.9 |     1.0x |    159.8 |   162.9 |     1.0x |
| time, 16 frames      |     143.1 |     42.4 |     3.4x |    152.0 |    54.1 |     2.8x |
| duration, 16 frames  |     131.0 |     67.6 |     1.9x |    132.2 |    67.7 |     2.0x |
| duration, 128 frames |      49.0 |     36.0 |     1.4x |     58.2 |    40.4 |     1.4x |
| file to file, number |       6.2 |      3.3 |     1.9x |      8.7 |     4.6 |     1.9x |
| file to file, time   |       4.7 |      2.2 |     2.2x |      8.6 |     4.2 |     2.0x |

``split_by='time'`` gains most (the reference scans every event once per frame);
``split_by='number'`` is on par: the reference already makes one ``bincount`` per frame,
and the few passes over the int64 event arrays that any NumPy/torch version needs (flat
index, count) cost about what the reference's do; a stripped version of ours without the
coordinate checks measured only about 1.3x. Writing the frames ``.npz`` dominates file to
file.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable

import numpy as np
import torch
from snn_datasets import utils as ours

try:
    from spikingjelly.datasets import utils as reference
except Exception as err:  # the reference is optional; its data sets import torchvision and
    # loguru, and PyPI's torchvision fails to import beside some torch builds
    print(f"(the reference is not importable here: {err!r}; ours only)")
    reference = None

H = W = 128


def synthetic_events(n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "t": np.sort(rng.integers(0, 6_000_000, n)).astype(np.int64),
        "x": rng.integers(0, W, n).astype(np.int64),
        "y": rng.integers(0, H, n).astype(np.int64),
        "p": rng.integers(0, 2, n).astype(np.int64),
    }


def best_seconds(fns: list[Callable[[], object]], repeat: int) -> list[tuple[float, float]]:
    """Best ``(CPU, wall)`` seconds of each of ``fns``, run in turn ``repeat`` times (so that
    a change of load on a shared machine hits every one alike)."""
    best = [(float("inf"), float("inf"))] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            cpu, wall = time.process_time(), time.perf_counter()
            fn()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            best[k] = (min(best[k][0], cpu), min(best[k][1], wall))
    return best


def _load(file):
    with np.load(file) as archive:
        return {key: archive[key] for key in archive.files}


def cases(events: dict, folder: str) -> dict[str, Callable]:
    span = int(events["t"][-1] - events["t"].min())
    events_file = os.path.join(folder, "events.npz")
    np.savez_compressed(events_file, **events)

    def file_to_file(split_by: str) -> Callable:
        def run(m):
            out = os.path.join(folder, m.__name__.split(".")[0])
            os.makedirs(out, exist_ok=True)
            m.integrate_events_file_to_frames_file_by_fixed_frames_number(
                _load, events_file, out, split_by, 16, H, W
            )
            return m.load_npz_frames(os.path.join(out, "events.npz"))

        return run

    return {
        "number, 16 frames": lambda m: m.integrate_events_by_fixed_frames_number(
            events, "number", 16, H, W
        ),
        "time, 16 frames": lambda m: m.integrate_events_by_fixed_frames_number(
            events, "time", 16, H, W
        ),
        "duration, 16 frames": lambda m: m.integrate_events_by_fixed_duration(
            events, -(-span // 16), H, W
        ),
        "duration, 128 frames": lambda m: m.integrate_events_by_fixed_duration(
            events, -(-span // 128), H, W
        ),
        "file to file, number": file_to_file("number"),
        "file to file, time": file_to_file("time"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=11)
    args = parser.parse_args()
    events = synthetic_events(args.events)
    print(
        f"{args.events:,} events, {H}x{W} sensor, best of {args.repeat}, "
        f"torch.get_num_threads() = {torch.get_num_threads()}; "
        "Mev/s = 1e6 events per second (wall) or per CPU-second (all threads)"
    )
    columns = ("case", "ours wall", "ref wall", "speed-up", "ours CPU", "ref CPU", "speed-up")
    widths = (20, 9, 8, 8, 8, 7, 8)
    print("| " + " | ".join(f"{c:{w}s}" for c, w in zip(columns, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    folder = tempfile.mkdtemp(prefix="bench_datasets_")
    mev = args.events / 1e6
    for name, run in cases(events, folder).items():
        if reference is None:
            ((cpu, wall),) = best_seconds([lambda run=run: run(ours)], args.repeat)
            print(
                f"| {name:20s} | {mev / wall:9.1f} | {'-':>8s} | {'-':>8s} | "
                f"{mev / cpu:8.1f} | {'-':>7s} | {'-':>8s} |"
            )
            continue
        a, b = run(ours), run(reference)
        if a.dtype != b.dtype or not np.array_equal(a, b):
            raise SystemExit(f"{name}: frames differ from the reference")
        (cpu, wall), (ref_cpu, ref_wall) = best_seconds(
            [lambda run=run: run(ours), lambda run=run: run(reference)], args.repeat
        )
        print(
            f"| {name:20s} | {mev / wall:9.1f} | {mev / ref_wall:8.1f} | "
            f"{ref_wall / wall:7.1f}x | {mev / cpu:8.1f} | {mev / ref_cpu:7.1f} | "
            f"{ref_cpu / cpu:7.1f}x |"
        )


if __name__ == "__main__":
    main()
