"""Fixtures for the delivery tests: a counting file server and fresh, unique media."""
from __future__ import annotations

import http.server
import io
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class CountingServer:
    """Serves registered bytes by path; counts GETs per path (a slow host, so claims contend)."""

    url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    delay: float = 0.3
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, data: bytes, suffix: str = ".png") -> str:
        path = f"/{uuid.uuid4().hex}{suffix}"
        self.files[path] = data
        return self.url + path

    def count(self, url: str) -> int:
        with self.lock:
            return self.hits[url.removeprefix(self.url)]


def serve_counting(state: CountingServer) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            path = self.path.split("?", 1)[0]
            with state.lock:
                state.hits[path] += 1
            data = state.files.get(path)
            time.sleep(state.delay)
            if data is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="session")
def counting_server() -> Iterator[CountingServer]:
    state = CountingServer()
    server = serve_counting(state)
    yield state
    server.shutdown()


def fresh_png(size: int = 64, mode: str = "RGB") -> bytes:
    """A small PNG no other test has produced (random pixels), so no cache already knows it."""
    import os

    from PIL import Image

    img = Image.frombytes(mode, (size, size), os.urandom(size * size * len(mode)))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()
