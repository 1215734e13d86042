"""A stage step's bookkeeping in two Redis round trips: one script to begin it, one to end it.

Beginning a step counts the delivery, checks it did not finish already, takes its lease, tracks it
as running and moves the job to the step's stage, then hands back the fields the step needs (its
resource and the job record). Ending it records the step once in the job's steps set and timeline,
writes the resource the step produced, expects the next steps and releases the lease. Each is one
Lua script, so no crash can leave a step half begun or half ended; the records are those described
in :mod:`workers.state.leases` and :mod:`workers.state.jobs`.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis

from workers.core import keys
from workers.core.keys import REQUEUES, RUNNING
from workers.core.records import JobRecord, Resource

# KEYS: attempts, steps set, lease, running zset, job hash, requeues hash.
# ARGV: step, max attempts, ttl (s), lease value, lease ms, lease deadline, running member, stage, now,
#       the resource field ('' for a job-level step).
# Returns {'exhausted', n} | {'done'} | {'held', value} | {'ended'} | {'go', resource json, record json}.
_BEGIN = """
local attempts = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
if attempts > tonumber(ARGV[2]) then return {'exhausted', attempts} end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[4], ARGV[7])
  redis.call('HDEL', KEYS[6], ARGV[7])
  return {'done'}
end
local held = redis.call('GET', KEYS[3])
if held then return {'held', held} end
local status = redis.call('HGET', KEYS[5], 'status')
if not status or status == 'succeeded' or status == 'failed' or status == 'canceled' then return {'ended'} end
redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5])
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[7])
redis.call('HSET', KEYS[5], 'status', 'running', 'stage', ARGV[8], 'updated_at', ARGV[9])
local res = false
if ARGV[10] ~= '' then res = redis.call('HGET', KEYS[5], ARGV[10]) end
return {'go', res, redis.call('HGET', KEYS[5], 'record')}
"""

# KEYS: attempts, steps set, timeline, running zset, requeues hash, lease, job hash, ready set.
# ARGV: step, timeline entry, ttl (s), running member, lease value, resource field ('' none), resource json,
#       the resource index to join ('' none: not a resource's last step), complete's member and deadline,
#       then (member, deadline) pairs of the steps expected next.
# Returns 2 when this join found every resource ready (and expects complete), else 1.
_END = """
redis.call('DEL', KEYS[1])
if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then
  redis.call('RPUSH', KEYS[3], ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  redis.call('EXPIRE', KEYS[3], ARGV[3])
end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[7], ARGV[6], ARGV[7]) end
redis.call('ZREM', KEYS[4], ARGV[4])
redis.call('HDEL', KEYS[5], ARGV[4])
for i = 11, #ARGV, 2 do redis.call('ZADD', KEYS[4], ARGV[i + 1], ARGV[i]) end
if redis.call('GET', KEYS[6]) == ARGV[5] then redis.call('DEL', KEYS[6]) end
if ARGV[8] == '' then return 1 end
redis.call('SADD', KEYS[8], ARGV[8])
redis.call('EXPIRE', KEYS[8], ARGV[3])
if redis.call('SCARD', KEYS[8]) < tonumber(redis.call('HGET', KEYS[7], 'n_resources') or '0') then return 1 end
redis.call('ZADD', KEYS[4], ARGV[10], ARGV[9])
return 2
"""


# Steps outside the stage runner (notify, webhook): done once their done key exists (or, for a stage
# step, once in the steps set). KEYS: steps set, done key, lease, running zset, requeues hash.
# ARGV: step, lease value, lease ms, lease deadline, running member.
# Returns {'done'} | {'held', value} | {'go'}.
_TRACK_BEGIN = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('ZREM', KEYS[4], ARGV[5])
  redis.call('HDEL', KEYS[5], ARGV[5])
  return {'done'}
end
local held = redis.call('GET', KEYS[3])
if held then return {'held', held} end
redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[5])
return {'go'}
"""

# KEYS: done key, running zset, requeues hash, lease. ARGV: ttl (s), running member, lease value,
#       then (member, deadline) pairs of the steps expected next.
_TRACK_END = """
redis.call('SET', KEYS[1], 1, 'EX', ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
for i = 4, #ARGV, 2 do redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i]) end
if redis.call('GET', KEYS[4]) == ARGV[3] then redis.call('DEL', KEYS[4]) end
return 1
"""


@dataclass
class Begun:
    """What beginning a step found: ``outcome`` is go, done, held, ended or exhausted."""

    outcome: str
    resource: Resource | None = None
    record: JobRecord | None = None
    holder: str | None = None
    attempts: int = 0


def _text(value: Any) -> str | None:
    if value is None or value is False:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


