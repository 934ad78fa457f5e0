"""Writers of tiny raw files in each data set's format, straight from the format specifications.

They use only numpy / struct / zipfile (no reader of this package), so a test that writes
known events and reads them back checks the reader independently. The same writers made the
files on which the reference (SpikingJelly 2.0.0) was run to compare results.
"""

from __future__ import annotations

import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np

# ----------------------------------------------------------------------------- AEDAT 3.1
# https://docs.inivation.com/software/software-advanced-usage/file-formats/aedat-3.1.html
AEDAT3_HEADER = (
    b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n"
    b"#Start-Time: 2017-01-01 00:00:00 (TZ+0000)\r\n#!END-HEADER\r\n"
)


def aedat3_packet(event_type: int, events: bytes, event_size: int, overflow: int = 0) -> bytes:
    """28-byte packet header (type, source, size, ts offset, ts overflow, capacity, number,
    valid) followed by the events."""
    n = len(events) // event_size
    return struct.pack("<hhiiiiii", event_type, 1, event_size, 4, overflow, n, n, n) + events


def aedat3_polarity_events(t, x, y, p) -> bytes:
    """Polarity events: u32 data (bit 0 valid, bit 1 polarity, bits 2-16 y, bits 17-31 x)
    and i32 timestamp."""
    out = b""
    for ti, xi, yi, pi in zip(t, x, y, p):
        data = (int(xi) << 17) | (int(yi) << 2) | (int(pi) << 1) | 1
        out += struct.pack("<Ii", data, int(ti))
    return out


def write_aedat3(path: Path, packets: list[bytes]) -> None:
    path.write_bytes(AEDAT3_HEADER + b"".join(packets))


# ----------------------------------------------------------------------------- AEDAT 2.0
AEDAT2_HEADER = (
    b"#!AER-DAT2.0\r\n# This is a raw AE data file created by jAER\r\n"
    b"# Data format is int32 address, int32 timestamp (8 bytes total)\r\n"
)


def write_aedat2_dvs128(path: Path, t, x, y, p, header: bytes = AEDAT2_HEADER) -> None:
    """Big-endian (address, timestamp) pairs; DVS128 address: bit 0 polarity, bits 1-7 x,
    bits 8-14 y."""
    address = (
        (np.asarray(y, np.uint32) << 8) | (np.asarray(x, np.uint32) << 1) | np.asarray(p, np.uint32)
    )
    words = np.empty(2 * len(address), dtype=">u4")
    words[0::2] = address
    words[1::2] = np.asarray(t, np.uint32)
    path.write_bytes(header + words.tobytes())


# ----------------------------------------------------------------------------- ATIS .bin
def write_atis_bin(path: Path, t, x, y, p) -> None:
    """5 bytes per event: x, y, polarity bit 7 + timestamp bits 22-16, bits 15-8, bits 7-0."""
    out = bytearray()
    for ti, xi, yi, pi in zip(t, x, y, p):
        ti = int(ti)
        out += bytes(
            [int(xi), int(yi), (int(pi) << 7) | ((ti >> 16) & 0x7F), (ti >> 8) & 0xFF, ti & 0xFF]
        )
    path.write_bytes(bytes(out))


