"""Reader for AEDAT 2.0 files (jAER), the format of CIFAR10-DVS's recordings.

Format (https://docs.inivation.com/software/software-advanced-usage/file-formats/aedat-2.0.html):
ASCII header lines that start with ``#`` (``#!AER-DAT2.0``, ...), then events of 8 bytes,
each a big-endian 32-bit address followed by a big-endian 32-bit timestamp in microseconds.
For the DVS128 sensor the address holds polarity in bit 0, x in bits 1-7 and y in bits 8-14.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["aedat2_data_offset", "read_aedat2", "decode_dvs128_address"]


def aedat2_data_offset(fp) -> int:
    """Byte offset of the first event: the total length of the leading ``#`` header lines.

    A line counts as header when it decodes as UTF-8 and, stripped of surrounding
    whitespace, starts with ``#``; the first line that does not ends the header.
    """
    offset = 0
    fp.seek(0)
    while True:
        line = fp.readline()
        try:
            text = line.decode().strip()
        except UnicodeDecodeError:
            break
        if not text or text[0] != "#":
            break
        offset += len(line)
    return offset


def read_aedat2(file_name: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an AEDAT 2.0 file.

    :return: ``(address, timestamp)``, both big-endian ``uint32`` arrays (dtype ``'>u4'``)
    :raises ValueError: if the file has no events or its event block is not a whole number
        of 8-byte events (a truncated file); the message names the file
    """
    with open(file_name, "rb") as fp:
        fp.seek(aedat2_data_offset(fp))
        payload = fp.read()
    if len(payload) == 0:
        raise ValueError(f"AEDAT 2.0 file {str(file_name)!r} has a header but no events")
    if len(payload) % 8 != 0:
        raise ValueError(
            f"AEDAT 2.0 file {str(file_name)!r} is truncated or corrupt: its event block has "
            f"{len(payload)} bytes, not a multiple of 8 (4-byte address + 4-byte timestamp)"
        )
    words = np.frombuffer(payload, dtype=">u4")
    return words[0::2], words[1::2]


def decode_dvs128_address(address: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split DVS128 AEDAT 2.0 addresses into ``(x, y, polarity)``.

    ``x = (a & 0xFE) >> 1``, ``y = (a & 0x7F00) >> 8`` (unsigned integers, the dtype of
    ``address``) and ``polarity = a & 1`` (``bool``).
    """
    x = (address & 0xFE) >> 1
    y = (address & 0x7F00) >> 8
    polarity = (address & 0x1).astype(np.bool_)
    return x, y, polarity
