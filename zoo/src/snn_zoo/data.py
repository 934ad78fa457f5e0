"""Data sets for the command line.

- ``digits`` (default): scikit-learn's bundled handwritten digits, 1,797 grey 8x8 images
  of 10 classes (no download). Fixed split: 1,347 train / 450 test, stratified, seed 0.
- ``cifar10`` / ``cifar100`` / ``imagefolder``: from a local directory through
  torchvision (when installed).
- ``dvs128-gesture`` / ``cifar10-dvs`` / ``nmnist`` / ``n-caltech101``: event data through
  ``snn_datasets``, integrated into ``T`` frames exactly as the reference framework does
  (see :mod:`snn_zoo.event_data`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import Dataset, TensorDataset

from snn_zoo.event_data import EVENT_DATASETS, load_event_dataset

__all__ = [
    "DataSpec",
    "load_dataset",
    "frames_T",
    "time_first",
    "DATASETS",
    "DIGITS_MEAN",
    "DIGITS_STD",
    "DIGITS_CARD",
]

DATASETS = ("digits", "cifar10", "cifar100", "imagefolder", *EVENT_DATASETS)
DIGITS_MEAN = (0.3052,)  # mean/std of the digits training split, pixel values scaled to [0, 1]
DIGITS_STD = (0.3760,)
#: the model-card (timm ``pretrained_cfg``) entries every digits variant shares
DIGITS_CARD = dict(
    num_classes=10, input_size=(1, 8, 8), crop_pct=1.0, mean=DIGITS_MEAN, std=DIGITS_STD
)


@dataclass
class DataSpec:
    """What a model needs to know about a data set."""

    train: Dataset
    test: Dataset
    num_classes: int
    in_chans: int
    img_size: int
    name: str


def _digits() -> DataSpec:
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as e:  # pragma: no cover - scikit-learn is a dependency of the train extra
        raise RuntimeError(
            "the default data set (handwritten digits) ships with scikit-learn: "
            "pip install 'snn-zoo[train]'"
        ) from e
    bunch = load_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0  # [1797, 1, 8, 8]
    y = torch.tensor(bunch.target, dtype=torch.long)
    idx_train, idx_test = train_test_split(
        list(range(len(y))), test_size=0.25, random_state=0, stratify=bunch.target
    )
    mean = torch.tensor(DIGITS_MEAN).view(1, -1, 1, 1)
    std = torch.tensor(DIGITS_STD).view(1, -1, 1, 1)
    x = (x - mean) / std
    train = TensorDataset(x[idx_train], y[idx_train])
    test = TensorDataset(x[idx_test], y[idx_test])
    return DataSpec(train, test, num_classes=10, in_chans=1, img_size=8, name="digits")


def _need(module: str, extra: str) -> Any:
    try:
        return __import__(module)
    except ImportError as e:
        raise RuntimeError(f"this data set needs {module}: pip install {extra}") from e


def _check_dir(data_dir: str | None, dataset: str) -> str:
    if not data_dir:
        raise ValueError(f"--data-dir is required for dataset {dataset!r}")
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"--data-dir {data_dir!r} does not exist or is not a directory")
    return data_dir


def _torchvision(dataset: str, data_dir: str, img_size: int | None) -> DataSpec:
    _need("torchvision", "torchvision")
    from torchvision import datasets, transforms

    if dataset in ("cifar10", "cifar100"):
        mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
        tf_train = transforms.Compose(
            [
                transforms.RandomCrop(32, padding=4),
                transforms.RandomHorizontalFlip(),
                transforms.ToTensor(),
                transforms.Normalize(mean, std),
            ]
        )
        tf_test = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])
        cls = datasets.CIFAR10 if dataset == "cifar10" else datasets.CIFAR100
        train = cls(data_dir, train=True, transform=tf_train, download=False)
        test = cls(data_dir, train=False, transform=tf_test, download=False)
        n = 10 if dataset == "cifar10" else 100
        return DataSpec(train, test, n, 3, 32, dataset)
    size = img_size or 224
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    tf_train = transforms.Compose(
        [
            transforms.RandomResizedCrop(size),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(mean, std),
        ]
    )
    tf_test = transforms.Compose(
        [
            transforms.Resize(int(size / 0.875)),
            transforms.CenterCrop(size),
            transforms.ToTensor(),
            transforms.Normalize(mean, std),
        ]
    )
    for split in ("train", "val"):
        if not os.path.isdir(os.path.join(data_dir, split)):
            raise FileNotFoundError(f"imagefolder expects {data_dir}/train and {data_dir}/val")
    train = datasets.ImageFolder(os.path.join(data_dir, "train"), tf_train)
    test = datasets.ImageFolder(os.path.join(data_dir, "val"), tf_test)
    return DataSpec(train, test, len(train.classes), 3, size, dataset)


def time_first(x: torch.Tensor) -> torch.Tensor:
    """A loader's batch as the models take it: event batches come ``[B, T, C, H, W]`` from a
    ``DataLoader`` (one ``[T, C, H, W]`` sample each) and go in as ``[T, B, C, H, W]``; image
    batches ``[B, C, H, W]`` are returned as they are."""
    return x.transpose(0, 1) if x.dim() == 5 else x


def frames_T(model: str, T: int | None) -> int:
    """Time steps of the data: ``T`` if given, else the variant's own ``T`` (16 if it has none),
    so an event data set is integrated into as many frames as the model runs steps."""
    if T is not None:
        return T
    from snn_zoo._registry import get_model_entry

    return int(get_model_entry(model).config.get("T", 16))


def load_dataset(
    dataset: str = "digits", data_dir: str | None = None, T: int = 4, img_size: int | None = None
) -> DataSpec:
    """Load ``dataset`` (one of :data:`DATASETS`)."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    if dataset == "digits":
        if data_dir is not None:
            others = ", ".join(d for d in DATASETS if d != "digits")
            raise ValueError(
                f"--data-dir {data_dir!r} is not used by dataset 'digits' (it ships with "
                f"scikit-learn); drop --data-dir, or pick the --dataset it holds ({others})"
            )
        return _digits()
    data_dir = _check_dir(data_dir, dataset)
    if dataset in EVENT_DATASETS:
        train, test, n, chans, size = load_event_dataset(dataset, data_dir, T, img_size)
        return DataSpec(train, test, n, chans, size, dataset)
    return _torchvision(dataset, data_dir, img_size)
