"""Publish a task by pushing Celery's own message onto the broker's Redis list, optionally in a pipeline.

``Celery.send_task`` cost about 1 ms of CPU per message in the web tier (kombu's Producer, its
connection pool, the queue declare and the retry wrapper, by py-spy) and took a round trip of its own.
Ferry's broker is its Redis, and its queues are plain direct queues: Celery publishes to the anonymous
exchange, and kombu's Redis transport ``LPUSH``es the message onto the list named after the queue. So a
message can ride in the pipeline that commits the job it starts (``submit`` is one round trip, and a job
is never committed without its first message, or the other way round).

The message is built by Celery (``app.amqp.as_task_v2``: headers, properties, body) and wrapped as
kombu's Redis channel wraps it (``Channel.prepare_message`` and ``_inplace_augment_message``: JSON body,
base64, a delivery tag); ``tests/test_publish.py`` checks it field by field against what ``send_task``
writes, so a Celery or kombu upgrade that changes the format fails there first.
"""
from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import redis
from celery import Celery

#: Every queue Ferry declares is a direct queue (workers/tasks/celery.py ``QUEUES``): the anonymous
#: exchange delivers a message to the list named after its queue.
ANON_EXCHANGE = ""
DELIVERY_MODE_PERSISTENT = 2


def task_message(app: Celery, name: str, args: tuple[Any, ...], queue: str, countdown: float | None = None,
                 retries: int = 0) -> bytes:
    """The broker message for task ``name`` with ``args`` on ``queue``, as kombu's Redis transport stores it."""
    task_id = str(uuid.uuid4())
    limits = _registered_options(app, name)
    headers, properties, body, _ = app.amqp.as_task_v2(task_id, name, args=args, kwargs={}, countdown=countdown,
                                                       retries=retries, reply_to=app.thread_oid,
                                                       argsrepr=_repr(args), kwargsrepr="{}", **limits)
    envelope = {
        "body": base64.b64encode(json.dumps(body).encode()).decode("ascii"),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": {
            **properties,
            "delivery_mode": DELIVERY_MODE_PERSISTENT,
            "delivery_info": {"exchange": ANON_EXCHANGE, "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    return json.dumps(envelope).encode()


def _repr(args: tuple[Any, ...]) -> str | None:
    """The ``argsrepr`` header: Ferry's task arguments are ids and indexes, whose ``repr`` is what Celery's
    ``saferepr`` would write (8 % of a submit's CPU); anything else is left to Celery."""
    if not all(type(a) in (str, int) for a in args):
        return None
    text = repr(args)
    return text if len(text) <= 256 else None  # (saferepr shortens long values)


def _registered_options(app: Celery, name: str) -> dict[str, Any]:
    """What ``send_task`` takes from a task registered in this process (its time limits and expiry, from
    the app's ``task_time_limit`` and friends): a worker process has every task registered, the web tier may
    not, and the message must say the same as Celery's would either way."""
    task = app._tasks.get(name)
    options = task._get_exec_options() if task is not None else {}
    return {"time_limit": options.get("time_limit"), "soft_time_limit": options.get("soft_time_limit"),
            "expires": options.get("expires"), "ignore_result": options.get("ignore_result")}


def push(r: redis.Redis | redis.client.Pipeline, queue: str, message: bytes) -> None:
    """Deliver ``message`` to ``queue`` (on a pipeline: when it executes)."""
    r.lpush(queue, message)

