"""OpenAI's Batch API on Ferry jobs: every JSONL line is a job on any provider.

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
import secrets
import time
from collections.abc import Iterator
from typing import Any

from workers import ferry_files
from workers.context import Context
from workers.errors import BadRequest, FerryError, NotFound, http_status

ENDPOINTS = ("/v1/chat/completions",)
COMPLETION_WINDOWS = ("24h",)
ACTIVE = ("validating", "in_progress", "cancelling")
FINAL = ("completed", "failed", "cancelled", "expired")

# KEYS: batch hash, done set, lines hash. ARGV: index, counter (completed|failed), line JSON,
# input tokens, output tokens, ttl. Returns -1 already counted, 1 "finalize now", 0 otherwise.
_RECORD_LINE = """
local added = redis.call('SADD', KEYS[2], ARGV[1])
if added == 1 then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
  redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
  redis.call('HINCRBY', KEYS[1], 'input_tokens', ARGV[4])
  redis.call('HINCRBY', KEYS[1], 'output_tokens', ARGV[5])
  redis.call('EXPIRE', KEYS[2], ARGV[6])
  redis.call('EXPIRE', KEYS[3], ARGV[6])
end
local total = tonumber(redis.call('HGET', KEYS[1], 'total') or '-1')
local status = redis.call('HGET', KEYS[1], 'status')
if total >= 0 and redis.call('SCARD', KEYS[2]) >= total
   and (status == 'in_progress' or status == 'cancelling' or status == 'validating') then
  return 1
end
if added == 0 then return -1 end
return 0
"""

# KEYS: batch hash. ARGV: new status, timestamp field, now, allowed current statuses...
_MOVE = """
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return -1 end
for i = 4, #ARGV do
  if cur == ARGV[i] then
    redis.call('HSET', KEYS[1], 'status', ARGV[1], ARGV[2], ARGV[3])
    return 1
  end
