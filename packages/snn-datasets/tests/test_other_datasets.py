"""The less used data sets: readers, label files and split logic on tiny synthetic files."""

from __future__ import annotations

import os
import wave

import numpy as np
import pytest
from rawfile_writers import rng_events, write_td_dat
from snn_datasets import (
    ASLDVS,
    BULLYING10K_CATEGORY_LABEL,
    HARDVS,
    Bullying10kClassification,
    DVSLip,
    ESImageNet,
    NAVGestureSit,
    NAVGestureWalk,
)
from snn_datasets.es_imagenet import _load_events as load_es_imagenet
from snn_datasets.speechcommands import SPEECHCOMMANDS, SpeechCommands


@pytest.fixture(autouse=True)
def _one_worker(monkeypatch):
    monkeypatch.setenv("SJ_MAX_THREADS_NUMBER_FOR_DATASETS_PREPROCESS", "1")


# ----------------------------------------------------------------------------- NavGesture
def test_navgesture_gesture_folders_and_flipped_y(tmp_path):
    ext = tmp_path / "extract" / "user03"
    ext.mkdir(parents=True)
    written = {}
    for k, g in enumerate(("le", "ri", "up", "do", "ho", "se")):
        t, x, y = [100 + k, 200 + k, 300 + k], [k, 303, 7], [0, 239, 100 + k]
        write_td_dat(ext / f"user03_{g}_0{k}_td.dat", t, x, y, [1, 0, 1])
        written[g] = (t, x, y)
    NAVGestureWalk.create_raw_from_extracted(tmp_path / "extract", tmp_path / "events_np")
    ds = NAVGestureWalk(str(tmp_path))
    assert ds.classes == sorted(written) and len(ds) == 6
    for i in range(6):
        events, label = ds[i]
        t, x, y = written[ds.classes[label]]
        assert events["t"].tolist() == [0, 100, 200]
        assert events["x"].tolist() == x and events["y"].tolist() == [239 - v for v in y]
    assert NAVGestureSit.resource_url_md5()[0][0] == "navgesture-sit.zip"
    assert NAVGestureWalk.get_H_W() == (240, 304) and not NAVGestureSit.downloadable()


def test_navgesture_unknown_gesture_name_is_an_error(tmp_path):
    ext = tmp_path / "extract" / "user01"
    ext.mkdir(parents=True)
    write_td_dat(ext / "user01_xx_1_td.dat", [1], [1], [1], [1])
    with pytest.raises(ValueError, match="user01_xx_1_td.dat"):
        NAVGestureWalk.create_raw_from_extracted(tmp_path / "extract", tmp_path / "events_np")


# ----------------------------------------------------------------------------- ES-ImageNet
def test_es_imagenet_loader_merges_and_sorts_by_time(tmp_path):
    f = tmp_path / "s.npz"
    pos = np.array([[1, 2, 5], [3, 4, 0]])  # rows (y, x, t)
    neg = np.array([[7, 8, 2]])
    np.savez(f, pos=pos, neg=neg)
    ev = load_es_imagenet(f)
    assert ev["t"].tolist() == [0, 2, 5] and ev["y"].tolist() == [3, 7, 1]
    assert ev["x"].tolist() == [4, 8, 2] and ev["p"].tolist() == [1, 0, 1]
    assert all(v.dtype == np.float64 for v in ev.values())


def test_es_imagenet_layout_from_vallabel(tmp_path):
    src = tmp_path / "extract" / "ES-imagenet-0.18"
    for k in (0, 1):
        (src / "train" / f"class{k}").mkdir(parents=True)
        np.savez(
            src / "train" / f"class{k}" / f"n{k}.npz", pos=np.ones((2, 3)), neg=np.zeros((1, 3))
        )
    (src / "val").mkdir()
    for j in range(3):
        np.savez(src / "val" / f"v{j}.npz", pos=np.full((1, 3), j), neg=np.zeros((1, 3)))
    (src / "vallabel.txt").write_text("v0.npz 1\nv1.npz 0\nv2.npz 1\n")
    ESImageNet.create_raw_from_extracted(tmp_path / "extract", tmp_path / "events_np")
    test = ESImageNet(str(tmp_path), train=False)
    assert [(os.path.basename(p), t) for p, t in test.samples] == [
        ("v1.npz", 0),
        ("v0.npz", 1),
        ("v2.npz", 1),
    ]
    frames = ESImageNet(
        str(tmp_path), train=True, data_type="frame", frames_number=1, split_by="number"
    )
    assert frames[0][0].shape == (1, 2, 256, 256) and frames[0][0].sum() == 3
    (src / "vallabel.txt").write_text("v0.npz one\n")
    with pytest.raises(ValueError, match=r"vallabel\.txt.*line 1"):
        ESImageNet.create_raw_from_extracted(tmp_path / "extract", tmp_path / "other")


