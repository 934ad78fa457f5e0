"""Readers, frame integration, splits and collation for neuromorphic data sets.

Same names, signatures, defaults and results as ``spikingjelly.datasets.utils`` (2.0.0).
Events are dictionaries of 1-D arrays ``t, x, y, p``; frames are float64 arrays
``[T, 2, H, W]`` where channel ``int(p != 0)`` counts the events at each pixel. The binning
rules are written in :mod:`snn_datasets._integrate` and on the docs page ``datasets.md``.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.utils.data

from . import _cache, _integrate

__all__ = [
    "np_savez",
    "save_as_pic",
    "play_frame",
    "load_aedat_v3",
    "load_ATIS_bin",
    "load_npz_frames",
    "integrate_events_segment_to_frame",
    "cal_fixed_frames_number_segment_index",
    "integrate_events_by_fixed_frames_number",
    "integrate_events_file_to_frames_file_by_fixed_frames_number",
    "integrate_events_by_fixed_duration",
    "integrate_events_file_to_frames_file_by_fixed_duration",
    "create_same_directory_structure",
    "split_to_train_test_set",
    "fast_split_to_train_test_set",
    "pad_sequence_collate",
    "padded_sequence_mask",
    "create_sub_dataset",
]

_log = logging.getLogger(__name__)

np_savez = np.savez_compressed if _cache.save_compressed() else np.savez
"""``np.savez_compressed``, or ``np.savez`` when ``SJ_SAVE_DATASETS_COMPRESSED=0``."""


# ----------------------------------------------------------------------------- pictures
def _to_rgb_uint8(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """``[T, 2, H, W]`` -> ``[T, H, W, 3]`` uint8: channel 0 in green, 1 in blue, scaled by
    255 and cast to bytes as ``torchvision.transforms.ToPILImage`` does for float input."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if x.dim() != 4 or x.shape[1] != 2:
        raise ValueError(f"x must have shape [T, 2, H, W], got {tuple(x.shape)}")
    img = torch.zeros([x.shape[0], 3, x.shape[2], x.shape[3]])
    img[:, 1] = x[:, 0]
    img[:, 2] = x[:, 1]
    return img.mul(255).byte().permute(0, 2, 3, 1).numpy()


def save_as_pic(
    x: torch.Tensor | np.ndarray, save_pic_to: str = "./", pic_first_name: str = "pic"
) -> None:
    """Save each frame of ``x`` (``[T, 2, H, W]``) as ``{save_pic_to}/{pic_first_name}_{t}.png``.

    Polarity 0 is drawn in green and polarity 1 in blue (needs matplotlib).
    """
    from matplotlib import pyplot as plt

    save_pic_to = Path(save_pic_to)
    for t, frame in enumerate(_to_rgb_uint8(x)):
        plt.imshow(frame)
        plt.axis("off")
        plt.savefig(save_pic_to / f"{pic_first_name}_{t}.png", bbox_inches="tight", pad_inches=0)


def play_frame(x: torch.Tensor | np.ndarray, save_gif_to: str | None = None) -> None:
    """Show the frames of ``x`` (``[T, 2, H, W]``) in a loop, or save them as a GIF.

    Colours as :func:`save_as_pic`. Showing needs matplotlib, saving needs Pillow.
    """
    frames = _to_rgb_uint8(x)
    if save_gif_to is None:
        from matplotlib import pyplot as plt

        while True:
            for frame in frames:
                plt.imshow(frame)
                plt.pause(0.01)
    from PIL import Image

    images = [Image.fromarray(frame, mode="RGB") for frame in frames]
    images[0].save(save_gif_to, save_all=True, append_images=images[1:], loop=0)
    _log.info("Save frames to [%s].", save_gif_to)


