"""Native batches survive what happens while their provider batch runs (issue 13): a worker killed (-9) inside a
poll or between polls, and the stack's Redis restarted mid-batch (SHUTDOWN, or the redis-server itself killed -9),
end with the batch completed, exactly one provider batch, every line answered once.

A private stack (tests/stack.py: its own embedded Redis, web and Celery workers) with the reaper tuned fast; the
OpenAI simulator is the session's, its batches told apart by Ferry's tag (``metadata.ferry_tag``)."""
from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import redis

from tests.stack import Stack
from tests.test_batch_crash import input_files, provider_batches
from workers.core.embedded_redis import start_embedded

N = 4


@pytest.fixture
def stack(sims) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    s = Stack({"FERRY_LEASE_SECONDS": "2", "FERRY_REAPER_INTERVAL": "0.5", "FERRY_QUEUE_DEADLINE": "4",
               "FERRY_BATCH_POLL_SECONDS": "0.3"}, prefix="ferry-batch-robust-")
    yield s
    s.close()
    httpx.post(f"{sims['openai'].url}/_sim/batches", json={"delay": 1.0, "expire": False})


def start_batch(stack: Stack, sims: dict[str, Any], delay: float) -> tuple[openai.OpenAI, str]:
    """A native batch of N OpenAI lines whose provider batch runs ``delay`` seconds."""
    httpx.post(f"{sims['openai'].url}/_sim/batches", json={"delay": delay, "expire": False})
    sdk = openai.OpenAI(base_url=stack.url + "/v1", api_key="ferry-local-key", max_retries=2, timeout=30)
    jsonl = "".join(json.dumps({"custom_id": f"p{i}", "method": "POST", "url": "/v1/chat/completions",
                                "body": {"model": "openai/gpt-4o", "max_tokens": 5,
                                         "messages": [{"role": "user", "content": f"line {i}"}]}}) + "\n"
                    for i in range(N))
    f = sdk.files.create(file=("in.jsonl", jsonl.encode()), purpose="batch")
    batch = sdk.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h",
                               extra_body={"ferry": {"mode": "native"}})
    return sdk, batch.id


def groups(stack: Stack, batch_id: str) -> list[dict[str, Any]]:
    try:
        return [json.loads(g) for g in stack.r.hvals(f"ferry:batch:{batch_id}:groups")]
    except redis.ConnectionError:
        return []


def polled(sims: dict[str, Any], provider_id: str) -> int:
    """How many times Ferry asked the simulator for this provider batch."""
    log = httpx.get(f"{sims['openai'].url}/_sim/log").json()
    return sum(1 for e in log if e["method"] == "GET" and e["path"] == f"/v1/batches/{provider_id}")


def created_and_running(stack: Stack, sims: dict[str, Any], batch_id: str) -> dict[str, Any] | None:
    """The provider batch once Ferry recorded it created and polled it at least once while it runs."""
    gs = groups(stack, batch_id)
    if len(gs) != 1 or gs[0]["state"] != "created" or not gs[0].get("id"):
        return None
    return gs[0] if polled(sims, gs[0]["id"]) >= 1 else None


