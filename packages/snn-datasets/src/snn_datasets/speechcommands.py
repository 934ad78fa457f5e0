"""Google Speech Commands (Warden, 2018) as audio waveforms, with the silence class of
keyword-spotting recipes.

Download (automatic with ``download=True``, md5-verified): ``speech_commands_v0.02.tar.gz``
(or ``v0.01``) from storage.googleapis.com into ``root``, unpacked to
``root/SpeechCommands/speech_commands_v0.02/<word>/<speaker>_nohash_<k>.wav`` with
``validation_list.txt`` and ``testing_list.txt``; the training list is everything else (it
is generated once and saved as ``training_list.txt``). WAV files are read with the standard
library (16-bit PCM, as the data set ships), scaled to [-1, 1) like ``torchaudio.load``.
"""

from __future__ import annotations

import os
import wave
from collections.abc import Callable
from pathlib import Path
from random import choice

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ._archive import extract_archive
from ._download import download_url

__all__ = ["SpeechCommands", "SPEECHCOMMANDS"]

FOLDER_IN_ARCHIVE = "SpeechCommands"
URL = "speech_commands_v0.02"
HASH_DIVIDER = "_nohash_"
EXCEPT_FOLDER = "_background_noise_"
_CHECKSUMS = {
    "https://storage.googleapis.com/download.tensorflow.org/data/speech_commands_v0.01.tar.gz": "3cd23799cb2bbdec517f1cc028f8d43c",  # noqa: E501
    "https://storage.googleapis.com/download.tensorflow.org/data/speech_commands_v0.02.tar.gz": "6b74f3901214cb2c2934e98196829835",  # noqa: E501
}
VAL_RECORD = "validation_list.txt"
TEST_RECORD = "testing_list.txt"
TRAIN_RECORD = "training_list.txt"

_PCM_SCALE = {1: (128.0, 128.0, np.uint8), 2: (0.0, 32768.0, "<i2"), 4: (0.0, 2147483648.0, "<i4")}