# ----------------------------------------------------------------------------- SHD / SSC HDF5
def write_shd_h5(path: Path, samples: list[tuple[np.ndarray, np.ndarray]], labels) -> None:
    """``spikes/times`` (variable-length float32 seconds), ``spikes/units`` (variable-length
    uint16 channels) and ``labels`` (uint16), as in the Heidelberg spiking data sets."""
    import h5py

    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (len(samples),), dtype=h5py.vlen_dtype(np.float32))
        units = f.create_dataset("spikes/units", (len(samples),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (t, u) in enumerate(samples):
            times[i] = np.asarray(t, np.float32)
            units[i] = np.asarray(u, np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, np.uint16))


# ----------------------------------------------------------------------------- _td.dat
def write_td_dat(path: Path, t, x, y, p, header: bool = True) -> None:
    """Optional ``%`` header + (event type, event size=8) bytes, then little-endian u64
    events: bits 0-31 t, 32-40 x, 41-48 y, 49 polarity."""
    ev = (
        np.asarray(t, np.uint64)
        | (np.asarray(x, np.uint64) << np.uint64(32))
        | (np.asarray(y, np.uint64) << np.uint64(41))
        | (np.asarray(p, np.uint64) << np.uint64(49))
    )
    head = b"% Data file containing CD events.\n% Version 2\n" + bytes([0, 8]) if header else b""
    path.write_bytes(head + ev.astype("<u8").tobytes())


# ----------------------------------------------------------------------------- archives
def make_zip(path: Path, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)


def make_tar_gz(path: Path, source_dir: Path, arcname: str) -> None:
    with tarfile.open(path, "w:gz") as tf:
        tf.add(source_dir, arcname=arcname)


# ----------------------------------------------------------------------------- synthetic roots
def rng_events(rng: np.random.Generator, n: int, t0: int, t1: int, W: int, H: int):
    t = np.sort(rng.integers(t0, t1, n))
    return t, rng.integers(0, W, n), rng.integers(0, H, n), rng.integers(0, 2, n)


def dvs_gesture_extract(root: Path, seed: int = 0) -> dict:
    """``root/DvsGesture`` with 2 train and 1 test recordings; returns the events written."""
    rng = np.random.default_rng(seed)
    d = root / "DvsGesture"
    d.mkdir(parents=True)
    written = {}
    for name in ("user01_fluorescent", "user02_led", "user24_natural"):
        t, x, y, p = rng_events(rng, 300, 1000, 61000, 128, 128)
        half = 150
        packets = [
            aedat3_packet(1, aedat3_polarity_events(t[:half], x[:half], y[:half], p[:half]), 8),
            aedat3_packet(2, b"\x00" * 16, 8),  # a frame/special packet that must be skipped
            aedat3_packet(1, aedat3_polarity_events(t[half:], x[half:], y[half:], p[half:]), 8),
        ]
        write_aedat3(d / f"{name}.aedat", packets)
        # all 11 classes, class 3 twice (two samples of one class); intervals [start, end)
        classes = [3, *range(1, 12)]
        rows = [(c, 1000 + 5000 * k, 6000 + 5000 * k) for k, c in enumerate(classes)]
        csv = "class,startTime_usec,endTime_usec\n" + "".join(f"{c},{a},{b}\n" for c, a, b in rows)
        (d / f"{name}_labels.csv").write_text(csv)
        written[name] = (t, x, y, p, rows)
    (d / "trials_to_train.txt").write_text("user01_fluorescent.aedat\nuser02_led.aedat\n\n")
    (d / "trials_to_test.txt").write_text("user24_natural.aedat\n")
    return written


def cifar10dvs_extract(root: Path, per_class: dict[str, list[int]], seed: int = 0) -> dict:
    """``root/<class>/cifar10_<class>_<i>.aedat``; returns ``{(class, i): (t, x, y, p)}``."""
    rng = np.random.default_rng(seed)
    written = {}
    for cls, indices in per_class.items():
        (root / cls).mkdir(parents=True)
        for i in indices:
            ev = rng_events(rng, 200, 0, 50000, 128, 128)
            write_aedat2_dvs128(root / cls / f"cifar10_{cls}_{i}.aedat", *ev)
            written[(cls, i)] = ev
    return written


def atis_extract(
    root: Path, splits: dict[str, dict[str, int]], W: int, H: int, seed: int = 0
) -> dict:
    """``root/<split>/<class>/<k>.bin`` (split '' for none); returns ``{path: (t, x, y, p)}``."""
    rng = np.random.default_rng(seed)
    written = {}
    for split, classes in splits.items():
        for cls, n in classes.items():
            d = root / split / cls if split else root / cls
            d.mkdir(parents=True)
            for k in range(n):
                ev = rng_events(rng, 150, 0, 300000, W, H)
                write_atis_bin(d / f"{k:05d}.bin", *ev)
                written[(split, cls, k)] = ev
    return written


def shd_samples(rng: np.random.Generator, n_classes: int) -> tuple[list, np.ndarray]:
    """One random sample per class (shuffled), so every class folder of the frames is used."""
    samples = []
    for _ in range(n_classes):
        m = int(rng.integers(40, 120))
        t = np.sort(rng.uniform(0.0, 0.9, m)).astype(np.float32)
        samples.append((t, rng.integers(0, 700, m)))
    return samples, rng.permutation(n_classes)
