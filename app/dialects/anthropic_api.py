"""``POST /v1/messages`` and ``POST /v1/messages/count_tokens``: Anthropic's Messages API on Ferry's jobs.

The official ``anthropic`` SDK works with only ``base_url`` changed (it sends ``x-api-key``, or
``Authorization: Bearer`` with ``auth_token``; any ``anthropic-version`` is accepted). A bare model
is Anthropic's; ``openai/gpt-4o`` or any other ``provider/model`` runs there. ``count_tokens`` runs a
dry-run job, so the count is taken after Ferry's transforms (resized images, PDF pages).
"""
from __future__ import annotations

from flask import Blueprint, Response

from app.dialects import anthropic_wire as wire
from app.dialects import common
from workers.core.errors import BadRequest

bp = common.dialect_errors(Blueprint("dialect_anthropic", __name__, url_prefix="/v1/messages"), wire.error)
AUTH_HEADERS = ("x-api-key", "authorization")


@bp.post("")
def create() -> Response:
    tenant = common.tenant(*AUTH_HEADERS)
    body = common.body()
    chat, metadata = wire.to_chat(body)
    stream = body.get("stream") or False
    if not isinstance(stream, bool):
        raise BadRequest("stream must be true or false", param="stream")
    ctx = common.context()
    outcome = common.run(ctx, tenant, common.job_body(chat, body.get("ferry"), metadata))
    if outcome.error is not None:
        return common.error_response(wire.error, outcome.status, outcome.error)
    job_id = outcome.view["id"]
    message = wire.to_message(common.completion(ctx, tenant, outcome.view, body.get("ferry")), job_id)
    if stream:
        return common.stream(wire.stream_events(message), job_id)
    return common.answer(message, job_id)


@bp.post("/count_tokens")
def count_tokens() -> Response:
    """Input tokens as Ferry's dry run estimates them for the target model, after every media transform."""
    tenant = common.tenant(*AUTH_HEADERS)
    body = common.body()
    chat, metadata = wire.to_chat(body, require_max_tokens=False)
    ferry = body.get("ferry") or {}
    if not isinstance(ferry, dict):
        raise BadRequest("ferry must be an object", param="ferry")
    ctx = common.context()
    outcome = common.run(ctx, tenant, common.job_body(chat, {**ferry, "dry_run": True}, metadata))
    if outcome.error is not None:
        return common.error_response(wire.error, outcome.status, outcome.error)
    estimate = outcome.view.get("usage_estimate") or {}
    return common.answer({"input_tokens": int(estimate.get("prompt_tokens") or 0)}, outcome.view["id"])
