"""Ferry's publisher (workers/tasks/publish.py) writes the very message Celery's send_task writes."""
from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import datetime
from typing import Any

import pytest

import workers.tasks.stages  # noqa: F401  (registered, as in a worker: their time limits go in the headers)
import workers.tasks.webhooks  # noqa: F401
from workers.context import get_context
from workers.core import queue
from workers.tasks.celery import app

app.finalize(auto=True)  # as a worker does at start: its tasks' options (time limits) are known

#: Fields that are fresh per message (ids, the delivery tag) or a time (eta): compared apart.
PER_MESSAGE = {("headers", "id"), ("headers", "root_id"), ("properties", "correlation_id"),
               ("properties", "delivery_tag"), ("headers", "eta")}


def _without_per_message(message: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(message))
    for part, key in PER_MESSAGE:
        out[part].pop(key, None)
    return out


def _pop_both(queue_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    r = get_context().redis
    raw = r.lrange(queue_name, 0, -1)
    r.delete(queue_name)
    assert len(raw) == 2, f"expected two messages on {queue_name}, found {len(raw)}"
    newest, oldest = (json.loads(m) for m in raw)  # LPUSH: the newest is first
    return oldest, newest


@pytest.mark.parametrize(("name", "args", "countdown", "retries"), [
    ("ferry.fetch", ("job_publish", 0), None, 0),
    ("ferry.complete", ("job_publish",), 7.5, 2),
    ("ferry.webhook", ("job_publish",), None, 0),
    ("ferry.not_registered_here", ("x",), None, 0),  # the web tier may send a task it has not imported
])
def test_message_is_what_send_task_writes(name: str, args: tuple[Any, ...], countdown: float | None,
                                          retries: int) -> None:
    queue_name = f"ferry-test-publish-{uuid.uuid4().hex[:8]}"  # no worker consumes it
    options: dict[str, Any] = {"retries": retries} if retries else {}
    app.send_task(name, args=args, queue=queue_name, countdown=countdown, **options)
    sent_at = time.time()
    queue.send(name, *args, to=queue_name, countdown=countdown, retries=retries)
    celery_message, ferry_message = _pop_both(queue_name)

    ours, celerys = _without_per_message(ferry_message), _without_per_message(celery_message)
    for part in ("headers", "properties"):
        for key in sorted(set(ours[part]) | set(celerys[part])):
            assert ours[part].get(key) == celerys[part].get(key), (part, key, ours[part].get(key), celerys[part].get(key))
    assert ours == celerys
    assert base64.b64decode(ferry_message["body"]) == base64.b64decode(celery_message["body"])
    assert json.loads(base64.b64decode(ferry_message["body"]))[0] == list(args)
    headers = ferry_message["headers"]
    assert headers["id"] == headers["root_id"] == ferry_message["properties"]["correlation_id"]
    assert headers["id"] != celery_message["headers"]["id"]
    if name in app.tasks:
        assert headers["timelimit"] == [app.conf.task_time_limit, app.conf.task_soft_time_limit]
    if countdown is None:
        assert headers["eta"] is None and celery_message["headers"]["eta"] is None
    else:
        eta = datetime.fromisoformat(headers["eta"]).timestamp()
        assert abs(eta - (sent_at + countdown)) < 5, (headers["eta"], sent_at)


def test_routes_and_pipeline() -> None:
    """Without ``to`` a task goes to its route (stage tasks by their home queue, others to io); with a
    pipeline, the push waits for it to execute."""
    r = get_context().redis
    pipe = r.pipeline()
    for name, args in (("ferry.complete", ("j",)), ("ferry.transform", ("j", 0)), ("ferry.batch_start", ("b",))):
        queue.send(name, *args, pipe=pipe)
    pushed = [(cmd[0], cmd[1]) for cmd, _ in pipe.command_stack]
    assert pushed == [("LPUSH", "llm"), ("LPUSH", "cpu"), ("LPUSH", "io")]
    probe = f"ferry-test-publish-{uuid.uuid4().hex[:8]}"
    queue.send("ferry.fetch", "j", 0, to=probe, pipe=pipe)
    pipe.reset()  # discarded: nothing reaches the worker's queues
    assert r.llen(probe) == 0
    pipe = r.pipeline()
    queue.send("ferry.fetch", "j", 0, to=probe, pipe=pipe)
    assert r.llen(probe) == 0
    pipe.execute()
    assert r.llen(probe) == 1
    r.delete(probe)