# ----------------------------------------------------------------------------- HARDVS
def test_hardvs_links_by_label_files(tmp_path):
    ext = tmp_path / "extract"
    for cls in ("action_001", "action_300"):
        (ext / cls).mkdir(parents=True)
        for j in range(3):
            np.savez(
                ext / cls / f"dvSave-{j}.npz",
                t=np.arange(3),
                x=np.zeros(3),
                y=np.zeros(3),
                p=np.ones(3),
            )
    (ext / "train_label.txt").write_text("action_001/dvSave-0 0\naction_300/dvSave-0 299\n\n")
    (ext / "val_label.txt").write_text("action_001/dvSave-1 0\n")
    (ext / "test_label.txt").write_text("action_001/dvSave-2 0\naction_300/dvSave-2 299\n")
    raw = tmp_path / "events_np"
    HARDVS.create_raw_from_extracted(ext, raw)
    assert len(list((raw / "train").iterdir())) == 300  # one folder per class
    links = sorted(p.relative_to(raw).as_posix() for p in raw.rglob("*.npz"))
    assert links == [
        "test/action_001/dvSave-2.npz",
        "test/action_300/dvSave-2.npz",
        "train/action_001/dvSave-0.npz",
        "train/action_300/dvSave-0.npz",
        "val/action_001/dvSave-1.npz",
    ]
    assert (raw / "val" / "action_001" / "dvSave-1.npz").resolve() == (
        ext / "action_001" / "dvSave-1.npz"
    ).resolve()
    (ext / "val_label.txt").write_text("dvSave-1 0\n")
    with pytest.raises(ValueError, match=r"val_label\.txt.*line 1"):
        HARDVS.create_raw_from_extracted(ext, tmp_path / "other")
    with pytest.raises(ValueError, match="train_test_val"):
        HARDVS(str(tmp_path), train_test_val="training")


# ----------------------------------------------------------------------------- DVS-Lip
def test_dvs_lip_structured_npy_samples(tmp_path):
    dt = np.dtype([("t", "<i4"), ("x", "i1"), ("y", "i1"), ("p", "i1")])
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for word in ("accused", "action"):
            d = tmp_path / "extract" / "DVS-Lip" / split / word
            d.mkdir(parents=True)
            a = np.zeros(5, dt)
            a["t"], a["x"], a["y"], a["p"] = (
                np.arange(5) * 10,
                rng.integers(0, 128, 5),
                rng.integers(0, 128, 5),
                1,
            )
            np.save(d / "0.npy", a)
    DVSLip.create_raw_from_extracted(tmp_path / "extract", tmp_path / "events_np")
    ds = DVSLip(str(tmp_path), train=False)
    events, label = ds[1]
    assert ds.classes == ["accused", "action"] and label == 1
    assert events["t"].tolist() == [0, 10, 20, 30, 40]
    frames = DVSLip(
        str(tmp_path), train=True, data_type="frame", frames_number=5, split_by="number"
    )
    assert frames[0][0].shape == (5, 2, 128, 128) and frames[0][0].sum() == 5


# ----------------------------------------------------------------------------- Bullying10K
def test_bullying10k_every_fifth_file_is_test_and_chunks_flatten(tmp_path):
    ext = tmp_path / "extract"
    rng = np.random.default_rng(0)
    expected = {}
    for cat in ("handshake", "kicking"):
        (ext / cat / "clip").mkdir(parents=True)
        for j in range(4):
            chunks = np.empty(2, dtype=object)
            events = [
                list(zip(*rng_events(rng, 3, 0, 100, 346, 260), strict=True)) for _ in range(2)
            ]
            chunks[0], chunks[1] = events
            np.save(ext / cat / "clip" / f"{cat}{j}.npy", chunks, allow_pickle=True)
            expected[f"{cat}{j}"] = np.array(events[0] + events[1])
    (ext / "meta.json").write_text("{}")
    # files in directory-listing order (as the reference and the original work walk them)
    listing = [
        os.path.splitext(n)[0]
        for c in os.listdir(ext)
        if c in BULLYING10K_CATEGORY_LABEL
        for _, _, names in os.walk(ext / c)
        for n in names
    ]
    raw = tmp_path / "events_np"
    Bullying10kClassification.create_raw_from_extracted(ext, raw)
    assert not ext.exists()  # removed after conversion, as in the reference
    test = sorted(p.stem for p in (raw / "test").rglob("*.npz"))
    assert test == sorted(listing[0::5]) and len(test) == 2
    f = next((raw / "train" / "9").glob("*.npz"))
    with np.load(f) as z:
        want = expected[f.stem]
        for k, key in enumerate("txyp"):
            np.testing.assert_array_equal(z[key], want[:, k])


