"""Cohere v2 chat: https://docs.cohere.com/reference/chat

``POST {base}/v2/chat``; content parts are ``text`` and ``image_url {url, detail}`` (vision models
only); the answer is ``message.content[]`` with ``finish_reason`` in capitals and usage under
``usage.tokens`` (``billed_units`` as fallback).
"""
from __future__ import annotations

from typing import Any

from workers.core.errors import UpstreamError
from workers.providers.base import (Call, NativeRequest, bearer_json, chat_messages, completion,
                                    text_or_image_part, upstream_error)
from workers.providers.tools import cohere_messages, cohere_params, openai_tool_calls, with_tool_calls

_FINISH = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls",
           "ERROR": "stop"}
_RENAMED = {"top_p": "p", "stop": "stop_sequences", "max_completion_tokens": "max_tokens"}
_PARAMS = {"max_tokens", "temperature", "seed", "frequency_penalty", "presence_penalty", "response_format",
           "tools", "k"}


def build_request(call: Call) -> NativeRequest:
    messages = cohere_messages(chat_messages(call, lambda p: text_or_image_part(p, "cohere")))
    body: dict[str, Any] = {"model": call.model, "messages": messages}
    for name, value in call.params.items():
        if name in _PARAMS or name in _RENAMED:
            if name == "stop" and isinstance(value, str):
                value = [value]
            body.setdefault(_RENAMED.get(name, name), value)
    body.update(cohere_params(call.params))  # tools without strict, tool_choice REQUIRED / NONE
    return bearer_json(call.base_url.rstrip("/") + "/v2/chat", call.api_key, body)


def parse_response(body: dict[str, Any], call: Call) -> dict[str, Any]:
    message = body.get("message") or {}
    text = "".join(c.get("text", "") for c in message.get("content") or [] if c.get("type") == "text")
    usage = body.get("usage") or {}
    tokens = usage.get("tokens") or usage.get("billed_units") or {}
    out = completion(
        id=body.get("id"),
        model=f"cohere/{call.model}",
        text=text,
        finish_reason=_FINISH.get(body.get("finish_reason") or "", "stop"),
        prompt_tokens=int(tokens.get("input_tokens", 0)),
        completion_tokens=int(tokens.get("output_tokens", 0)),
    )
    return with_tool_calls(out, openai_tool_calls(message.get("tool_calls")))


def parse_error(status: int, body: Any) -> UpstreamError:
    return upstream_error("cohere", status, body)
