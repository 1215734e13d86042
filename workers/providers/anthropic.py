"""Anthropic Messages: https://docs.anthropic.com/en/api/messages"""
from __future__ import annotations

import base64
from typing import Any

from workers.core.errors import Unprocessable, UpstreamError
from workers.providers.base import Call, NativeRequest, Part, completion, upstream_error
from workers.providers.tool_shapes import anthropic_calls, anthropic_done, anthropic_params, anthropic_turn
from workers.providers.tools import with_tool_calls

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}


def _source(p: Part) -> dict[str, Any]:
    if p.file_id:
        return {"type": "file", "file_id": p.file_id}
    if p.url:
        return {"type": "url", "url": p.url}
    return {"type": "base64", "media_type": p.mime, "data": p.data_b64}


def _block(p: Part) -> dict[str, Any]:
    if p.type == "text":
        return {"type": "text", "text": p.text}
    if p.kind == "image":
        return {"type": "image", "source": _source(p)}
    if p.kind == "document":
        source = _source(p)
        if p.mime == "text/plain" and p.data_b64 is not None:  # a plain-text document (issue 15): the text itself
            source = {"type": "text", "media_type": "text/plain",
                      "data": base64.b64decode(p.data_b64).decode("utf-8", errors="replace")}
        elif p.mime == "text/plain" and p.url:
            raise Unprocessable("anthropic reads URL documents only as PDFs; send the text document inline or "
                                "by file id (delivery.prefer inline or file)", stage="complete")
        block: dict[str, Any] = {"type": "document", "source": source}
        if p.filename:
            block["title"] = p.filename
        return block
    raise ValueError(f"anthropic adapter cannot send {p.kind}")


def build_request(call: Call) -> NativeRequest:
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    for m in call.messages:
        if m.role in ("system", "developer"):
            system.extend(p.text or "" for p in m.parts if p.type == "text")
            continue
        anthropic_turn(messages, m, [_block(p) for p in m.parts])  # tool calls and results too
    anthropic_done(messages)
    params = dict(call.params)
    body: dict[str, Any] = {
        "model": call.model,
        "max_tokens": params.pop("max_completion_tokens", None) or params.pop("max_tokens", None) or DEFAULT_MAX_TOKENS,
        "messages": messages,
    }
    params.pop("max_tokens", None)
    if system:
        body["system"] = "\n\n".join(system)
    for name in ("temperature", "top_p"):
        if name in params:
            body[name] = params[name]
    if "stop" in params:
        stop = params["stop"]
        body["stop_sequences"] = [stop] if isinstance(stop, str) else stop
    body.update(anthropic_params(params, call.messages))
    headers = {
        "x-api-key": call.api_key or "",
        "anthropic-version": API_VERSION,
        "content-type": "application/json",
    }
    if any(p.file_id for m in call.messages for p in m.parts):
        headers["anthropic-beta"] = "files-api-2025-04-14"
    return NativeRequest("POST", call.base_url.rstrip("/") + "/v1/messages", headers, body, redact_headers=("x-api-key",))


def parse_response(body: dict[str, Any], call: Call) -> dict[str, Any]:
    text = "".join(b.get("text", "") for b in body.get("content", []) if b.get("type") == "text")
    usage = body.get("usage", {})
    out = completion(
        id=body.get("id"),
        model=f"anthropic/{body.get('model', call.model)}",
        text=text,
        finish_reason=_FINISH.get(body.get("stop_reason") or "", "stop"),
        prompt_tokens=int(usage.get("input_tokens", 0)),
        completion_tokens=int(usage.get("output_tokens", 0)),
    )
    return with_tool_calls(out, anthropic_calls(body.get("content") or []))


def parse_error(status: int, body: Any) -> UpstreamError:
    return upstream_error("anthropic", status, body)