def _load_wav(path: str | Path) -> tuple[Tensor, int]:
    """Read a PCM WAV file as a float32 tensor ``[channels, frames]`` in [-1, 1) and its rate.

    :raises ValueError: naming the file, if it is not 8-, 16- or 32-bit PCM WAV
    """
    try:
        with wave.open(str(path), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as e:
        raise ValueError(f"{str(path)!r} is not a readable PCM WAV file: {e}") from e
    if width not in _PCM_SCALE:
        raise ValueError(f"{str(path)!r} has {8 * width}-bit samples; expected 8, 16 or 32")
    offset, scale, dtype = _PCM_SCALE[width]
    samples = np.frombuffer(raw, dtype=dtype).astype(np.float32)
    samples = (samples - np.float32(offset)) / np.float32(scale)
    return torch.from_numpy(samples.reshape(-1, channels).T.copy()), rate


class SpeechCommands(Dataset):
    """Speech Commands waveforms ``[1, 16000]`` normalised to peak 1, with integer labels.

    :param label_dict: word (folder name, and ``'_silence_'``) -> label
    :param root: folder holding the archive / the ``SpeechCommands`` folder
    :param silence_cnt: number of silence samples cut at random from the background noise
    :param silence_size: length of a silence sample
    :param transform: applied to each waveform
    :param url: ``'speech_commands_v0.01'``, ``'speech_commands_v0.02'`` or an archive URL
    :param split: ``'train'``, ``'val'`` or ``'test'``
    :param folder_in_archive: top folder of the unpacked data
    :param download: download and unpack the archive if the data folder is missing

    For ``split='train'`` :attr:`weights` holds per-sample weights that balance the classes
    (for a ``WeightedRandomSampler``).
    """

    def __init__(
        self,
        label_dict: dict,
        root: str,
        silence_cnt: int | None = 0,
        silence_size: int | None = 16000,
        transform: Callable | None = None,
        url: str | None = URL,
        split: str | None = "train",
        folder_in_archive: str | None = FOLDER_IN_ARCHIVE,
        download: bool | None = False,
    ) -> None:
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be one of ('train', 'val', 'test'), got {split!r}")
        if silence_cnt < 0:
            raise ValueError(f"silence_cnt must be >= 0, got {silence_cnt}")
        if silence_size <= 0:
            raise ValueError(f"silence_size must be > 0, got {silence_size}")
        self.split = split
        self.label_dict = label_dict
        self.transform = transform
        self.silence_cnt = silence_cnt
        self.silence_size = silence_size

        if url in ("speech_commands_v0.01", "speech_commands_v0.02"):
            url = "https://storage.googleapis.com/download.tensorflow.org/data/" + url + ".tar.gz"
        basename = os.path.basename(url)
        archive = os.path.join(root, basename)
        self._path = os.path.join(root, folder_in_archive, basename.rsplit(".", 2)[0])

        if not os.path.isdir(self._path):
            if not download:
                raise FileNotFoundError(
                    f"Speech Commands not found in {self._path!r}; pass download=True or unpack "
                    f"{url} there"
                )
            if not os.path.isfile(archive):
                download_url(url, root, md5=_CHECKSUMS.get(url))
            extract_archive(archive, self._path)

        self.noise_list = sorted(str(p) for p in Path(self._path).glob(f"{EXCEPT_FOLDER}/*.wav"))
        if self.split == "train":
            self._walker = self._training_list()
            self.weights = self._class_balancing_weights()
        else:
            record = VAL_RECORD if self.split == "val" else TEST_RECORD
            with open(os.path.join(self._path, record)) as f:
                self._walker = [line.rstrip("\n") for line in f]

    def _training_list(self) -> list[str]:
        record = os.path.join(self._path, TRAIN_RECORD)
        if os.path.exists(record):
            with open(record) as f:
                return [line.rstrip("\n") for line in f]
        walker = {
            os.path.relpath(path, self._path)
            for path in map(str, Path(self._path).glob("*/*.wav"))
            if HASH_DIVIDER in path and EXCEPT_FOLDER not in path
        }
        for name in (VAL_RECORD, TEST_RECORD):
            with open(os.path.join(self._path, name)) as f:
                walker -= {line.rstrip("\n") for line in f}
        walker = sorted(walker)
        tmp = record + f".{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(walker))
        os.replace(tmp, record)
        return walker

    def _class_balancing_weights(self) -> Tensor:
        """Weight ``1 / count(label)`` per sample (silence: ``1 / silence_cnt``), normalised
        so that the per-class weights sum to 1."""
        labels = [self.label_dict.get(os.path.split(p)[0]) for p in self._walker]
        label_weights = 1.0 / np.unique(labels, return_counts=True)[1]
        if self.silence_cnt == 0:
            label_weights /= np.sum(label_weights)
            return torch.DoubleTensor([label_weights[label] for label in labels])
        silence_weight = 1.0 / self.silence_cnt
        total = np.sum(label_weights) + silence_weight
        label_weights /= total
        return torch.DoubleTensor(
            [label_weights[label] for label in labels] + [silence_weight / total] * self.silence_cnt
        )

    def __getitem__(self, n: int) -> tuple[Tensor, int]:
        if n < len(self._walker):
            fileid = self._walker[n]
            waveform, _ = _load_wav(os.path.join(self._path, fileid))
            label = os.path.split(fileid)[0]
        else:  # silence: a random crop of a random background-noise file
            waveform, _ = _load_wav(choice(self.noise_list))
            # the global NumPy generator, as the reference: np.random.seed makes it repeatable
            offset = np.random.randint(waveform.shape[1] - self.silence_size)  # noqa: NPY002
            waveform = waveform[:, offset : offset + self.silence_size]
            label = "_silence_"
        m = waveform.abs().max()
        if m > 0:
            waveform /= m
        if self.transform is not None:
            waveform = self.transform(waveform)
        return waveform, self.label_dict.get(label)

    def __len__(self) -> int:
        return len(self._walker) + self.silence_cnt


SPEECHCOMMANDS = SpeechCommands  # the reference's older name
