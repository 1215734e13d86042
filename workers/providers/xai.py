"""xAI chat completions (OpenAI-compatible): https://docs.x.ai/docs/api-reference#chat-completions

The base URL includes ``/v1`` as in xAI's SDK usage; images are ``image_url {url, detail}``, jpeg/png
only (the planner converts others). Errors come as ``{"code", "error"}``: a bad key is a 400.
"""
from __future__ import annotations

from typing import Any

from workers.core.errors import UpstreamError
from workers.providers.base import (Call, NativeRequest, bearer_json, chat_messages, text_or_image_part,
                                    openai_like_completion, upstream_error)


def build_request(call: Call) -> NativeRequest:
    body = {"model": call.model, "messages": chat_messages(call, lambda p: text_or_image_part(p, "xai")), **call.params}
    return bearer_json(call.base_url.rstrip("/") + "/chat/completions", call.api_key, body)


def parse_response(body: dict[str, Any], call: Call) -> dict[str, Any]:
    return openai_like_completion("xai", body, call)


def parse_error(status: int, body: Any) -> UpstreamError:
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        body = {"message": body["error"]}  # xAI's {"code": <status text>, "error": <message>}
    return upstream_error("xai", status, body)
