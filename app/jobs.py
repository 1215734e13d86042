"""POST/GET/DELETE /v1/jobs: the submit-and-poll API."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from app.auth import context, require_tenant
from workers.services import jobs
from workers.services import outputs
from workers.core.errors import BadRequest, TooLarge
from workers.state.idempotency import check_key

bp = Blueprint("jobs", __name__, url_prefix="/v1/jobs")


MAX_JSON_DEPTH = 64


@bp.record_once
def _request_limits(state) -> None:  # type: ignore[no-untyped-def]
    """App-wide (issue 7.6): bodies over FERRY_MAX_REQUEST_BYTES answer 413 before they are read, and
    JSON nested too deeply for the parser answers 400 instead of a RecursionError 500."""
    app = state.app
    settings = app.config["FERRY_CONTEXT"].settings
    if app.config.get("MAX_CONTENT_LENGTH") is None:  # Flask's default is None (no limit)
        # the largest body any endpoint takes (file uploads may be bigger than JSON requests)
        app.config["MAX_CONTENT_LENGTH"] = max(settings.max_request_bytes, getattr(settings, "max_file_bytes", 0))

    def too_deep(exc: RecursionError):  # type: ignore[no-untyped-def]
        return jsonify(error=BadRequest("JSON is nested too deeply", param="body").to_dict()), 400

    app.register_error_handler(RecursionError, too_deep)


def _depth(value: object, limit: int) -> int:
    """Nesting depth of parsed JSON, iteratively (stops counting past ``limit``)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, d)
            if deepest > limit:
                return deepest
            stack.extend((v, d + 1) for v in (node.values() if isinstance(node, dict) else node))
    return deepest


def json_body() -> object:
    limit = context().settings.max_request_bytes
    if (request.content_length or 0) > limit:
        raise TooLarge(f"request body is over FERRY_MAX_REQUEST_BYTES ({limit} bytes)", param="body")
    request.max_content_length = limit  # also bounds bodies sent without a Content-Length
    try:
        body = request.get_json(silent=True, force=True)
    except RecursionError:
        raise BadRequest(f"JSON is nested too deeply (limit {MAX_JSON_DEPTH} levels)", param="body") from None
    if body is None:
        raise BadRequest("body is not valid JSON", param="body")
    if _depth(body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise BadRequest(f"JSON is nested too deeply (limit {MAX_JSON_DEPTH} levels)", param="body")
    return body


@bp.post("")
def create():  # type: ignore[no-untyped-def]
    tenant = require_tenant()
    key = check_key(request.headers.get("Idempotency-Key"))
    job = jobs.submit(context(), tenant, json_body(), idempotency_key=key)
    replayed = job.pop("_replayed", False)
    resp = jsonify(job)
    resp.status_code = 200 if replayed else 202
    if replayed:
        resp.headers["Idempotent-Replayed"] = "true"
    resp.headers["Location"] = f"/v1/jobs/{job['id']}"
    return resp


@bp.get("/<job_id>")
def read(job_id: str):  # type: ignore[no-untyped-def]
    """``?wait=<seconds>`` (at most 60) long-polls: answers as soon as the job ends, or after that long."""
    tenant, ctx = require_tenant(), context()
    wait = _wait_seconds(request.args.get("wait"))
    # another tenant's (or no) job is a 404 before any wait; a wait looks at the status first, cheaply
    view = jobs.wait(ctx, tenant, job_id, wait) if wait else jobs.get(ctx, tenant, job_id)
    # generated media in the result: URLs by default, base64 with ?include=b64 or options.outputs=inline
    return jsonify(outputs.present_view(ctx, tenant, view, base_url=request.host_url,
                                        include=request.args.get("include")))


MAX_WAIT_SECONDS = 60.0


def _wait_seconds(raw: str | None) -> float:
    if raw is None or raw == "":
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= MAX_WAIT_SECONDS:
        raise BadRequest(f"wait must be a number of seconds from 0 to {MAX_WAIT_SECONDS:g}", param="wait")
    return value


@bp.delete("/<job_id>")
def cancel(job_id: str):  # type: ignore[no-untyped-def]
    purge = request.args.get("purge", "false").lower() in ("1", "true", "yes")
    return jsonify(jobs.cancel(context(), require_tenant(), job_id, purge=purge))
