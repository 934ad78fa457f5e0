"""Event-to-frame integration: flat indices and ``np.bincount``, in small reused buffers.

The reference integrates frame by frame, with several temporary arrays per frame
(and, for ``split_by='time'``, one boolean mask over all events per frame). Here each event
gets the flat index ``(int(p != 0) * H + y) * W + x`` computed in place, block by block,
and consecutive frames are counted together by one ``bincount`` (frame ``i`` of a group
offset by ``i * 2 * H * W``), so the work is one pass over the events whatever the number
of frames, and no temporary grows with the number of events. Counts are integers, so the
float64 frames are bit-identical to the reference's.

Binning rules (the reference's, kept exactly):

- ``split_by='number'``: ``di = N // F``; frame ``i`` holds events ``[i * di, (i + 1) * di)``
  and the last frame also takes the remainder, ``[(F - 1) * di, N)``.
- ``split_by='time'``: ``dt = (t[-1] - t[0]) // F``; frame ``i`` spans the time window
  ``[t[0] + i * dt, t[0] + (i + 1) * dt)`` and the last frame runs to the last event.
- ``duration``: ``t' = t - min(t)``, ``F = ceil(t'[-1] / duration)`` frames; frame ``i``
  holds events with ``t' // duration == i`` and the last frame takes every later event.
"""

from __future__ import annotations

import math

import numpy as np

__all__: list[str] = []

_SPLIT_BY = ("number", "time")


def _check_frames_num(frames_num: int) -> None:
    if isinstance(frames_num, bool) or not isinstance(frames_num, (int, np.integer)):
        raise TypeError(f"frames_num must be a positive int, got {frames_num!r}")
    if frames_num <= 0:
        raise ValueError(f"frames_num must be a positive int, got {frames_num!r}")


def _check_split_by(split_by: str) -> None:
    if split_by not in _SPLIT_BY:
        raise ValueError(f"split_by must be one of {_SPLIT_BY}, got {split_by!r}")


_BLOCK = 1 << 16  # events per block: the temporaries of one block stay in the cache


def _as_int(values: np.ndarray) -> np.ndarray:
    """``values`` as integers (``astype(int)`` truncation for floats, as the reference)."""
    values = np.asarray(values)
    return values if values.dtype.kind in "biu" else values.astype(np.intp)


def _check_range(block: np.ndarray, values: np.ndarray, name: str, size: int, sensor: str):
    """Raise unless ``0 <= v < size`` for every ``v`` of ``block`` (a part of ``values``)."""
    if not block.size:
        return
    # one pass: negative signed values become huge once viewed as unsigned
    unsigned = block.view(block.dtype.str.replace("i", "u")) if block.dtype.kind == "i" else block
    if unsigned.max() >= size:
        lo, hi = values.min(), values.max()
        raise ValueError(
            f"events have {name} coordinates in [{lo}, {hi}], outside the sensor "
            f"{sensor} (allowed 0 <= {name} < {size})"
        )


def _as_int_coordinate(values: np.ndarray, name: str, size: int, sensor: str) -> np.ndarray:
    """``values`` as integers (see :func:`_as_int`) after checking ``0 <= v < size``."""
    values = _as_int(values)
    _check_range(values, values, name, size, sensor)
    return values


def _check_xyp(x, y, p) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y, p = np.asarray(x), np.asarray(y), np.asarray(p)
    if not (x.shape == y.shape == p.shape) or x.ndim != 1:
        raise ValueError(
            f"x, y, p must be 1-D arrays of one length, got shapes {x.shape}, {y.shape}, {p.shape}"
        )
    return x, y, p


def _positions_into(out: np.ndarray, flag: np.ndarray, x, y, p, H: int, W: int) -> None:
    """``out[:] = (int(p != 0) * H + y) * W + x`` using the preallocated ``flag`` buffer."""
    np.not_equal(p, 0, out=flag)
    np.copyto(out, flag)
    out *= H
    np.add(out, y, out=out, casting="unsafe")
    out *= W
    np.add(out, x, out=out, casting="unsafe")


