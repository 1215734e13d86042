"""Gemini's ``models/{model}:generateContent`` (and ``:streamGenerateContent``, ``:countTokens``) on Ferry's jobs.

Served under ``/v1beta/`` and ``/v1/`` (google-genai 1.x+ calls ``/v1/`` by default). The official
``google-genai`` SDK works with ``http_options={"base_url": <ferry>}``; it sends ``x-goog-api-key``
(``?key=`` works too). The model in the path may name another provider —
``models/anthropic/claude-sonnet-4-5:generateContent`` — and a bare name is Gemini's. Job fields ride
in a ``ferry`` object (``HttpOptions(extra_body={"ferry": {...}})`` in the SDK). ``countTokens`` runs a
dry-run job, so it counts after Ferry's transforms.
"""
from __future__ import annotations

from flask import Blueprint, Response, request

from app.dialects import common
from app.dialects import gemini_wire as wire
from workers.core.errors import BadRequest, NotFound

bp = common.dialect_errors(Blueprint("dialect_gemini", __name__), wire.error)
ACTIONS = ("generateContent", "streamGenerateContent", "countTokens")


def _generate(model_id: str) -> Response:
    tenant = common.tenant("x-goog-api-key", "authorization", query_key=True)
    model, action = wire.split_target(model_id)
    if action not in ACTIONS:
        raise NotFound(f"unknown method {action!r}; Ferry serves {', '.join(ACTIONS)}", param="model")
    body = common.body()
    if isinstance(body, dict) and action == "countTokens" and isinstance(body.get("generateContentRequest"), dict):
        body = {**body["generateContentRequest"], "ferry": body.get("ferry")}
    chat = wire.to_chat(body, model)
    ferry = body.get("ferry") or {}
    if not isinstance(ferry, dict):
        raise BadRequest("ferry must be an object", param="ferry")
    if action == "countTokens":
        ferry = {**ferry, "dry_run": True}
    ctx = common.context()
    outcome = common.run(ctx, tenant, common.job_body(chat, ferry or None))
    if outcome.error is not None:
        return common.error_response(wire.error, outcome.status, outcome.error)
    job_id = outcome.view["id"]
    if action == "countTokens":
        estimate = outcome.view.get("usage_estimate") or {}
        return common.answer({"totalTokens": int(estimate.get("prompt_tokens") or 0)}, job_id)
    result = common.completion(ctx, tenant, outcome.view, ferry)
    if action == "generateContent":
        return common.answer(wire.to_response(result, job_id), job_id)
    chunks = wire.stream_chunks(result, job_id)
    if request.args.get("alt") == "sse":
        return common.stream(wire.sse(chunks), job_id)
    return common.answer(chunks, job_id)  # without alt=sse: one JSON array, as Google answers


# ``model_id`` is the path's ``{model}:{method}``: split on the last colon (Bedrock ids hold colons too).
@bp.post("/v1beta/models/<path:model_id>")
def generate_v1beta(model_id: str) -> Response:
    return _generate(model_id)


@bp.post("/v1/models/<path:model_id>")
def generate_v1(model_id: str) -> Response:
    return _generate(model_id)
