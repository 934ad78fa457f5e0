"""Frame integration: the reference's binning rules, checked against hand-computed frames
and a naive per-event loop written from the rule."""

import numpy as np
import pytest
from snn_datasets import utils

# Ten events on a 3 x 4 sensor (H=3, W=4).
EVENTS = {
    "t": np.array([0, 3, 4, 9, 12, 13, 20, 21, 22, 30]),
    "x": np.array([0, 1, 2, 3, 0, 1, 2, 3, 0, 1]),
    "y": np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0]),
    "p": np.array([0, 1, 1, 0, 0, 1, 1, 0, 1, 1]),
}


def naive_frames(events, segments, H, W):
    """One event at a time: frame i counts events j_l <= j < j_r at [p != 0, y, x]."""
    frames = np.zeros((len(segments), 2, H, W))
    for i, (lo, hi) in enumerate(segments):
        for j in range(lo, hi):
            frames[i, int(events["p"][j] != 0), events["y"][j], events["x"][j]] += 1
    return frames


def test_segment_counts_repeated_positions_per_polarity():
    frame = utils.integrate_events_segment_to_frame(
        np.array([0, 0, 1, 1]), np.array([0, 0, 1, 1]), np.array([0, 0, 1, 1]), H=2, W=2
    )
    expected = np.zeros((2, 2, 2))
    expected[0, 0, 0] = 2
    expected[1, 1, 1] = 2
    assert frame.dtype == np.float64
    assert np.array_equal(frame, expected)


def test_split_by_number_gives_the_remainder_to_the_last_frame():
    # N = 10, F = 3: di = 3, frames hold events [0, 3), [3, 6), [6, 10)
    j_l, j_r = utils.cal_fixed_frames_number_segment_index(EVENTS["t"], "number", 3)
    assert j_l.tolist() == [0, 3, 6] and j_r.tolist() == [3, 6, 10]
    frames = utils.integrate_events_by_fixed_frames_number(EVENTS, "number", 3, 3, 4)
    assert frames.dtype == np.float64 and frames.shape == (3, 2, 3, 4)
    assert np.array_equal(frames, naive_frames(EVENTS, [(0, 3), (3, 6), (6, 10)], 3, 4))
    # nonzero entries as printed by SpikingJelly 2.0.0 on the same events
    assert np.argwhere(frames).tolist() == [
        [0, 0, 0, 0],
        [0, 1, 1, 1],
        [0, 1, 2, 2],
        [1, 0, 0, 3],
        [1, 0, 1, 0],
        [1, 1, 2, 1],
        [2, 0, 1, 3],
        [2, 1, 0, 1],
        [2, 1, 0, 2],
        [2, 1, 2, 0],
    ]


def test_split_by_time_last_window_runs_to_the_last_event():
    # dt = (30 - 0) // 3 = 10: windows [0, 10), [10, 20), [20, 30) and the last takes t = 30
    j_l, j_r = utils.cal_fixed_frames_number_segment_index(EVENTS["t"], "time", 3)
    assert j_l.tolist() == [0, 4, 6] and j_r.tolist() == [4, 6, 10]
    frames = utils.integrate_events_by_fixed_frames_number(EVENTS, "time", 3, 3, 4)
    assert frames.sum(axis=(1, 2, 3)).tolist() == [4.0, 2.0, 4.0]  # SpikingJelly 2.0.0
    assert np.array_equal(frames, naive_frames(EVENTS, [(0, 4), (4, 6), (6, 10)], 3, 4))


def test_split_by_time_with_unsorted_timestamps_uses_first_and_last_hit():
    # t0 = 0, dt = 9 // 2 = 4; window 0 [0, 4) hits events 0, 2 -> [0, 3);
    # window 1 [4, 8) hits event 1 -> [1, 2), widened to the end -> [1, 5)
    t = np.array([0, 5, 2, 8, 9])
    j_l, j_r = utils.cal_fixed_frames_number_segment_index(t, "time", 2)
    assert j_l.tolist() == [0, 1] and j_r.tolist() == [3, 5]
    events = {"t": t, "x": np.arange(5), "y": np.zeros(5, int), "p": np.ones(5, int)}
    frames = utils.integrate_events_by_fixed_frames_number(events, "time", 2, 1, 5)
    assert np.array_equal(frames, naive_frames(events, [(0, 3), (1, 5)], 1, 5))


def test_fewer_events_than_frames_puts_all_in_the_last_frame():
    events = {k: v[:2] for k, v in EVENTS.items()}
    frames = utils.integrate_events_by_fixed_frames_number(events, "number", 4, 3, 4)
    assert frames.sum(axis=(1, 2, 3)).tolist() == [0, 0, 0, 2]