def flat_positions(x: np.ndarray, y: np.ndarray, p: np.ndarray, H: int, W: int) -> np.ndarray:
    """Flat index ``(int(p != 0) * H + y) * W + x`` of every event, as ``intp``."""
    x, y, p = _check_xyp(x, y, p)
    sensor = f"H={H}, W={W}"
    x = _as_int_coordinate(x, "x", W, sensor)
    y = _as_int_coordinate(y, "y", H, sensor)
    pos = np.empty(x.size, dtype=np.intp)
    flag = np.empty(min(_BLOCK, x.size), dtype=bool)
    for s in range(0, x.size, _BLOCK):
        e = min(s + _BLOCK, x.size)
        _positions_into(pos[s:e], flag[: e - s], x[s:e], y[s:e], p[s:e], H, W)
    return pos


def _is_sorted(t: np.ndarray) -> bool:
    """``t[j] <= t[j + 1]`` for every ``j``, checked block by block (one read of ``t``, no
    temporary the size of ``t``)."""
    for s in range(0, t.size - 1, _BLOCK):
        e = min(s + _BLOCK, t.size - 1)
        if not np.all(t[s + 1 : e + 1] >= t[s:e]):
            return False
    return True


def segment_index(events_t: np.ndarray, split_by: str, frames_num: int) -> tuple:
    """``(j_l, j_r)``: frame ``i`` integrates events ``[j_l[i], j_r[i])`` (reference rule)."""
    _check_split_by(split_by)
    _check_frames_num(frames_num)
    t = np.asarray(events_t)
    N = t.size
    if split_by == "number":
        di = N // frames_num
        j_l = np.arange(frames_num, dtype=int) * di
        j_r = j_l + di
        j_r[-1] = N
        return j_l, j_r
    if N == 0:
        raise ValueError("split_by='time' needs at least one event, got an empty events_t")
    t0 = t[0]
    dt = (t[-1] - t0) // frames_num
    if _is_sorted(t):
        t_l = np.arange(frames_num).astype(t.dtype) * dt + t0
        t_r = t_l + dt
        j_l = np.searchsorted(t, t_l, side="left").astype(int)
        j_r = np.searchsorted(t, t_r, side="left").astype(int)
        empty = np.flatnonzero(j_r <= j_l)
    else:  # unsorted timestamps: the reference's mask rule, window by window
        j_l = np.zeros(frames_num, dtype=int)
        j_r = np.zeros(frames_num, dtype=int)
        empty_list = []
        for i in range(frames_num):
            t_l = dt * i + t0
            hit = np.flatnonzero((t >= t_l) & (t < t_l + dt))
            if hit.size == 0:
                empty_list.append(i)
                continue
            j_l[i], j_r[i] = hit[0], hit[-1] + 1
        empty = np.asarray(empty_list, dtype=int)
    if empty.size:
        i = int(empty[0])
        raise ValueError(
            f"split_by='time' with frames_num={frames_num}: time window {i} "
            f"[{t0 + dt * i}, {t0 + dt * (i + 1)}) holds no events (events span "
            f"[{t0}, {t[-1]}], window length {dt}); use fewer frames or split_by='number'"
        )
    j_r[-1] = N
    return j_l, j_r


def _is_partition(j_l: np.ndarray, j_r: np.ndarray, N: int) -> bool:
    return (
        j_l[0] == 0
        and j_r[-1] == N
        and bool(np.all(j_l[1:] == j_r[:-1]))
        and bool(np.all(j_r >= j_l))
    )


def _groups(j_l: np.ndarray, j_r: np.ndarray, plane: int):
    """Runs ``[g0, g1)`` of consecutive frames with at most ``_BLOCK`` events (or one frame)
    and a count table of at most ``4 * _BLOCK`` entries."""
    F = len(j_l)
    g0 = 0
    while g0 < F:
        g1 = g0 + 1
        while g1 < F and j_r[g1] - j_l[g0] <= _BLOCK and (g1 + 1 - g0) * plane <= 4 * _BLOCK:
            g1 += 1
        yield g0, g1
        g0 = g1


