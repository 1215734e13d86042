"""Job records in Redis.

A job is one hash ``ferry:job:<id>``: an immutable ``record`` (tenant, request,
options) written once before anything is enqueued, and mutable fields that
tasks update independently (``status``, ``stage``, one ``res:<i>`` per
resource, ``result``, ``error``), so parallel resource tasks never overwrite
each other. Progress and the resource join are Redis sets, so a redelivered
task adds nothing twice. Status changes go through a compare-and-set script:
once a job is succeeded, failed or canceled it stays so.
"""
from __future__ import annotations

import json
import secrets
import time
from typing import Any

import redis

from workers.core import keys, queue
from workers.core.keys import RUNNING
from workers.core.records import JobRecord, Resource

TERMINAL = ("succeeded", "failed", "canceled")
STAGES = ("fetch", "inspect", "plan", "transform", "deliver")

# KEYS: job hash, the reaper's pending steps (workers/state/leases.py), the job's steps set, its timeline.
# ARGV: new status, updated_at, the notify member and its deadline, a step this change finishes ('' for
# none) with its timeline entry, the TTL, '1' to expect ``notify`` though the status is not an end, then
# field/value pairs to set. An ending status expects the job's ``notify`` step, and success records
# ``complete`` as finished, all in this one script: no crash between them can lose the webhook, the batch
# line or the step. An end also pushes onto KEYS[5], which waiters block on (:meth:`JobStore.wait_view`).
_SET_STATUS = """
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return -1 end
if cur == 'succeeded' or cur == 'failed' or cur == 'canceled' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'updated_at', ARGV[2])
for i = 9, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[1] == 'succeeded' or ARGV[1] == 'failed' or ARGV[1] == 'canceled' then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
  redis.call('RPUSH', KEYS[5], ARGV[1])
  redis.call('EXPIRE', KEYS[5], 3600)
elseif ARGV[8] == '1' then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
end
if ARGV[5] ~= '' and redis.call('SADD', KEYS[3], ARGV[5]) == 1 then
  redis.call('RPUSH', KEYS[4], ARGV[6])
  redis.call('EXPIRE', KEYS[3], ARGV[7])
  redis.call('EXPIRE', KEYS[4], ARGV[7])
end
return 1
"""


def _resources(h: dict[str, Any]) -> list[Resource]:
    """The ``res:<i>`` entries of a job's hash (keys decoded), in order."""
    n = int(h.get("n_resources", 0))
    return [json.loads(h[f"res:{i}"]) for i in range(n) if f"res:{i}" in h]


def new_job_id() -> str:
    return "job_" + secrets.token_hex(12)


def _now() -> int:
    return int(time.time())


