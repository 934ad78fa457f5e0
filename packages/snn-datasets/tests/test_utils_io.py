"""Readers of the raw formats in utils, frame files, splits, collation and sub data sets."""

import struct

import numpy as np
import pytest
import torch
from snn_datasets import utils

AEDAT_HEADER = b"#!AER-DAT3.1\r\n#Format: RAW\r\n#!END-HEADER\r\n"


def aedat_packet(e_type, events, overflow=0, e_size=8):
    """A packet of the AEDAT 3.1 spec: 28-byte header + events of e_size bytes."""
    header = struct.pack(
        "<HHIIIIII", e_type, 0, e_size, 0, overflow, len(events), len(events), len(events)
    )
    body = b"".join(struct.pack("<II", a, t) + b"\0" * (e_size - 8) for a, t in events)
    return header + body


def address(x, y, p):
    return (x << 17) | (y << 2) | (p << 1) | 1  # bit 0: valid mark


def test_load_aedat_v3_decodes_polarity_packets_and_skips_others(tmp_path):
    f = tmp_path / "rec.aedat"
    f.write_bytes(
        AEDAT_HEADER
        + aedat_packet(1, [(address(5, 6, 1), 17), (address(127, 0, 0), 18)])
        + aedat_packet(2, [(123, 4)])  # a special-event packet: ignored
        + aedat_packet(1, [(address(1, 2, 0), 5)], overflow=3, e_size=12)
    )
    events = utils.load_aedat_v3(f)
    assert {k: v.tolist() for k, v in events.items()} == {
        "t": [17, 18, 5 | 3 << 31],
        "x": [5, 127, 1],
        "y": [6, 0, 2],
        "p": [1, 0, 0],
    }
    assert all(v.dtype == np.int64 for v in events.values())


def test_load_aedat_v3_truncated_file_names_the_file(tmp_path):
    f = tmp_path / "cut.aedat"
    f.write_bytes(AEDAT_HEADER + aedat_packet(1, [(address(1, 1, 1), 1)] * 3)[:-5])
    with pytest.raises(ValueError, match=r"cut\.aedat is truncated"):
        utils.load_aedat_v3(f)


def test_load_atis_bin_decodes_40_bit_events(tmp_path):
    ts = [0x12345, 0x7FFFFF]
    raw = bytes([3, 4, 0x80 | ts[0] >> 16, ts[0] >> 8 & 0xFF, ts[0] & 0xFF])
    raw += bytes([33, 0, ts[1] >> 16, ts[1] >> 8 & 0xFF, ts[1] & 0xFF])
    (tmp_path / "a.bin").write_bytes(raw)
    events = utils.load_ATIS_bin(tmp_path / "a.bin")
    assert {k: v.tolist() for k, v in events.items()} == {
        "t": ts,
        "x": [3, 33],
        "y": [4, 0],
        "p": [1, 0],
    }
    assert all(v.dtype == np.uint32 for v in events.values())
    (tmp_path / "b.bin").write_bytes(raw[:-2])
    with pytest.raises(ValueError, match=r"b\.bin is truncated or corrupt: 8 bytes"):
        utils.load_ATIS_bin(tmp_path / "b.bin")


def test_load_npz_frames_returns_float32_and_names_a_corrupt_file(tmp_path):
    np.savez_compressed(tmp_path / "f.npz", frames=np.arange(4, dtype=np.float64))
    frames = utils.load_npz_frames(tmp_path / "f.npz")
    assert frames.dtype == np.float32 and frames.tolist() == [0, 1, 2, 3]
    data = (tmp_path / "f.npz").read_bytes()
    (tmp_path / "g.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"g\.npz: the file is truncated or corrupt"):
        utils.load_npz_frames(tmp_path / "g.npz")


def test_split_to_train_test_set_per_class_ceil_in_index_order():
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 0])
    ds = torch.utils.data.TensorDataset(torch.arange(14), labels)
    train, test = utils.split_to_train_test_set(0.7, ds, 3)
    # class 0 has 6 samples -> ceil(4.2) = 5 train; classes 1, 2 have 4 -> ceil(2.8) = 3
    assert train.indices == [0, 3, 6, 9, 12, 1, 4, 7, 2, 5, 8]
    assert test.indices == [13, 10, 11]
    fast = utils.fast_split_to_train_test_set(0.7, ds, 3, batch_size=4)
    assert fast[0].indices == train.indices and fast[1].indices == test.indices


def test_random_split_matches_the_reference_for_the_same_seed():
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 0])
    ds = torch.utils.data.TensorDataset(torch.arange(14), labels)
    np.random.seed(0)  # noqa: NPY002
    train, test = utils.split_to_train_test_set(0.5, ds, 3, random_split=True)
    # SpikingJelly 2.0.0, np.random.seed(0), same data set and arguments
    assert train.indices == [13, 6, 3, 10, 1, 5, 2]
    assert test.indices == [9, 0, 12, 7, 4, 8, 11]


def test_split_rejects_bad_labels_and_ratios():
    ds = torch.utils.data.TensorDataset(torch.arange(3), torch.tensor([0, 3, 1]))
    with pytest.raises(ValueError, match=r"sample 1 has label 3, outside \[0, num_classes=2\)"):
        utils.split_to_train_test_set(0.5, ds, 2)
    with pytest.raises(ValueError, match="train_ratio must be in"):
        utils.split_to_train_test_set(1.5, ds, 4)


def test_pad_sequence_collate_and_mask():
    x, y, lengths = utils.pad_sequence_collate([(np.ones((2, 3)), 4), (np.full((4, 3), 2.0), 7)])
    assert x.shape == (2, 4, 3) and x[0, 2:].abs().sum() == 0 and x[1].sum() == 24
    assert y.tolist() == [4, 7] and lengths.tolist() == [2, 4]
    mask = utils.padded_sequence_mask(lengths)
    assert mask.T.tolist() == [[True, True, False, False], [True, True, True, True]]
    assert utils.padded_sequence_mask(lengths, T=5).shape == (5, 2)


@pytest.mark.parametrize("use_soft_link", [True, False])
def test_create_sub_dataset_keeps_the_tree_and_the_ratio(tmp_path, use_soft_link):
    source, target = tmp_path / "source", tmp_path / "target"
    for cls in ("a", "b"):
        (source / cls).mkdir(parents=True)
        for i in range(5):
            (source / cls / f"{i}.npz").write_text(str(i))
    utils.create_sub_dataset(str(source), str(target), 0.4, use_soft_link=use_soft_link)
    for cls in ("a", "b"):
        files = list((target / cls).iterdir())
        assert len(files) == 2
        assert all(f.is_symlink() == use_soft_link for f in files)


def test_save_as_pic_and_play_frame_write_images(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("PIL")
    import matplotlib

    matplotlib.use("Agg")
    from PIL import Image

    frames = np.zeros((2, 2, 3, 4))
    frames[1, 0, 1, 2] = 1.0  # polarity 0 -> green
    utils.save_as_pic(frames, str(tmp_path), "f")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f_0.png", "f_1.png"]
    utils.play_frame(frames, str(tmp_path / "f.gif"))
    gif = Image.open(tmp_path / "f.gif")
    gif.seek(1)
    assert gif.convert("RGB").getpixel((2, 1)) == (0, 255, 0)
