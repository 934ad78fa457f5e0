"""``download_url``: fetch a file (e.g. pretrained ANN weights) over HTTP(S), resuming a
partial download.

HTTP goes through ``requests`` when it is installed, else through a small stdlib
(``urllib``) client with the same calls (``get(url, headers=, stream=, timeout=)`` and a
response with ``status_code``, ``headers``, ``iter_content``, ``raise_for_status``,
``close``); progress through ``tqdm`` when installed, else a line on stderr at the end.
Neither is a dependency of snn-layers.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

__all__ = ["download_url"]

_log = logging.getLogger(__name__)
_USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:67.0) Gecko/20100101 Firefox/67.0"
_TIMEOUT_S = 30
_CHUNK = 1024


class _HTTPStatusError(OSError):
    """An HTTP error status (4xx / 5xx) of the stdlib client."""


class _UrllibResponse:
    """A streamed ``urllib`` response with the part of ``requests.Response`` used here."""

    def __init__(self, url: str, raw: Any) -> None:
        self.url = url
        self._raw = raw
        self.status_code = int(raw.status if getattr(raw, "status", None) else raw.code)
        self.reason = getattr(raw, "reason", "")
        self.headers = raw.headers  # case-insensitive ``get``

    def iter_content(self, chunk_size: int = _CHUNK) -> Iterator[bytes]:
        while True:
            chunk = self._raw.read(chunk_size)
            if not chunk:
                return
            yield chunk

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise _HTTPStatusError(f"{self.status_code} {self.reason} for url: {self.url}")

    def close(self) -> None:
        self._raw.close()


class _UrllibRequests:
    """Stand-in for the ``requests`` module: only ``get``."""

    @staticmethod
    def get(
        url: str,
        headers: dict[str, str] | None = None,
        stream: bool = False,
        timeout: float | None = None,
    ) -> _UrllibResponse:
        request = urllib.request.Request(url, headers=dict(headers or {}))
        try:
            raw = urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as err:  # an error status still is a response
            raw = err
        return _UrllibResponse(url, raw)


class _TextProgress:
    """Stand-in for ``tqdm``: counts bytes and prints one line when closed."""

    def __init__(self, total: int | None = None, initial: int = 0, desc: str = "", **_: Any):
        self.total, self.n, self.desc = total, initial, desc

    def update(self, n: int) -> None:
        self.n += n

    def reset(self, total: int | None = None) -> None:
        self.n, self.total = 0, total

    def close(self) -> None:
        of = f"/{self.total}" if self.total is not None else ""
        print(f"{self.desc}: {self.n}{of} bytes", file=sys.stderr)


try:
    import requests
except ImportError:  # pragma: no cover - depends on the environment
    requests = _UrllibRequests()
try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover - depends on the environment
    tqdm = _TextProgress


def _valid_response(response: Any, first_byte: int, file_size: int) -> bool:
    """Whether ``response`` carries bytes ``first_byte..file_size-1``: a 200 for a download
    from the start, or a 206 whose ``Content-Range`` is exactly that range. An error status
    raises."""
    if response.status_code not in (200, 206):
        response.raise_for_status()
    if response.status_code == 200:
        return first_byte == 0
    content_range = response.headers.get("Content-Range", "")
    match = re.match(r"bytes (\d+)-(\d+)/(\d+)", content_range, re.IGNORECASE)
    return match is not None and tuple(map(int, match.groups())) == (
        first_byte,
        file_size - 1,
        file_size,
    )


def _write(response: Any, dst: str, mode: str, pbar: Any) -> int:
    written = 0
    with open(dst, mode) as f:
        for chunk in response.iter_content(chunk_size=_CHUNK):
            if chunk:
                f.write(chunk)
                written += len(chunk)
                pbar.update(len(chunk))
    return written


def _download_without_resume(url: str, dst: str, headers: dict[str, str]) -> int:
    pbar = tqdm(unit="B", unit_scale=True, desc=dst)
    response = None
    try:
        response = requests.get(url, headers=headers, stream=True, timeout=_TIMEOUT_S)
        response.raise_for_status()
        return _write(response, dst, "wb", pbar)
    finally:
        if response is not None:
            response.close()
        pbar.close()


def _done(dst: str, resumed: bool, size: int, start: float) -> int:
    _log.info(
        "Download completed: destination=%s resumed=%s bytes=%d elapsed_ms=%.3f",
        dst, resumed, size, (time.perf_counter() - start) * 1e3,
    )  # fmt: skip
    return size


def download_url(url: str, dst: str) -> int:
    """Download ``url`` to the file ``dst``, resuming a partial ``dst``; returns the file
    size in bytes (the bytes received when the server sends no ``Content-Length``).

    A first request reads ``Content-Length`` (an error status raises before anything is
    written). With a length ``L`` and ``n`` bytes already in ``dst``: ``n >= L`` counts as
    done; else bytes ``n..L-1`` are asked for with a ``Range`` header and appended, if the
    answer is a 206 with exactly that ``Content-Range`` (or a 200 when ``n = 0``). Any other
    answer to a resume restarts the download from byte 0 (the file is rewritten). Without a
    length the file is downloaded in one pass.

    Raises:
        ValueError: ``url`` is not an http(s) URL.
        RuntimeError: the answer is still not the asked range, or the bytes received differ
            from the length announced.
        OSError: (and ``requests`` errors) an HTTP error status or a network failure.
    """
    scheme = urllib.parse.urlsplit(str(url)).scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"url must be an http:// or https:// URL, got url={url!r}")
    start = time.perf_counter()
    headers = {"User-Agent": _USER_AGENT}
    probe = requests.get(url, headers=headers, stream=True, timeout=_TIMEOUT_S)
    try:
        probe.raise_for_status()
        content_length = probe.headers.get("content-length")
    finally:
        probe.close()
    if content_length is None:
        return _done(dst, False, _download_without_resume(url, dst, headers), start)
    file_size = int(content_length)
    first_byte = os.path.getsize(dst) if os.path.exists(dst) else 0
    if first_byte >= file_size:
        if first_byte > file_size:
            _log.warning(
                "download_url: %s already holds %d bytes, more than the %d of %s; kept as is",
                dst, first_byte, file_size, url,
            )  # fmt: skip
        return _done(dst, False, file_size, start)

    resumed = first_byte > 0
    ranged = {**headers, "Range": f"bytes={first_byte}-{file_size - 1}"}
    pbar = tqdm(total=file_size, initial=first_byte, unit="B", unit_scale=True, desc=dst)
    response = None
    try:
        response = requests.get(url, headers=ranged, stream=True, timeout=_TIMEOUT_S)
        mode = "ab"
        valid = _valid_response(response, first_byte, file_size)
        if first_byte > 0 and not valid:
            _log.warning("Download restarted: destination=%s existing_bytes=%d", dst, first_byte)
            response.close()
            first_byte, resumed, mode = 0, False, "wb"
            pbar.reset(total=file_size)
            ranged = {**headers, "Range": f"bytes=0-{file_size - 1}"}
            response = requests.get(url, headers=ranged, stream=True, timeout=_TIMEOUT_S)
            valid = _valid_response(response, first_byte, file_size)
        if not valid:
            raise RuntimeError(
                f"Invalid response for download of {url}: status {response.status_code}, "
                f"Content-Range {response.headers.get('Content-Range')!r}; expected bytes "
                f"{first_byte}-{file_size - 1}/{file_size}."
            )
        written = _write(response, dst, mode, pbar)
        expected = file_size - first_byte
        if written != expected:
            raise RuntimeError(f"Downloaded {written} bytes, but expected {expected} bytes.")
    finally:
        if response is not None:
            response.close()
        pbar.close()
    return _done(dst, resumed, file_size, start)
