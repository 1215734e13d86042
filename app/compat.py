"""OpenAI's error shape for the OpenAI-compatible routes.

The official SDKs read ``{"error": {"message", "type", "param", "code"}}`` and retry
408/409/429/5xx unless the server says ``x-should-retry: false``. A Ferry chat call
that failed or timed out has already run (and retried) its job, so those answers carry
``x-should-retry: false`` and the job id, to poll instead of resubmitting.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from workers.services import jobs
from workers.core.errors import http_status
from workers.context import Context
from workers.state.idempotency import check_key
from workers.core.errors import FerryError


def status_for(error: dict[str, Any]) -> int:
    """The HTTP status a job's stored error answers with (an upstream 4xx keeps its status)."""
    return http_status(error)


def error_body(error: dict[str, Any], code: str | None = None, **extra: Any) -> dict[str, Any]:
    body = {"message": error.get("message", ""), "type": error.get("type", "internal_error"),
            "param": error.get("param"), "code": code or error.get("code")}
    for name in ("stage", "upstream_status"):
        if error.get(name) is not None:
            body[name] = error[name]
    body.update(extra)
    return {"error": body}


def error_response(error: dict[str, Any], status: int, *, code: str | None = None, retry: bool | None = None,
                   job_id: str | None = None) -> Response:
    extra = {"job_id": job_id} if job_id else {}
    resp = jsonify(error_body(error, code, **extra))
    resp.status_code = status
    if retry is not None:
        resp.headers["x-should-retry"] = "true" if retry else "false"
    if job_id:
        resp.headers["x-request-id"] = job_id
        resp.headers["Location"] = f"/v1/jobs/{job_id}"
    return resp


def run_and_wait(ctx: Context, tenant: str, body: dict[str, Any]) -> tuple[dict[str, Any], Response | None]:
    """Submit a job for a synchronous OpenAI endpoint and wait up to FERRY_CHAT_TIMEOUT.

    Returns (the job's view, None) when it succeeded, else (view, the OpenAI-style error response):
    the job's own error, 409 if canceled, 504 with the job id if it is still running. The same
    Idempotency-Key and body join the first request's job, so a retry after a 504 waits again.
    """
    job = jobs.submit(ctx, tenant, body, idempotency_key=check_key(request.headers.get("Idempotency-Key")))
    view = jobs.wait(ctx, tenant, job["id"], ctx.settings.chat_timeout, just_submitted=not job.get("_replayed"))
    status = view["status"]
    if status == "succeeded":
        return view, None
    if status == "failed":
        error = view.get("error") or {"type": "internal_error", "message": "the job failed"}
        return view, error_response(error, status_for(error), retry=False, job_id=job["id"])
    if status == "canceled":
        return view, error_response({"type": "conflict_error", "message": f"job {job['id']} was canceled"}, 409,
                                    code="job_canceled", retry=False, job_id=job["id"])
    return view, error_response(
        {"type": "timeout_error",
         "message": f"job {job['id']} is still {status} after {ctx.settings.chat_timeout:g} s "
                    f"(FERRY_CHAT_TIMEOUT); poll GET /v1/jobs/{job['id']} for its result"},
        504, code="job_timeout", retry=False, job_id=job["id"])


def openai_errors(bp: Blueprint) -> Blueprint:
    """Answer errors raised in ``bp``'s views in OpenAI's shape (with ``code``)."""

    @bp.errorhandler(FerryError)
    def ferry_error(exc: FerryError) -> Response:
        return error_response(exc.to_dict(), exc.status, code=getattr(exc, "code", None))

    @bp.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        kind = {413: "too_large_error", 415: "unsupported_media_error", 404: "not_found_error",
                405: "invalid_request_error"}.get(exc.code or 500, "invalid_request_error")
        return error_response({"type": kind, "message": exc.description or exc.name}, exc.code or 500)

    return bp


def query_int(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = lo - 1
    if not lo <= value <= hi:
        from workers.core.errors import BadRequest

        raise BadRequest(f"{name} must be an integer from {lo} to {hi}", param=name)
    return value