end
return 0
"""


def new_batch_id() -> str:
    return "batch_" + secrets.token_hex(12)


def _key(batch_id: str, part: str = "") -> str:
    return f"ferry:batch:{batch_id}" + (f":{part}" if part else "")


def _index(tenant: str) -> str:
    return f"ferry:tenant:{tenant}:batches"


def _move(ctx: Context, batch_id: str, status: str, *allowed: str) -> bool:
    script = ctx.redis.register_script(_MOVE)
    return script(keys=[_key(batch_id)], args=[status, f"{status}_at", int(time.time()), *allowed]) == 1


# -- create / read / list / cancel (the web tier) -------------------------------------------------

def _first_line(ctx: Context, tenant: str, file_id: str) -> bytes:
    with ferry_files.open_content(ctx, tenant, file_id) as fh:
        for raw in fh:
            if raw.strip():
                return raw.strip()
    return b""


def create(ctx: Context, tenant: str, body: Any) -> dict[str, Any]:
    """Validate what can be checked at once, commit the batch, queue its start."""
    from workers.webhooks import check_url

    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object", param="body")
    file_id = body.get("input_file_id")
    if not isinstance(file_id, str) or not file_id:
        raise BadRequest("input_file_id is required", param="input_file_id")
    endpoint = body.get("endpoint")
    if endpoint not in ENDPOINTS:
        raise BadRequest(f"endpoint must be one of {', '.join(ENDPOINTS)}", param="endpoint")
    window = body.get("completion_window")
    if window not in COMPLETION_WINDOWS:
        raise BadRequest(f"completion_window must be one of {', '.join(COMPLETION_WINDOWS)}",
                         param="completion_window")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict) or len(metadata) > 16 or not all(
            isinstance(k, str) and isinstance(v, str) and len(k) <= 64 and len(v) <= 512
            for k, v in metadata.items()):
        raise BadRequest("metadata must be at most 16 string pairs (keys <= 64, values <= 512 characters)",
                         param="metadata")
    webhook = body.get("webhook")
    if webhook is not None:
        if not isinstance(webhook, dict):
            raise BadRequest("webhook must be an object with a 'url'", param="webhook.url")
        check_url(webhook.get("url"), "webhook.url")
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

    batch_id = new_batch_id()
    now = time.time()
    record = {"id": batch_id, "tenant": tenant, "input_file_id": file_id, "endpoint": endpoint,
              "completion_window": window, "metadata": metadata, "webhook": webhook,
              "created_at": int(now), "expires_at": int(now) + 24 * 3600}
    pipe = ctx.redis.pipeline()
    pipe.hset(_key(batch_id), mapping={"record": json.dumps(record), "status": "validating",
                                       "completed": 0, "failed": 0, "input_tokens": 0, "output_tokens": 0})
    pipe.expire(_key(batch_id), ctx.settings.job_ttl_seconds)
    pipe.zadd(_index(tenant), {batch_id: now})
    pipe.execute()
    start.delay(batch_id)
    return view(ctx, batch_id)


def _hash(ctx: Context, batch_id: str) -> dict[str, str]:
    raw = ctx.redis.hgetall(_key(batch_id))
    return {k.decode(): v.decode() for k, v in raw.items()}


def view(ctx: Context, batch_id: str, h: dict[str, str] | None = None) -> dict[str, Any]:
    """The OpenAI ``batch`` object (plus ``webhook`` attempts when one is set)."""
    h = h if h is not None else _hash(ctx, batch_id)
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
    if "webhook" in h:
        result["webhook"] = json.loads(h["webhook"])
    elif rec.get("webhook"):
        result["webhook"] = {"url": rec["webhook"]["url"], "attempts": []}
    return result


def get(ctx: Context, tenant: str, batch_id: str) -> dict[str, Any]:
    h = _hash(ctx, batch_id)
    if not h or json.loads(h["record"]).get("tenant") != tenant:
        raise NotFound(f"no batch {batch_id!r}", param="batch_id")
    return view(ctx, batch_id, h)


def list_batches(ctx: Context, tenant: str, limit: int = 20, after: str | None = None) -> dict[str, Any]:
    """Newest first; ``after`` is the last id of the previous page (OpenAI's cursor)."""
    index = _index(tenant)
    start = 0
    if after:
        rank = ctx.redis.zrevrank(index, after)
        if rank is None:
            raise NotFound(f"no batch {after!r}", param="after")
        start = int(rank) + 1
    ids = [i.decode() for i in ctx.redis.zrevrange(index, start, start + limit)]
    data = []
    for batch_id in ids[:limit]:
        h = _hash(ctx, batch_id)
        if h:
            data.append(view(ctx, batch_id, h))
        else:  # expired with its jobs
            ctx.redis.zrem(index, batch_id)
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": len(ids) > limit}


def cancel(ctx: Context, tenant: str, batch_id: str) -> dict[str, Any]:
    """Cancel a running batch; a finished one is left as it is and answered as it is."""
    get(ctx, tenant, batch_id)
    if _move(ctx, batch_id, "cancelling", "validating", "in_progress"):
        cancel_lines.delay(batch_id)
    return get(ctx, tenant, batch_id)


# -- lines -----------------------------------------------------------------------------------------

def _req_id(batch_id: str, index: int) -> str:
    return f"batch_req_{batch_id.removeprefix('batch_')}_{index}"


def record_line(ctx: Context, batch_id: str, index: int, ok: bool, line: dict[str, Any],
                usage: dict[str, Any] | None = None) -> None:
    """Count one finished line exactly once; the line that completes the batch queues the finalize."""
    usage = usage or {}
    script = ctx.redis.register_script(_RECORD_LINE)
    outcome = script(keys=[_key(batch_id), _key(batch_id, "done"), _key(batch_id, "lines")],
                     args=[index, "completed" if ok else "failed", json.dumps(line),
                           int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0),
                           ctx.settings.job_ttl_seconds])
    if outcome == 1:
        finalize.delay(batch_id)


def _error_line(batch_id: str, index: int, custom_id: Any, code: str, message: str) -> dict[str, Any]:
    return {"id": _req_id(batch_id, index), "custom_id": custom_id if isinstance(custom_id, str) else None,
            "response": None, "error": {"code": code, "message": message, "line": index + 1}}


def line_finished(ctx: Context, job_id: str, record: dict[str, Any]) -> None:
    """A batch line's job ended (any way): store its output line and count it."""
    info = record["batch"]
    batch_id, index, custom_id = info["id"], int(info["index"]), info["custom_id"]
    job = ctx.store.view(job_id) or {"status": "failed", "error": {"type": "internal_error", "message": "job expired"}}
    req_id = f"batch_req_{job_id.removeprefix('job_')}"
    if job["status"] == "succeeded":
        body = job.get("result") or {k: job.get(k) for k in ("provider_request", "delivery_plan", "usage_estimate")}
        line = {"id": req_id, "custom_id": custom_id,
                "response": {"status_code": 200, "request_id": job_id, "body": body}, "error": None}
        record_line(ctx, batch_id, index, True, line, (job.get("result") or {}).get("usage"))
        return
    if job["status"] == "canceled":
        line = {"id": req_id, "custom_id": custom_id, "response": None,
                "error": {"code": "batch_cancelled", "message": f"request {job_id} was canceled"}}
        record_line(ctx, batch_id, index, False, line)
        return
    error = job.get("error") or {"type": "internal_error", "message": "the job failed"}
    body = {"error": {"message": error.get("message"), "type": error.get("type"), "param": error.get("param"),
                      "code": error.get("code"), **({"stage": error["stage"]} if error.get("stage") else {})}}
    line = {"id": req_id, "custom_id": custom_id,
            "response": {"status_code": http_status(error), "request_id": job_id, "body": body}, "error": None}
    record_line(ctx, batch_id, index, False, line)


