"""``np.savez_compressed``'s archive, with large members deflated on several threads.

An ``.npz`` file is a zip archive with one deflated ``<key>.npy`` member per array. A large
member is cut into pieces that are deflated at the same time (zlib releases the GIL): each
piece but the last ends with a sync flush (an empty stored block ending on a byte boundary,
no final-block bit), so the pieces joined are one valid deflate stream, as ``pigz`` writes
them. The archive is written here (local headers, central directory, ZIP64 records where a
size or offset needs them; PKWARE APPNOTE 6.3, sections 4.3-4.5), so NumPy, ``zipfile`` and
the reference read it as any ``np.savez_compressed`` file.
"""

from __future__ import annotations

import io
import struct
import time
import zlib
from collections.abc import Mapping
from functools import partial
from typing import BinaryIO

import numpy as np

from . import _threads

__all__: list[str] = []

_PIECE = 1 << 20  # bytes of a member deflated as one piece (at least)
_U32 = 0xFFFFFFFF  # a 4-byte field that holds this has its value in the ZIP64 record
_ZIP64_AT = _U32  # sizes and offsets from here on need ZIP64 records
_VERSION = 45  # the zip version that reads ZIP64 records
_LOCAL, _CENTRAL, _END = 0x04034B50, 0x02014B50, 0x06054B50
_END64, _LOCATOR64 = 0x06064B50, 0x07064B50


def _npy_parts(value: object) -> tuple[bytes, memoryview]:
    """The ``.npy`` header NumPy writes for ``value`` and the array's bytes in the order
    the header names (no copy for a C- or Fortran-ordered array)."""
    array = np.asanyarray(value)
    if array.dtype.hasobject:
        raise ValueError(f"cannot save an array of Python objects (dtype {array.dtype}) in .npz")
    header = np.lib.format.header_data_from_array_1_0(array)
    buffer = io.BytesIO()
    try:
        np.lib.format.write_array_header_1_0(buffer, header)
    except ValueError:  # a header too long for format 1.0
        buffer = io.BytesIO()
        np.lib.format.write_array_header_2_0(buffer, header)
    data = np.ascontiguousarray(array.T if header["fortran_order"] else array)
    return buffer.getvalue(), memoryview(data.reshape(-1).view(np.uint8))


def _deflate_piece(parts: tuple, level: int, last: bool) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)  # raw deflate
    out = [compressor.compress(part) for part in parts]
    out.append(compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH))
    return b"".join(out)


def _crc32(parts: tuple) -> int:
    crc = 0
    for part in parts:
        crc = zlib.crc32(part, crc)
    return crc


def _deflate(header: bytes, data: memoryview, level: int) -> tuple[bytes, int]:
    """``(raw deflate stream, CRC-32)`` of ``header + data``, in pieces on the threads."""
    threads = _threads.threads_for(max(1, data.nbytes // _PIECE))
    step = max(_PIECE, -(-data.nbytes // threads))
    cuts = list(range(0, data.nbytes, step)) or [0]
    pieces = [((header, data[a : a + step]) if a == 0 else (data[a : a + step],)) for a in cuts]
    tasks = [partial(_deflate_piece, p, level, k == len(pieces) - 1) for k, p in enumerate(pieces)]
    tasks.append(partial(_crc32, (header, data)))
    *streams, crc = _threads.run(tasks, threads)
    return b"".join(streams), crc


def _dos_time(now: float) -> tuple[int, int]:
    t = time.localtime(now)
    return (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2), (
        ((t.tm_year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday
    )


def write_npz(handle: BinaryIO, arrays: Mapping[str, object], level: int) -> None:
    """Write ``arrays`` to ``handle`` as ``np.savez_compressed`` would (members
    ``<key>.npy`` in order, deflated at zlib ``level``)."""
    dos_time, dos_date = _dos_time(time.time())
    start = handle.tell()
    central = []
    for key, value in arrays.items():
        name = f"{key}.npy".encode()
        header, data = _npy_parts(value)
        stream, crc = _deflate(header, data, level)
        size, csize, offset = len(header) + data.nbytes, len(stream), handle.tell() - start
        big = max(size, csize) >= _ZIP64_AT  # sizes move to a ZIP64 extra field
        far = offset >= _ZIP64_AT
        version = _VERSION if big or far else 20
        fixed = (version, 0, 8, dos_time, dos_date, crc)  # no flags, deflated
        sizes = (_U32, _U32) if big else (csize, size)
        extra = struct.pack("<HHQQ", 1, 16, size, csize) if big else b""
        handle.write(struct.pack("<IHHHHHIIIHH", _LOCAL, *fixed, *sizes, len(name), len(extra)))
        handle.write(name + extra + stream)
        fields = ((size, csize) if big else ()) + ((offset,) if far else ())
        extra = struct.pack(f"<HH{len(fields)}Q", 1, 8 * len(fields), *fields) if fields else b""
        made_by = (3 << 8) | version  # UNIX
        attributes = (0, 0, 0, 0o600 << 16)  # comment, disk, internal, external: rw-------
        entry = (len(name), len(extra), *attributes, _U32 if far else offset)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", _CENTRAL, made_by, *fixed, *sizes, *entry))
        central[-1] += name + extra
    directory = b"".join(central)
    cd_offset, entries = handle.tell() - start, len(central)
    handle.write(directory)
    zip64 = max(cd_offset, len(directory)) >= _ZIP64_AT or entries >= 0xFFFF
    if zip64:
        end64 = handle.tell() - start
        record = (44, _VERSION, _VERSION, 0, 0, entries, entries, len(directory), cd_offset)
        handle.write(struct.pack("<IQHHIIQQQQ", _END64, *record))
        handle.write(struct.pack("<IIQI", _LOCATOR64, 0, end64, 1))
    counts = (0xFFFF, 0xFFFF) if zip64 else (entries, entries)
    where = (_U32, _U32) if zip64 else (len(directory), cd_offset)
    record = (0, 0, *counts, *where, 0)
    handle.write(struct.pack("<IHHHHIIH", _END, *record))
