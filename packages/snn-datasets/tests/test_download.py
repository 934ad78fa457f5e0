"""Download with md5 check and HTTP Range resume (local server on 127.0.0.1), and archives."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import tarfile
import threading
import zipfile

import pytest
from snn_datasets._archive import extract_archive
from snn_datasets._download import check_integrity, download_url

PAYLOAD = bytes(range(256)) * 40  # 10 240 bytes
MD5 = hashlib.md5(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD at /data.bin with Range support; the first ``cut`` requests send only
    half of what they announce and close the connection (a dropped download)."""

    state: dict = {}

    def do_GET(self):
        state = self.server.state
        state["ranges"].append(self.headers.get("Range"))
        if self.path != "/data.bin":
            self.send_error(404)
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and state["ranges_ok"]:
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if state["cut"] > 0:
            state["cut"] -= 1
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.timeout = 5
    httpd.state = {"cut": 0, "ranges": [], "ranges_ok": True}
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield httpd, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_download_verifies_md5_and_writes_final_name(server, tmp_path):
    httpd, base = server
    path = download_url(f"{base}/data.bin", tmp_path, "d.bin", MD5, timeout=5)
    assert path == tmp_path / "d.bin" and path.read_bytes() == PAYLOAD
    assert check_integrity(path, MD5) and not (tmp_path / "d.bin.part").exists()


def test_dropped_download_resumes_with_range(server, tmp_path):
    httpd, base = server
    httpd.state["cut"] = 1  # the first response stops half-way
    path = download_url(f"{base}/data.bin", tmp_path, "d.bin", MD5, timeout=5)
    assert path.read_bytes() == PAYLOAD
    assert httpd.state["ranges"][0] is None
    assert httpd.state["ranges"][1] == f"bytes={len(PAYLOAD) // 2}-"


def test_failed_call_keeps_the_part_file_and_the_next_call_resumes(server, tmp_path):
    httpd, base = server
    httpd.state["cut"] = 2  # both tries of the first call are dropped half-way
    with pytest.raises(RuntimeError, match=r"data\.bin.*run again to resume"):
        download_url(f"{base}/data.bin", tmp_path, "d.bin", MD5, max_retries=1, timeout=5)
    assert not (tmp_path / "d.bin").exists()
    kept = (tmp_path / "d.bin.part").stat().st_size
    assert 0 < kept < len(PAYLOAD)
    download_url(f"{base}/data.bin", tmp_path, "d.bin", MD5, timeout=5)
    assert (tmp_path / "d.bin").read_bytes() == PAYLOAD
    assert httpd.state["ranges"][-1] == f"bytes={kept}-"


def test_partial_file_from_an_earlier_run_is_continued(server, tmp_path):
    httpd, base = server
    (tmp_path / "d.bin.part").write_bytes(PAYLOAD[:1000])
    download_url(f"{base}/data.bin", tmp_path, "d.bin", MD5, timeout=5)
    assert (tmp_path / "d.bin").read_bytes() == PAYLOAD
    assert httpd.state["ranges"] == ["bytes=1000-"]


def test_server_without_range_support_restarts(server, tmp_path):
    httpd, base = server
    httpd.state["ranges_ok"] = False
    (tmp_path / "d.bin.part").write_bytes(b"garbage")
    download_url(f"{base}/data.bin", tmp_path, "d.bin", MD5, timeout=5)
    assert (tmp_path / "d.bin").read_bytes() == PAYLOAD


def test_md5_mismatch_removes_the_download(server, tmp_path):
    _, base = server
    with pytest.raises(RuntimeError, match="md5.*expected 0{32}"):
        download_url(f"{base}/data.bin", tmp_path, "d.bin", "0" * 32, timeout=5)
    assert not (tmp_path / "d.bin").exists() and not (tmp_path / "d.bin.part").exists()


def test_http_error_names_the_url(server, tmp_path):
    _, base = server
    with pytest.raises(RuntimeError, match="missing.bin"):
        download_url(f"{base}/missing.bin", tmp_path, "m.bin", timeout=5)


def test_file_url_and_existing_valid_file(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(PAYLOAD)
    out = tmp_path / "out"
    path = download_url(src.as_uri(), out, md5=MD5)
    assert path == out / "src.bin" and path.read_bytes() == PAYLOAD
    src.unlink()  # a second call finds the verified file and does not fetch
    assert download_url(src.as_uri(), out, md5=MD5) == path


def test_extract_zip_tar_and_gz(tmp_path):
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        zf.writestr("d/x.txt", "zip")
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "y.txt").write_text("tar")
    with tarfile.open(tmp_path / "b.tar.gz", "w:gz") as tf:
        tf.add(tmp_path / "t", arcname="t")
    with gzip.open(tmp_path / "c.h5.gz", "wb") as g:
        g.write(b"gz")
    out = tmp_path / "out"
    for name in ("a.zip", "b.tar.gz", "c.h5.gz"):
        extract_archive(tmp_path / name, out)
    assert (out / "d" / "x.txt").read_text() == "zip"
    assert (out / "t" / "y.txt").read_text() == "tar"
    assert (out / "c.h5").read_bytes() == b"gz"


def test_extract_corrupt_or_unknown_archive_names_it(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not an archive")
    with pytest.raises(RuntimeError, match=r"bad\.tar\.gz"):
        extract_archive(bad, tmp_path / "o")
    odd = tmp_path / "file.xyz"
    odd.write_bytes(b"x")
    with pytest.raises(ValueError, match=r"file\.xyz.*unknown archive type"):
        extract_archive(odd, tmp_path / "o")
    with pytest.raises(FileNotFoundError, match=r"nothing\.zip"):
        extract_archive(tmp_path / "nothing.zip", tmp_path / "o")