def test_fixed_duration_frame_count_and_last_frame_rule():
    # t - min = [0, 3, 4, 9, ...30], duration 7: ceil(30 / 7) = 5 frames, t // 7 = 0..4
    frames = utils.integrate_events_by_fixed_duration(EVENTS, 7, 3, 4)
    assert frames.shape == (5, 2, 3, 4)
    assert frames.sum(axis=(1, 2, 3)).tolist() == [3, 3, 1, 2, 1]  # SpikingJelly 2.0.0
    # an event exactly at a multiple of duration at the end joins the last frame
    events = {
        "t": np.array([10, 12, 14]),
        "x": np.zeros(3, int),
        "y": np.zeros(3, int),
        "p": np.zeros(3, int),
    }
    frames = utils.integrate_events_by_fixed_duration(events, 2, 1, 1)
    assert frames[:, 0, 0, 0].tolist() == [1, 2]


@pytest.mark.parametrize("dtype", [np.int64, np.uint32, np.float64])
def test_random_events_match_the_naive_rule(dtype):
    rng = np.random.default_rng(3)
    n, H, W = 2000, 5, 7
    events = {
        "t": np.sort(rng.integers(0, 50_000, n)).astype(dtype),
        "x": rng.integers(0, W, n).astype(np.uint16),
        "y": rng.integers(0, H, n),
        "p": rng.choice([-1, 1], n),  # p != 0: both polarities land in channel 1
    }
    for split_by in ("number", "time"):
        j_l, j_r = utils.cal_fixed_frames_number_segment_index(events["t"], split_by, 6)
        frames = utils.integrate_events_by_fixed_frames_number(events, split_by, 6, H, W)
        assert np.array_equal(frames, naive_frames(events, list(zip(j_l, j_r)), H, W))
        assert frames.sum() == n and frames[:, 0].sum() == 0


def test_unknown_split_by_names_the_allowed_values():
    with pytest.raises(
        ValueError, match=r"split_by must be one of \('number', 'time'\), got 'space'"
    ):
        utils.cal_fixed_frames_number_segment_index(EVENTS["t"], "space", 2)
    with pytest.raises(ValueError, match="split_by"):
        utils.integrate_events_by_fixed_frames_number(EVENTS, "Number", 2, 3, 4)


@pytest.mark.parametrize("frames_num", [0, -3])
def test_non_positive_frames_number_is_rejected(frames_num):
    with pytest.raises(ValueError, match=f"frames_num must be a positive int, got {frames_num}"):
        utils.integrate_events_by_fixed_frames_number(EVENTS, "number", frames_num, 3, 4)


def test_non_positive_duration_is_rejected():
    with pytest.raises(ValueError, match="duration must be a positive int, got 0"):
        utils.integrate_events_by_fixed_duration(EVENTS, 0, 3, 4)


def test_empty_time_window_is_a_clear_error():
    events = {
        "t": np.array([0, 1, 100]),
        "x": np.zeros(3, int),
        "y": np.zeros(3, int),
        "p": np.zeros(3, int),
    }
    with pytest.raises(ValueError, match="time window 1 .* holds no events"):
        utils.integrate_events_by_fixed_frames_number(events, "time", 4, 1, 1)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [("x", 4, r"x coordinates in \[0, 4\]"), ("y", -1, r"y coordinates in \[-1, 2\]")],
)
def test_events_outside_the_sensor_are_rejected(key, value, match):
    events = {k: v.copy() for k, v in EVENTS.items()}
    events[key][5] = value
    with pytest.raises(ValueError, match=match + ".*outside the sensor H=3, W=4"):
        utils.integrate_events_by_fixed_frames_number(events, "number", 2, 3, 4)


def test_file_integration_names_the_file_of_bad_events(tmp_path):
    events = {k: v.copy() for k, v in EVENTS.items()}
    events["x"][0] = 9
    np.savez(tmp_path / "bad.npz", **events)
    with pytest.raises(ValueError, match=r"bad\.npz: events have x coordinates"):
        utils.integrate_events_file_to_frames_file_by_fixed_frames_number(
            lambda f: dict(np.load(f)), str(tmp_path / "bad.npz"), str(tmp_path), "number", 2, 3, 4
        )
    with pytest.raises(ValueError, match=r"bad\.npz: events have x coordinates"):
        utils.integrate_events_file_to_frames_file_by_fixed_duration(
            lambda f: dict(np.load(f)), str(tmp_path / "bad.npz"), str(tmp_path), 5, 3, 4
        )


def test_file_integration_names_and_contents(tmp_path):
    np.savez(tmp_path / "s.npz", **EVENTS)
    out = tmp_path / "out"
    out.mkdir()
    loader = lambda f: dict(np.load(f))  # noqa: E731
    utils.integrate_events_file_to_frames_file_by_fixed_frames_number(
        loader, str(tmp_path / "s.npz"), str(out), "number", 3, 3, 4
    )
    n = utils.integrate_events_file_to_frames_file_by_fixed_duration(
        loader, str(tmp_path / "s.npz"), str(out), 7, 3, 4
    )
    assert n == 5
    assert sorted(p.name for p in out.iterdir()) == ["s.npz", "s_5.npz"]
    with np.load(out / "s.npz") as archive:
        assert archive.files == ["frames"] and archive["frames"].dtype == np.float64
        expected = utils.integrate_events_by_fixed_frames_number(EVENTS, "number", 3, 3, 4)
        assert np.array_equal(archive["frames"], expected)


