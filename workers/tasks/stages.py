"""The stage tasks: thin Celery wrappers that run a step, and the steps after it that may run here.

    per resource, in parallel: ferry.fetch → ferry.inspect → ferry.plan → ferry.transform → ferry.deliver
    then ferry.complete (after the last delivery) and ferry.notify (after the job's end)

A task runs its step through the step runner (workers/pipeline/steps.py), then carries its job on: the
next step runs in the same task when workers/pipeline/routing.py allows it (its home is this queue, or the
resource is light), and is queued otherwise; ``complete`` runs ``notify`` itself after a success. Each step
keeps its own lease, attempt count and timeline entry, so a kill anywhere is recovered as before: a
redelivered task finds its own step done and carries on from there, and the reaper re-sends a step whose
lease went silent. Tasks take ids, not objects.
"""
from __future__ import annotations

from functools import partial

from celery import Task
from celery.exceptions import Ignore

from workers.context import Context, get_context
from workers.core import queue
from workers.core.records import JobRecord, Resource
from workers.pipeline import complete as completion
from workers.pipeline import stages
from workers.pipeline.routing import RESOURCE_STAGES, STAGE_QUEUE, next_stage, runs_here
from workers.pipeline.steps import MAX_RETRIES, Ran, RetryLater, Skip, resource_delivered, run_step
from workers.services.notify import job_ended
from workers.state.leases import hold, tracked
from workers.tasks.celery import app


def _here(task: Task) -> str | None:
    """The queue this task's message came from."""
    return (task.request.delivery_info or {}).get("routing_key")


def _complete_fn(job_id: str, ctx: Context, res: Resource | None, record: JobRecord) -> None:
    completion.complete(ctx, job_id, record)


def carry_on(ctx: Context, job_id: str, index: int, stage: str, here: str | None, retries: int) -> None:
    """Run resource step ``stage``, then each next step that may run here; queue the first that may not."""
    ran: Ran | None = None
    while True:
        try:
            ran = run_step(ctx, job_id, index, stage, getattr(stages, stage), retries, here, begun_before=ran)
        except RetryLater as later:  # the same step again after its countdown, one retry more
            queue.send(f"ferry.{stage}", job_id, index, countdown=later.delay, retries=retries + 1)
            return
        nxt = next_stage(stage)
        if nxt is None:  # delivered: the last resource to get here runs or queues complete
            ready = ran.all_ready if ran.all_ready is not None else resource_delivered(ctx, job_id, index, here)
            if ready:
                if here == STAGE_QUEUE["complete"]:
                    finish(ctx, job_id, 0)
                else:
                    queue.send("ferry.complete", job_id)
            return
        res = ran.resource if ran.resource is not None else ctx.store.resource(job_id, index)
        if not runs_here(nxt, res, here, ctx.settings):
            if ran.next_lease is not None:  # (the step runner begins a next step only where it runs here)
                ran.next_lease.release()
            queue.send(f"ferry.{nxt}", job_id, index)
            return
        stage, retries = nxt, 0


def finish(ctx: Context, job_id: str, retries: int) -> None:
    """``complete``, then (once the job ended, however) ``notify`` in the same task."""
    try:
        run_step(ctx, job_id, None, "complete", partial(_complete_fn, job_id), retries)
    except RetryLater as later:
        queue.send("ferry.complete", job_id, countdown=later.delay, retries=retries + 1)
        return
    except Skip:
        return  # it failed (fail queued notify), was canceled, or another worker runs it
    run_notify(ctx, job_id)  # it succeeded, now or before (a redelivery); notify runs once either way


def run_notify(ctx: Context, job_id: str) -> None:
    with tracked(ctx, job_id, "notify") as go:  # once per job, re-sent by the reaper if lost
        if go:
            job_ended(ctx, job_id)


def _resource_task(stage: str) -> Task:
    def run(self: Task, job_id: str, index: int) -> None:
        ctx = get_context()
        hold(ctx.settings, "received")  # test hook: a message taken but its step not yet begun
        try:
            carry_on(ctx, job_id, index, stage, _here(self), self.request.retries)
        except Skip:
            raise Ignore() from None

    run.__name__ = stage
    run.__doc__ = f"Resource stage {stage!r} for one resource of a job, and the steps after it that run here."
    return app.task(name=f"ferry.{stage}", bind=True, max_retries=MAX_RETRIES)(run)


fetch, inspect, plan, transform, deliver = (_resource_task(s) for s in RESOURCE_STAGES)


@app.task(name="ferry.complete", bind=True, max_retries=MAX_RETRIES)
def complete(self: Task, job_id: str) -> None:
    """Build the provider-native request, call the provider, store the result, then notify."""
    finish(get_context(), job_id, self.request.retries)


@app.task(name="ferry.notify", bind=True)
def notify(self: Task, job_id: str) -> None:
    """After a job ended, however it ended: metrics, its batch line, its webhook (workers/services/notify.py)."""
    run_notify(get_context(), job_id)
