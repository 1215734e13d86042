"""``/v1/responses``: OpenAI's Responses API on Ferry's jobs.

``POST /v1/responses`` runs the body as a job and waits like /v1/chat/completions (``stream: true``
answers the Responses event stream); ``background: true`` answers at once with status ``queued``:
the response *is* the job, so ``GET /v1/responses/{id}`` polls it (``?wait=`` long-polls as on
/v1/jobs) and ``POST /v1/responses/{id}/cancel`` cancels it. Errors are OpenAI's (app/compat.py).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from app.auth import require_tenant
from app.compat import openai_errors, query_int
from app.dialects import common
from app.dialects import responses_wire as wire
from workers.core.errors import BadRequest, NotFound
from workers.services import jobs
from workers.state.idempotency import check_key

bp = openai_errors(Blueprint("dialect_responses", __name__, url_prefix="/v1/responses"))


@bp.post("")
def create() -> Response:
    tenant = require_tenant()
    body = common.body()
    chat, metadata = wire.to_chat(body)
    stream, background = body.get("stream") or False, body.get("background") or False
    for name, value in (("stream", stream), ("background", background)):
        if not isinstance(value, bool):
            raise BadRequest(f"{name} must be true or false", param=name)
    ctx, ferry = common.context(), body.get("ferry")
    job = common.job_body(chat, ferry, metadata)
    echo = wire.echo_of(body)
    if background and not stream:
        submitted = jobs.submit(ctx, tenant, job, idempotency_key=check_key(request.headers.get("Idempotency-Key")))
        view = jobs.get(ctx, tenant, submitted["id"])  # answered as it was submitted: queued
        return common.answer(wire.to_response({**view, "status": "queued"}, None, echo=echo), view["id"])
    outcome = common.run(ctx, tenant, job)
    if outcome.response is not None:
        return outcome.response
    response = wire.to_response(outcome.view, common.completion(ctx, tenant, outcome.view, ferry), echo=echo)
    if stream:
        return common.stream(wire.stream_events(response), outcome.view["id"])
    return common.answer(response, outcome.view["id"])


def _job_id(resp_id: str) -> str:
    job_id = wire.job_id_of(resp_id)
    if job_id is None:
        raise NotFound(f"No response found with id '{resp_id}'.", param="response_id")
    return job_id


def _present(tenant: str, view: dict[str, Any]) -> Response:
    ctx = common.context()
    result = common.completion(ctx, tenant, view, None) if view["status"] == "succeeded" else None
    return common.answer(wire.to_response(view, result), view["id"])


@bp.get("/<resp_id>")
def retrieve(resp_id: str) -> Response:
    tenant, ctx = require_tenant(), common.context()
    job_id = _job_id(resp_id)
    view = jobs.get(ctx, tenant, job_id)  # 404 for another tenant's response
    wait = query_int("wait", 0, 0, 60)
    if wait and view["status"] not in ("succeeded", "failed", "canceled"):
        view = jobs.wait(ctx, tenant, job_id, wait)
    return _present(tenant, view)


@bp.post("/<resp_id>/cancel")
def cancel(resp_id: str) -> Response:
    tenant = require_tenant()
    return _present(tenant, jobs.cancel(common.context(), tenant, _job_id(resp_id)))
