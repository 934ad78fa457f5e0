"""Frame-integration benchmark: snn_datasets vs the reference (SpikingJelly 2.0.0).

On the same synthetic recording (``--events`` events, sorted timestamps over 6 s, a
128 x 128 sensor, polarities 0/1) it times, in this process:

- ``frames_number=16, split_by='number'`` and ``split_by='time'``;
- ``duration`` chosen to give 16 frames, and a shorter one giving 128 frames;
- file to file (what preprocessing does per sample): load the events ``.npz``, integrate
  (``frames_number=16``, both splits), write the frames ``.npz`` (compressed; ours writes
  at zlib level 1, the reference at NumPy's level 6; both read back to the same arrays);

and prints events per CPU-second (``time.process_time``, best of ``--repeat`` runs, so
that other load on a shared machine does not count) for ours and, when
``spikingjelly`` is importable, the reference, with the ratio; every reference result is
also checked to be bit-identical to ours. Both are single-threaded NumPy code.

Run ``python benchmarks/bench_datasets_integration.py`` (``--events 100000`` for a quick run).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable

import numpy as np
from snn_datasets import utils as ours

try:
    from spikingjelly.datasets import utils as reference
except ImportError:  # the reference is optional
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


def best_seconds(fn: Callable[[], np.ndarray], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
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
        "frames_number=16, split_by='number'": lambda m: m.integrate_events_by_fixed_frames_number(
            events, "number", 16, H, W
        ),
        "frames_number=16, split_by='time'": lambda m: m.integrate_events_by_fixed_frames_number(
            events, "time", 16, H, W
        ),
        "duration (16 frames)": lambda m: m.integrate_events_by_fixed_duration(
            events, -(-span // 16), H, W
        ),
        "duration (128 frames)": lambda m: m.integrate_events_by_fixed_duration(
            events, -(-span // 128), H, W
        ),
        "file to file, split_by='number'": file_to_file("number"),
        "file to file, split_by='time'": file_to_file("time"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    events = synthetic_events(args.events)
    print(
        f"{args.events:,} events, {H}x{W} sensor, best CPU time of {args.repeat}; "
        "Mev/s = 1e6 events per CPU-second"
    )
    header = f"| {'case':36s} | {'ours Mev/s':>10s} | {'reference Mev/s':>15s} | {'speed-up':>8s} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    folder = tempfile.mkdtemp(prefix="bench_datasets_")
    for name, run in cases(events, folder).items():
        t_ours = best_seconds(lambda run=run: run(ours), args.repeat)
        row = f"| {name:36s} | {args.events / t_ours / 1e6:10.1f} |"
        if reference is None:
            print(row + f" {'-':>15s} | {'-':>8s} |")
            continue
        if not np.array_equal(run(ours), run(reference)):
            raise SystemExit(f"{name}: frames differ from the reference")
        t_ref = best_seconds(lambda run=run: run(reference), args.repeat)
        print(row + f" {args.events / t_ref / 1e6:15.1f} | {t_ref / t_ours:7.1f}x |")


if __name__ == "__main__":
    main()
