"""OpenAI-compatible servers named in FERRY_ENDPOINTS (vLLM, Ollama, LM Studio, llama.cpp, OpenRouter…).

OpenAI's chat shape, sent conservatively: images as base64 data URIs (the catalog's ``[endpoint_defaults]``
keeps delivery inline), PDFs as OpenAI ``file`` parts only when the endpoint is set to ``pdf = "native"``
(otherwise the planner already turned them into text and page images). No ``Authorization`` header unless
``<NAME>_API_KEY`` is set.
"""
from __future__ import annotations

from typing import Any

from workers.core.errors import UpstreamError
from workers.providers.base import (Call, NativeRequest, Part, chat_messages, image_url_part, openai_like_completion,
                                    upstream_error)


def _part(p: Part) -> dict[str, Any]:
    if p.type == "text":
        return {"type": "text", "text": p.text}
    if p.kind == "image":
        return image_url_part(p)
    if p.kind == "document":
        return {"type": "file", "file": {"filename": p.filename or "document.pdf",
                                         "file_data": f"data:{p.mime};base64,{p.data_b64}"}}
    raise ValueError(f"an OpenAI-compatible endpoint adapter cannot send {p.kind}")


def build_request(call: Call) -> NativeRequest:
    body = {"model": call.model, "messages": chat_messages(call, _part), **call.params}
    headers = {"Content-Type": "application/json"}
    if call.api_key:
        headers["Authorization"] = f"Bearer {call.api_key}"
    return NativeRequest("POST", call.base_url.rstrip("/") + "/chat/completions", headers, body,
                         redact_headers=("authorization",))


def parse_response(body: dict[str, Any], call: Call) -> dict[str, Any]:
    return openai_like_completion(call.provider, body, call)


def parse_error(status: int, body: Any) -> UpstreamError:
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        body = {"message": body["error"]}  # vLLM's 401 {"error": "Unauthorized"}
    return upstream_error("endpoint", status, body)
