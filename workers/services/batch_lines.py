"""A batch's lines: started as jobs, counted once as they end, finalized into output and error files.

    ferry.batch_start: count lines, then one job per line ─▶ each line's job ends (notify) ─▶
    :func:`line_finished` stores its output line, counted once (Lua) ─▶ the last line queues
    ``ferry.batch_finalize``: output and error files written (deterministic ids: idempotent).

Lines that cannot run (not JSON, missing ``custom_id``, wrong ``url``, a body the job API refuses) are
answered in the error file, one line each. A canceled batch cancels its jobs; lines that had not
finished are reported with error code ``batch_cancelled``.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from workers.context import Context
from workers.core import keys, queue
from workers.core.errors import FerryError, http_status
from workers.state import batches as records
from workers.state import files as ferry_files
from workers.providers import batch_catalog, files_api
from workers.providers.batch_api import client
from workers.services import batch_native, jobs
from workers.services.batches import FINAL


def record_line(ctx: Context, batch_id: str, index: int, ok: bool, line: dict[str, Any],
                usage: dict[str, Any] | None = None, cost: dict[str, Any] | None = None) -> None:
    """Count one finished line exactly once; the line that completes the batch queues the finalize, another
    may be the one a batch with native lines waited for."""
    if batch_native.count_line(ctx, batch_id, index, ok, line, usage, cost) == 0:
        batch_native.line_counted(ctx, batch_id)


def _error_line(batch_id: str, index: int, custom_id: Any, code: str, message: str) -> dict[str, Any]:
    return {"id": batch_native.req_id(batch_id, index), "custom_id": custom_id if isinstance(custom_id, str) else None,
            "response": None, "error": {"code": code, "message": message, "line": index + 1}}


def line_finished(ctx: Context, job_id: str, record: dict[str, Any]) -> None:
    """A batch line's job ended (any way): store its output line and count it."""
    info = record["batch"]
    batch_id, index, custom_id = info["id"], int(info["index"]), info["custom_id"]
    job = ctx.store.view(job_id) or {"status": "failed", "error": {"type": "internal_error", "message": "job expired"}}
    req_id = f"batch_req_{job_id.removeprefix('job_')}"
    if info.get("native") and job["status"] == "running" and job.get("batch_line"):
        batch_native.line_prepared(ctx, batch_id, index, custom_id, job_id)  # its provider batch answers it later
        return
    if job["status"] == "succeeded":
        body = job.get("result") or {k: job.get(k) for k in ("provider_request", "delivery_plan", "usage_estimate")}
        line = {"id": req_id, "custom_id": custom_id,
                "response": {"status_code": 200, "request_id": job_id, "body": body}, "error": None}
        result = job.get("result") or {}
        record_line(ctx, batch_id, index, True, line, result.get("usage"), result.get("cost"))
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


def start(ctx: Context, batch_id: str) -> None:
    """Count the lines, then submit one job per valid line (resumable if redelivered)."""
    h = records.load(ctx.redis, batch_id)
    if not h or h["status"] in FINAL:
        return
    rec = json.loads(h["record"])
    tenant, file_id = rec["tenant"], rec["input_file_id"]
    try:
        total = sum(1 for _ in _lines(ctx, tenant, file_id))
    except FerryError as exc:  # the input file was deleted meanwhile
        fail(ctx, batch_id, "input_file_unreadable", exc.message)
        return
    if total == 0:
        fail(ctx, batch_id, "empty_file", "the input file has no request lines")
        return
    if total > ctx.settings.max_batch_lines:
        fail(ctx, batch_id, "too_many_requests",
              f"{total} lines; FERRY_MAX_BATCH_LINES is {ctx.settings.max_batch_lines}")
        return
    ctx.redis.hset(keys.batch(batch_id), "total", total)
    records.move(ctx.redis, batch_id, "in_progress", "validating")
    done = {int(i) for i in ctx.redis.smembers(keys.batch(batch_id, "done"))}
    submitted = {int(i) for i in ctx.redis.hkeys(keys.batch(batch_id, "jobs"))}
    seen: set[str] = set()
    any_native = False
    for index, raw in enumerate(_lines(ctx, tenant, file_id)):
        custom_id, body, code, message = _parse_line(raw, rec["endpoint"])
        if custom_id is not None and body is not None:
            if custom_id in seen:
                custom_id, body, code, message = custom_id, None, "duplicate_custom_id", \
                    f"custom_id {custom_id!r} is used by an earlier line"
            seen.add(custom_id)
        if index in done or index in submitted:
            any_native |= index in submitted and (rec.get("ferry") or {}).get("mode") != "jobs"
            continue  # a redelivered start: this line was handled before
        if ctx.redis.hget(keys.batch(batch_id), "status") == b"cancelling":
            record_line(ctx, batch_id, index, False,
                        _error_line(batch_id, index, custom_id, "batch_cancelled", "the batch was cancelled"))
            continue
        if body is None:
            record_line(ctx, batch_id, index, False, _error_line(batch_id, index, custom_id, code or "", message))
            continue
        native, refused = line_mode(ctx, rec, body)
        if refused:
            record_line(ctx, batch_id, index, False, _error_line(batch_id, index, custom_id, "no_batch_api", refused))
            continue
        any_native |= native
        submit_line(ctx, batch_id, rec, index, custom_id, body, native=native)
    if any_native:
        batch_native.kick(ctx, batch_id)  # settled already if the last lines were errors; else a re-check


