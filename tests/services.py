"""Real emulators as subprocesses, for tests and benchmarks.

Plain context managers (no pytest), each starting one server on a free loopback
port, waiting until it answers HTTP, yielding a :class:`Service` and terminating
it on exit::

    with moto_s3_server() as s3, gcs_emulator() as gcs:
        env = {**os.environ, **s3.env, **gcs.env}   # for a worker subprocess
        boto3.client("s3", endpoint_url=s3.url)     # or in-process

``Service.env`` holds the variables a Ferry process needs to talk to it
(endpoint plus dummy credentials), so the same values serve monkeypatch.setenv
and child processes.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

#: Dummy credentials moto accepts (unless started with auth checking on).
MOTO_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True)
class Service:
    url: str  # e.g. http://127.0.0.1:54321
    env: dict[str, str] = field(default_factory=dict)
    pid: int = 0


def free_port() -> int:
    """A port that was free a moment ago (the server binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def run_http_service(
    argv: Sequence[str],
    url: str,
    ready_path: str = "/",
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` until ``url + ready_path`` answers any HTTP status; stop it on exit.

    The server's output goes to a temporary log whose tail is shown if it fails to start.
    """
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # keep the terminal's Ctrl-C for us; we stop it ourselves
        )
        try:
            _wait_ready(proc, url + ready_path, timeout, log)
            yield proc
        finally:
            _stop(proc)


def _wait_ready(proc: subprocess.Popen[bytes], url: str, timeout: float, log: IO[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=1.0):
                return
        except urllib.error.HTTPError:
            return  # it answered; the status does not matter
        except OSError:
            pass
        if time.monotonic() > deadline:
            _stop(proc)
            raise RuntimeError(f"{proc.args!r} did not answer {url} within {timeout}s:\n{_tail(log)}")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _tail(log: IO[bytes], size: int = 4000) -> str:
    log.seek(max(0, log.seek(0, os.SEEK_END) - size))
    return log.read().decode(errors="replace")


@contextmanager
def moto_s3_server(*, auth: bool = False, env: Mapping[str, str] | None = None) -> Iterator[Service]:
    """A moto server (all AWS services, S3 included), in memory.

    ``auth=True`` turns on moto's IAM checking from the first request
    (``INITIAL_NO_AUTH_ACTION_COUNT=0``): unknown access keys are refused with
    InvalidAccessKeyId, as real S3 would.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server_env = {**MOTO_ENV, **(env or {})}
    if auth:
        server_env["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with run_http_service(argv, url, "/moto-api/", server_env) as proc:
        yield Service(url, {**MOTO_ENV, "AWS_ENDPOINT_URL_S3": url}, proc.pid)


@contextmanager
def gcs_emulator(*, env: Mapping[str, str] | None = None) -> Iterator[Service]:
    """gcp-storage-emulator, in memory. Clients find it through STORAGE_EMULATOR_HOST."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    exe = shutil.which("gcp-storage-emulator", path=str(Path(sys.executable).parent))
    prog = [exe] if exe else [sys.executable, "-m", "gcp_storage_emulator"]
    argv = [*prog, "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory", "--quiet"]
    with run_http_service(argv, url, "/storage/v1/b", env) as proc:
        yield Service(url, {"STORAGE_EMULATOR_HOST": url}, proc.pid)
