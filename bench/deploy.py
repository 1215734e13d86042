"""A private Ferry stack deployed as the Procfile runs it, for benches that measure the whole service.

    from deploy import start_stack
    with start_stack(root, {"FERRY_SOME_SETTING": "1"}) as stack:
        httpx.get(stack.base_url + "/healthz")
        stack.sim_env["OPENAI_BASE_URL"]      # the OpenAI simulator, to call it directly
        stack.cpu_seconds()                   # user+system CPU of every Ferry process so far
        stack.cpu_by_class(), stack.side_cpu()  # the same per web/io/cpu/llm; Redis and the simulators

What runs, all in one temporary FERRY_DATA_DIR (removed on exit):

- the embedded Redis (``workers.core.embedded_redis.start_embedded``, a unix socket in the data dir);
- the provider simulators, ``python -m app.simulators`` from *this* checkout (so a ``--root`` before/after
  talks to the same upstream); the ``NAME=value`` lines it prints are merged into Ferry's environment;
- ``gunicorn -w 2 --threads 8 'app:create_app()'`` on a free 127.0.0.1 port;
- three Celery workers, ``-Q io -P threads -c 16``, ``-Q cpu -P prefork -c 2`` (``MALLOC_ARENA_MAX=2``)
  and ``-Q llm -P threads -c 16``, each with its own ``-n <queue>-<pid>@%h``; the app is
  ``workers.tasks.celery``, or ``workers.celery_app`` for checkouts older than ``workers/tasks/``.

Ferry's processes run with ``cwd=root`` and ``PYTHONPATH=root``, so ``root`` may be another checkout.
Each process has its own session (process group); on exit each group gets SIGTERM, then SIGKILL.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from workers.core.embedded_redis import start_embedded, stop_embedded  # noqa: E402

AUTH = {"Authorization": "Bearer ferry-local-key"}
#: process class → Celery queue options (the Procfile's worker lines)
WORKERS: dict[str, tuple[list[str], dict[str, str]]] = {
    "io": (["-Q", "io", "-P", "threads", "-c", "16"], {}),
    "cpu": (["-Q", "cpu", "-P", "prefork", "-c", "2"], {"MALLOC_ARENA_MAX": "2"}),
    "llm": (["-Q", "llm", "-P", "threads", "-c", "16"], {}),
}
FERRY_CLASSES = ("web", *WORKERS)
#: log lines worth a look after a run (counted per log by Stack.log_issues)
ISSUE = re.compile(r"Traceback|\bERROR\b|\bCRITICAL\b|WORKER TIMEOUT|Exception|\b5\d\d\b.*error", re.I)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def celery_app(root: Path) -> str:
    return "workers.tasks.celery" if (root / "workers/tasks/celery.py").exists() else "workers.celery_app"


def _tree_cpu(proc: psutil.Process) -> float:
    """user+system seconds of ``proc`` and every descendant, live or already reaped."""
    total = 0.0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    for member in members:
        try:
            t = member.cpu_times()
        except psutil.NoSuchProcess:
            continue  # exited between listing and reading: its parent's children_* has it once reaped
        total += t.user + t.system + t.children_user + t.children_system
    return total


@dataclass
class Stack:
    root: Path
    dir: Path
    base_url: str
    redis_url: str
    sim_env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def cpu_by_class(self) -> dict[str, float]:
        """CPU seconds so far per Ferry process class (web, io, cpu, llm), children included."""
        return {name: _tree_cpu(psutil.Process(self.procs[name].pid)) for name in FERRY_CLASSES}

    def cpu_seconds(self) -> float:
        """user+system CPU seconds of every Ferry process and its children (not the simulators or Redis)."""
        return sum(self.cpu_by_class().values())

    def side_cpu(self) -> dict[str, float]:
        """CPU seconds so far of what is not Ferry but shares the machine: the Redis server, the simulators."""
        out = {"sims": _tree_cpu(psutil.Process(self.procs["sims"].pid))}
        pidfile = self.dir / "redis" / "redis.pid"
        try:
            out["redis"] = _tree_cpu(psutil.Process(int(pidfile.read_text())))
        except (OSError, ValueError, psutil.NoSuchProcess):
            out["redis"] = 0.0
        return out

    def log(self, name: str) -> str:
        path = self.dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def tail(self, name: str, chars: int = 3000) -> str:
        return self.log(name)[-chars:]

    def log_issues(self) -> dict[str, list[str]]:
        """Per process log, the lines that look like errors (tracebacks, ERROR, worker timeouts)."""
        found: dict[str, list[str]] = {}
        for name in self.procs:
            lines = [ln for ln in self.log(name).splitlines() if ISSUE.search(ln)]
            if lines:
                found[name] = lines
        return found


def _spawn(name: str, argv: list[str], cwd: Path, env: dict[str, str], data: Path,
           stdout: int | None = None) -> subprocess.Popen[bytes]:
    log = (data / f"{name}.log").open("wb")
    return subprocess.Popen(argv, cwd=cwd, env=env, stdout=stdout if stdout is not None else log,
                            stderr=log, start_new_session=True)


def _stop(procs: list[subprocess.Popen[bytes]], grace: float = 15.0) -> None:
    """SIGTERM every process group at once, then SIGKILL whichever is still there after ``grace``."""
    for proc in procs:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # also any pool child left in the group
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait(5)


def _start_simulators(data: Path, procs: dict[str, subprocess.Popen[bytes]]) -> dict[str, str]:
    """``python -m app.simulators`` from this checkout; answers the environment it prints."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = _spawn("sims", [sys.executable, "-m", "app.simulators"], ROOT, env, data, stdout=subprocess.PIPE)
    procs["sims"] = proc
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.append(raw.decode().strip())

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 30
    # the env is printed in one flush, COHERE_API_KEY last; stderr then says what the controls are
    while not any(ln.startswith("COHERE_API_KEY=") for ln in lines):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the simulators did not start: " + (data / "sims.log").read_text()[-2000:])
        time.sleep(0.05)
    return dict(ln.split("=", 1) for ln in lines if "=" in ln and not ln.startswith("#"))