class JobStore:
    def __init__(self, client: redis.Redis, ttl_seconds: int, notify_within: float = 300.0,
                 lease_seconds: float = 15.0) -> None:
        self.r = client
        self.ttl = ttl_seconds
        self.notify_within = notify_within
        self.lease_seconds = lease_seconds
        self._set_status = client.register_script(_SET_STATUS)

    # keys -------------------------------------------------------------
    _key = staticmethod(keys.job)

    # writes -----------------------------------------------------------
    def create(self, record: JobRecord, resources: list[Resource], pipe: redis.client.Pipeline | None = None) -> None:
        """Commit the job before anything is enqueued (on ``pipe``: with the caller's other writes, which
        it executes)."""
        job_id = record["id"]
        now = _now()
        fields: dict[str, str] = {
            "record": json.dumps(record),
            "status": "queued",
            "stage": "queued",
            "created_at": str(now),
            "updated_at": str(now),
            "n_resources": str(len(resources)),
            "tenant": record["tenant"],  # (a waiter checks it without decoding the record: :meth:`peek`)
        }
        for i, res in enumerate(resources):
            fields[f"res:{i}"] = json.dumps(res)
        own = pipe is None
        pipe = self.r.pipeline() if pipe is None else pipe
        pipe.hset(self._key(job_id), mapping=fields)
        pipe.expire(self._key(job_id), self.ttl)
        pipe.zadd(keys.tenant_jobs(record["tenant"]), {job_id: now})
        if own:
            pipe.execute()

    def set_status(self, job_id: str, status: str, *, finishes: str = "", notify: bool = True,
                   expect_notify: bool = False, **fields: Any) -> bool:
        """Move a non-terminal job to ``status``; False if it already ended.

        Ending (succeeded, failed, canceled) expects the job's ``notify`` step in the same Redis script
        and queues it: if this process dies right after, the reaper sends it (workers/tasks/reaper.py).
        ``finishes`` names a stage step the change completes, recorded in the same script. ``notify=False``
        expects ``notify`` but does not queue it: the caller runs it next itself (the reaper covers a crash).
        ``expect_notify`` expects it for a status that is not an end (:meth:`await_batch`)."""
        entry = json.dumps({"step": finishes, "at": round(time.time(), 3)}) if finishes else ""
        # notify=False: the caller runs notify next, so a kill before it is noticed within a lease TTL.
        within = self.notify_within if notify else min(self.notify_within, self.lease_seconds)
        argv: list[str] = [status, str(_now()), keys.running_member(job_id, "notify"),
                           str(time.time() + within), finishes, entry, str(self.ttl), "1" if expect_notify else "0"]
        for name, value in fields.items():
            argv += [name, value if isinstance(value, str) else json.dumps(value)]
        moved = self._set_status(keys=[self._key(job_id), RUNNING, keys.job_steps(job_id),
                                       keys.job_timeline(job_id), keys.job_ended(job_id)], args=argv) == 1
        if moved and status in TERMINAL and notify:
            queue.send("ferry.notify", job_id)
        return moved

    def wait_view(self, job_id: str, timeout: float, tenant: str | None = None,
                  seen: dict[str, Any] | None = None, just_submitted: bool = False) -> dict[str, Any] | None:
        """The job's view once it ends, or after ``timeout`` seconds (its status says which); None if there is
        no such job (for ``tenant``). ``seen``: the view the caller just read, so an ended job costs no round
        trip; ``just_submitted``: the caller queued the job a moment ago, so the wait begins with the blocking
        pop. The view is read in the round trip that hands the wake-up token on to the job's other waiters."""
        deadline = time.monotonic() + timeout
        view, pending = seen, just_submitted
        if seen is None and not just_submitted:  # a cheap look first: a running job's view would be read twice
            status = self.peek(job_id, tenant)
            if status is None:
                return None
            if status in TERMINAL:
                return self.view(job_id, tenant)
            pending = True
        while True:
            left = deadline - time.monotonic()
            if view is not None and (view["status"] in TERMINAL or left <= 0):
                return view
            if view is None and not pending:
                return None
            pending = False
            # BLPOP takes whole seconds on old servers: wake at least every second to re-check the status.
            got = self.r.blpop([keys.job_ended(job_id)], timeout=max(0.01, min(left, 1.0)))
            pipe = self.r.pipeline(transaction=False)
            if got is not None:
                pipe.rpush(keys.job_ended(job_id), got[1])
                pipe.expire(keys.job_ended(job_id), 3600)
            found = self._read_view(pipe, job_id, tenant, skip=2 if got is not None else 0)
            view = found[1] if found is not None else None

    def peek(self, job_id: str, tenant: str | None = None) -> str | None:
        """The job's status in one small read; None if there is no such job (for ``tenant``)."""
        status, owner = self.r.hmget(self._key(job_id), ["status", "tenant"])
        if status is None:
            return None
        if tenant is not None:
            if owner is None:  # a job written before the hash kept its tenant
                return status.decode() if self.tenant_of(job_id) == tenant else None
            if owner.decode() != tenant:
                return None
        return status.decode()

    def start_stage(self, job_id: str, stage: str) -> bool:
        return self.set_status(job_id, "running", stage=stage)

    def update_resource(self, job_id: str, index: int, **fields: Any) -> Resource:
        """Merge fields into one resource entry (only that resource's task writes it)."""
        res = self.resource(job_id, index)
        res.update(fields)
        self.r.hset(self._key(job_id), f"res:{index}", json.dumps(res))
        return res

    def mark_ready(self, job_id: str, index: int) -> int:
        """Record resource ``index`` as delivered; returns how many are ready."""
        key = keys.job_ready(job_id)
        pipe = self.r.pipeline()
        pipe.sadd(key, index)
        pipe.expire(key, self.ttl)
        pipe.scard(key)
        return int(pipe.execute()[-1])

    def fail(self, job_id: str, error: dict[str, Any]) -> bool:
        return self.set_status(job_id, "failed", error=error, stage=error.get("stage") or "failed")

    def succeed(self, job_id: str, result: dict[str, Any] | None, notify: bool = True, **extra: Any) -> bool:
        """The job succeeded: its ``complete`` step is recorded and ``notify`` expected with it."""
        fields: dict[str, Any] = {"stage": "done", **extra}
        if result is not None:
            fields["result"] = result
        return self.set_status(job_id, "succeeded", finishes="complete", notify=notify, **fields)

    def await_batch(self, job_id: str, detail: str, **extra: Any) -> bool:
        """A native batch line's request is kept (issue 13): ``complete`` is recorded, the job stays ``running``
        at stage ``batch`` with ``status_detail`` saying what it waits for, and ``notify`` is expected, which
        hands the line to its batch (the caller runs it next). The provider batch's answer ends the job later."""
        return self.set_status(job_id, "running", finishes="complete", notify=False, expect_notify=True,
                               stage="batch", status_detail=json.dumps(detail), **extra)

    def cancel(self, job_id: str) -> str:
        """Cancel unless already ended; returns the resulting status (idempotent)."""
        self.set_status(job_id, "canceled", stage="canceled")
        return self.status(job_id) or "canceled"

    def put_field(self, job_id: str, name: str, value: Any) -> None:
        self.r.hset(self._key(job_id), name, json.dumps(value))

    # reads ------------------------------------------------------------
    def exists(self, job_id: str) -> bool:
        return bool(self.r.exists(self._key(job_id)))

    def status(self, job_id: str) -> str | None:
        value = self.r.hget(self._key(job_id), "status")
        return value.decode() if value else None

    def record(self, job_id: str) -> JobRecord:
        raw = self.r.hget(self._key(job_id), "record")
        if raw is None:
            raise KeyError(job_id)
        return json.loads(raw)

    def resource(self, job_id: str, index: int) -> Resource:
        raw = self.r.hget(self._key(job_id), f"res:{index}")
        if raw is None:
            raise KeyError(f"{job_id} res:{index}")
        return json.loads(raw)

    def resources(self, job_id: str, n: int | None = None) -> list[Resource]:
        """Every resource of the job; ``n``: how many it has, when the caller knows (one round trip less)."""
        if n is None:
            n = int(self.r.hget(self._key(job_id), "n_resources") or 0)
        if n == 0:
            return []
        raws = self.r.hmget(self._key(job_id), [f"res:{i}" for i in range(n)])
        return [json.loads(raw) for raw in raws if raw is not None]

    def field(self, job_id: str, name: str) -> Any:
        raw = self.r.hget(self._key(job_id), name)
        return json.loads(raw) if raw is not None else None

    def view(self, job_id: str, tenant: str | None = None) -> dict[str, Any] | None:
        """The public shape of a job (GET /v1/jobs/{id}), read in one round trip; None if it does not
        exist or (given ``tenant``) belongs to another tenant. Resources hold no base64 (blobs do)."""
        found = self.record_and_view(job_id, tenant)
        return found[1] if found is not None else None

    def ended_facts(self, job_id: str) -> tuple[JobRecord, dict[str, Any]] | None:
        """What follows a job's end needs (workers/services/notify.py): its record and a view of only
        ``status``, ``model``, ``resources`` and ``error``, in one read (no timeline, no result decoded)."""
        raw = self.r.hgetall(self._key(job_id))
        if not raw or b"record" not in raw:
            return None
        h = {k.decode(): v for k, v in raw.items()}
        record = json.loads(h["record"])
        facts: dict[str, Any] = {"status": h["status"].decode(), "model": record["model"], "resources": _resources(h)}
        if "error" in h:
            facts["error"] = json.loads(h["error"])
        return record, facts

    def record_and_view(self, job_id: str, tenant: str | None = None) -> tuple[JobRecord, dict[str, Any]] | None:
        """The job's record and its public view, from the same one round trip (see :meth:`view`)."""
        return self._read_view(self.r.pipeline(transaction=False), job_id, tenant)

    def _read_view(self, pipe: Any, job_id: str, tenant: str | None,
                   skip: int = 0) -> tuple[JobRecord, dict[str, Any]] | None:
        """Run ``pipe`` (its first ``skip`` commands someone else's) with the view's reads added."""
        pipe.hgetall(self._key(job_id))
        pipe.scard(keys.job_steps(job_id))
        pipe.lrange(keys.job_timeline(job_id), 0, -1)
        raw, done, timeline = pipe.execute()[skip:]
        if not raw or b"record" not in raw:
            return None
        record = json.loads(raw[b"record"])
        if tenant is not None and record.get("tenant") != tenant:
            return None
        h = {k.decode(): v for k, v in raw.items()}
        total = record.get("total_steps") or 1
        status = h["status"].decode()
        out: dict[str, Any] = {
            "id": job_id,
            "object": "job",
            "status": status,
            "stage": h["stage"].decode() if "stage" in h else None,
            # every step done but not succeeded (a native batch line waiting for its provider batch): not 100 %
            "progress": 1.0 if status == "succeeded" else round(min(done / total, 0.99), 3),
            "created_at": int(h["created_at"]),
            # created_at is whole seconds (OpenAI's shape); timeline entries are read against this one
            **({"submitted_at": round(float(record["submitted_at"]), 3)} if record.get("submitted_at") else {}),
            "updated_at": int(h["updated_at"]),
            "model": record["model"],
            **({"model_resolution": record["model_resolution"]} if record.get("model_resolution") else {}),
            "dry_run": record.get("dry_run", False),
            "metadata": record.get("metadata") or {},
            "resources": _resources(h),
            "timeline": [json.loads(x) for x in timeline],
        }
        for name in ("provider_request", "delivery_plan", "result", "error", "webhook", "usage_estimate", "batch_line",
                     "status_detail"):
            if name in h:
                out[name] = json.loads(h[name])
        return record, out

    def tenant_of(self, job_id: str) -> str | None:
        try:
            return self.record(job_id)["tenant"]
        except KeyError:
            return None
