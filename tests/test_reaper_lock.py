"""Reaper passes never overlap (issue 10.3).

The pass lock used to live 0.9 x the interval, was never renewed or released, and a pass may do a thousand
storage deletes: a second reaper then started its own pass, both counted requeues, and a healthy job could
fail early with "made no progress". Now the lock is held (renewed) for the whole pass and released at its
end, and a pass that lost it stops. A private embedded Redis keeps these passes away from the session's.
"""
from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from workers.context import Context
from workers.core.embedded_redis import start_embedded, stop_embedded
from workers.core.keys import REAPER_LOCK as LOCK, RUNNING
from workers.state.leases import PassLock
from workers.tasks.reaper import reap_once, reap_pass
from workers.core.settings import Settings


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    folder = Path(tempfile.mkdtemp(prefix="ferry-reaper-"))
    yield f"unix://{start_embedded(folder)}"
    stop_embedded(folder)
    shutil.rmtree(folder, ignore_errors=True)


def _ctx(url: str, tmp_path: Path, **env: str) -> Context:
    return Context(Settings(REDIS_URL=url, FERRY_DATA_DIR=str(tmp_path), FERRY_LEASE_SECONDS="0.5",
                            FERRY_REAPER_INTERVAL="0.2", **env))


def test_a_slow_pass_keeps_the_lock_until_it_ends(redis_url: str, tmp_path: Path) -> None:
    slow = _ctx(redis_url, tmp_path, FERRY_TEST_STAGE_DELAY="reaper:2")
    other = _ctx(redis_url, tmp_path)
    other.redis.delete(LOCK)
    results: dict[str, object] = {}
    thread = threading.Thread(target=lambda: results.update(slow=reap_pass(slow)))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not other.redis.exists(LOCK):
            assert time.monotonic() < deadline, "the slow pass never took the lock"
            time.sleep(0.01)
        attempts = []
        while thread.is_alive():  # four lock TTLs and more: every try while the slow pass runs is refused
            attempts.append(reap_pass(other))
            time.sleep(0.1)
    finally:
        thread.join()
    assert len(attempts) >= 5 and all(a is None for a in attempts), attempts
    assert isinstance(results["slow"], dict)
    assert not other.redis.exists(LOCK)  # released at the end, not left to expire
    assert isinstance(reap_pass(other), dict)  # so the next pass may run at once


def test_a_pass_that_lost_its_lock_stops(redis_url: str, tmp_path: Path) -> None:
    ctx = _ctx(redis_url, tmp_path)
    r = redis.Redis.from_url(redis_url)
    r.delete(LOCK, RUNNING)
    r.zadd(RUNNING, {f"job_gone{i}|fetch:0": time.time() - 10 for i in range(3)})
    lock = PassLock(r, ttl=0.4)
    assert lock.acquire()
    r.delete(LOCK)  # as if Redis had been away longer than the TTL and another pass took over
    deadline = time.monotonic() + 30
    while lock.held:
        assert time.monotonic() < deadline, "the heartbeat never noticed the lock was gone"
        time.sleep(0.02)
    counts = reap_once(ctx, still_ours=lambda: lock.held)
    lock.release()
    assert counts == {"dropped": 0, "extended": 0, "requeued": 0, "failed": 0}
    assert r.zcard(RUNNING) == 3  # untouched: the pass that owns the lock now handles them
    assert reap_once(ctx)["dropped"] == 3
