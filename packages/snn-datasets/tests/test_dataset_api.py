"""The data set modules keep the reference's submodule paths, public names and signatures.

The expected parameter lists were printed from SpikingJelly 2.0.0 with
``inspect.signature(cls.__init__)`` for every class in each module's ``__all__``.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

FRAME_ARGS = [
    ("data_type", "event"),
    ("frames_number", None),
    ("split_by", None),
    ("duration", None),
    ("custom_integrate_function", None),
    ("custom_integrated_frames_dir_name", None),
    ("transform", None),
    ("target_transform", None),
]
ROOT = [("root", "<required>")]
TRAIN = [("train", True)]
SPEECH = [
    ("label_dict", "<required>"),
    ("root", "<required>"),
    ("silence_cnt", 0),
    ("silence_size", 16000),
    ("transform", None),
    ("url", "speech_commands_v0.02"),
    ("split", "train"),
    ("folder_in_archive", "SpeechCommands"),
    ("download", False),
]
EXPECTED = {
    ("dvs128_gesture", "DVS128Gesture"): ROOT + TRAIN + FRAME_ARGS,
    ("cifar10_dvs", "CIFAR10DVS"): ROOT + FRAME_ARGS,
    ("cifar10_dvs", "CIFAR10DVSTEBNSplit"): ROOT + TRAIN + FRAME_ARGS,
    ("n_mnist", "NMNIST"): ROOT + TRAIN + FRAME_ARGS,
    ("n_caltech101", "NCaltech101"): ROOT + FRAME_ARGS,
    ("shd", "SpikingHeidelbergDigits"): ROOT + TRAIN + FRAME_ARGS,
    ("shd", "SpikingSpeechCommands"): ROOT + [("split", "train")] + FRAME_ARGS,
    ("asl_dvs", "ASLDVS"): ROOT + FRAME_ARGS,
    ("nav_gesture", "NAVGestureWalk"): ROOT + FRAME_ARGS,
    ("nav_gesture", "NAVGestureSit"): ROOT + FRAME_ARGS,
    ("es_imagenet", "ESImageNet"): ROOT + TRAIN + FRAME_ARGS,
    ("hardvs", "HARDVS"): ROOT + [("train_test_val", None)] + FRAME_ARGS,
    ("dvs_lip", "DVSLip"): ROOT + TRAIN + FRAME_ARGS,
    ("bullying10k", "Bullying10kClassification"): ROOT + TRAIN + FRAME_ARGS,
    ("speechcommands", "SpeechCommands"): SPEECH,
    ("speechcommands", "SPEECHCOMMANDS"): SPEECH,
}
ALL = {
    "dvs128_gesture": ["DVS128Gesture"],
    "cifar10_dvs": ["CIFAR10DVS_CLASS_NAMES", "CIFAR10DVS", "CIFAR10DVSTEBNSplit"],
    "n_mnist": ["NMNIST"],
    "n_caltech101": ["NCaltech101"],
    "shd": ["SHD_N_CLASSES", "SpikingHeidelbergDigits", "SSC_N_CLASSES", "SpikingSpeechCommands"],
    "asl_dvs": ["ASLDVS"],
    "nav_gesture": ["NAVGestureWalk", "NAVGestureSit"],
    "es_imagenet": ["ESImageNet"],
    "hardvs": ["HARDVS"],
    "dvs_lip": ["DVSLip"],
    "bullying10k": ["BULLYING10K_CATEGORY_LABEL", "Bullying10kClassification"],
    "speechcommands": ["SpeechCommands", "SPEECHCOMMANDS"],
}


@pytest.mark.parametrize(("module", "name"), sorted(EXPECTED))
def test_constructor_signature_matches_the_reference(module, name):
    cls = getattr(importlib.import_module(f"snn_datasets.{module}"), name)
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    got = [
        (p.name, "<required>" if p.default is inspect.Parameter.empty else p.default)
        for p in params
    ]
    assert got == EXPECTED[(module, name)]


@pytest.mark.parametrize("module", sorted(ALL))
def test_module_exports_and_top_level_names(module):
    mod = importlib.import_module(f"snn_datasets.{module}")
    assert mod.__all__ == ALL[module]
    top = importlib.import_module("snn_datasets")
    for name in mod.__all__:
        assert getattr(top, name) is getattr(mod, name)


def test_constants_and_sensor_sizes():
    import snn_datasets as d

    assert d.SHD_N_CLASSES == 20 and d.SSC_N_CLASSES == 35
    assert len(d.CIFAR10DVS_CLASS_NAMES) == 10 and d.CIFAR10DVS_CLASS_NAMES[0] == "airplane"
    sizes = {
        d.DVS128Gesture: (128, 128),
        d.CIFAR10DVS: (128, 128),
        d.NMNIST: (34, 34),
        d.NCaltech101: (180, 240),
        d.SpikingHeidelbergDigits: (None, 700),
        d.ASLDVS: (180, 240),
        d.NAVGestureWalk: (240, 304),
        d.ESImageNet: (256, 256),
        d.HARDVS: (260, 346),
        d.DVSLip: (128, 128),
        d.Bullying10kClassification: (260, 346),
    }
    for cls, hw in sizes.items():
        assert cls.get_H_W() == hw, cls.__name__
    downloadable = {
        d.CIFAR10DVS,
        d.SpikingHeidelbergDigits,
        d.ESImageNet,
        d.Bullying10kClassification,
    }
    for cls in sizes:
        assert cls.downloadable() == (cls in downloadable), cls.__name__