def line_mode(ctx: Context, rec: dict[str, Any], body: dict[str, Any]) -> tuple[bool, str | None]:
    """(native?, why not) for one line under the batch's ``ferry.mode``: ``auto`` sends a line natively when
    its provider has a batch API Ferry drives, else as a job; ``native`` refuses the others; ``jobs`` never."""
    mode = (rec.get("ferry") or {}).get("mode", "auto")
    if mode == "jobs":
        return False, None
    try:
        provider = ctx.catalog.resolve(str(body.get("model")), region=ctx.settings.bedrock_region()).provider
    except FerryError:
        return False, None  # the job API answers the bad model name, per line
    name = batch_catalog.native_client(provider)
    unusable = getattr(client(name), "unavailable", None) if name else None
    why = unusable(ctx.settings) if unusable else None  # e.g. Bedrock without its service role
    if name and not why:
        return True, None
    if mode == "native":
        have = sorted(p for p in batch_catalog.get().batch if batch_catalog.native_client(p))
        return False, (f"{why}" if why else f"{provider} has no batch API Ferry can use (native mode: "
                       f"{', '.join(have)})") + "; use ferry.mode 'auto' or 'jobs' to run this line as a job"
    return False, None


def submit_line(ctx: Context, batch_id: str, rec: dict[str, Any], index: int, custom_id: str | None,
                body: dict[str, Any], *, native: bool) -> str | None:
    """Submit one line's job (a native one stops before the provider call); its error is the line's answer."""
    request: dict[str, Any] = {"request": body}
    if native and files_api.client_for(str(body.get("model", "")).partition("/")[0]) is not None:
        request["delivery"] = {"prefer": "file"}  # media used by many lines travels once, by Files-API id
    try:
        job = jobs.submit(ctx, rec["tenant"], request,
                          batch={"id": batch_id, "index": index, "custom_id": custom_id, "native": native})
    except FerryError as exc:
        err = exc.to_dict()
        line = {"id": batch_native.req_id(batch_id, index), "custom_id": custom_id,
                "response": {"status_code": exc.status, "request_id": None,
                             "body": {"error": {**err, "code": getattr(exc, "code", None)}}},
                "error": None}
        record_line(ctx, batch_id, index, False, line)
        return None
    pipe = ctx.redis.pipeline()
    pipe.hset(keys.batch(batch_id, "jobs"), index, job["id"])
    pipe.expire(keys.batch(batch_id, "jobs"), ctx.settings.job_ttl_seconds)
    pipe.execute()
    return str(job["id"])


def resubmit(ctx: Context, batch_id: str, index: int) -> None:
    """``ferry.fallback: "jobs"``: line ``index``, which its provider batch did not answer (expired, failed,
    refused), runs as an ordinary job, once (the fallback hash claims it)."""
    h = records.load(ctx.redis, batch_id)
    if not h or h["status"] in FINAL or ctx.redis.sismember(keys.batch(batch_id, "done"), index):
        return
    if not ctx.redis.hsetnx(keys.batch(batch_id, "fallback"), index, "pending"):
        return
    ctx.redis.expire(keys.batch(batch_id, "fallback"), ctx.settings.job_ttl_seconds)
    rec = json.loads(h["record"])
    for i, raw in enumerate(_lines(ctx, rec["tenant"], rec["input_file_id"])):
        if i == index:
            custom_id, body, _, _ = _parse_line(raw, rec["endpoint"])
            if body is not None:
                job = submit_line(ctx, batch_id, rec, index, custom_id, body, native=False)
                ctx.redis.hset(keys.batch(batch_id, "fallback"), index, job or "refused")
            return


def fail(ctx: Context, batch_id: str, code: str, message: str, param: str | None = "input_file_id") -> None:
    ctx.redis.hset(keys.batch(batch_id), "errors", json.dumps(
        {"object": "list", "data": [{"code": code, "message": message, "param": param, "line": None}]}))
    if records.move(ctx.redis, batch_id, "failed", "validating", "in_progress", "cancelling"):
        _notify(ctx, batch_id)


def cancel_lines(ctx: Context, batch_id: str) -> None:
    """Cancel every line's job; count the ones that are now over (the others count as they end); the native
    driver cancels the provider batches."""
    handed = {int(i) for i in ctx.redis.hkeys(keys.batch(batch_id, "prepared"))}
    if handed:
        batch_native.kick(ctx, batch_id)
    for index, job_id in ctx.redis.hgetall(keys.batch(batch_id, "jobs")).items():
        if int(index) in handed:
            continue  # handed to its provider batch: the driver cancels that and ends the line's job
        job_id = job_id.decode()
        ctx.store.cancel(job_id)
        if ctx.store.status(job_id) in ("succeeded", "failed", "canceled"):
            try:
                line_finished(ctx, job_id, ctx.store.record(job_id))
            except KeyError:
                pass


def finalize(ctx: Context, batch_id: str) -> None:
    """Write the output and error files (deterministic ids: a second run rewrites the same) and end."""
    h = records.load(ctx.redis, batch_id)
    if not h or h["status"] in FINAL:
        return
    rec = json.loads(h["record"])
    tenant, hexid = rec["tenant"], batch_id.removeprefix("batch_")
    ctx.redis.hsetnx(keys.batch(batch_id), "finalizing_at", int(time.time()))
    lines = sorted(((int(k), json.loads(v)) for k, v in ctx.redis.hgetall(keys.batch(batch_id, "lines")).items()),
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
        ctx.redis.hset(keys.batch(batch_id), mapping=fields)
    moved = records.move(ctx.redis, batch_id, "cancelled", "cancelling") or records.move(ctx.redis, batch_id, "completed", "in_progress",
                                                                     "validating")
    if moved:
        _notify(ctx, batch_id)


def _notify(ctx: Context, batch_id: str) -> None:
    rec = json.loads(ctx.redis.hget(keys.batch(batch_id), "record") or b"{}")
    if rec.get("webhook"):
        queue.send("ferry.batch_notify", batch_id)


