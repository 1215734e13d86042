"""xAI chat completions (OpenAI-compatible): https://docs.x.ai/docs/api-reference#chat-completions

The base URL includes ``/v1`` as in xAI's SDK usage; images are ``image_url {url, detail}``, jpeg/png
only (the planner converts others). Errors come as ``{"code", "error"}``: a bad key is a 400.
"""
from __future__ import annotations

from typing import Any

from workers.errors import UpstreamError
from workers.providers.base import (Call, NativeRequest, Part, bearer_json, chat_messages, media_url,
                                    openai_like_completion, upstream_error)


def _part(p: Part) -> dict[str, Any]:
    if p.type == "text":
        return {"type": "text", "text": p.text}
    if p.kind == "image":
        image: dict[str, Any] = {"url": media_url(p)}
        if p.detail:
            image["detail"] = p.detail
        return {"type": "image_url", "image_url": image}
    raise ValueError(f"xai adapter cannot send {p.kind}")


def build_request(call: Call) -> NativeRequest:
    body = {"model": call.model, "messages": chat_messages(call, _part), **call.params}
    return bearer_json(call.base_url.rstrip("/") + "/chat/completions", call.api_key, body)


def parse_response(body: dict[str, Any], call: Call) -> dict[str, Any]:
    return openai_like_completion("xai", body, call)


def parse_error(status: int, body: Any) -> UpstreamError:
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        body = {"message": body["error"]}  # xAI's {"code": <status text>, "error": <message>}
    return upstream_error("xai", status, body)