def _lines(ctx: Context, tenant: str, file_id: str) -> Iterator[bytes]:
    with ferry_files.open_content(ctx, tenant, file_id) as fh:
        for raw in fh:
            if raw.strip():
                yield raw


def _parse_line(raw: bytes, endpoint: str) -> tuple[str | None, dict[str, Any] | None, str | None, str]:
    """-> (custom_id, body, error code, error message)."""
    try:
        item = json.loads(raw)
    except ValueError as exc:
        return None, None, "invalid_json_line", f"line is not valid JSON: {exc}"
    if not isinstance(item, dict):
        return None, None, "invalid_json_line", "line must be a JSON object"
    custom_id = item.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return None, None, "missing_custom_id", "custom_id must be a non-empty string"
    if item.get("method", "POST") != "POST":
        return custom_id, None, "invalid_method", "method must be POST"
    if item.get("url") != endpoint:
        return custom_id, None, "invalid_url", f"url must be {endpoint} (the batch's endpoint)"
    if not isinstance(item.get("body"), dict):
        return custom_id, None, "invalid_body", "body must be an object (a chat.completions body)"
    return custom_id, item["body"], None, ""


def _start(ctx: Context, batch_id: str) -> None:
    from workers import jobs

    h = _hash(ctx, batch_id)
    if not h or h["status"] in FINAL:
        return
    rec = json.loads(h["record"])
    tenant, file_id = rec["tenant"], rec["input_file_id"]
    try:
        total = sum(1 for _ in _lines(ctx, tenant, file_id))
    except FerryError as exc:  # the input file was deleted meanwhile
        _fail(ctx, batch_id, "input_file_unreadable", exc.message)
        return
    if total == 0:
        _fail(ctx, batch_id, "empty_file", "the input file has no request lines")
        return
    if total > ctx.settings.max_batch_lines:
        _fail(ctx, batch_id, "too_many_requests",
              f"{total} lines; FERRY_MAX_BATCH_LINES is {ctx.settings.max_batch_lines}")
        return
    ctx.redis.hset(_key(batch_id), "total", total)
    _move(ctx, batch_id, "in_progress", "validating")
    done = {int(i) for i in ctx.redis.smembers(_key(batch_id, "done"))}
    submitted = {int(i) for i in ctx.redis.hkeys(_key(batch_id, "jobs"))}
    seen: set[str] = set()
    for index, raw in enumerate(_lines(ctx, tenant, file_id)):
        custom_id, body, code, message = _parse_line(raw, rec["endpoint"])
        if custom_id is not None and body is not None:
            if custom_id in seen:
                custom_id, body, code, message = custom_id, None, "duplicate_custom_id", \
                    f"custom_id {custom_id!r} is used by an earlier line"
            seen.add(custom_id)
        if index in done or index in submitted:
            continue  # a redelivered start: this line was handled before
        if ctx.redis.hget(_key(batch_id), "status") == b"cancelling":
            record_line(ctx, batch_id, index, False,
                        _error_line(batch_id, index, custom_id, "batch_cancelled", "the batch was cancelled"))
            continue
        if body is None:
            record_line(ctx, batch_id, index, False, _error_line(batch_id, index, custom_id, code or "", message))
            continue
        try:
            job = jobs.submit(ctx, tenant, {"request": body},
                              batch={"id": batch_id, "index": index, "custom_id": custom_id})
        except FerryError as exc:
            err = exc.to_dict()
            line = {"id": _req_id(batch_id, index), "custom_id": custom_id,
                    "response": {"status_code": exc.status, "request_id": None,
                                 "body": {"error": {**err, "code": getattr(exc, "code", None)}}},
                    "error": None}
            record_line(ctx, batch_id, index, False, line)
            continue
        pipe = ctx.redis.pipeline()
        pipe.hset(_key(batch_id, "jobs"), index, job["id"])
        pipe.expire(_key(batch_id, "jobs"), ctx.settings.job_ttl_seconds)
        pipe.execute()


