"""Run one stage step of a job, once, crash-safely; and start a committed job. No Celery here.

    per resource, in parallel: fetch → inspect → plan → transform → deliver
    once every resource is delivered: complete         (its success, or any end, queues notify)

A step runs under a heartbeat lease (workers/state/leases.py), so a duplicate delivery of a step a live
worker runs is dropped and a dead one is taken over; a step already finished is never run again; a step
whose worker died too often fails the job instead of looping. The task layer (workers/tasks/stages.py)
turns :class:`Skip` and :class:`RetryLater` into Celery's ``Ignore`` and ``retry``.
"""
from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from workers.context import Context
from workers.core import keys, queue
from workers.core.errors import FerryError
from workers.state import leases, retention
from workers.state.metrics import stage_timer

log = logging.getLogger("ferry.pipeline")

RESOURCE_STAGES = ("fetch", "inspect", "plan", "transform", "deliver")
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
        k = RESOURCE_STAGES.index(stage) + 1
        return [f"{RESOURCE_STAGES[k]}:{index}"] if k < len(RESOURCE_STAGES) else []
    return []  # complete's successor, notify, is expected by the status change itself (JobStore.set_status)


def run_step(ctx: Context, job_id: str, index: int | None, stage: str, fn: Callable[[Context], None],
             retries: int = 0) -> bool:
    """Run one step once: False if it had already finished (a redelivery), True when it ran now.

    Raises :class:`Skip` (do nothing more) or :class:`RetryLater`; ``retries`` is how often the step
    was retried already (each retry is one more delivery the attempt counter allows)."""
    store, r = ctx.store, ctx.redis
    step = step_name(stage, index)
    attempts_key = keys.job_attempts(job_id, step)
    attempts = r.incr(attempts_key)
    r.expire(attempts_key, ctx.settings.job_ttl_seconds)
    if attempts > ctx.settings.max_deliveries + retries:
        store.fail(job_id, {"type": "internal_error", "stage": stage,
                            "message": f"the worker died {attempts - 1} times running {stage}; giving up"})
        raise Skip()
    if r.sismember(keys.job_steps(job_id), step):
        r.delete(attempts_key)  # redelivered after it finished: do not run it twice
        leases.settle(r, job_id, step)
        return False
    lease = leases.Lease.acquire(r, job_id, step, ctx.settings.lease_seconds)
    if lease is None:
        raise Skip()  # a live worker runs this very step and carries the chain on
    try:
        with lease:
            _run_leased(ctx, job_id, index, stage, step, attempts_key, fn, retries)
    except RetryLater as later:  # the retry must wait its countdown: the reaper may not requeue it sooner
        leases.expect(r, job_id, [step], later.delay + ctx.settings.queue_deadline)
        raise
    return True


def _run_leased(ctx: Context, job_id: str, index: int | None, stage: str, step: str, attempts_key: str,
                fn: Callable[[Context], None], retries: int) -> None:
    store = ctx.store
    if not store.start_stage(job_id, stage):
        raise Skip()  # canceled or already ended: stop this chain quietly
    param = None
    try:
        if index is not None:
            param = store.resource(job_id, index).get("part")
        leases.hold(ctx.settings, stage)
        with stage_timer(ctx.redis, stage):
            fn(ctx)
    except FerryError as exc:
        ctx.redis.delete(attempts_key)
        if exc.retryable and retries < MAX_RETRIES:
            delay = retry_delay(retries, getattr(exc, "retry_after", None), ctx.settings.retry_after_max)
            log.info("job %s: %s retry %d in %.1f s: %s", job_id, step, retries + 1, delay, exc)
            raise RetryLater(delay, exc) from exc
        store.fail(job_id, exc.with_context(param=param, stage=stage).to_dict())
        raise Skip() from exc
    except Exception as exc:  # never lose a job to an unexpected error: fail it, say why
        ctx.redis.delete(attempts_key)
        log.exception("job %s: %s failed", job_id, step)
        error = {"type": "internal_error", "message": f"{type(exc).__name__}: {exc}", "stage": stage,
                 **({"param": param} if param else {})}
        store.fail(job_id, error)
        raise Skip() from exc
    ctx.redis.delete(attempts_key)
    if index is not None and stage in ("fetch", "transform"):
        retention.track_resource(ctx, job_id, index)  # media kept while a live job references it
    store.finish_step(job_id, step)
    leases.settle(ctx.redis, job_id, step, _next_steps(stage, index), ctx.settings.queue_deadline)


def resource_delivered(ctx: Context, job_id: str, index: int) -> None:
    """The join: the last resource to be delivered queues ``complete`` (a Redis set counts each once)."""
    n = len(ctx.store.resources(job_id))
    if ctx.store.mark_ready(job_id, index) >= n:
        leases.expect(ctx.redis, job_id, ["complete"], ctx.settings.queue_deadline)
        queue.send("ferry.complete", job_id)


def enqueue(ctx: Context, job_id: str, n_resources: int) -> None:
    """Start a committed job (its first steps tracked, so a lost message is re-sent by the reaper)."""
    leases.expect(ctx.redis, job_id, [f"fetch:{i}" for i in range(n_resources)] or ["complete"],
                  ctx.settings.queue_deadline)
    if n_resources == 0:
        queue.send("ferry.complete", job_id)
        return
    queue.send_chains([[(f"ferry.{stage}", (job_id, i)) for stage in RESOURCE_STAGES] for i in range(n_resources)])
