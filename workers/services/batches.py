"""OpenAI's Batch API on Ferry jobs: every JSONL line is a job on any provider (create, read, list, cancel;
the lines' lifecycle is in workers/services/batch_lines.py, the records in workers/state/batches.py).

    POST /v1/batches ─▶ batch "validating" ─▶ ferry.batch_start: count lines, then one job per line
    each line's job ends ─▶ line_finished: its output line is stored, counted once (Lua, atomic)
    the last line counted ─▶ ferry.batch_finalize: output and error files written (idempotently)

Redis keys, all expiring with the jobs (``FERRY_JOB_TTL_SECONDS``):
``ferry:batch:<id>`` (hash: ``record`` JSON, ``status``, ``total``, ``completed``, ``failed``,
token sums, timestamps, file ids), ``…:done`` (set of finished line indexes: a redelivered
task counts nothing twice), ``…:lines`` (index → output line JSON), ``…:jobs`` (index → job id).

Lines that cannot run (not JSON, missing ``custom_id``, wrong ``url``, a body the job API
refuses) are answered in the error file, one line each, never by failing the batch silently.
A canceled batch cancels its jobs; lines that had not finished are reported with error code
``batch_cancelled``. Output lines are shaped as OpenAI writes them:
``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}``.
"""
from __future__ import annotations

import json
import time
from typing import Any

from workers.context import Context
from workers.core import keys, queue
from workers.core.errors import BadRequest, NotFound
from workers.services import batch_native, schemas
from workers.state import batches as records
from workers.state import files as ferry_files

ENDPOINTS = ("/v1/chat/completions",)
COMPLETION_WINDOWS = ("24h",)
FINAL = records.FINAL

# -- create / read / list / cancel (the web tier) -------------------------------------------------

def _first_line(ctx: Context, tenant: str, file_id: str) -> bytes:
    with ferry_files.open_content(ctx, tenant, file_id) as fh:
        for raw in fh:
            if raw.strip():
                return raw.strip()
    return b""


def create(ctx: Context, tenant: str, body: Any) -> dict[str, Any]:
    """Validate what can be checked at once, commit the batch, queue its start."""
    fields = schemas.parse(schemas.BatchBody, body)
    file_id, endpoint, window = fields.input_file_id, fields.endpoint, fields.completion_window
    metadata = fields.metadata or {}
    webhook = fields.webhook.model_dump() if fields.webhook else None
    ferry = (fields.ferry or schemas.BatchFerry()).model_dump()
    rec = ferry_files.record(ctx, tenant, file_id, param="input_file_id")
    if rec.get("purpose") != "batch":
        raise BadRequest(f"file {file_id} has purpose {rec.get('purpose')!r}; a batch input needs purpose 'batch'",
                         param="input_file_id")
    first = _first_line(ctx, tenant, file_id)
    if not first:
        raise BadRequest(f"file {file_id} has no request lines", param="input_file_id")
    try:
        if not isinstance(json.loads(first), dict):
            raise ValueError("not an object")
    except ValueError as exc:
        err = BadRequest(f"file {file_id} is not JSONL: line 1 is not a JSON object ({exc})", param="input_file_id")
        err.code = "invalid_jsonl"  # type: ignore[attr-defined]
        raise err from exc

    batch_id = records.new_batch_id()
    now = time.time()
    record = {"id": batch_id, "tenant": tenant, "input_file_id": file_id, "endpoint": endpoint,
              "completion_window": window, "metadata": metadata, "webhook": webhook, "ferry": ferry,
              "created_at": int(now), "expires_at": int(now) + 24 * 3600}
    records.create(ctx.redis, record, ctx.settings.job_ttl_seconds)
    created = view(ctx, batch_id)  # read before the start is queued: a fast worker may move it on at once
    queue.send("ferry.batch_start", batch_id)
    return created


def view(ctx: Context, batch_id: str, h: dict[str, str] | None = None) -> dict[str, Any]:
    """The OpenAI ``batch`` object (plus ``webhook`` attempts when one is set)."""
    h = h if h is not None else records.load(ctx.redis, batch_id)
    if not h:
        raise NotFound(f"no batch {batch_id!r}", param="batch_id")
    rec = json.loads(h["record"])

    def ts(name: str) -> int | None:
        return int(h[name]) if name in h else None

    total = int(h.get("total", 0))
    inp, out = int(h.get("input_tokens", 0)), int(h.get("output_tokens", 0))
    result: dict[str, Any] = {
        "id": batch_id, "object": "batch", "endpoint": rec["endpoint"],
        "errors": json.loads(h["errors"]) if "errors" in h else None,
        "input_file_id": rec["input_file_id"], "completion_window": rec["completion_window"],
        "status": h["status"], "output_file_id": h.get("output_file_id"), "error_file_id": h.get("error_file_id"),
        "created_at": rec["created_at"], "in_progress_at": ts("in_progress_at"), "expires_at": rec["expires_at"],
        "finalizing_at": ts("finalizing_at"), "completed_at": ts("completed_at"), "failed_at": ts("failed_at"),
        "expired_at": None, "cancelling_at": ts("cancelling_at"), "cancelled_at": ts("cancelled_at"),
        "request_counts": {"total": total, "completed": int(h.get("completed", 0)), "failed": int(h.get("failed", 0))},
        "metadata": rec.get("metadata") or None,
        "usage": {"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out,
                  "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}},
    }
    result["ferry"] = batch_native.view(ctx, batch_id, h, rec)
    if "webhook" in h:
        result["webhook"] = json.loads(h["webhook"])
    elif rec.get("webhook"):
        result["webhook"] = {"url": rec["webhook"]["url"], "attempts": []}
    return result


def get(ctx: Context, tenant: str, batch_id: str) -> dict[str, Any]:
    h = records.load(ctx.redis, batch_id)
    if not h or json.loads(h["record"]).get("tenant") != tenant:
        raise NotFound(f"no batch {batch_id!r}", param="batch_id")
    return view(ctx, batch_id, h)


def list_batches(ctx: Context, tenant: str, limit: int = 20, after: str | None = None) -> dict[str, Any]:
    """Newest first; ``after`` is the last id of the previous page (OpenAI's cursor)."""
    index = keys.tenant_batches(tenant)
    start = 0
    if after:
        rank = ctx.redis.zrevrank(index, after)
        if rank is None:
            raise NotFound(f"no batch {after!r}", param="after")
        start = int(rank) + 1
    ids = [i.decode() for i in ctx.redis.zrevrange(index, start, start + limit)]
    data = []
    for batch_id in ids[:limit]:
        h = records.load(ctx.redis, batch_id)
        if h:
            data.append(view(ctx, batch_id, h))
        else:  # expired with its jobs
            ctx.redis.zrem(index, batch_id)
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": len(ids) > limit}


def cancel(ctx: Context, tenant: str, batch_id: str) -> dict[str, Any]:
    """Cancel a running batch; a finished one is left as it is and answered as it is."""
    get(ctx, tenant, batch_id)
    if records.move(ctx.redis, batch_id, "cancelling", "validating", "in_progress"):
        queue.send("ferry.batch_cancel", batch_id)
    return get(ctx, tenant, batch_id)