def frames_from_segments(
    x: np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    j_l: np.ndarray,
    j_r: np.ndarray,
    H: int,
    W: int,
) -> np.ndarray:
    """Float64 frames ``[F, 2, H, W]``: frame ``i`` counts events ``j_l[i] <= j < j_r[i]``.

    For segments that partition the events, consecutive frames are counted together by one
    ``bincount`` over at most ``_BLOCK`` events, in small reused buffers (a long frame is
    counted block by block), so no temporary grows with the number of events.
    """
    F = len(j_l)
    plane = 2 * H * W
    x, y, p = _check_xyp(x, y, p)
    if not (F and _is_partition(j_l, j_r, x.size)):
        pos = flat_positions(x, y, p, H, W)
        frames = np.zeros((F, 2, H, W))
        for i in range(F):  # overlapping or out-of-order segments: count each on its own
            frames[i] = np.bincount(pos[j_l[i] : j_r[i]], minlength=plane).reshape(2, H, W)
        return frames
    sensor = f"H={H}, W={W}"
    x, y = _as_int(x), _as_int(y)  # checked block by block, while the block is in the cache
    frames = np.zeros((F, 2, H, W))
    flat = frames.reshape(F, plane)
    size = int(min(_BLOCK, x.size)) or 1
    buf, flag = np.empty(size, dtype=np.intp), np.empty(size, dtype=bool)
    for g0, g1 in _groups(j_l, j_r, plane):
        acc = None
        for s in range(int(j_l[g0]), int(j_r[g1 - 1]), _BLOCK):
            e = min(s + _BLOCK, int(j_r[g1 - 1]))
            out = buf[: e - s]
            _check_range(x[s:e], x, "x", W, sensor)
            _check_range(y[s:e], y, "y", H, sensor)
            _positions_into(out, flag[: e - s], x[s:e], y[s:e], p[s:e], H, W)
            for i in range(g0 + 1, g1):  # frame offsets inside the group
                lo, hi = max(int(j_l[i]), s) - s, min(int(j_r[i]), e) - s
                if hi > lo:
                    out[lo:hi] += (i - g0) * plane
            counts = np.bincount(out, minlength=(g1 - g0) * plane)
            if acc is None:
                acc = counts
            else:
                acc += counts
        if acc is not None:
            flat[g0:g1] = acc.reshape(g1 - g0, plane)
    return frames


def by_fixed_frames_number(events: dict, split_by: str, frames_num: int, H: int, W: int):
    _check_split_by(split_by)
    _check_frames_num(frames_num)
    t, x, y, p = (events[key] for key in ("t", "x", "y", "p"))
    _check_xyp(x, y, p)
    j_l, j_r = segment_index(t, split_by, frames_num)
    return frames_from_segments(x, y, p, j_l, j_r, H, W)


def by_fixed_duration(events: dict, duration: int, H: int, W: int) -> np.ndarray:
    if isinstance(duration, bool) or not isinstance(duration, (int, np.integer)) or duration <= 0:
        raise ValueError(f"duration must be a positive int, got {duration!r}")
    t, x, y, p = (events[key] for key in ("t", "x", "y", "p"))
    t = np.asarray(t)
    N = t.size
    _check_xyp(x, y, p)
    if N == 0:
        raise ValueError("integrating by duration needs at least one event, got none")
    is_sorted = _is_sorted(t)
    t_min = t[0] if is_sorted else t.min()
    frames_num = math.ceil((t[-1] - t_min) / duration)  # the reference's t'[-1] / duration
    if frames_num <= 0:
        raise ValueError(
            f"integrating by duration={duration}: the last event is at the first timestamp, "
            f"so the reference rule ceil((t[-1] - min(t)) / duration) gives {frames_num} frames"
        )
    if t.dtype.kind == "i" or (t.dtype.kind == "u" and t.dtype.itemsize < 8):
        if is_sorted:
            # sorted integers: (t - t_min) // D >= k  <=>  t >= t_min + k * D
            cap = int(t[-1]) + 1
            bounds = [min(int(t_min) + k * duration, cap) for k in range(1, frames_num)]
            kind = t.dtype if cap <= np.iinfo(t.dtype).max else np.int64
            right = np.searchsorted(t, np.asarray(bounds, dtype=kind), side="left")
            j_r = np.append(right, N).astype(int)
            j_l = np.concatenate([[0], j_r[:-1]]).astype(int)
            return frames_from_segments(x, y, p, j_l, j_r, H, W)
    t = t - t_min
    frame_index = t // duration
    if is_sorted or N < 2 or bool(np.all(frame_index[1:] >= frame_index[:-1])):
        right = np.searchsorted(frame_index, np.arange(1, frames_num), side="left")
    else:  # unsorted: one scalar search per frame, as the reference does
        right = np.array(
            [np.searchsorted(frame_index, i + 1, side="left") for i in range(frames_num - 1)],
            dtype=int,
        )
    j_r = np.append(right, N).astype(int)
    j_l = np.concatenate([[0], j_r[:-1]]).astype(int)
    return frames_from_segments(x, y, p, j_l, j_r, H, W)
