"""Run one stage step of a job, once, crash-safely; and start a committed job. No Celery here.

    per resource, in parallel: fetch → inspect → plan → transform → deliver
    once every resource is delivered: complete         (then notify, after any end)

A step runs under a heartbeat lease (workers/state/leases.py), so a duplicate delivery of a step a live
worker runs is dropped and a dead one is taken over; a step already finished is never run again; a step
whose worker died too often fails the job instead of looping. The task layer (workers/tasks/stages.py)
runs a step and, where workers/pipeline/routing.py allows, the steps after it in the same task; it turns
:class:`Skip` into Celery's ``Ignore`` and :class:`RetryLater` into the step sent again with a countdown.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from workers.context import Context
from workers.core import keys, queue
from workers.core.errors import FerryError
from workers.core.keys import RUNNING
from workers.core.records import JobRecord, Resource
from workers.pipeline.routing import RESOURCE_STAGES, STAGE_QUEUE, next_stage, runs_here, start_queue
from workers.state import leases, retention
from workers.state.ledger import Begun
from workers.state.metrics import observe_stage

log = logging.getLogger("ferry.pipeline")

MAX_RETRIES = 4


class Skip(Exception):
    """The step must not run here: it already finished, a live worker runs it, or its job ended."""


@dataclass
class RetryLater(Exception):
    """A retryable failure: run the step again after ``delay`` seconds."""

    delay: float
    cause: FerryError


def total_steps(n_resources: int) -> int:
    return n_resources * len(RESOURCE_STAGES) + 1


def retry_delay(retries: int, retry_after: float | None, cap: float) -> float:
    """Exponential backoff with jitter (1, 2, 4, 8 s … × 0.5–1.5, at most 90 s), and never sooner than
    the provider's ``Retry-After`` (capped at FERRY_RETRY_AFTER_MAX, far below visibility_timeout)."""
    delay = min(60, 2 ** retries) * (0.5 + random.random())
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap) * (1 + 0.1 * random.random()))
    return delay


def step_name(stage: str, index: int | None) -> str:
    return f"{stage}:{index}" if index is not None else stage


def _next_steps(stage: str, index: int | None) -> list[str]:
    if index is not None:
        nxt = next_stage(stage)
        return [f"{nxt}:{index}"] if nxt else []
    return []  # complete's successor, notify, is expected by the status change itself (JobStore.set_status)


#: A stage function: (context, the step's resource or None, the job record) -> the updated resource, or
#: None when it changed nothing. The step's end writes the resource in the same script that records the step.
StageFn = Callable[[Context, Resource | None, JobRecord], Resource | None]


@dataclass
class Ran:
    """A step's outcome: ``ran`` is False when it had finished before (a redelivery)."""

    ran: bool
    resource: Resource | None = None
    all_ready: bool | None = None
    """After a resource's last step: whether it completed the join (None: not known, e.g. a redelivery)."""
    next_begun: Begun | None = None
    """The next step, begun in the round trip that ended this one (it runs in this task), with its lease."""
    next_lease: leases.Lease | None = None


def _begin(ctx: Context, job_id: str, step: str, stage: str, index: int | None, lease: leases.Lease,
           retries: int) -> Begun:
    return ctx.ledger.begin(job_id, step, stage, index, max_attempts=ctx.settings.max_deliveries + retries,
                            lease_value=lease.value, lease_seconds=lease.ttl)


