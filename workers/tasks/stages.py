"""The stage tasks: thin Celery wrappers that run a stage function through the step runner.

    per resource, in parallel: ferry.fetch → ferry.inspect → ferry.plan → ferry.transform → ferry.deliver
    then ferry.complete (queued by the last delivery) and ferry.notify (queued by the job's end)

Tasks take ids, not objects. A task whose worker died is redelivered (acks_late + reject_on_worker_lost)
or re-sent by the reaper; the step runner (workers/pipeline/steps.py) makes every step run once.
"""
from __future__ import annotations

from collections.abc import Callable

from celery import Task
from celery.exceptions import Ignore

from workers.context import Context, get_context
from workers.pipeline import complete as completion
from workers.pipeline import stages
from workers.pipeline.steps import MAX_RETRIES, RESOURCE_STAGES, RetryLater, Skip, resource_delivered, run_step
from workers.services.notify import job_ended
from workers.state.leases import tracked
from workers.tasks.celery import app


def _run(task: Task, job_id: str, index: int | None, stage: str, fn: Callable[[Context], None]) -> bool:
    """The step runner's outcome in Celery's terms: Skip -> Ignore, RetryLater -> retry with its countdown."""
    try:
        return run_step(get_context(), job_id, index, stage, fn, task.request.retries)
    except Skip:
        raise Ignore() from None
    except RetryLater as later:
        raise task.retry(countdown=later.delay, exc=later.cause) from None


def _resource_task(stage: str) -> Task:
    stage_fn = getattr(stages, stage)

    def run(self: Task, job_id: str, index: int) -> None:
        _run(self, job_id, index, stage, lambda ctx: stage_fn(ctx, job_id, index))
        if stage == "deliver":
            resource_delivered(get_context(), job_id, index)

    run.__name__ = stage
    run.__doc__ = f"Resource stage {stage!r} for one resource of a job."
    return app.task(name=f"ferry.{stage}", bind=True, max_retries=MAX_RETRIES)(run)


fetch, inspect, plan, transform, deliver = (_resource_task(s) for s in RESOURCE_STAGES)


@app.task(name="ferry.complete", bind=True, max_retries=MAX_RETRIES)
def complete(self: Task, job_id: str) -> None:
    """Build the provider-native request, call the provider, store the result (the success queues notify)."""
    _run(self, job_id, None, "complete", lambda ctx: completion.complete(ctx, job_id))


@app.task(name="ferry.notify", bind=True)
def notify(self: Task, job_id: str) -> None:
    """After a job ended, however it ended: metrics, its batch line, its webhook (workers/services/notify.py)."""
    ctx = get_context()
    with tracked(ctx, job_id, "notify") as go:  # once per job, re-sent by the reaper if lost
        if go:
            job_ended(ctx, job_id)