def wait_done(stack: Stack, sdk: openai.OpenAI, batch_id: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            done = sdk.batches.retrieve(batch_id)
            if done.status in ("completed", "failed", "cancelled", "expired"):
                return done
        except openai.APIError:
            pass  # the web process may answer 5xx while its Redis restarts
        assert time.monotonic() < deadline, ("batch not finished", [stack.tail(w) for w in stack.workers])
        time.sleep(0.2)


def assert_each_line_once(stack: Stack, sims: dict[str, Any], sdk: openai.OpenAI, batch_id: str, done: Any) -> None:
    assert done.status == "completed", done
    assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (N, N, 0)
    out = [json.loads(x) for x in sdk.files.content(done.output_file_id).text.splitlines()]
    assert sorted(o["custom_id"] for o in out) == [f"p{i}" for i in range(N)]  # each line once
    made = provider_batches(sims, batch_id)
    assert len(made) == 1 and made[0]["status"] == "completed"  # one provider batch, no duplicate
    assert len(input_files(sims, batch_id)) == 1
    [pb] = done.model_extra["ferry"]["provider_batches"]
    assert pb["id"] == made[0]["id"] and pb["lines"] == N and pb["status"] == "completed"
    assert done.usage.input_tokens == sum(o["response"]["body"]["usage"]["prompt_tokens"] for o in out)


@pytest.mark.parametrize("when", ["inside_a_poll", "between_polls"])
def test_kill_9_while_polling_the_reaper_resends_the_driver_step(stack, sims, when):
    """Killed inside a poll (the provider's answer read, not recorded: hook ``batch_poll``) or while the next poll
    waits in the broker as a countdown: the overdue driver step is sent again by the reaper and the batch ends."""
    hooks = {"FERRY_TEST_STAGE_DELAY": "batch_poll:60"} if when == "inside_a_poll" else {}
    a = stack.worker(**hooks)
    sdk, batch_id = start_batch(stack, sims, delay=3.0)
    group: dict[str, Any] = {}
    stack.wait_for("the provider batch created and polled", lambda: group.update(
        created_and_running(stack, sims, batch_id) or {}) or group, timeout=60)
    upstream = httpx.get(f"{sims['openai'].url}/v1/batches/{group['id']}",
                         headers={"Authorization": "Bearer sim-key"}).json()
    assert upstream["status"] not in ("completed", "failed", "expired", "cancelled")  # killed while it runs
    stack.kill(a)
    b = stack.worker()
    done = wait_done(stack, sdk, batch_id)
    assert_each_line_once(stack, sims, sdk, batch_id, done)
    log = (stack.dir / f"{stack.workers[-1]}.log").read_text(errors="replace")
    assert f"batch {batch_id}: driver step overdue; sending it again" in log, stack.tail(stack.workers[-1])
    assert b.poll() is None


def redis_pid(stack: Stack) -> int:
    return int((stack.dir / "redis" / "redis.pid").read_text().strip())


def restart_redis(stack: Stack, how: str) -> None:
    """Stop the stack's embedded Redis (SHUTDOWN, which flushes the AOF, or SIGKILL of redis-server), leave it
    down a moment, start it again on the same dir and socket (it reloads the append-only file)."""
    pid = redis_pid(stack)
    if how == "shutdown":
        try:
            redis.Redis.from_url(stack.redis_url).shutdown()
        except redis.ConnectionError:
            pass  # SHUTDOWN closes the connection under us
    else:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while Path(f"/proc/{pid}").exists():
        assert time.monotonic() < deadline, "redis-server did not stop"
        time.sleep(0.05)
    time.sleep(1.0)  # down long enough for the web process and the workers to see it gone
    start_embedded(stack.dir)


def test_embedded_redis_persists_every_write_in_its_aof(stack):
    config = {**stack.r.config_get("appendonly"), **stack.r.config_get("appendfsync")}
    assert config == {"appendonly": "yes", "appendfsync": "everysec"}


@pytest.mark.parametrize("how", ["shutdown", "kill_9"])
def test_a_redis_restart_mid_batch_loses_nothing(stack, sims, how):
    """Redis restarted while the provider batch runs: the web process and the worker reconnect, the AOF brought
    back every record (batch, lines, groups, queued tasks), the batch completes with each line once."""
    worker = stack.worker()
    sdk, batch_id = start_batch(stack, sims, delay=3.0)
    group: dict[str, Any] = {}
    stack.wait_for("the provider batch created and polled", lambda: group.update(
        created_and_running(stack, sims, batch_id) or {}) or group, timeout=60)
    before = {k: stack.r.hget(f"ferry:batch:{batch_id}", k) for k in ("status", "total")}
    restart_redis(stack, how)
    assert {k: stack.r.hget(f"ferry:batch:{batch_id}", k) for k in ("status", "total")} == before  # reloaded
    assert groups(stack, batch_id)[0]["id"] == group["id"]
    done = wait_done(stack, sdk, batch_id)
    assert_each_line_once(stack, sims, sdk, batch_id, done)
    assert worker.poll() is None and stack.web.poll() is None  # the same processes, reconnected