def run_step(ctx: Context, job_id: str, index: int | None, stage: str, fn: StageFn, retries: int = 0,
             here: str | None = None, begun_before: Ran | None = None) -> Ran:
    """Run one step once. Raises :class:`Skip` (do nothing more) or :class:`RetryLater`; ``retries`` is
    how often the step was retried already (each retry is one more delivery the attempt counter allows).

    Its bookkeeping is two round trips (workers/state/ledger.py): one script begins it (count the
    delivery, check it is not done, lease, stage), one ends it (record, write its resource, expect next).
    ``here`` is the queue the running task came from: a next step it will run itself is expected within
    the lease TTL, not the queue deadline, so a kill between the two is noticed as soon as a lease's.
    ``begun_before``: the step before ran in this task and began this one in its end's round trip."""
    step = step_name(stage, index)
    if begun_before is not None and begun_before.next_begun is not None and begun_before.next_lease is not None:
        begun, lease = begun_before.next_begun, begun_before.next_lease
    else:
        lease = leases.Lease(ctx.redis, job_id, step, ctx.settings.lease_seconds)
        leases.Reservation.begun(job_id, step)  # from here its lease (or the step's end) covers it
        begun = _begin(ctx, job_id, step, stage, index, lease, retries)
    if begun.outcome == "exhausted":
        ctx.store.fail(job_id, {"type": "internal_error", "stage": stage,
                                "message": f"the worker died {begun.attempts - 1} times running {stage}; giving up"})
        raise Skip()
    if begun.outcome == "done":
        return Ran(False)  # redelivered after it finished: do not run it twice
    if begun.outcome == "ended":
        raise Skip()  # canceled or already ended: stop quietly
    if begun.outcome == "held":
        begun = _take_over(ctx, job_id, index, stage, lease, begun.holder)
    assert begun.record is not None
    lease.beat()
    try:
        return _run_leased(ctx, job_id, index, stage, step, lease, begun.resource, begun.record, fn, retries, here)
    except RetryLater as later:  # the retry must wait its countdown: the reaper may not requeue it sooner
        leases.expect(ctx.redis, job_id, [step], later.delay + ctx.settings.queue_deadline)
        raise


def _take_over(ctx: Context, job_id: str, index: int | None, stage: str, lease: leases.Lease,
               holder: str | None) -> Begun:
    """The step's lease is held: drop this delivery while the holder lives, else take the step over."""
    if lease.take_over(holder) is None:
        raise Skip()  # a live worker runs this very step and carries the job on
    lease.r.zadd(RUNNING, {keys.running_member(job_id, lease.step): time.time() + lease.ttl})
    if not ctx.store.start_stage(job_id, stage):
        lease.release()
        raise Skip()
    return Begun("go", ctx.store.resource(job_id, index) if index is not None else None, ctx.store.record(job_id))


def _run_leased(ctx: Context, job_id: str, index: int | None, stage: str, step: str, lease: leases.Lease,
                res: Resource | None, record: JobRecord, fn: StageFn, retries: int,
                here: str | None) -> Ran:
    param = res.get("part") if res else None
    started = time.monotonic()
    try:
        leases.hold(ctx.settings, stage)
        out = fn(ctx, res, record)
    except FerryError as exc:
        _failed(ctx, job_id, step, stage, lease, started)
        if exc.retryable and retries < MAX_RETRIES:
            delay = retry_delay(retries, getattr(exc, "retry_after", None), ctx.settings.retry_after_max)
            log.info("job %s: %s retry %d in %.1f s: %s", job_id, step, retries + 1, delay, exc)
            raise RetryLater(delay, exc) from exc
        ctx.store.fail(job_id, exc.with_context(param=param, stage=stage).to_dict())
        raise Skip() from exc
    except Exception as exc:  # never lose a job to an unexpected error: fail it, say why
        _failed(ctx, job_id, step, stage, lease, started)
        log.exception("job %s: %s failed", job_id, step)
        error = {"type": "internal_error", "message": f"{type(exc).__name__}: {exc}", "stage": stage,
                 **({"param": param} if param else {})}
        ctx.store.fail(job_id, error)
        raise Skip() from exc
    lease.stop()
    nxt = next_stage(stage) if index is not None else None
    stays = nxt is not None and runs_here(nxt, out if out is not None else res or {}, here, ctx.settings)
    deadline = time.time() + (ctx.settings.lease_seconds if stays else ctx.settings.queue_deadline)
    joins = index is not None and nxt is None  # a resource's last step: the join is in its end script
    pipe = ctx.redis.pipeline(transaction=False)
    ctx.ledger.end(pipe, job_id, step, index, out, lease.value, {s: deadline for s in _next_steps(stage, index)},
                   join_within=_complete_within(ctx, here) if joins else None)
    next_lease = None
    if stays and nxt is not None:  # the next step runs in this task: begin it in this same round trip
        next_lease = leases.Lease(ctx.redis, job_id, step_name(nxt, index), ctx.settings.lease_seconds)
        ctx.ledger.begin_on(pipe, job_id, next_lease.step, nxt, index, max_attempts=ctx.settings.max_deliveries,
                            lease_value=next_lease.value, lease_seconds=next_lease.ttl)
    observe_stage(pipe, stage, time.monotonic() - started)
    if out is not None and stage in ("fetch", "inspect", "transform"):
        retention.track(ctx, job_id, _new_blobs(stage, out), pipe=pipe)  # kept while a live job uses it
    replies = pipe.execute()
    return Ran(True, out if out is not None else res, all_ready=(int(replies[0]) == 2) if joins else None,
               next_begun=ctx.ledger.begun(replies[1]) if next_lease is not None else None, next_lease=next_lease)