def _fail(ctx: Context, batch_id: str, code: str, message: str, param: str | None = "input_file_id") -> None:
    ctx.redis.hset(_key(batch_id), "errors", json.dumps(
        {"object": "list", "data": [{"code": code, "message": message, "param": param, "line": None}]}))
    if _move(ctx, batch_id, "failed", "validating", "in_progress", "cancelling"):
        _notify(ctx, batch_id)


def _cancel_lines(ctx: Context, batch_id: str) -> None:
    """Cancel every line's job; count the ones that are now over (the others count as they end)."""
    for index, job_id in ctx.redis.hgetall(_key(batch_id, "jobs")).items():
        job_id = job_id.decode()
        ctx.store.cancel(job_id)
        if ctx.store.status(job_id) in ("succeeded", "failed", "canceled"):
            try:
                line_finished(ctx, job_id, ctx.store.record(job_id))
            except KeyError:
                pass


def _finalize(ctx: Context, batch_id: str) -> None:
    """Write the output and error files (deterministic ids: a second run rewrites the same) and end."""
    h = _hash(ctx, batch_id)
    if not h or h["status"] in FINAL:
        return
    rec = json.loads(h["record"])
    tenant, hexid = rec["tenant"], batch_id.removeprefix("batch_")
    ctx.redis.hsetnx(_key(batch_id), "finalizing_at", int(time.time()))
    lines = sorted(((int(k), json.loads(v)) for k, v in ctx.redis.hgetall(_key(batch_id, "lines")).items()),
                   key=lambda kv: kv[0])
    ok = [line for _, line in lines if line.get("response") and line["response"].get("status_code") == 200]
    bad = [line for _, line in lines if not (line.get("response") and line["response"].get("status_code") == 200)]
    fields: dict[str, str] = {}
    for name, chosen, suffix in (("output_file_id", ok, "output"), ("error_file_id", bad, "errors")):
        if chosen:
            file_id = f"file-{hexid}{'o' if suffix == 'output' else 'e'}"
            data = "".join(json.dumps(line) + "\n" for line in chosen).encode()
            ferry_files.write_bytes(ctx, tenant, file_id, f"{batch_id}_{suffix}.jsonl", "batch_output", data)
            fields[name] = file_id
    if fields:
        ctx.redis.hset(_key(batch_id), mapping=fields)
    moved = _move(ctx, batch_id, "cancelled", "cancelling") or _move(ctx, batch_id, "completed", "in_progress",
                                                                     "validating")
    if moved:
        _notify(ctx, batch_id)


def _notify(ctx: Context, batch_id: str) -> None:
    rec = json.loads(ctx.redis.hget(_key(batch_id), "record") or b"{}")
    if rec.get("webhook"):
        from workers.webhooks import send_batch

        send_batch.delay(batch_id)


# -- Celery tasks (thin: load by id, call the function above) ---------------------------------------

from celery import Task  # noqa: E402

from workers.celery_app import app  # noqa: E402  (tasks after the functions they wrap)

#: A batch task that raises is retried this often (a Redis or storage hiccup), then fails its batch.
TASK_RETRIES = 3


def _guarded(task: Task, batch_id: str, step: str, run: Any) -> None:
    """Run a batch step; an unexpected error is retried, then fails the batch visibly (never left running)."""
    from workers.context import get_context

    ctx = get_context()
    try:
        run(ctx, batch_id)
    except Exception as exc:
        if task.request.retries < TASK_RETRIES:
            raise task.retry(countdown=2 ** task.request.retries, exc=exc)
        _fail(ctx, batch_id, "internal_error", f"{step} failed: {type(exc).__name__}: {exc}", param=None)
        raise


@app.task(name="ferry.batch_start", bind=True, acks_late=True, max_retries=TASK_RETRIES)
def start(self: Task, batch_id: str) -> None:
    """Count the lines, then submit one job per valid line (resumable if redelivered)."""
    _guarded(self, batch_id, "batch_start", _start)


@app.task(name="ferry.batch_cancel", bind=True, acks_late=True, max_retries=TASK_RETRIES)
def cancel_lines(self: Task, batch_id: str) -> None:
    _guarded(self, batch_id, "batch_cancel", _cancel_lines)


@app.task(name="ferry.batch_finalize", bind=True, acks_late=True, max_retries=TASK_RETRIES)
def finalize(self: Task, batch_id: str) -> None:
    _guarded(self, batch_id, "batch_finalize", _finalize)