def _wait_healthy(stack: Stack, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=stack.base_url, timeout=5) as http:
        while True:
            try:
                if http.get("/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if stack.procs["web"].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the web process did not become healthy: " + stack.tail("web"))
            time.sleep(0.2)


def _wait_ready(stack: Stack, name: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while " ready." not in stack.log(name):
        if stack.procs[name].poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"worker {name} did not get ready: " + stack.tail(name))
        time.sleep(0.1)


def ferry_env(root: Path, data: Path, redis_url: str, sim_env: dict[str, str],
              extra_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_TEST_")}
    env.pop("FERRY_API_KEYS", None)  # the single local key, ferry-local-key
    env.update(sim_env)
    env.update({"REDIS_URL": redis_url, "FERRY_DATA_DIR": str(data), "PYTHONPATH": str(root)})
    env.update(extra_env)
    return env


@contextmanager
def start_stack(root: Path, extra_env: dict[str, str] | None = None,
                logs_to: Path | None = None) -> Iterator[Stack]:
    """Deploy Ferry from ``root`` (see the module docstring); ``logs_to`` keeps a copy of every log."""
    root = root.resolve()
    data = Path(tempfile.mkdtemp(prefix="ferry-bench-"))
    procs: dict[str, subprocess.Popen[bytes]] = {}
    redis_started = False
    try:
        redis_url = f"unix://{start_embedded(data)}"
        redis_started = True
        sim_env = _start_simulators(data, procs)
        env = ferry_env(root, data, redis_url, sim_env, extra_env or {})
        port = free_port()
        stack = Stack(root=root, dir=data, base_url=f"http://127.0.0.1:{port}", redis_url=redis_url,
                      sim_env=sim_env, procs=procs)
        procs["web"] = _spawn("web", [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "2",
                                      "--threads", os.environ.get("BENCH_WEB_THREADS", "8"), "app:create_app()"], root, env, data)
        for name, (opts, more) in WORKERS.items():
            argv = [sys.executable, "-m", "celery", "-A", celery_app(root), "worker", *opts,
                    "-n", f"{name}-{os.getpid()}@%h", "--loglevel", "INFO"]
            procs[name] = _spawn(name, argv, root, {**env, **more}, data)
        _wait_healthy(stack)
        for name in WORKERS:
            _wait_ready(stack, name)
        yield stack
    finally:
        _stop(list(procs.values()))
        if redis_started:
            stop_embedded(data)
        if logs_to is not None:
            logs_to.mkdir(parents=True, exist_ok=True)
            for log in data.glob("*.log"):
                shutil.copy(log, logs_to / log.name)
        shutil.rmtree(data, ignore_errors=True)
