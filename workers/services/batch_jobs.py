"""A native batch line's job while its provider batch runs, and its end (issue 13).

A native line's job keeps its provider request and then waits (workers/pipeline/batch_prepare.py): ``running``
at stage ``batch``, its ``status_detail`` saying for what ("waiting for its openai batch (not created yet)", then
"waiting for the openai batch batch_…" once the driver created it). The driver (workers/services/batch_native.py)
ends it when the line is answered: ``succeeded`` with the provider's answer as ``result``, ``failed`` with the
provider's error (or the line's: too large, expired, refused), ``canceled`` with its batch. The end goes through
the status compare-and-set, so an answer that comes twice (a redelivered collection) ends it once, and a job a
user canceled stays canceled. Its ``notify`` already ran when it was handed to its batch (that hand-off is what
notify does for a waiting line), so the end counts the job's metrics here; batch line jobs carry no webhook.
"""
from __future__ import annotations

import json
from typing import Any

from workers.context import Context
from workers.core import keys
from workers.state.metrics import job_ended as count_job

#: The job error type of a line's own error code (the rest are the provider's: upstream_error).
_TYPES = {"line_too_large": "too_large_error"}


def waiting(ctx: Context, group: dict[str, Any], job_ids: list[str]) -> None:
    """The group's provider batch exists: its lines' jobs say which one they wait for."""
    detail = json.dumps(f"waiting for the {group['provider']} batch {group['id']}")
    pipe = ctx.redis.pipeline(transaction=False)
    for job_id in job_ids:
        pipe.hset(keys.job(job_id), "status_detail", detail)
    pipe.execute()


def answered(ctx: Context, info: dict[str, Any], line: dict[str, Any], group: dict[str, Any] | None) -> None:
    """End the line's job from its output/error line (once; an ended job keeps its status)."""
    job_id = info.get("job_id")
    if not job_id:
        return
    by = f"the {group['provider']} batch {group['id']}" if group and group.get("id") else "Ferry, before a provider batch"
    response, error = line.get("response") or {}, line.get("error") or {}
    if response.get("status_code") == 200:
        moved = ctx.store.succeed(job_id, response.get("body"), notify=False,
                                  status_detail=json.dumps(f"answered by {by}"))
    elif error.get("code") == "batch_cancelled":
        moved = ctx.store.set_status(job_id, "canceled", notify=False, stage="canceled",
                                     status_detail=json.dumps(f"cancelled with {by}"))
    else:
        moved = ctx.store.set_status(job_id, "failed", notify=False, stage="batch", error=_error(response, error),
                                     status_detail=json.dumps(f"answered by {by}"))
    if moved:
        view = ctx.store.view(job_id)
        if view is not None:
            count_job(ctx.redis, view)


def _error(response: dict[str, Any], error: dict[str, Any]) -> dict[str, Any]:
    """The job's ``error`` (Ferry's error shape) from the line's provider error body or its own error."""
    if error:
        return {"type": _TYPES.get(str(error.get("code")), "upstream_error"), "code": error.get("code"),
                "message": error.get("message"), "stage": "batch"}
    body = (response.get("body") or {}).get("error") or {}
    status = response.get("status_code")
    return {"type": "upstream_error", "message": body.get("message") or f"the provider answered {status}",
            "stage": "batch", **({"upstream_status": status} if status else {})}
