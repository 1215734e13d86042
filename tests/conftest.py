"""Shared fixtures: real Redis, a real Celery worker process, provider simulators.

The environment is fixed at import time, before any Ferry module reads its
settings: a fresh FERRY_DATA_DIR per session (so the embedded Redis, local
storage and logs are isolated), private URLs allowed (the file server and
simulators live on loopback). ``REDIS_URL``, when the caller sets it, is used
as given; otherwise the embedded Redis starts, exactly as for a user.
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
DATA_DIR = Path(tempfile.mkdtemp(prefix="ferry-test-"))
os.environ["FERRY_DATA_DIR"] = str(DATA_DIR)
os.environ["FERRY_ALLOW_PRIVATE_URLS"] = "1"
os.environ.pop("FERRY_API_KEYS", None)
# The session worker signs webhooks with this secret and retries them quickly (tests/test_webhooks.py).
WEBHOOK_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
os.environ["FERRY_WEBHOOK_SECRET"] = WEBHOOK_SECRET
os.environ["FERRY_WEBHOOK_RETRY_BASE"] = "0.3"
os.environ["FERRY_OCR_PROVIDER"] = "mistral"  # pdf_strategy=ocr through the Mistral simulator's /v1/ocr (issue 15)
os.environ["FERRY_BATCH_POLL_SECONDS"] = "0.3"  # native batches (tests/test_batch_native.py) poll the simulators fast
TERMINAL = ("succeeded", "failed", "canceled")
AUTH = {"Authorization": "Bearer ferry-local-key"}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not os.environ.get("REDIS_URL"):
        from workers.core.embedded_redis import stop_embedded

        stop_embedded(DATA_DIR)
    shutil.rmtree(DATA_DIR, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def task_sender() -> None:
    """Services enqueue by task name (workers/core/queue.py); the Celery app installs itself as the sender."""
    import workers.tasks.celery  # noqa: F401


@pytest.fixture(scope="session")
def sims() -> Iterator[dict[str, Any]]:
    """Every provider simulator on a loopback port; their URLs and keys go into the environment."""
    from app.simulators.server import env_for, run_all, stop_all
    from workers.context import get_context
    from workers.core.settings import get_settings

    servers = run_all()
    os.environ.update(env_for(servers))
    get_settings.cache_clear()
    get_context.cache_clear()
    yield servers
    stop_all(servers)


@pytest.fixture(scope="session")
def worker(sims: dict[str, Any]) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker process consuming all three queues."""
    log_path = DATA_DIR / "worker.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.tasks.celery", "worker", "-Q", "io,cpu,llm",
         "-P", "prefork", "-c", "3", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
         "-n", f"test-{os.getpid()}@%h"],
        cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while b" ready." not in log_path.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"celery worker did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def app(worker: subprocess.Popen[bytes]):  # type: ignore[no-untyped-def]
    from app import create_app

    return create_app()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def file_server() -> Iterator[str]:
    """The corpus over HTTP on loopback, like a user's image host."""
    handler = functools.partial(_QuietHandler, directory=str(CORPUS))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def wait_job(client: Any, job_id: str, timeout: float = 60.0, headers: dict[str, str] = AUTH) -> dict[str, Any]:
    """Poll until the job ends; returns its final view."""
    deadline = time.monotonic() + timeout
    while True:
        resp = client.get(f"/v1/jobs/{job_id}", headers=headers)
        assert resp.status_code == 200, resp.json
        job = resp.json
        if job["status"] in TERMINAL:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['status']} at stage {job.get('stage')}")
        time.sleep(0.1)
