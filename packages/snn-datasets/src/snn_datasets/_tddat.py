"""Reader for the ATIS ``_td.dat`` files of NavGesture (Prophesee/kAER "DAT" format, 8-byte events).

Format: optional ASCII header lines starting with ``%``; if present, they are followed by two
bytes (event type, event size, which must be 8). Then little-endian 64-bit events:
bits 0-31 timestamp (us), bits 32-40 x, bits 41-48 y, bit 49 polarity.

The clean-up rules follow the data set authors' reader (J.-M. Maro, 2017), which the
reference applies, vectorised here:

1. an event whose timestamp is smaller than the value stored for the previous event is
   rejected and its slot stays zero; the first ``n_accepted`` slots are kept;
2. timestamps are shifted so that the first one is 0;
3. passes over the sequence remove every event whose timestamp is below its predecessor's
   (after a removal the next pair is not compared in that pass) until a pass removes nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["read_td_dat"]

_X_MASK = 0x000001FF00000000
_Y_MASK = 0x0001FE0000000000
_P_MASK = 0x0002000000000000


def _position_in_run(flags: np.ndarray) -> np.ndarray:
    """1-based position of each ``True`` inside its run of consecutive ``True`` (0 where False)."""
    idx = np.arange(flags.size)
    last_false = np.maximum.accumulate(np.where(flags, -1, idx))
    return np.where(flags, idx - last_false, 0)


def read_td_dat(file_name: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read a ``_td.dat`` file.

    :return: ``(t, xy, p)``: ``int64`` timestamps starting at 0, ``int64`` coordinates of shape
        ``[N, 2]`` (columns x, y) and ``int64`` polarities
    :raises ValueError: if the header's event size is not 8, the event block is not a whole
        number of 8-byte events, or the file has no events; the message names the file
    """
    with open(file_name, "rb") as f:
        raw = f.read()
    pos = 0
    has_header = False
    while raw.startswith(b"%", pos):
        end = raw.find(b"\n", pos)
        pos = len(raw) if end < 0 else end + 1
        has_header = True
    if has_header:
        if len(raw) < pos + 2:
            raise ValueError(f"_td.dat file {str(file_name)!r} ends inside its header")
        ev_size = raw[pos + 1]
        if ev_size != 8:
            raise ValueError(
                f"_td.dat file {str(file_name)!r} declares an event size of {ev_size} bytes; "
                "only 8-byte events are supported"
            )
        pos += 2
    body = raw[pos:]
    if len(body) == 0:
        raise ValueError(f"_td.dat file {str(file_name)!r} contains no events")
    if len(body) % 8 != 0:
        raise ValueError(
            f"_td.dat file {str(file_name)!r} is truncated or corrupt: its event block has "
            f"{len(body)} bytes, not a multiple of 8"
        )
    ev = np.frombuffer(body, dtype="<u8")
    ts = (ev & np.uint64(0xFFFFFFFF)).astype(np.int64)
    x = ((ev & np.uint64(_X_MASK)) >> np.uint64(32)).astype(np.int64)
    y = ((ev & np.uint64(_Y_MASK)) >> np.uint64(41)).astype(np.int64)
    p = ((ev & np.uint64(_P_MASK)) >> np.uint64(49)).astype(np.int64)

    # rule 1: event i is accepted if ts[i] >= (ts[i-1] if i-1 was accepted else 0);
    # in a run of decreasing steps the decisions alternate: rejected, accepted, rejected, ...
    descent = np.zeros(ts.size, dtype=bool)
    descent[1:] = ts[1:] < ts[:-1]
    accepted = ~descent | (_position_in_run(descent) % 2 == 0)
    n_accepted = int(accepted.sum())
    keep = accepted[:n_accepted]
    t = np.where(keep, ts[:n_accepted], 0)
    xy = np.stack([np.where(keep, x[:n_accepted], 0), np.where(keep, y[:n_accepted], 0)], axis=1)
    p = np.where(keep, p[:n_accepted], 0)

    # rule 2
    t = t - t[0]

    # rule 3: within a pass, a decreasing step is removed unless its predecessor was removed
    while True:
        descent = np.zeros(t.size, dtype=bool)
        descent[1:] = t[1:] < t[:-1]
        if not descent.any():
            break
        drop = descent & (_position_in_run(descent) % 2 == 1)
        t, xy, p = t[~drop], xy[~drop], p[~drop]
    return t, xy, p
