"""Raw-format readers of the data set modules, checked against events written from the specs."""

from __future__ import annotations

import struct
import wave

import numpy as np
import pytest
from rawfile_writers import AEDAT2_HEADER, write_aedat2_dvs128, write_td_dat
from snn_datasets._aedat2 import aedat2_data_offset, decode_dvs128_address, read_aedat2
from snn_datasets._tddat import read_td_dat
from snn_datasets.cifar10_dvs import _load_cifar10dvs_events
from snn_datasets.speechcommands import _load_wav


# ----------------------------------------------------------------------------- AEDAT 2.0
def test_aedat2_reads_addresses_and_timestamps(tmp_path):
    t, x, y, p = [5, 9, 9, 4000000000], [0, 127, 3, 64], [0, 5, 127, 100], [1, 0, 1, 0]
    f = tmp_path / "a.aedat"
    write_aedat2_dvs128(f, t, x, y, p)
    address, ts = read_aedat2(f)
    assert ts.dtype == np.dtype(">u4") and ts.tolist() == t
    xs, ys, ps = decode_dvs128_address(address)
    assert xs.tolist() == x and ys.tolist() == y and ps.tolist() == [True, False, True, False]


def test_aedat2_header_length_is_the_hash_lines(tmp_path):
    f = tmp_path / "a.aedat"
    write_aedat2_dvs128(f, [1], [2], [3], [1])
    with open(f, "rb") as fp:
        assert aedat2_data_offset(fp) == len(AEDAT2_HEADER)
    g = tmp_path / "noheader.aedat"
    write_aedat2_dvs128(g, [1], [2], [3], [1], header=b"")
    with open(g, "rb") as fp:
        assert aedat2_data_offset(fp) == 0


def test_cifar10dvs_orientation_and_polarity(tmp_path):
    # CIFAR10-DVS is stored rotated: x = 127 - y_sensor, y = 127 - x_sensor, p = 1 - bit0
    f = tmp_path / "c.aedat"
    write_aedat2_dvs128(f, [10, 20], [0, 100], [7, 127], [1, 0])
    ev = _load_cifar10dvs_events(f)
    assert ev["t"].tolist() == [10, 20]
    assert ev["x"].tolist() == [120, 0] and ev["y"].tolist() == [127, 27]
    assert ev["p"].tolist() == [0, 1] and ev["p"].dtype == np.int64
    assert ev["x"].dtype == np.uint32


def test_aedat2_truncated_file_names_the_file(tmp_path):
    f = tmp_path / "cut.aedat"
    write_aedat2_dvs128(f, [1, 2], [3, 4], [5, 6], [0, 1])
    f.write_bytes(f.read_bytes()[:-3])
    with pytest.raises(ValueError, match=r"cut\.aedat.*truncated"):
        read_aedat2(f)


def test_aedat2_header_without_events_names_the_file(tmp_path):
    f = tmp_path / "empty.aedat"
    f.write_bytes(AEDAT2_HEADER)
    with pytest.raises(ValueError, match=r"empty\.aedat.*no events"):
        read_aedat2(f)


# ----------------------------------------------------------------------------- _td.dat
def test_td_dat_reads_fields_with_and_without_header(tmp_path):
    t, x, y, p = [100, 150, 150, 400], [0, 511, 303, 7], [239, 0, 12, 255], [1, 0, 1, 1]
    for header in (True, False):
        f = tmp_path / f"h{header}_td.dat"
        write_td_dat(f, t, x, y, p, header=header)
        ts, xy, ps = read_td_dat(f)
        assert ts.tolist() == [0, 50, 50, 300]  # shifted to start at 0
        assert xy[:, 0].tolist() == x and xy[:, 1].tolist() == y and ps.tolist() == p
        assert ts.dtype == xy.dtype == ps.dtype == np.int64


def test_td_dat_clean_up_rules_by_hand(tmp_path):
    # times 10 20 5 3 30 40 35 50 (x = index):
    # rule 1 (compare with the stored previous slot, a rejected slot stores 0):
    #   i2 (5 < 20) rejected, i3 (3 >= 0) kept, i6 (35 < 40) rejected -> 6 accepted,
    #   slots [10,20,0,3,30,40] kept (the first 6 slots, holes included);
    # rule 2: minus 10 -> [0,10,-10,-7,20,30];
    # rule 3, pass 1: drop i2 (-10 < 10), skip the pair (i2, i3); pass 2: [0,10,-7,20,30]
    #   drop -7; pass 3: [0,10,20,30] nothing to drop.
    t = [10, 20, 5, 3, 30, 40, 35, 50]
    f = tmp_path / "q_td.dat"
    write_td_dat(f, t, list(range(8)), [1] * 8, [0] * 8)
    ts, xy, _ = read_td_dat(f)
    assert ts.tolist() == [0, 10, 20, 30]
    assert xy[:, 0].tolist() == [0, 1, 4, 5]


def test_td_dat_bad_files_name_the_file(tmp_path):
    f = tmp_path / "cut_td.dat"
    write_td_dat(f, [1, 2], [0, 0], [0, 0], [0, 0])
    f.write_bytes(f.read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"cut_td\.dat.*multiple of 8"):
        read_td_dat(f)
    g = tmp_path / "size_td.dat"
    g.write_bytes(b"% header\n" + bytes([0, 16]) + b"\x00" * 16)
    with pytest.raises(ValueError, match=r"size_td\.dat.*event size of 16"):
        read_td_dat(g)
    h = tmp_path / "none_td.dat"
    h.write_bytes(b"% header\n" + bytes([0, 8]))
    with pytest.raises(ValueError, match=r"none_td\.dat.*no events"):
        read_td_dat(h)


# ----------------------------------------------------------------------------- WAV
def test_wav_reader_scales_16_bit_pcm(tmp_path):
    f = tmp_path / "a.wav"
    samples = np.array([0, 16384, -32768, 32767, -1], dtype="<i2")
    with wave.open(str(f), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(samples.tobytes())
    x, rate = _load_wav(f)
    assert rate == 16000 and x.shape == (1, 5)
    assert x[0].tolist() == [0.0, 0.5, -1.0, 32767 / 32768, -1 / 32768]


def test_wav_reader_rejects_non_wav(tmp_path):
    f = tmp_path / "bad.wav"
    f.write_bytes(b"RIFF" + struct.pack("<I", 4) + b"JUNK")
    with pytest.raises(ValueError, match=r"bad\.wav"):
        _load_wav(f)
