"""Event-to-frame integration: flat indices counted into the frames, in reused buffers.

The reference integrates frame by frame, with several temporary arrays per frame
(and, for ``split_by='time'``, one boolean mask over all events per frame). Here each event
gets the flat index ``(int(p != 0) * H + y) * W + x`` computed in place, block by block, in
per-thread scratch buffers that are kept between calls (on some machines touching freshly
allocated memory costs more than the counting). A frame with many events (at least a third
of its ``2 * H * W`` pixels) is counted by ``np.bincount`` and cast into its place; runs of
frames with few events are added straight into the zeroed frames by one ``np.add.at`` (frame
``i`` offset by ``i * 2 * H * W``), so small samples cost in proportion to their events, not
to the size of the frames. Counts of whole events are exact in float64, so the frames are
bit-identical to the reference's.

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
import threading

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
_local = threading.local()


def _scratch(size: int) -> tuple[np.ndarray, np.ndarray]:
    """This thread's ``(intp, bool)`` work buffers of at least ``size`` elements, kept
    between calls: freshly allocated memory is slow to touch (page faults), reused is not."""
    buffers = getattr(_local, "buffers", None)
    if buffers is None or buffers[0].size < size:
        buffers = _local.buffers = (np.empty(size, dtype=np.intp), np.empty(size, dtype=bool))
    return buffers


def _as_int(values: np.ndarray) -> np.ndarray:
    """``values`` as integers (``astype(int)`` truncation for floats, as the reference)."""
    values = np.asarray(values)
    return values if values.dtype.kind in "biu" else values.astype(np.intp)


def _check_range(block: np.ndarray, values: np.ndarray, name: str, size: int, sensor: str) -> None:
    """Raise unless ``0 <= v < size`` for every ``v`` of ``block`` (a part of ``values``)."""
    if not block.size:
        return
    if block.dtype.kind == "i":  # one pass: negative values become huge once unsigned
        block = block.view(_UNSIGNED[block.dtype.itemsize])
    if block.max() >= size:
        lo, hi = values.min(), values.max()
        raise ValueError(
            f"events have {name} coordinates in [{lo}, {hi}], outside the sensor "
            f"{sensor} (allowed 0 <= {name} < {size})"
        )


_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _check_xyp(x, y, p, t=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y, p = np.asarray(x), np.asarray(y), np.asarray(p)
    if not (x.shape == y.shape == p.shape) or x.ndim != 1:
        raise ValueError(
            f"x, y, p must be 1-D arrays of one length, got shapes {x.shape}, {y.shape}, {p.shape}"
        )
    if t is not None and np.shape(t) != x.shape:
        raise ValueError(
            f"events 't' and 'x', 'y', 'p' must have one length, got shapes {np.shape(t)} "
            f"and {x.shape}"
        )
    return x, y, p


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
    if _is_sorted(t):  # window i is [edge[i], edge[i + 1]), edge[i] = t0 + i * dt
        edges = np.arange(frames_num + 1).astype(t.dtype) * dt + t0
        j = np.searchsorted(t, edges, side="left").astype(int)
        j_l, j_r = j[:-1], j[1:].copy()
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


def _frame_runs(j_l: list, j_r: list, dense: list):
    """Split frames into ``(i0, i1, dense)`` runs: a dense frame alone, or consecutive
    sparse frames whose events follow each other and number at most ``_BLOCK`` in all (a
    longer sparse frame alone). Frames without events are skipped."""
    F = len(j_l)
    i = 0
    while i < F:
        if j_r[i] <= j_l[i]:
            i += 1
            continue
        if dense[i]:
            yield i, i + 1, True
            i += 1
            continue
        k = i + 1
        while (
            k < F and j_l[k] == j_r[k - 1] <= j_r[k] and not dense[k] and j_r[k] - j_l[i] <= _BLOCK
        ):
            k += 1
        yield i, k, False
        i = k


class _Positions:
    """Flat frame indices ``(int(p != 0) * H + y) * W + x`` of event ranges, written into the
    calling thread's scratch buffer after the range check of ``x`` and ``y``."""

    def __init__(self, x, y, p, H: int, W: int, unit_p: bool) -> None:
        self.x, self.y, self.p, self.H, self.W = x, y, p, H, W
        self.sensor = f"H={H}, W={W}"
        self.unit_p = unit_p  # polarities only 0 and 1: p itself is the channel index

    def __call__(self, s: int, e: int) -> np.ndarray:
        x, y, p = self.x[s:e], self.y[s:e], self.p[s:e]
        _check_range(x, self.x, "x", self.W, self.sensor)
        _check_range(y, self.y, "y", self.H, self.sensor)
        buf, flag = _scratch(e - s)
        out = buf[: e - s]
        if not self.unit_p:
            p = np.not_equal(p, 0, out=flag[: e - s])
        np.multiply(p, self.H, out=out, dtype=np.intp, casting="unsafe")
        np.add(out, y, out=out, dtype=np.intp, casting="unsafe")
        out *= self.W
        np.add(out, x, out=out, dtype=np.intp, casting="unsafe")
        return out


def _unit_polarity(p: np.ndarray) -> bool:
    """Whether every polarity is 0 or 1 (one pass; negative ints are huge once unsigned)."""
    if p.dtype == bool:
        return True
    if p.dtype.kind not in "iu":
        return False
    return not p.size or p.view(_UNSIGNED[p.dtype.itemsize]).max() <= 1


