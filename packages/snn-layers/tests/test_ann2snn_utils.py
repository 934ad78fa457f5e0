"""``snn_layers.ann2snn.utils.download_url`` against a local HTTP server on 127.0.0.1 (no
internet): resume, restart when a server ignores or misstates the range, error statuses,
responses without a length. Run with the stdlib client, and with ``requests`` if installed."""

from __future__ import annotations

import importlib.util
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from snn_layers.ann2snn import download_url, utils

PAYLOAD = bytes(range(256)) * 8 + b"tail"  # 2052 bytes, several 1 KiB chunks


class _Handler(BaseHTTPRequestHandler):
    """``/file``: honours ``Range``; ``/norange``: always the whole file (200);
    ``/badrange``: a 206 with a wrong ``Content-Range``; ``/nolength``: no
    ``Content-Length`` (HTTP/1.0, ends by closing); ``/short``: a 206 with half the range;
    ``/missing``: 404."""

    protocol_version = "HTTP/1.1"
    requests_seen: list[tuple[str, str | None]] = []

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        rng = self.headers.get("Range")
        self.requests_seen.append((self.path, rng))
        size = len(PAYLOAD)
        if self.path == "/missing":
            return self._send(404, b"no", {"Content-Length": "2"})
        if self.path == "/nolength":
            self.protocol_version = "HTTP/1.0"
            self.close_connection = True
            return self._send(200, PAYLOAD, {})
        if rng is None or self.path == "/norange":
            return self._send(200, PAYLOAD, {"Content-Length": str(size)})
        first, last = (int(v) for v in rng.removeprefix("bytes=").split("-"))
        body = PAYLOAD[first : last + 1]
        stated = f"bytes {first}-{last}/{size}"
        if self.path == "/badrange" and first > 0:
            stated = f"bytes {first}-{last - 1}/{size}"
        if self.path == "/short":
            body = body[: len(body) // 2]
        headers = {"Content-Length": str(len(body)), "Content-Range": stated}
        return self._send(206, body, headers)


@pytest.fixture
def server():
    _Handler.requests_seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", _Handler.requests_seen
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


_CLIENTS = ["urllib"] + (["requests"] if importlib.util.find_spec("requests") else [])


@pytest.fixture(params=_CLIENTS)
def client(request, monkeypatch):
    if request.param == "urllib":
        monkeypatch.setattr(utils, "requests", utils._UrllibRequests())
    else:
        import requests

        monkeypatch.setattr(utils, "requests", requests)
    monkeypatch.setattr(utils, "tqdm", utils._TextProgress)
    return request.param


def test_fresh_download(server, client, tmp_path):
    url, seen = server
    dst = tmp_path / "w.pth"
    assert download_url(f"{url}/file", str(dst)) == len(PAYLOAD)
    assert dst.read_bytes() == PAYLOAD
    assert seen == [("/file", None), ("/file", f"bytes=0-{len(PAYLOAD) - 1}")]


def test_resume_appends_the_missing_range(server, client, tmp_path):
    url, seen = server
    dst = tmp_path / "w.pth"
    dst.write_bytes(PAYLOAD[:1000])
    assert download_url(f"{url}/file", str(dst)) == len(PAYLOAD)
    assert dst.read_bytes() == PAYLOAD
    assert seen[1] == ("/file", f"bytes=1000-{len(PAYLOAD) - 1}")


def test_complete_file_is_not_downloaded_again(server, client, tmp_path):
    url, seen = server
    dst = tmp_path / "w.pth"
    dst.write_bytes(PAYLOAD)
    assert download_url(f"{url}/file", str(dst)) == len(PAYLOAD)
    assert len(seen) == 1  # the length probe only


@pytest.mark.parametrize("path", ["/norange", "/badrange"])
def test_resume_restarts_when_the_range_is_not_honoured(server, client, tmp_path, path):
    url, seen = server
    dst = tmp_path / "w.pth"
    dst.write_bytes(b"x" * 100)  # a stale partial file
    assert download_url(url + path, str(dst)) == len(PAYLOAD)
    assert dst.read_bytes() == PAYLOAD
    assert [r for _, r in seen[1:]] == [
        f"bytes=100-{len(PAYLOAD) - 1}",
        f"bytes=0-{len(PAYLOAD) - 1}",
    ]


def test_without_content_length_downloads_in_one_pass(server, client, tmp_path):
    url, seen = server
    dst = tmp_path / "w.pth"
    assert download_url(f"{url}/nolength", str(dst)) == len(PAYLOAD)
    assert dst.read_bytes() == PAYLOAD
    assert seen[1] == ("/nolength", None)


def test_error_status_raises_before_writing(server, client, tmp_path):
    url, _ = server
    dst = tmp_path / "w.pth"
    with pytest.raises(OSError, match="404"):
        download_url(f"{url}/missing", str(dst))
    assert not dst.exists()


def test_short_body_is_an_error(server, client, tmp_path):
    url, _ = server
    with pytest.raises(RuntimeError, match=f"Downloaded {len(PAYLOAD) // 2} bytes, but expected"):
        download_url(f"{url}/short", str(tmp_path / "w.pth"))


def test_only_http_urls():
    with pytest.raises(ValueError, match="url must be an http"):
        download_url("file:///etc/hostname", "x")


def test_text_progress_counts_bytes(capsys):
    bar = utils._TextProgress(total=10, initial=4, desc="w.pth")
    bar.update(3)
    bar.reset(total=10)
    bar.update(10)
    bar.close()
    assert "w.pth: 10/10 bytes" in capsys.readouterr().err