def test_bullying10k_resources_and_category_labels():
    names = [r[0] for r in Bullying10kClassification.resource_url_md5()]
    assert names == [f"{c}.zip" for c in BULLYING10K_CATEGORY_LABEL]
    assert BULLYING10K_CATEGORY_LABEL["kicking"] == 9 and Bullying10kClassification.downloadable()


# ----------------------------------------------------------------------------- ASL-DVS
def test_asl_dvs_mat_files_flipped(tmp_path):
    scipy_io = pytest.importorskip("scipy.io")
    for letter in ("a", "b"):
        (tmp_path / "extract" / letter).mkdir(parents=True)
        scipy_io.savemat(
            tmp_path / "extract" / letter / f"{letter}_0001.mat",
            {
                "ts": np.array([[5], [9]]),
                "x": np.array([[0], [239]]),
                "y": np.array([[10], [179]]),
                "pol": np.array([[1], [0]]),
            },
        )
    ASLDVS.create_raw_from_extracted(tmp_path / "extract", tmp_path / "events_np")
    events, label = ASLDVS(str(tmp_path))[1]
    assert label == 1 and events["t"].tolist() == [5, 9]
    assert (
        events["x"].tolist() == [239, 0]
        and events["y"].tolist() == [169, 0]
        and events["p"].tolist() == [1, 0]
    )
    (tmp_path / "extract" / "a" / "a_0002.mat").write_bytes(b"not a mat file")
    with pytest.raises(ValueError, match=r"a_0002\.mat"):
        ASLDVS.create_raw_from_extracted(tmp_path / "extract", tmp_path / "events_np")


# ----------------------------------------------------------------------------- Speech Commands
def _wav(path, n):
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((np.arange(n) % 200 - 100).astype("<i2").tobytes())


def test_speech_commands_lists_weights_and_silence(tmp_path):
    base = tmp_path / "SpeechCommands" / "speech_commands_v0.02"
    for word, speakers in (("yes", 3), ("no", 2)):
        for s in range(speakers):
            _wav(base / word / f"s{s}_nohash_0.wav", 160)
    _wav(base / "_background_noise_" / "noise.wav", 400)
    (base / "validation_list.txt").write_text("yes/s2_nohash_0.wav\n")
    (base / "testing_list.txt").write_text("no/s1_nohash_0.wav\n")
    labels = {"yes": 0, "no": 1, "_silence_": 2}
    train = SpeechCommands(labels, str(tmp_path), silence_cnt=2, silence_size=100)
    assert train._walker == ["no/s0_nohash_0.wav", "yes/s0_nohash_0.wav", "yes/s1_nohash_0.wav"]
    assert (base / "training_list.txt").read_text().splitlines() == train._walker
    # per class 1/count, silence 1/silence_cnt, normalised together: (1, 1/2, 1/2) / 2
    np.testing.assert_allclose(train.weights.numpy(), [0.5, 0.25, 0.25, 0.25, 0.25])
    x, y = train[0]
    assert y == 1 and x.shape == (1, 160) and float(x.abs().max()) == 1.0
    s, ys = train[4]
    assert ys == 2 and s.shape == (1, 100)
    assert len(SpeechCommands(labels, str(tmp_path), split="val")) == 1
    assert SPEECHCOMMANDS is SpeechCommands
    with pytest.raises(ValueError, match="split"):
        SpeechCommands(labels, str(tmp_path), split="dev")
    with pytest.raises(FileNotFoundError, match="download=True"):
        SpeechCommands(labels, str(tmp_path / "nowhere"))
