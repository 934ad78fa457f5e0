"""Event-camera data sets for the command line, through ``snn_datasets``.

The frames are the reference framework's (SpikingJelly's ``data_type='frame'``,
``split_by='number'``): the events of a sample are cut into ``T`` slices of equal event
count and each slice is integrated into a ``[2, H, W]`` count frame, so a paper's recipe
trained here sees the inputs it saw there. The first run prepares the cache under
``--data-dir`` (in parallel, resumable); later runs read it.

| ``--dataset`` | class | classes | sensor | split |
| --- | --- | --- | --- | --- |
| ``dvs128-gesture`` | ``DVS128Gesture`` | 11 | 128 x 128 | the official train / test trials |
| ``cifar10-dvs`` | ``CIFAR10DVS`` | 10 | 128 x 128 | 90 % / 10 % of each class, in order |
| ``nmnist`` | ``NMNIST`` | 10 | 34 x 34 | the official train / test files |
| ``n-caltech101`` | ``NCaltech101`` | 101 | 180 x 240 | 90 % / 10 % of each class, in order |

CIFAR10-DVS and N-Caltech101 have no official split; the one used by Spikformer's and
QKFormer's official code is ``split_to_train_test_set(0.9, dataset, num_classes)`` (each
class's first 90 % of samples train), which is what is used here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

__all__ = ["EVENT_DATASETS", "EventFrames", "load_event_dataset"]


@dataclass(frozen=True)
class _EventSet:
    cls_name: str
    num_classes: int
    sensor: tuple[int, int]  # H, W
    official_split: bool  # the class takes ``train=``; otherwise split 90 / 10 per class


EVENT_DATASETS: dict[str, _EventSet] = {
    "dvs128-gesture": _EventSet("DVS128Gesture", 11, (128, 128), True),
    "cifar10-dvs": _EventSet("CIFAR10DVS", 10, (128, 128), False),
    "nmnist": _EventSet("NMNIST", 10, (34, 34), True),
    "n-caltech101": _EventSet("NCaltech101", 101, (180, 240), False),
}


class EventFrames(Dataset):
    """A frame data set of ``snn_datasets`` as float32 ``[T, 2, S, S]`` tensors.

    Frames whose sensor is not ``S x S`` are resized by area interpolation (the mean of
    the covered pixels), as the zoo's models take square inputs of their ``img_size``.
    """

    def __init__(self, base: Dataset, size: int, sensor: tuple[int, int]) -> None:
        self.base = base
        self.size = size
        self.resize = tuple(sensor) != (size, size)

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        frames, label = self.base[i]
        x = torch.as_tensor(frames, dtype=torch.float32)
        if self.resize:
            x = F.interpolate(x, size=(self.size, self.size), mode="area")
        return x, int(label)


def load_event_dataset(
    dataset: str, data_dir: str, T: int, img_size: int | None
) -> tuple[Dataset, Dataset, int, int, int]:
    """``(train, test, num_classes, in_chans, img_size)`` of an event data set under
    ``data_dir`` (laid out as ``docs/datasets.md`` says), binned to ``T`` frames."""
    if dataset not in EVENT_DATASETS:
        raise ValueError(f"dataset must be one of {tuple(EVENT_DATASETS)}, got {dataset!r}")
    if not isinstance(T, int) or isinstance(T, bool) or T <= 0:
        raise ValueError(f"T (frames per sample) must be a positive int, got {T!r}")
    try:
        import snn_datasets
    except ImportError as e:  # pragma: no cover - snn-datasets is a dependency of the zoo
        raise RuntimeError("event data sets need snn-datasets: pip install snn-datasets") from e
    spec = EVENT_DATASETS[dataset]
    cls = getattr(snn_datasets, spec.cls_name)
    frames: dict[str, Any] = dict(data_type="frame", frames_number=T, split_by="number")
    if spec.official_split:
        train = cls(data_dir, train=True, **frames)
        test = cls(data_dir, train=False, **frames)
    else:
        full = cls(data_dir, **frames)
        train, test = snn_datasets.split_to_train_test_set(0.9, full, spec.num_classes)
    size = img_size or (spec.sensor[0] if spec.sensor[0] == spec.sensor[1] else 128)
    return (
        EventFrames(train, size, spec.sensor),
        EventFrames(test, size, spec.sensor),
        spec.num_classes,
        2,
        size,
    )
