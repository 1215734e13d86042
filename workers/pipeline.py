"""The job as a Celery canvas of thin tasks that take ids, not objects.

    group(fetch → inspect → plan → transform → deliver  per resource) → complete → notify

Resources run in parallel; the last one to be delivered enqueues
``complete`` (the join is a Redis set, so a redelivered task counts once).
A task that fails the job stops its chain; a task whose worker died is
redelivered (acks_late + reject_on_worker_lost) but only a few times, so an
input that kills its worker every time fails the job instead of looping.
"""
from __future__ import annotations

import logging
import random
from collections.abc import Callable

from celery import Task, chain
from celery.exceptions import Ignore, Retry

from workers import reaper, retention, stages
from workers.celery_app import app
from workers.context import Context, get_context
from workers.errors import FerryError
from workers.metrics import stage_timer

log = logging.getLogger("ferry.pipeline")

RESOURCE_STAGES = ("fetch", "inspect", "plan", "transform", "deliver")
MAX_RETRIES = 4


def total_steps(n_resources: int) -> int:
    return n_resources * len(RESOURCE_STAGES) + 1


def retry_delay(retries: int, retry_after: float | None, cap: float) -> float:
    """Exponential backoff with jitter (1, 2, 4, 8 s … × 0.5–1.5, at most 90 s), and never sooner than
    the provider's ``Retry-After`` (capped at FERRY_RETRY_AFTER_MAX, far below visibility_timeout)."""
    delay = min(60, 2 ** retries) * (0.5 + random.random())
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap) * (1 + 0.1 * random.random()))
    return delay


def _next_steps(stage: str, index: int | None) -> list[str]:
    if index is not None:
        k = RESOURCE_STAGES.index(stage) + 1
        return [f"{RESOURCE_STAGES[k]}:{index}"] if k < len(RESOURCE_STAGES) else []
    return []  # complete's successor, notify, is expected by the status change itself (JobStore.set_status)


def _run(task: Task, job_id: str, index: int | None, stage: str, fn: Callable[[Context], None]) -> bool:
    """Run one step once: False if it had already finished (a redelivery), True when it ran now.

    Crash safety (workers/reaper.py): the step runs under a heartbeat lease, so a duplicate
    delivery of a step that a live worker is running is dropped, and a dead one is taken over.
    """
    ctx = get_context()
    store = ctx.store
    step = f"{stage}:{index}" if index is not None else stage
    attempts_key = f"ferry:job:{job_id}:attempts:{step}"
    attempts = store.r.incr(attempts_key)
    store.r.expire(attempts_key, ctx.settings.job_ttl_seconds)
    if attempts > ctx.settings.max_deliveries + task.request.retries:
        store.fail(job_id, {"type": "internal_error", "stage": stage,
                            "message": f"the worker died {attempts - 1} times running {stage}; giving up"})
        raise Ignore()
    if store.r.sismember(f"ferry:job:{job_id}:steps", step):
        store.r.delete(attempts_key)  # redelivered after it finished: do not run it twice
        reaper.settle(store.r, job_id, step)
        return False
    lease = reaper.Lease.acquire(store.r, job_id, step, ctx.settings.lease_seconds)
    if lease is None:
        raise Ignore()  # a live worker runs this very step and carries the chain on
    try:
        with lease:
            _run_leased(task, ctx, job_id, index, stage, step, attempts_key, fn)
    except Retry as exc:  # the retry must wait its countdown: the reaper may not requeue it sooner
        when = exc.when if isinstance(exc.when, (int, float)) else 0
        reaper.expect(store.r, job_id, [step], when + ctx.settings.queue_deadline)
        raise
    return True


