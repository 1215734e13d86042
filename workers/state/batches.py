"""Batch records in Redis (the logic is in workers/services/batches.py and batch_lines.py).

``ferry:batch:<id>`` (hash: ``record`` JSON, ``status``, ``total``, ``completed``, ``failed``, token sums,
timestamps, file ids), ``…:done`` (set of finished line indexes: a redelivered task counts nothing twice),
``…:lines`` (index → output line JSON), ``…:jobs`` (index → job id); all expiring with the jobs.
Status moves and line counts are Lua scripts, so concurrent workers agree.
"""
from __future__ import annotations

import json
import secrets
import time
from typing import Any

import redis

from workers.core import keys

# KEYS: batch hash, done set, lines hash. ARGV: index, counter (completed|failed), line JSON,
# input tokens, output tokens, ttl. Returns -1 already counted, 1 "finalize now", 0 otherwise.
_RECORD_LINE = """
local added = redis.call('SADD', KEYS[2], ARGV[1])
if added == 1 then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
  redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
  redis.call('HINCRBY', KEYS[1], 'input_tokens', ARGV[4])
  redis.call('HINCRBY', KEYS[1], 'output_tokens', ARGV[5])
  redis.call('EXPIRE', KEYS[2], ARGV[6])
  redis.call('EXPIRE', KEYS[3], ARGV[6])
end
local total = tonumber(redis.call('HGET', KEYS[1], 'total') or '-1')
local status = redis.call('HGET', KEYS[1], 'status')
if total >= 0 and redis.call('SCARD', KEYS[2]) >= total
   and (status == 'in_progress' or status == 'cancelling' or status == 'validating') then
  return 1
end
if added == 0 then return -1 end
return 0
"""

# KEYS: batch hash. ARGV: new status, timestamp field, now, allowed current statuses...
_MOVE = """
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return -1 end
for i = 4, #ARGV do
  if cur == ARGV[i] then
    redis.call('HSET', KEYS[1], 'status', ARGV[1], ARGV[2], ARGV[3])
    return 1
  end
end
return 0
"""



#: A batch's end states.
FINAL = ("completed", "failed", "cancelled", "expired")


def new_batch_id() -> str:
    return "batch_" + secrets.token_hex(12)


def move(r: redis.Redis, batch_id: str, status: str, *allowed: str) -> bool:
    """Set ``status`` (and ``<status>_at``) if the batch is in one of ``allowed``."""
    return r.register_script(_MOVE)(keys=[keys.batch(batch_id)],
                                    args=[status, f"{status}_at", int(time.time()), *allowed]) == 1


def load(r: redis.Redis, batch_id: str) -> dict[str, str]:
    """The batch hash, decoded ({} when there is no such batch)."""
    return {k.decode(): v.decode() for k, v in r.hgetall(keys.batch(batch_id)).items()}


def create(r: redis.Redis, record: dict[str, Any], ttl: int) -> None:
    pipe = r.pipeline()
    pipe.hset(keys.batch(record["id"]), mapping={"record": json.dumps(record), "status": "validating",
                                                 "completed": 0, "failed": 0, "input_tokens": 0, "output_tokens": 0})
    pipe.expire(keys.batch(record["id"]), ttl)
    pipe.zadd(keys.tenant_batches(record["tenant"]), {record["id"]: time.time()})
    pipe.execute()


def count_line(r: redis.Redis, batch_id: str, index: int, ok: bool, line: dict[str, Any],
               usage: dict[str, Any], ttl: int) -> int:
    """Store and count one finished line once: -1 already counted, 1 "finalize now", 0 otherwise."""
    return int(r.register_script(_RECORD_LINE)(
        keys=[keys.batch(batch_id), keys.batch(batch_id, "done"), keys.batch(batch_id, "lines")],
        args=[index, "completed" if ok else "failed", json.dumps(line),
              int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0), ttl]))


def add_cost(r: redis.Redis, batch_id: str, cost: dict[str, Any] | None) -> None:
    """Add one counted line's cost (USD as billed, and what it would have cost synchronously)."""
    if not cost or cost.get("usd") is None:
        return
    pipe = r.pipeline()
    pipe.hincrbyfloat(keys.batch(batch_id), "cost_usd", float(cost["usd"]))
    pipe.hincrbyfloat(keys.batch(batch_id), "sync_usd", float(cost.get("sync_usd", cost["usd"])))
    pipe.execute()
