"""``POST /v1/chat/completions``: OpenAI's endpoint on top of Ferry's jobs.

The body is an OpenAI chat.completions body whose ``model`` is ``provider/model``. Ferry
runs it as a job and waits (``FERRY_CHAT_TIMEOUT``), so the official SDKs work with
only ``base_url`` changed. ``stream: true`` answers Server-Sent Events in OpenAI's chunk
format, cut from the finished completion (media work happens before the first token
anyway). ``Idempotency-Key`` works as on /v1/jobs. A Ferry-only ``ferry`` object (``extra_body={"ferry": {...}}`` in the SDK) takes
the job fields: ``dry_run``, ``delivery``, ``options``, ``webhook``, ``metadata``.
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, jsonify, request, stream_with_context

from app.auth import context, require_tenant
from app.compat import openai_errors, run_and_wait
from workers.services import outputs
from workers.core.errors import BadRequest

bp = openai_errors(Blueprint("chat", __name__, url_prefix="/v1"))
FERRY_FIELDS = ("dry_run", "delivery", "options", "webhook", "metadata")


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object (an OpenAI chat.completions body)", param="body")
    return body


def job_body(body: dict[str, Any]) -> dict[str, Any]:
    """The /v1/jobs body for a chat.completions body (stream fields dropped, ``ferry`` unpacked)."""
    ferry = body.get("ferry") or {}
    if not isinstance(ferry, dict):
        raise BadRequest("ferry must be an object", param="ferry")
    unknown = set(ferry) - set(FERRY_FIELDS)
    if unknown:
        raise BadRequest(f"unknown ferry field(s): {', '.join(sorted(unknown))}", param="ferry")
    chat = {k: v for k, v in body.items() if k not in ("stream", "stream_options", "ferry")}
    return {"request": chat, **ferry}


@bp.post("/chat/completions")
def create():  # type: ignore[no-untyped-def]
    tenant = require_tenant()
    body = _body()
    stream = body.get("stream") or False
    if not isinstance(stream, bool):
        raise BadRequest("stream must be true or false", param="stream")
    stream_options = body.get("stream_options") or {}
    if not isinstance(stream_options, dict):
        raise BadRequest("stream_options must be an object", param="stream_options")
    ctx = context()
    view, failure = run_and_wait(ctx, tenant, job_body(body))
    if failure is not None:
        return failure
    result = view.get("result") or dry_run_completion(view)
    # Generated audio/images come back inline (base64, as OpenAI answers and the SDK expects) unless the
    # request asks for URLs with ferry.options.outputs = "url" (workers/services/outputs.py).
    options = (body.get("ferry") or {}).get("options") or {}
    result = outputs.present(ctx, tenant, result, inline=options.get("outputs", "inline") != "url",
                             base_url=request.host_url)
    if stream:
        resp = Response(stream_with_context(sse(result, bool(stream_options.get("include_usage")))),
                        mimetype="text/event-stream")
        resp.headers["Cache-Control"] = "no-cache"
        resp.headers["X-Accel-Buffering"] = "no"
    else:
        resp = jsonify(result)
    resp.headers["x-request-id"] = view["id"]
    return resp


def dry_run_completion(view: dict[str, Any]) -> dict[str, Any]:
    """A dry run has no completion: answer one whose content is what would have been sent."""
    shown = {k: view.get(k) for k in ("provider_request", "delivery_plan", "usage_estimate") if k in view}
    return {
        "id": f"chatcmpl-{view['id']}", "object": "chat.completion", "created": int(time.time()),
        "model": view["model"],
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": json.dumps(shown, indent=2), "refusal": None}}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "ferry_job": view["id"],
    }


_PIECE = re.compile(r"\S*\s*")


def _pieces(text: str, size: int = 24) -> Iterator[str]:
    """Word-aligned slices of about ``size`` characters (how a model's tokens would trickle in)."""
    buf = ""
    for word in _PIECE.findall(text):
        buf += word
        if len(buf) >= size:
            yield buf
            buf = ""
    if buf:
        yield buf


def chunks(result: dict[str, Any], include_usage: bool = False) -> Iterator[dict[str, Any]]:
    """OpenAI ``chat.completion.chunk`` objects that add up to ``result``."""
    base = {"id": result.get("id"), "object": "chat.completion.chunk", "created": result.get("created"),
            "model": result.get("model"), "system_fingerprint": result.get("system_fingerprint")}
    usage_field = {"usage": None} if include_usage else {}

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}],
                **usage_field}

    for choice in result.get("choices") or []:
        index = choice.get("index", 0)
        message = choice.get("message") or {}
        yield chunk(index, {"role": "assistant", "content": "", "refusal": None})
        for piece in _pieces(message.get("content") or ""):
            yield chunk(index, {"content": piece})
        for i, call in enumerate(message.get("tool_calls") or []):
            yield chunk(index, {"tool_calls": [{"index": i, **call}]})
        if message.get("audio"):
            yield chunk(index, {"audio": message["audio"]})
        if message.get("images"):  # OpenRouter streams generated images as delta.images
            yield chunk(index, {"images": message["images"]})
        yield chunk(index, {}, choice.get("finish_reason") or "stop")
    if include_usage:
        yield {**base, "choices": [], "usage": result.get("usage")}


def sse(result: dict[str, Any], include_usage: bool = False) -> Iterator[str]:
    for c in chunks(result, include_usage):
        yield f"data: {json.dumps(c)}\n\n"
    yield "data: [DONE]\n\n"
