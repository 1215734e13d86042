"""A private Ferry stack for tests that need their own processes and settings.

Its own data dir and embedded Redis (so the session worker never takes its tasks), a gunicorn
web process and Celery workers started with the environment the test gives. Workers can be
stopped, killed (the whole process group) and restarted with other settings mid-test.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis

from tests.conftest import AUTH, ROOT, TERMINAL
from tests.services import free_port
from workers.core.embedded_redis import start_embedded, stop_embedded


class Stack:
    def __init__(self, env: dict[str, str] | None = None, prefix: str = "ferry-stack-") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=prefix))
        self.redis_url = f"unix://{start_embedded(self.dir)}"
        self.r = redis.Redis.from_url(self.redis_url)
        self.env = {k: v for k, v in os.environ.items() if k != "FERRY_TEST_STAGE_DELAY"}
        self.env.update({"REDIS_URL": self.redis_url, "FERRY_DATA_DIR": str(self.dir),
                         "FERRY_ALLOW_PRIVATE_URLS": "1", **(env or {})})
        self.procs: list[subprocess.Popen[bytes]] = []
        self.workers: list[str] = []
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.web = self._spawn("web", [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1",
                                       "--threads", "4", "app:create_app()"], self.env)
        self.http = httpx.Client(base_url=self.url, headers=AUTH, timeout=10)
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.http.get("/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and self.web.poll() is None, self.tail("web")
            time.sleep(0.1)

    def tail(self, name: str) -> str:
        return (self.dir / f"{name}.log").read_text(errors="replace")[-3000:]

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.dir / f"{name}.log").open("wb")
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own process group: we kill it whole
        self.procs.append(proc)
        return proc

    def worker(self, delay: str | None = None, concurrency: int = 2, **env: str) -> subprocess.Popen[bytes]:
        """Start a worker on all queues (``delay``: FERRY_TEST_STAGE_DELAY) and wait until it is ready."""
        name = f"worker{len(self.workers) + 1}"
        self.workers.append(name)
        full = {**self.env, **env}
        if delay:
            full["FERRY_TEST_STAGE_DELAY"] = delay
        proc = self._spawn(name, [sys.executable, "-m", "celery", "-A", "workers.tasks.celery", "worker",
                                  "-Q", "io,cpu,llm", "-P", "prefork", "-c", str(concurrency), "--loglevel", "INFO",
                                  "--without-gossip", "--without-mingle", "--without-heartbeat",
                                  "-n", f"{name}-{os.getpid()}@%h"], full)
        deadline = time.monotonic() + 60
        while b" ready." not in (self.dir / f"{name}.log").read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, self.tail(name)
            time.sleep(0.1)
        return proc

    def host(self, hostname: str, delay: str | None = None, procfile: bool = True, cpu: int = 2,
             threads: int = 16, **env: str) -> list[subprocess.Popen[bytes]]:
        """Start one worker "host" and wait until all its workers are ready: the Procfile's process set
        (``io`` threads, ``cpu`` prefork with ``cpu`` children, ``llm`` threads), or with ``procfile=False``
        one prefork worker on all queues. Its processes get ``FERRY_HOSTNAME=hostname`` (the name in
        their step leases), Celery names ``<queue>@<hostname>`` and a data dir of their own
        (``<stack dir>/<hostname>``), so nothing but Redis and ``FERRY_STORAGE`` is shared with
        another host. ``delay``: FERRY_TEST_STAGE_DELAY for this host only."""
        data = self.dir / hostname
        data.mkdir(exist_ok=True)
        full = {**self.env, "FERRY_HOSTNAME": hostname, "FERRY_DATA_DIR": str(data), **env}
        if delay:
            full["FERRY_TEST_STAGE_DELAY"] = delay
        if procfile:
            sets = [("io", ["-P", "threads", "-c", str(threads)]), ("cpu", ["-P", "prefork", "-c", str(cpu)]),
                    ("llm", ["-P", "threads", "-c", str(threads)])]
        else:
            sets = [("io,cpu,llm", ["-P", "prefork", "-c", str(cpu)])]
        started: list[tuple[str, subprocess.Popen[bytes]]] = []
        for queues, pool in sets:
            node = "all" if "," in queues else queues
            name = f"{hostname}-{node}"
            self.workers.append(name)
            argv = [sys.executable, "-m", "celery", "-A", "workers.tasks.celery", "worker", "-Q", queues, *pool,
                    "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
                    "-n", f"{node}@{hostname}"]
            started.append((name, self._spawn(name, argv, full)))
        deadline = time.monotonic() + 90
        for name, proc in started:
            while b" ready." not in (self.dir / f"{name}.log").read_bytes():
                assert proc.poll() is None and time.monotonic() < deadline, self.tail(name)
                time.sleep(0.1)
        return [proc for _, proc in started]

    def kill(self, proc: subprocess.Popen[bytes]) -> list[int]:
        """SIGKILL the worker's main process and its pool children (its process group)."""
        pids = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        return pids

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def submit(self, body: dict[str, Any]) -> str:
        resp = self.http.post("/v1/jobs", json=body)
        assert resp.status_code == 202, resp.text
        return resp.json()["id"]

    def wait(self, job_id: str, timeout: float = 40) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = self.http.get(f"/v1/jobs/{job_id}").json()
            if job["status"] in TERMINAL:
                return job
            if time.monotonic() > deadline:
                logs = "\n".join(self.tail(w)[-1500:] for w in self.workers)
                raise AssertionError(f"job {job_id} stuck: {job['status']} at {job.get('stage')}\n{logs}")
            time.sleep(0.1)

    def run(self, body: dict[str, Any], timeout: float = 40) -> dict[str, Any]:
        return self.wait(self.submit(body), timeout)

    def wait_for(self, what: str, cond: Any, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    def close(self) -> None:
        for p in self.procs:
            self.stop(p)
        stop_embedded(self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)
