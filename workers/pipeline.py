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

from celery import Task, chain, group
from celery.exceptions import Ignore

from workers import stages
from workers.celery_app import app
from workers.context import Context, get_context
from workers.errors import FerryError

log = logging.getLogger("ferry.pipeline")

RESOURCE_STAGES = ("fetch", "inspect", "plan", "transform", "deliver")
MAX_RETRIES = 4


def total_steps(n_resources: int) -> int:
    return n_resources * len(RESOURCE_STAGES) + 1


def _run(task: Task, job_id: str, index: int | None, stage: str, fn: Callable[[Context], None]) -> None:
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
    if not store.start_stage(job_id, stage):
        raise Ignore()  # canceled or already ended: stop this chain quietly
    param = None
    try:
        if index is not None:
            param = store.resource(job_id, index).get("part")
        fn(ctx)
    except FerryError as exc:
        store.r.delete(attempts_key)
        if exc.retryable and task.request.retries < MAX_RETRIES:
            delay = min(60, 2 ** task.request.retries) * (0.5 + random.random())
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
    store.finish_step(job_id, step)


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
        complete.delay(job_id)


@app.task(name="ferry.complete", bind=True, max_retries=MAX_RETRIES)
def complete(self: Task, job_id: str) -> None:
    """Build the provider-native request, call the provider, store the result."""
    _run(self, job_id, None, "complete", lambda ctx: stages.complete(ctx, job_id))
    notify.delay(job_id)


@app.task(name="ferry.notify", bind=True)
def notify(self: Task, job_id: str) -> None:
    """Hook point for webhooks (job.succeeded / job.failed)."""
    record = get_context().store.record(job_id)
    if record.get("webhook"):
        log.info("job %s: webhook delivery is not implemented yet", job_id)


def enqueue(job_id: str, n_resources: int) -> None:
    """Start a committed job's canvas."""
    if n_resources == 0:
        complete.delay(job_id)
        return
    group(
        chain(*(getattr(stage_task, "si")(job_id, i) for stage_task in (fetch, inspect, plan, transform, deliver)))
        for i in range(n_resources)
    ).apply_async()