# ----------------------------------------------------------------------------- readers
def load_aedat_v3(file_name: str | Path) -> dict:
    """Read the polarity events of an AEDAT 3.1 file as ``{'t', 'x', 'y', 'p'}`` (int64).

    After the ``#``-comment header (ending ``#!END-HEADER\\r\\n``) come packets: a 28-byte
    header (``eventType`` u16 at 0, ``eventSize`` u32 at 4, ``eventTSOverflow`` u32 at 12,
    ``eventCapacity`` u32 at 16) and ``capacity * size`` bytes of events. For polarity
    events (type 1) each event holds the address word ``data`` (``x = data >> 17 & 0x7FFF``,
    ``y = data >> 2 & 0x7FFF``, ``p = data >> 1 & 1``) and a 32-bit timestamp, extended by
    ``overflow << 31``. Other packet types are skipped.
    """
    ts, xs, ys, ps = [], [], [], []
    with open(file_name, "rb") as f:
        line = f.readline()
        while line.startswith(b"#"):
            if line == b"#!END-HEADER\r\n":
                break
            line = f.readline()
        while True:
            header = f.read(28)
            if not header:
                break
            if len(header) < 28:
                raise ValueError(
                    f"AEDAT 3.1 file {file_name} is truncated: a packet header has "
                    f"{len(header)} of 28 bytes"
                )
            e_type, e_size, e_overflow, e_capacity = (
                struct.unpack("<H", header[0:2])[0],
                *struct.unpack("<I", header[4:8]),
                *struct.unpack("<I", header[12:16]),
                *struct.unpack("<I", header[16:20]),
            )
            data = f.read(e_capacity * e_size)
            if len(data) < e_capacity * e_size:
                raise ValueError(
                    f"AEDAT 3.1 file {file_name} is truncated: a packet announces "
                    f"{e_capacity * e_size} bytes of events, {len(data)} are left"
                )
            if e_type != 1 or e_capacity == 0:
                continue
            if e_size < 8:
                raise ValueError(
                    f"AEDAT 3.1 file {file_name} is corrupt: polarity events of {e_size} bytes"
                )
            words = np.ndarray((e_capacity, 2), dtype="<u4", buffer=data, strides=(e_size, 4))
            address = words[:, 0].astype(np.int64)
            ts.append(words[:, 1].astype(np.int64) | (e_overflow << 31))
            xs.append(address >> 17 & 0x7FFF)
            ys.append(address >> 2 & 0x7FFF)
            ps.append(address >> 1 & 1)
    if not ts:  # the reference builds its arrays from empty lists: float64
        return {key: np.asarray([]) for key in ("t", "x", "y", "p")}
    return {
        "t": np.concatenate(ts),
        "x": np.concatenate(xs),
        "y": np.concatenate(ys),
        "p": np.concatenate(ps),
    }


def load_ATIS_bin(file_name: str | Path) -> dict:
    """Read an ATIS ``.bin`` file (N-MNIST, N-Caltech101) as ``{'t', 'x', 'y', 'p'}`` (uint32).

    Each event is 40 bits in 5 bytes: ``x`` (8 bits), ``y`` (8 bits), the polarity (1 bit)
    and a 23-bit timestamp in microseconds (Orchard et al., 2015).
    """
    raw = np.fromfile(file_name, dtype=np.uint8)
    if raw.size % 5:
        raise ValueError(
            f"ATIS file {file_name} is truncated or corrupt: {raw.size} bytes is not a "
            "multiple of the 5 bytes of one event"
        )
    raw = raw.astype(np.uint32).reshape(-1, 5)
    byte2 = raw[:, 2]
    return {
        "t": (byte2 & 127) << 16 | raw[:, 3] << 8 | raw[:, 4],
        "x": raw[:, 0].copy(),
        "y": raw[:, 1].copy(),
        "p": (byte2 & 128) >> 7,
    }


def _save_atis_bin_as_npz(bin_file: str | Path, np_file: str | Path) -> None:
    """Convert one ATIS ``.bin`` file to an events ``.npz`` (written atomically)."""
    events = load_ATIS_bin(bin_file)
    _cache.atomic_savez(np_file, t=events["t"], x=events["x"], y=events["y"], p=events["p"])


def _corrupt(file_name: str | Path, error: BaseException) -> ValueError:
    return ValueError(
        f"cannot read {file_name}: the file is truncated or corrupt ({type(error).__name__}: "
        f"{error}); delete it and run again to rebuild it"
    )


def load_npz_frames(file_name: str | Path) -> np.ndarray:
    """The ``frames`` array of an ``.npz`` file, as float32."""
    try:
        with np.load(file_name) as frames_file:
            return frames_file["frames"].astype(np.float32)
    except (OSError, ValueError, EOFError, KeyError) as error:
        raise _corrupt(file_name, error) from error
    except Exception as error:  # zipfile.BadZipFile, zlib.error
        raise _corrupt(file_name, error) from error


# ----------------------------------------------------------------------------- frames
def integrate_events_segment_to_frame(
    x: np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    H: int,
    W: int,
    j_l: int = 0,
    j_r: int | None = None,
) -> np.ndarray:
    """Count events ``j_l <= j < j_r`` into a float64 frame ``[2, H, W]``.

    .. math:: F[c, h, w] = \\#\\{j : \\mathbb{1}[p_j \\neq 0] = c,\\ y_j = h,\\ x_j = w\\}
    """
    x, y, p = (np.asarray(v)[j_l:j_r] for v in (x, y, p))
    return _integrate.frames_from_segments(x, y, p, [0], [x.size], H, W)[0]