@pytest.mark.parametrize("block", [3, 50])
def test_counting_in_small_blocks_and_groups_gives_the_same_frames(monkeypatch, block):
    """Frames are counted in groups of frames and blocks of events; tiny blocks force long
    frames split over blocks and short frames grouped together."""
    from snn_datasets import _integrate

    monkeypatch.setattr(_integrate, "_BLOCK", block)
    rng = np.random.default_rng(5)
    n, H, W = 700, 2, 3
    events = {
        "t": np.sort(rng.integers(0, 10_000, n)),
        "x": rng.integers(0, W, n),
        "y": rng.integers(0, H, n),
        "p": rng.integers(0, 2, n),
    }
    for F in (1, 7, 300):
        j_l, j_r = utils.cal_fixed_frames_number_segment_index(events["t"], "number", F)
        frames = utils.integrate_events_by_fixed_frames_number(events, "number", F, H, W)
        assert np.array_equal(frames, naive_frames(events, list(zip(j_l, j_r)), H, W))
    frames = utils.integrate_events_by_fixed_duration(events, 37, H, W)
    assert frames.sum() == n and frames.shape[0] == int(
        np.ceil((events["t"][-1] - events["t"].min()) / 37)
    )


@pytest.mark.parametrize(
    ("t", "by_duration"),
    [
        # events 3, 4 out of order (across a block boundary with blocks of 2); min(t) = t[0]
        (
            [1, 3, 9, 20, 12, 17, 30],
            [[1, 1, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0, 0], [0] * 7, [0, 0, 0, 1, 1, 1, 0]]
            + [[0, 0, 0, 0, 0, 0, 1]],
        ),
        # events 0, 1 out of order: min(t) = 3 is not t[0]
        (
            [4, 3, 9, 20, 12, 17, 30],
            [[1, 1, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1, 0], [0] * 7]
            + [[0, 0, 0, 0, 0, 0, 1]],
        ),
    ],
)
def test_unsorted_timestamps_follow_the_reference(monkeypatch, t, by_duration):
    """Expected counts (channel 1) printed by SpikingJelly 2.0.0 for these events:
    ``integrate_events_by_fixed_duration(events, 6, 1, 7)`` and
    ``integrate_events_by_fixed_frames_number(events, 'time', 3, 1, 7)``."""
    from snn_datasets import _integrate

    monkeypatch.setattr(_integrate, "_BLOCK", 2)  # the sortedness check runs block by block
    events = {"t": np.array(t), "x": np.arange(7), "y": np.zeros(7, int), "p": np.ones(7, int)}
    frames = utils.integrate_events_by_fixed_duration(events, 6, 1, 7)
    assert frames.shape == (5, 2, 1, 7) and not frames[:, 0].any()
    assert frames[:, 1, 0].tolist() == by_duration
    frames = utils.integrate_events_by_fixed_frames_number(events, "time", 3, 1, 7)
    by_time = [[1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 0], [0, 0, 0, 1, 1, 1, 1]]
    assert frames[:, 1, 0].tolist() == by_time


@pytest.mark.parametrize("block", [4, 1 << 15])
def test_dense_sparse_and_overlapping_segments_count_every_event(monkeypatch, block):
    """Frames with many events (counted by bincount) and few (added in place), segments
    that overlap, are empty, reversed or run past the events: each frame counts exactly its
    slice ``[j_l, j_r)`` of the events, as slicing clips it."""
    from snn_datasets import _integrate

    monkeypatch.setattr(_integrate, "_BLOCK", block)
    rng = np.random.default_rng(11)
    n, H, W = 300, 2, 3  # 12 pixels: a frame of 4 or more events is dense
    events = {
        "t": np.arange(n),
        "x": rng.integers(0, W, n),
        "y": rng.integers(0, H, n),
        "p": rng.integers(-1, 2, n),
    }
    segments = [(0, 2), (2, 3), (3, 40), (40, 41), (41, 41), (41, 45), (10, 20), (50, 30)]
    segments += [(290, 400), (0, n), (299, 300), (100, 103), (103, 104)]
    j_l, j_r = np.array(segments).T
    frames = _integrate.frames_from_segments(events["x"], events["y"], events["p"], j_l, j_r, H, W)
    clipped = [(min(lo, n), min(hi, n)) for lo, hi in segments]
    assert frames.dtype == np.float64
    assert np.array_equal(frames, naive_frames(events, clipped, H, W))
    for lo, hi in [(5, 5), (7, 90), (0, 1)]:
        frame = utils.integrate_events_segment_to_frame(
            events["x"], events["y"], events["p"], H, W, lo, hi
        )
        assert np.array_equal(frame, naive_frames(events, [(lo, hi)], H, W)[0])