def _new_blobs(stage: str, res: Resource) -> list[str | None]:
    """The blobs a step made the job use: fetch its source; inspect a PDF's preview; transform its outputs
    (a kept source is tracked already, by fetch or at submit)."""
    source = res.get("source", {}).get("sha256")
    if stage == "fetch":
        return [source]
    if stage == "inspect":
        return [res.get("preview", {}).get("sha256")]
    return [o.get("sha256") for o in res.get("outputs") or [] if o.get("sha256") != source]


def _complete_within(ctx: Context, here: str | None) -> float:
    """How soon ``complete`` must start once every resource is ready: a lease TTL when the joining task,
    on complete's own queue, runs it next; else the queue deadline."""
    return ctx.settings.lease_seconds if here == STAGE_QUEUE["complete"] else ctx.settings.queue_deadline


def _failed(ctx: Context, job_id: str, step: str, stage: str, lease: leases.Lease, started: float) -> None:
    ctx.redis.delete(keys.job_attempts(job_id, step))
    lease.release()
    observe_stage(ctx.redis, stage, time.monotonic() - started)


def resource_delivered(ctx: Context, job_id: str, index: int, here: str | None = None) -> bool:
    """The join: True for the delivery that completes it (a Redis set counts each resource once); that
    caller runs or queues ``complete``, which is expected from here on (within a lease TTL when the
    caller, on ``complete``'s own queue, runs it next)."""
    n = int(ctx.redis.hget(keys.job(job_id), "n_resources") or 0)
    if ctx.store.mark_ready(job_id, index) >= n:
        leases.expect(ctx.redis, job_id, ["complete"], _complete_within(ctx, here))
        return True
    return False


def expect_first(r: redis.Redis | redis.client.Pipeline, ctx: Context, job_id: str, n_resources: int) -> None:
    """Track a new job's first steps (on ``r``, which may be the submit's pipeline), so a lost message
    is re-sent by the reaper."""
    leases.expect(r, job_id, [f"fetch:{i}" for i in range(n_resources)] or ["complete"], ctx.settings.queue_deadline)


def enqueue(ctx: Context, job_id: str, resources: list[Resource], *, expected: bool = False,
            pipe: redis.client.Pipeline | None = None) -> None:
    """Start a committed job (``expected``: :func:`expect_first` already ran with the job's creation).
    With ``pipe``, the messages go out with the pipeline that commits the job.

    A job of light inline resources starts on ``llm`` and runs there in one task (workers/pipeline/routing.py)."""
    if not expected:
        expect_first(pipe if pipe is not None else ctx.redis, ctx, job_id, len(resources))
    if not resources:
        queue.send("ferry.complete", job_id, pipe=pipe)
        return
    to = start_queue(resources, ctx.settings)
    for i in range(len(resources)):
        queue.send("ferry.fetch", job_id, i, to=to, pipe=pipe)