def cal_fixed_frames_number_segment_index(
    events_t: np.ndarray, split_by: str, frames_num: int
) -> tuple:
    """``(j_l, j_r)`` such that frame ``i`` integrates events ``[j_l[i], j_r[i])``.

    ``'number'``: ``N // frames_num`` events per frame, the last frame takes the remainder.
    ``'time'``: windows of ``(t[-1] - t[0]) // frames_num``; the last frame runs to the end.
    """
    return _integrate.segment_index(events_t, split_by, frames_num)


def integrate_events_by_fixed_frames_number(
    events: dict, split_by: str, frames_num: int, H: int, W: int
) -> np.ndarray:
    """Integrate events into ``frames_num`` float64 frames ``[frames_num, 2, H, W]``."""
    return _integrate.by_fixed_frames_number(events, split_by, frames_num, H, W)


def _name_file(error: ValueError, events_np_file: str | os.PathLike) -> ValueError:
    return ValueError(f"{events_np_file}: {error}")


def integrate_events_file_to_frames_file_by_fixed_frames_number(
    loader: Callable,
    events_np_file: str,
    output_dir: str,
    split_by: str,
    frames_num: int,
    H: int,
    W: int,
    print_save: bool = False,
) -> None:
    """Integrate the events of ``loader(events_np_file)`` and save them as
    ``output_dir/<events file name>`` (key ``frames``, written atomically)."""
    _integrate._check_split_by(split_by)
    _integrate._check_frames_num(frames_num)
    fname = os.path.join(output_dir, os.path.basename(events_np_file))
    try:
        frames = integrate_events_by_fixed_frames_number(
            loader(events_np_file), split_by, frames_num, H, W
        )
    except ValueError as error:
        raise _name_file(error, events_np_file) from error
    _cache.atomic_savez(fname, compressed=np_savez is np.savez_compressed, frames=frames)
    if print_save:
        _log.debug("Frames [%s] saved.", fname)


def integrate_events_by_fixed_duration(events: dict, duration: int, H: int, W: int) -> np.ndarray:
    """Integrate events into frames of ``duration`` time units each.

    ``ceil((t[-1] - min(t)) / duration)`` frames; frame ``i`` holds events with
    ``(t - min(t)) // duration == i`` and the last frame also every later event.
    """
    return _integrate.by_fixed_duration(events, duration, H, W)


def integrate_events_file_to_frames_file_by_fixed_duration(
    loader: Callable,
    events_np_file: str,
    output_dir: str,
    duration: int,
    H: int,
    W: int,
    print_save: bool = False,
) -> int:
    """Integrate by ``duration`` and save as ``output_dir/<stem>_<frames>.npz``; returns the
    number of frames."""
    try:
        frames = integrate_events_by_fixed_duration(loader(events_np_file), duration, H, W)
    except ValueError as error:
        raise _name_file(error, events_np_file) from error
    stem, _ = os.path.splitext(os.path.basename(events_np_file))
    fname = os.path.join(output_dir, f"{stem}_{frames.shape[0]}.npz")
    _cache.atomic_savez(fname, compressed=np_savez is np.savez_compressed, frames=frames)
    if print_save:
        _log.debug("Frames [%s] saved.", fname)
    return frames.shape[0]


# ----------------------------------------------------------------------------- folders
def create_same_directory_structure(source_dir: str | Path, target_dir: str | Path) -> None:
    """Create in ``target_dir`` the sub-folder tree of ``source_dir`` (existing ones are kept)."""
    for name in os.listdir(source_dir):
        source_sub_dir = os.path.join(source_dir, name)
        if os.path.isdir(source_sub_dir):
            target_sub_dir = os.path.join(target_dir, name)
            os.makedirs(target_sub_dir, exist_ok=True)
            create_same_directory_structure(source_sub_dir, target_sub_dir)


def create_sub_dataset(
    source_dir: str, target_dir: str, ratio: float, use_soft_link=True, randomly=False
):
    """Link (or copy) ``int(ratio * n)`` files of every folder of ``source_dir`` (all files
    when ``ratio >= 1``) into the same tree under ``target_dir``; ``randomly`` picks them with
    ``np.random.shuffle`` instead of taking the first ones ``os.walk`` lists."""
    os.makedirs(target_dir, exist_ok=True)
    create_same_directory_structure(source_dir, target_dir)
    for e_root, _, e_files in os.walk(source_dir, followlinks=True):
        if not e_files:
            continue
        output_dir = os.path.join(target_dir, os.path.relpath(e_root, source_dir))
        samples_number = len(e_files) if ratio >= 1.0 else int(ratio * len(e_files))
        if samples_number == 0:
            _log.warning("No samples selected from [%s] for output [%s].", e_root, output_dir)
        if randomly:
            np.random.shuffle(e_files)  # noqa: NPY002 (the reference draws from it)
        for e_file in e_files[:samples_number]:
            source_file = os.path.join(e_root, e_file)
            target_file = os.path.join(output_dir, e_file)
            if use_soft_link:
                os.symlink(source_file, target_file)
            else:
                shutil.copyfile(source_file, target_file)


