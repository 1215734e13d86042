"""Mistral chat completions: https://docs.mistral.ai/api/#tag/chat

OpenAI-shaped, with two quirks: ``image_url`` is the bare URL string (client-python
``ImageURLChunk``), and the parameter names differ (``random_seed``, no ``max_completion_tokens``).
Alpha is flattened upstream by the planner (catalog ``alpha = false``).
"""
from __future__ import annotations

from typing import Any

from workers.core.errors import UpstreamError
from workers.providers.base import (Call, NativeRequest, Part, bearer_json, chat_messages, media_url,
                                    openai_like_completion, upstream_error)
from workers.providers.tools import mistral_messages

_PARAMS = {"temperature", "top_p", "max_tokens", "stop", "response_format", "tools", "tool_choice",
           "presence_penalty", "frequency_penalty", "n", "parallel_tool_calls"}
_RENAMED = {"seed": "random_seed", "max_completion_tokens": "max_tokens"}


def _part(p: Part) -> dict[str, Any]:
    if p.type == "text":
        return {"type": "text", "text": p.text}
    if p.kind == "image":
        return {"type": "image_url", "image_url": media_url(p)}
    raise ValueError(f"mistral adapter cannot send {p.kind}")


def build_request(call: Call) -> NativeRequest:
    body: dict[str, Any] = {"model": call.model, "messages": mistral_messages(chat_messages(call, _part))}
    for name, value in call.params.items():
        if name in _PARAMS or name in _RENAMED:
            body.setdefault(_RENAMED.get(name, name), value)
    return bearer_json(call.base_url.rstrip("/") + "/v1/chat/completions", call.api_key, body)


def parse_response(body: dict[str, Any], call: Call) -> dict[str, Any]:
    return openai_like_completion("mistral", body, call)


def parse_error(status: int, body: Any) -> UpstreamError:
    return upstream_error("mistral", status, body)