def frames_from_segments(
    x: np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    j_l: np.ndarray,
    j_r: np.ndarray,
    H: int,
    W: int,
) -> np.ndarray:
    """Float64 frames ``[F, 2, H, W]``: frame ``i`` counts events ``j_l[i] <= j < j_r[i]``
    (segments clipped to the events, as slices are)."""
    x, y, p = _check_xyp(x, y, p)
    N = x.size
    j_l = np.minimum(np.maximum(np.asarray(j_l, dtype=np.intp), 0), N)
    j_r = np.minimum(np.maximum(np.asarray(j_r, dtype=np.intp), 0), N)
    return _count(x, y, p, j_l, j_r, H, W)


def _is_partition(starts: list, ends: list, N: int) -> bool:
    """Segments ``[starts[i], ends[i])`` follow each other from 0 to ``N``."""
    return starts[0] == 0 and ends[-1] == N and starts[1:] == ends[:-1]


def _count(x, y, p, j_l: np.ndarray, j_r: np.ndarray, H: int, W: int) -> np.ndarray:
    """Frames of segments ``[j_l[i], j_r[i])`` already within ``[0, N]``.

    Events are taken ``_BLOCK`` at a time into per-thread scratch buffers (no temporary
    grows with the number of events). A dense frame (at least ``2 * H * W / 3`` events) is
    counted by ``np.bincount`` and cast into its place; sparse frames are added straight
    into the zeroed frames with ``np.add.at`` (consecutive ones in one call), so the work is
    proportional to the events, not to ``F * 2 * H * W``. Counts of whole events in float64
    are exact, so the frames are bit-identical to the reference's.
    """
    plane = 2 * H * W
    x, y = _as_int(x), _as_int(y)  # checked block by block, while the block is in the cache
    N = x.size
    F = j_l.size
    frames = np.zeros((F, 2, H, W))
    rows = frames.reshape(F, plane)
    flat = frames.reshape(-1)
    starts, ends = j_l.tolist(), j_r.tolist()  # Python ints: F is small, calls cost more
    counts = [e - s for s, e in zip(starts, ends)]
    if 0 < N <= _BLOCK and max(counts) * 3 < plane and _is_partition(starts, ends, N):
        # a small sample in consecutive sparse frames: one np.add.at for all its events
        out = _Positions(x, y, p, H, W, False)(0, N)
        out += np.repeat(np.arange(0, F * plane, plane), counts)
        np.add.at(flat, out, 1.0)
        return frames
    dense = [c * 3 >= plane for c in counts]
    positions = _Positions(x, y, p, H, W, N > _BLOCK and _unit_polarity(p))
    for i0, i1, is_dense in _frame_runs(starts, ends, dense):
        if is_dense:
            acc = None
            for s in range(starts[i0], ends[i0], _BLOCK):
                c = np.bincount(positions(s, min(s + _BLOCK, ends[i0])), minlength=plane)
                acc = c if acc is None else np.add(acc, c, out=acc)
            np.copyto(rows[i0], acc)
        elif i1 - i0 == 1:  # one sparse frame, possibly over several blocks
            for s in range(starts[i0], ends[i0], _BLOCK):
                out = positions(s, min(s + _BLOCK, ends[i0]))
                out += i0 * plane
                np.add.at(flat, out, 1.0)
        else:  # consecutive sparse frames, all in one block: frame i holds [j_l[i], j_r[i])
            out = positions(starts[i0], ends[i1 - 1])
            out += np.repeat(np.arange(i0 * plane, i1 * plane, plane), counts[i0:i1])
            np.add.at(flat, out, 1.0)
    return frames


def by_fixed_frames_number(events: dict, split_by: str, frames_num: int, H: int, W: int):
    _check_split_by(split_by)
    _check_frames_num(frames_num)
    t, x, y, p = (events[key] for key in ("t", "x", "y", "p"))
    x, y, p = _check_xyp(x, y, p, t)
    j_l, j_r = segment_index(t, split_by, frames_num)
    return _count(x, y, p, j_l, j_r, H, W)


def by_fixed_duration(events: dict, duration: int, H: int, W: int) -> np.ndarray:
    if isinstance(duration, bool) or not isinstance(duration, (int, np.integer)) or duration <= 0:
        raise ValueError(f"duration must be a positive int, got {duration!r}")
    t, x, y, p = (events[key] for key in ("t", "x", "y", "p"))
    t = np.asarray(t)
    N = t.size
    x, y, p = _check_xyp(x, y, p, t)
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
            if cap + duration < 2**62:  # no int64 overflow below
                bounds = np.arange(1, frames_num, dtype=np.int64) * duration + int(t_min)
                np.minimum(bounds, cap, out=bounds)
            else:
                bounds = [min(int(t_min) + k * duration, cap) for k in range(1, frames_num)]
            bits = 8 * t.dtype.itemsize - (t.dtype.kind == "i")  # t.dtype holds < 2**bits
            kind = t.dtype if cap < 1 << bits else np.int64
            j = np.empty(frames_num + 1, dtype=int)  # frame i holds events [j[i], j[i + 1])
            j[0], j[-1] = 0, N
            j[1:-1] = np.searchsorted(t, np.asarray(bounds, dtype=kind), side="left")
            return _count(x, y, p, j[:-1], j[1:], H, W)
    t = t - t_min
    frame_index = t // duration
    if is_sorted or N < 2 or bool(np.all(frame_index[1:] >= frame_index[:-1])):
        right = np.searchsorted(frame_index, np.arange(1, frames_num), side="left")
    else:  # unsorted: one scalar search per frame, as the reference does
        right = np.array(
            [np.searchsorted(frame_index, i + 1, side="left") for i in range(frames_num - 1)],
            dtype=int,
        )
    j = np.empty(frames_num + 1, dtype=np.intp)
    j[0], j[1:-1], j[-1] = 0, right, N
    return _count(x, y, p, j[:-1], j[1:], H, W)
