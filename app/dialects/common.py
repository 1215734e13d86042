"""What the dialects' blueprints share: the key as each SDK sends it, running the translated body as an
ordinary job (app/compat.py ``run_and_wait``, the path of ``POST /v1/chat/completions``), the result
as chat.completion (app/chat.py), errors raised in a view answered in the dialect's shape.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, jsonify, request, stream_with_context
from werkzeug.exceptions import HTTPException

from app.chat import dry_run_completion, job_body as chat_job_body
from app.auth import context, tenant_for_key
from app.compat import run_and_wait
from app.jobs import json_body
from workers.context import Context
from workers.core.errors import FerryError, Unauthorized
from workers.services import outputs

#: (status, Ferry error dict) -> (status, the dialect's error body)
ErrorShape = Callable[[int, dict[str, Any]], tuple[int, dict[str, Any]]]


def tenant(*headers: str, query_key: bool = False) -> str:
    """The caller's tenant from the first of ``headers`` sent (``authorization`` means a bearer key),
    or a ``?key=`` query parameter (Gemini)."""
    for name in headers:
        value = request.headers.get(name, "").strip()
        if name.lower() == "authorization":
            scheme, _, value = value.partition(" ")
            value = value.strip() if scheme.lower() == "bearer" else ""
        if value:
            return tenant_for_key(value)
    if query_key and request.args.get("key", "").strip():
        return tenant_for_key(request.args["key"])
    sent = ", ".join(headers) + (" or ?key=" if query_key else "")
    raise Unauthorized(f"missing API key: send it as {sent}")


def body() -> Any:
    """The JSON body under Ferry's size and depth limits (app/jobs.py)."""
    return json_body()


def job_body(chat_body: dict[str, Any], ferry: Any, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """The /v1/jobs body: the chat request plus the ``ferry`` extension object (checked as on chat);
    the dialect's own ``metadata`` is the job's unless ``ferry.metadata`` is given."""
    out = chat_job_body({**chat_body, "ferry": ferry})
    if metadata and "metadata" not in out:
        out["metadata"] = metadata
    return out


@dataclass
class Outcome:
    view: dict[str, Any]
    """The job's view (``id``, ``status``, ...)."""
    error: dict[str, Any] | None = None
    """Ferry's error (type, message, param, stage, code, job_id) when the job did not succeed in time."""
    status: int = 200
    response: Response | None = None
    """That error as /v1/chat/completions answers it (OpenAI's shape: the Responses dialect's own)."""


def run(ctx: Context, tenant_: str, job: dict[str, Any]) -> Outcome:
    """Submit and wait up to FERRY_CHAT_TIMEOUT, exactly as /v1/chat/completions does."""
    view, failure = run_and_wait(ctx, tenant_, job)
    if failure is None:
        return Outcome(view)
    return Outcome(view, (failure.get_json() or {}).get("error") or {}, failure.status_code, failure)


def completion(ctx: Context, tenant_: str, view: dict[str, Any], ferry: Any) -> dict[str, Any]:
    """The job's chat.completion as /v1/chat/completions answers it: a dry run's plan as its text,
    generated media inline (base64) unless ``ferry.options.outputs`` is ``url``."""
    result = view.get("result") or dry_run_completion(view)
    options = (ferry or {}).get("options") or {} if isinstance(ferry, dict) else {}
    return outputs.present(ctx, tenant_, result, inline=options.get("outputs", "inline") != "url",
                           base_url=request.host_url)


def answer(payload: Any, job_id: str | None, status: int = 200) -> Response:
    resp = jsonify(payload)
    resp.status_code = status
    if job_id:
        resp.headers["x-request-id"] = job_id
        resp.headers["request-id"] = job_id  # what the Anthropic SDK reads as _request_id
    return resp


def stream(events: Iterable[str], job_id: str) -> Response:
    resp = Response(stream_with_context(events), mimetype="text/event-stream")
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Accel-Buffering"] = "no"
    resp.headers["x-request-id"] = job_id
    resp.headers["request-id"] = job_id
    return resp


def error_response(shape: ErrorShape, status: int, err: dict[str, Any]) -> Response:
    """The dialect's error; a job that already ran (it has a ``job_id``) must not be resubmitted by the SDK."""
    code, payload = shape(status, err)
    resp = answer(payload, err.get("job_id"), code)
    if err.get("job_id"):
        resp.headers["x-should-retry"] = "false"
        resp.headers["Location"] = f"/v1/jobs/{err['job_id']}"
    return resp


def dialect_errors(bp: Blueprint, shape: ErrorShape) -> Blueprint:
    """Answer errors raised in ``bp``'s views in the dialect's shape."""

    @bp.errorhandler(FerryError)
    def ferry_error(exc: FerryError) -> Response:
        return error_response(shape, exc.status, exc.to_dict())

    @bp.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return error_response(shape, exc.code or 500, {"type": "invalid_request_error",
                                                       "message": exc.description or exc.name})

    return bp


__all__ = ["Outcome", "answer", "body", "completion", "context", "dialect_errors", "error_response", "job_body",
           "run", "stream", "tenant"]
