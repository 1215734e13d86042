"""Native batch records (issue 13): prepared lines and provider batches ("groups"), beside the batch hash.

``ferry:batch:<id>:prepared`` (hash index → JSON: the line's stored provider request, from its job),
``…:groups`` (hash k → JSON group: provider, model, line indexes, tag, state planned → creating → created →
collected, the provider batch id and status), ``ferry:batches:ticking`` (batch id → when its driver step is
due). A group is written before anything is created upstream and after each step there, so a worker that
dies anywhere leaves a record the next step resumes from.
"""
from __future__ import annotations

import json
import time
from typing import Any

import redis

from workers.core import keys


def put_prepared(r: redis.Redis, batch_id: str, index: int, info: dict[str, Any], ttl: int) -> None:
    pipe = r.pipeline()
    pipe.hset(keys.batch(batch_id, "prepared"), index, json.dumps(info))
    pipe.expire(keys.batch(batch_id, "prepared"), ttl)
    pipe.execute()


def prepared(r: redis.Redis, batch_id: str) -> dict[int, dict[str, Any]]:
    return {int(k): json.loads(v) for k, v in r.hgetall(keys.batch(batch_id, "prepared")).items()}


def settled(r: redis.Redis, batch_id: str) -> bool:
    """Every line either answered (done) or prepared for a provider batch."""
    pipe = r.pipeline(transaction=False)
    pipe.hget(keys.batch(batch_id), "total")
    pipe.smembers(keys.batch(batch_id, "done"))
    pipe.hkeys(keys.batch(batch_id, "prepared"))
    total, done, ready = pipe.execute()
    if total is None:
        return False
    return len({int(i) for i in done} | {int(i) for i in ready}) >= int(total)


def groups(r: redis.Redis, batch_id: str) -> dict[int, dict[str, Any]]:
    return dict(sorted((int(k), json.loads(v)) for k, v in r.hgetall(keys.batch(batch_id, "groups")).items()))


def plan(r: redis.Redis, batch_id: str, planned: dict[int, dict[str, Any]], ttl: int) -> dict[int, dict[str, Any]]:
    """Record the plan once (the first writer wins; the plan is a pure function of the settled lines anyway)."""
    key = keys.batch(batch_id, "groups")
    pipe = r.pipeline()
    for k, g in planned.items():
        pipe.hsetnx(key, k, json.dumps(g))
    pipe.expire(key, ttl)
    pipe.execute()
    return groups(r, batch_id)


def update(r: redis.Redis, batch_id: str, k: int, group: dict[str, Any]) -> None:
    group["updated_at"] = time.time()
    r.hset(keys.batch(batch_id, "groups"), k, json.dumps(group))


def schedule(r: redis.Redis, batch_id: str, due: float) -> None:
    r.zadd(keys.BATCH_TICKS, {batch_id: due})


def unschedule(r: redis.Redis, batch_id: str) -> None:
    r.zrem(keys.BATCH_TICKS, batch_id)


def overdue(r: redis.Redis, now: float, limit: int = 200) -> list[str]:
    return [b.decode() for b in r.zrangebyscore(keys.BATCH_TICKS, 0, now, start=0, num=limit)]
