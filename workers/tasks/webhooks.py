"""Webhook tasks: one attempt each, retried with backoff (workers/services/webhooks.py)."""
from __future__ import annotations

from celery import Task
from celery.exceptions import Retry

from workers.context import get_context
from workers.services.webhooks import deliver_batch, deliver_job
from workers.state import leases
from workers.tasks.celery import app


@app.task(name="ferry.webhook", bind=True, acks_late=True)
def send_job(self: Task, job_id: str) -> None:
    """``job.succeeded`` / ``job.failed`` / ``job.canceled`` to the job's webhook, with retries.

    Runs as the job's tracked ``webhook`` step (a lease while sending; the reaper re-sends it if the
    worker died), so a delivery is attempted at least once, always with the same ``webhook-id``."""
    ctx = get_context()
    try:
        with leases.tracked(ctx, job_id, "webhook") as go:
            delay = deliver_job(ctx, job_id, self.request.retries) if go else None
            if delay is not None:
                raise self.retry(countdown=delay, max_retries=ctx.settings.webhook_max_attempts)
    except Retry as exc:  # the next attempt waits its countdown: the reaper may not re-send it sooner
        when = exc.when if isinstance(exc.when, (int, float)) else 0
        leases.expect(ctx.redis, job_id, ["webhook"], when + ctx.settings.queue_deadline)
        raise


@app.task(name="ferry.batch_notify", bind=True, acks_late=True)
def send_batch(self: Task, batch_id: str) -> None:
    """``batch.completed`` / ``batch.failed`` / ``batch.cancelled`` to the batch's webhook."""
    ctx = get_context()
    delay = deliver_batch(ctx, batch_id, self.request.retries)
    if delay is not None:
        raise self.retry(countdown=delay, max_retries=ctx.settings.webhook_max_attempts)