# ----------------------------------------------------------------------------- splits
def _class_index(label) -> int:
    return label.item() if isinstance(label, (np.ndarray, torch.Tensor)) else label


def _split_class_indices(label_idx: list, train_ratio: float, random_split: bool):
    if random_split:  # the global NumPy generator, class by class, as the reference
        for indices in label_idx:
            np.random.shuffle(indices)  # noqa: NPY002 (the reference draws from it)
    train_idx, test_idx = [], []
    for indices in label_idx:
        pos = math.ceil(len(indices) * train_ratio)
        train_idx.extend(indices[:pos])
        test_idx.extend(indices[pos:])
    return train_idx, test_idx


def _check_ratio(train_ratio: float, num_classes: int) -> None:
    if not 0.0 <= train_ratio <= 1.0:
        raise ValueError(f"train_ratio must be in [0, 1], got {train_ratio!r}")
    if num_classes <= 0:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")


def _bucket(label_idx: list, label, i: int, num_classes: int) -> None:
    label = _class_index(label)
    if not 0 <= label < num_classes:
        raise ValueError(f"sample {i} has label {label!r}, outside [0, num_classes={num_classes})")
    label_idx[label].append(i)


def split_to_train_test_set(
    train_ratio: float,
    origin_dataset: torch.utils.data.Dataset,
    num_classes: int,
    random_split: bool = False,
):
    """Split a data set into ``(train, test)`` ``Subset`` s with ``ceil(n_c * train_ratio)``
    training samples of every class ``c``, in index order (shuffled per class with the global
    NumPy generator when ``random_split``)."""
    _check_ratio(train_ratio, num_classes)
    label_idx = [[] for _ in range(num_classes)]
    for i, item in enumerate(origin_dataset):
        _bucket(label_idx, item[1], i, num_classes)
    train_idx, test_idx = _split_class_indices(label_idx, train_ratio, random_split)
    return (
        torch.utils.data.Subset(origin_dataset, train_idx),
        torch.utils.data.Subset(origin_dataset, test_idx),
    )


def fast_split_to_train_test_set(
    train_ratio: float,
    origin_dataset: torch.utils.data.Dataset,
    num_classes: int,
    random_split: bool = False,
    batch_size: int = 64,
    num_workers: int = 0,
):
    """:func:`split_to_train_test_set` reading the labels through a ``DataLoader`` (batches,
    optional worker processes); the same split."""
    _check_ratio(train_ratio, num_classes)
    loader = torch.utils.data.DataLoader(
        origin_dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers
    )
    label_idx = [[] for _ in range(num_classes)]
    i = 0
    for batch in loader:
        for label in torch.as_tensor(batch[1]).reshape(-1).tolist():
            _bucket(label_idx, label, i, num_classes)
            i += 1
    train_idx, test_idx = _split_class_indices(label_idx, train_ratio, random_split)
    return (
        torch.utils.data.Subset(origin_dataset, train_idx),
        torch.utils.data.Subset(origin_dataset, test_idx),
    )


# ----------------------------------------------------------------------------- batching
def pad_sequence_collate(batch: list):
    """Collate ``(x_i, y_i)`` of different lengths ``T_i``: returns ``x`` zero-padded to
    ``[N, max T_i, *]``, ``y`` as a tensor, and the lengths ``[T_i]``."""
    x_list, y_list = zip(*batch)
    x_list = [torch.as_tensor(x) for x in x_list]
    return (
        torch.nn.utils.rnn.pad_sequence(x_list, batch_first=True),
        torch.as_tensor(y_list),
        torch.as_tensor([x.shape[0] for x in x_list]),
    )


def padded_sequence_mask(sequence_len: torch.Tensor, T: int | None = None):
    """Bool mask ``[T, N]``, true where ``t < sequence_len[n]`` (``T`` defaults to the longest)."""
    if T is None:
        T = sequence_len.max().item()
    return torch.arange(T, device=sequence_len.device)[:, None] < sequence_len[None, :]
