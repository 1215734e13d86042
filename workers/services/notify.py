"""What follows a job's end, once per job (run by the ``ferry.notify`` task): metrics, its batch line,
and its webhook, queued as a tracked step of its own. A native batch line's job runs it when its request is
kept (still ``running``, waiting for its provider batch): that hands the line to its batch, and the batch's
collector ends the job and counts it later (workers/services/batch_native.py)."""
from __future__ import annotations

import json

from workers.context import Context
from workers.core import keys, queue
from workers.services import batch_lines
from workers.services.webhooks import job_event
from workers.state import leases
from workers.state.jobs import TERMINAL
from workers.state.metrics import job_ended as count_job


def job_ended(ctx: Context, job_id: str) -> None:
    """Everything that follows a job's end: metrics, its batch line, and its webhook."""
    found = ctx.store.ended_facts(job_id)
    if found is None:
        return  # expired
    record, view = found
    if record.get("batch"):
        batch_lines.line_finished(ctx, job_id, record)
    if view["status"] not in TERMINAL:
        return  # a native batch line handed to its batch: it has not ended yet
    count_job(ctx.redis, view)
    if (record.get("webhook") or {}).get("url"):
        # A tracked step of its own: if this worker dies before or while sending, the reaper re-sends it.
        ctx.redis.hsetnx(keys.job(job_id), "webhook", json.dumps(
            {"url": record["webhook"]["url"], "event": job_event(view["status"]), "status": "pending",
             "attempts": []}))
        leases.expect(ctx.redis, job_id, ["webhook"], ctx.settings.queue_deadline)
        queue.send("ferry.webhook", job_id)
