"""The guarded downloader's limits, enforced while streaming: bytes, wall-clock time, status."""
from __future__ import annotations

import http.server
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from workers.core.errors import FetchError, TooLarge
from workers.net.download import download
from workers.core.settings import Settings

DRIP_CHUNKS, DRIP_CHUNK = 600, 1024


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/drip":  # 1 KiB every 0.1 s, for a minute: never a read timeout, not done soon
            self.send_response(200)
            self.end_headers()
            for _ in range(DRIP_CHUNKS):
                self.wfile.write(b"x" * DRIP_CHUNK)
                self.wfile.flush()
                time.sleep(0.1)
            return
        if self.path == "/big-undeclared":  # no Content-Length: the cap must bite while streaming
            self.send_response(200)
            self.end_headers()
            for _ in range(64):
                self.wfile.write(b"y" * 65536)
            return
        if self.path == "/big-declared":
            self.send_response(200)
            self.send_header("Content-Length", str(10 * 2**20))
            self.end_headers()
            return
        self.send_response(404)
        self.end_headers()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def settings(**kw: object) -> Settings:
    return Settings(FERRY_ALLOW_PRIVATE_URLS=True, **kw)  # type: ignore[arg-type]


def test_slow_drip_is_cut_at_the_wall_clock_cap(server: str, tmp_path: Path) -> None:
    """Every read arrives well inside FERRY_FETCH_TIMEOUT, so only the wall-clock cap can end it: the
    download fails mid-stream, long before the drip is done (how soon: bench/bad_input_speed.py)."""
    with pytest.raises(FetchError, match="FERRY_FETCH_MAX_SECONDS") as info:
        download(f"{server}/drip", tmp_path / "d", settings(FERRY_FETCH_TIMEOUT=5, FERRY_FETCH_MAX_SECONDS=1))
    got = re.search(r"(\d+) bytes so far", info.value.message)
    assert got, info.value.message
    assert 0 < int(got.group(1)) < DRIP_CHUNKS * DRIP_CHUNK, info.value.message


def test_byte_cap_bites_while_streaming(server: str, tmp_path: Path) -> None:
    with pytest.raises(TooLarge, match="FERRY_MAX_DOWNLOAD_BYTES"):
        download(f"{server}/big-undeclared", tmp_path / "d", settings(FERRY_MAX_DOWNLOAD_BYTES=1_000_000))
    with pytest.raises(TooLarge, match="10485760 bytes"):
        download(f"{server}/big-declared", tmp_path / "d", settings(FERRY_MAX_DOWNLOAD_BYTES=1_000_000))


def test_non_2xx_names_the_status(server: str, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="404"):
        download(f"{server}/nothing", tmp_path / "d", settings())


def test_private_targets_refused_by_default(server: str, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="loopback"):
        download(f"{server}/nothing", tmp_path / "d", Settings(FERRY_ALLOW_PRIVATE_URLS=False))
