"""Downloads that verify an MD5 checksum and resume an interrupted transfer (HTTP ``Range``).

A download goes to ``<file>.part`` and is renamed to ``<file>`` only once it is complete and
its MD5 matches, so a killed download never leaves a file that looks finished. The next try
(within the same call after a dropped connection, or a later call) continues the ``.part``
file with ``Range: bytes=<size>-`` when the server answers ``206 Partial Content``, and
starts over when it does not. Standard library only; ``http(s)://`` and ``file://`` URLs.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

__all__: list[str] = []

_CHUNK = 1 << 20
_USER_AGENT = "snn-datasets"


def calculate_md5(fpath: str | Path, chunk_size: int = _CHUNK) -> str:
    """The hexadecimal MD5 digest of the file ``fpath``."""
    md5 = hashlib.md5(usedforsecurity=False)
    with open(fpath, "rb") as f:
        while chunk := f.read(chunk_size):
            md5.update(chunk)
    return md5.hexdigest()


def check_integrity(fpath: str | Path, md5: str | None = None) -> bool:
    """Whether ``fpath`` is a file and (when ``md5`` is given) has that MD5 checksum."""
    if not os.path.isfile(fpath):
        return False
    return md5 is None or calculate_md5(fpath) == md5


def _fetch(url: str, part: Path, timeout: float) -> None:
    """Append the rest of ``url`` to ``part`` (rewrite it if the server ignores ``Range``)."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    if offset > 0:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset > 0:  # the part file already holds the whole resource
            return
        raise
    with response:
        resumed = offset > 0 and getattr(response, "status", None) == 206
        expected = int(response.headers.get("Content-Length") or -1)
        received = 0
        with open(part, "ab" if resumed else "wb") as f:
            while chunk := response.read(_CHUNK):
                f.write(chunk)
                received += len(chunk)
    if 0 <= received < expected:
        raise ConnectionError(f"the connection closed after {received} of {expected} bytes")


def download_url(
    url: str,
    root: str | Path,
    filename: str | None = None,
    md5: str | None = None,
    max_retries: int = 3,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``root/filename``, resuming a partial download, and verify its MD5.

    :param url: ``http(s)://`` or ``file://`` address
    :param root: folder that receives the file (created if missing)
    :param filename: name of the saved file; the last part of ``url`` if ``None``
    :param md5: expected MD5 digest; ``None`` skips the check
    :param max_retries: further tries after a dropped connection, each resuming the last
    :param timeout: socket timeout in seconds
    :return: the path of the complete file
    :raises RuntimeError: naming the URL and file, if the download fails or its MD5 differs
        from ``md5`` (the corrupt download is removed)
    """
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    if filename is None:
        filename = os.path.basename(urllib.request.urlparse(url).path) or "download"
    final = root / filename
    if check_integrity(final, md5):
        return final
    part = root / f"{filename}.part"
    for attempt in range(max_retries + 1):
        try:
            _fetch(url, part, timeout)
            break
        except urllib.error.HTTPError as e:
            if e.code < 500 or attempt == max_retries:
                raise RuntimeError(f"downloading {url} to {final} failed: {e}") from e
        except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
            if attempt == max_retries:
                raise RuntimeError(
                    f"downloading {url} to {final} failed after {max_retries + 1} tries ({e}); "
                    f"run again to resume from {part}"
                ) from e
        time.sleep(0.1 * 2**attempt)
    if md5 is not None:
        got = calculate_md5(part)
        if got != md5:
            part.unlink()
            raise RuntimeError(
                f"the file downloaded from {url} to {final} has the MD5 {got}, expected {md5}; "
                "the corrupt download was removed, run again to retry"
            )
    os.replace(part, final)
    return final