class Ledger:
    def __init__(self, client: redis.Redis, ttl_seconds: int) -> None:
        self.r = client
        self.ttl = ttl_seconds
        self._begin = client.register_script(_BEGIN)
        self._track_begin = client.register_script(_TRACK_BEGIN)
        self._track_end = client.register_script(_TRACK_END)

    def begin(self, job_id: str, step: str, stage: str, index: int | None, *, max_attempts: int,
              lease_value: str, lease_seconds: float) -> Begun:
        """Count this delivery and, unless the step is done, held, over its attempts or its job ended,
        take its lease and move the job to ``stage``; the step's resource and the record come back."""
        got = self._begin(keys=self._begin_keys(job_id, step),
                          args=self._begin_args(job_id, step, stage, index, max_attempts, lease_value, lease_seconds))
        return self.begun(got)

    def begin_on(self, pipe: redis.client.Pipeline, job_id: str, step: str, stage: str, index: int | None, *,
                 max_attempts: int, lease_value: str, lease_seconds: float) -> None:
        """Queue :meth:`begin` on ``pipe`` (after the end of the step before it, in the same round trip); read
        its reply with :meth:`begun`. EVAL for the reason given in :meth:`end`."""
        pipe.eval(_BEGIN, 6, *self._begin_keys(job_id, step),
                  *self._begin_args(job_id, step, stage, index, max_attempts, lease_value, lease_seconds))

    @staticmethod
    def _begin_keys(job_id: str, step: str) -> list[str]:
        return [keys.job_attempts(job_id, step), keys.job_steps(job_id), keys.lease(job_id, step), RUNNING,
                keys.job(job_id), REQUEUES]

    def _begin_args(self, job_id: str, step: str, stage: str, index: int | None, max_attempts: int,
                    lease_value: str, lease_seconds: float) -> list[Any]:
        now = time.time()
        return [step, max_attempts, self.ttl, lease_value, int(lease_seconds * 1000), now + lease_seconds,
                keys.running_member(job_id, step), stage, int(now), f"res:{index}" if index is not None else ""]

    @staticmethod
    def begun(got: Any) -> Begun:
        """The begin script's reply as a :class:`Begun`."""
        outcome = _text(got[0]) or ""
        if outcome == "exhausted":
            return Begun(outcome, attempts=int(got[1]))
        if outcome == "held":
            return Begun(outcome, holder=_text(got[1]))
        if outcome != "go":
            return Begun(outcome)
        res, record = _text(got[1]), _text(got[2])
        return Begun(outcome, resource=json.loads(res) if res else None,
                     record=json.loads(record) if record else None)

    def end(self, pipe: redis.client.Pipeline, job_id: str, step: str, index: int | None, resource: Resource | None,
            lease_value: str, next_steps: dict[str, float], join_within: float | None = None) -> None:
        """Queue the end of a step on ``pipe`` (the caller sends it with its other writes in one trip).

        ``join_within`` (a resource's last step): count resource ``index`` as ready in the same script and,
        if it was the last, expect ``complete`` within that many seconds; the script's reply is then 2."""
        join = join_within is not None and index is not None
        args: list[Any] = [step, json.dumps({"step": step, "at": round(time.time(), 3)}), self.ttl,
                           keys.running_member(job_id, step), lease_value,
                           f"res:{index}" if index is not None and resource is not None else "",
                           json.dumps(resource) if resource is not None else "",
                           index if join else "", keys.running_member(job_id, "complete"),
                           time.time() + (join_within or 0)]
        for name, deadline in next_steps.items():
            args += [keys.running_member(job_id, name), deadline]
        # EVAL, not a registered Script: redis-py checks a pipeline's Scripts with SCRIPT EXISTS first, one
        # more round trip per step; Redis caches the compiled body by its hash either way.
        pipe.eval(_END, 8, keys.job_attempts(job_id, step), keys.job_steps(job_id), keys.job_timeline(job_id),
                  RUNNING, REQUEUES, keys.lease(job_id, step), keys.job(job_id), keys.job_ready(job_id), *args)

    def track_begin(self, job_id: str, step: str, *, lease_value: str, lease_seconds: float) -> Begun:
        """Begin a tracked step (notify, webhook): ``done`` (and stop expecting it), ``held``, or ``go``
        with its lease taken and its deadline pushed to the lease's."""
        got = self._track_begin(
            keys=[keys.job_steps(job_id), keys.step_done(job_id, step), keys.lease(job_id, step), RUNNING,
                  REQUEUES],
            args=[step, lease_value, int(lease_seconds * 1000), time.time() + lease_seconds,
                  keys.running_member(job_id, step)])
        outcome = _text(got[0]) or ""
        return Begun(outcome, holder=_text(got[1]) if outcome == "held" else None)

    def track_end(self, job_id: str, step: str, lease_value: str, next_steps: dict[str, float]) -> None:
        """Mark a tracked step done, stop expecting it, expect ``next_steps``, release its lease."""
        args: list[Any] = [self.ttl, keys.running_member(job_id, step), lease_value]
        for name, deadline in next_steps.items():
            args += [keys.running_member(job_id, name), deadline]
        self._track_end(keys=[keys.step_done(job_id, step), RUNNING, REQUEUES, keys.lease(job_id, step)], args=args)