def _run_leased(task: Task, ctx: Context, job_id: str, index: int | None, stage: str, step: str,
                attempts_key: str, fn: Callable[[Context], None]) -> None:
    store = ctx.store
    if not store.start_stage(job_id, stage):
        raise Ignore()  # canceled or already ended: stop this chain quietly
    param = None
    try:
        if index is not None:
            param = store.resource(job_id, index).get("part")
        reaper.hold(ctx.settings, stage)
        with stage_timer(store.r, stage):
            fn(ctx)
    except FerryError as exc:
        store.r.delete(attempts_key)
        if exc.retryable and task.request.retries < MAX_RETRIES:
            delay = retry_delay(task.request.retries, getattr(exc, "retry_after", None),
                                ctx.settings.retry_after_max)
            log.info("job %s: %s retry %d in %.1f s: %s", job_id, step, task.request.retries + 1, delay, exc)
            raise task.retry(countdown=delay, exc=exc)
        store.fail(job_id, exc.with_context(param=param, stage=stage).to_dict())
        raise Ignore()
    except Exception as exc:  # never lose a job to an unexpected error: fail it, say why
        store.r.delete(attempts_key)
        log.exception("job %s: %s failed", job_id, step)
        error = stages.fail_message(exc)
        error.update(stage=stage, **({"param": param} if param else {}))
        store.fail(job_id, error)
        raise Ignore()
    store.r.delete(attempts_key)
    if index is not None and stage in ("fetch", "transform"):
        retention.track_resource(ctx, job_id, index)  # media kept while a live job references it
    store.finish_step(job_id, step)
    reaper.settle(store.r, job_id, step, _next_steps(stage, index), ctx.settings.queue_deadline)


def _resource_task(stage: str) -> Task:
    stage_fn = getattr(stages, stage)

    def run(self: Task, job_id: str, index: int) -> None:
        _run(self, job_id, index, stage, lambda ctx: stage_fn(ctx, job_id, index))
        if stage == "deliver":
            _join(job_id, index)

    run.__name__ = stage
    run.__doc__ = f"Resource stage {stage!r} for one resource of a job."
    return app.task(name=f"ferry.{stage}", bind=True, max_retries=MAX_RETRIES)(run)


fetch, inspect, plan, transform, deliver = (_resource_task(s) for s in RESOURCE_STAGES)


def _join(job_id: str, index: int) -> None:
    store = get_context().store
    n = len(store.resources(job_id))
    if store.mark_ready(job_id, index) >= n:
        reaper.expect(store.r, job_id, ["complete"], get_context().settings.queue_deadline)
        complete.delay(job_id)


@app.task(name="ferry.complete", bind=True, max_retries=MAX_RETRIES)
def complete(self: Task, job_id: str) -> None:
    """Build the provider-native request, call the provider, store the result (the success queues notify)."""
    _run(self, job_id, None, "complete", lambda ctx: stages.complete(ctx, job_id))


@app.task(name="ferry.notify", bind=True)
def notify(self: Task, job_id: str) -> None:
    """After a job ended (queued by the status change, however it ended):
    metrics, its batch line, its signed webhook (workers/webhooks.py job_ended)."""
    from workers.webhooks import job_ended

    ctx = get_context()
    with reaper.tracked(ctx, job_id, "notify") as go:  # once per job, re-sent by the reaper if lost
        if not go:
            return
        job_ended(ctx, job_id)


def enqueue(ctx: Context, job_id: str, n_resources: int) -> None:
    """Start a committed job's canvas (its first steps tracked, so a lost message is re-sent by the reaper)."""
    reaper.expect(ctx.store.r, job_id, [f"fetch:{i}" for i in range(n_resources)] or ["complete"],
                  ctx.settings.queue_deadline)
    if n_resources == 0:
        complete.delay(job_id)
        return
    # One producer for every chain: a group's apply_async holds a pooled connection while each chain
    # acquires another, so concurrent submits (gunicorn threads) deadlocked once the pool ran dry.
    with app.producer_or_acquire() as producer:
        for i in range(n_resources):
            chain(*(stage_task.si(job_id, i) for stage_task in (fetch, inspect, plan, transform, deliver))
                  ).apply_async(producer=producer)


from workers import batches, webhooks  # noqa: E402,F401  (register their tasks with the worker)
