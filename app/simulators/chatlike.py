"""Pieces shared by the OpenAI-compatible chat simulators (Mistral, xAI, and Cohere's content parts).

Each provider differs only in auth errors, error envelope and image rules, so a simulator
passes an ``ImageRule`` (called with the decoded media) and gets the walking, the response and
the image bookkeeping from here.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from flask import request

from .common import (Part, completion_tokens, content_items, describe, image_url_source, load_json_body,
                     prompt_tokens, request_id)
from .controls import SimReject
from .media import Media, MediaError, inspect_media

#: Streaming is not simulated; say so instead of answering with a body the client cannot parse.
STREAM_UNSUPPORTED = "stream=true is not implemented by the simulator; send stream=false"

#: (where, declared mime or None, decoded media) → None or raise SimReject
ImageRule = Callable[[str, str | None, Media], None]
Bad = Callable[[str], SimReject]


def read_body(bad: Bad) -> tuple[bytes, dict[str, Any]]:
    raw = request.get_data()
    try:
        body = load_json_body(raw)
    except ValueError as exc:
        raise bad(str(exc))
    if not isinstance(body, dict):
        raise bad("request body must be a JSON object")
    if not body.get("model"):
        raise bad("model: field required")
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        raise bad("messages: field required")
    if body.get("stream"):
        raise bad(STREAM_UNSUPPORTED)
    return raw, body


def read_parts(messages: list[Any], bad: Bad, image_rule: ImageRule, parts: list[Part],
               allowed: tuple[str, ...] = ("text", "image_url")) -> None:
    """Append a Part per content part (in order), applying ``image_rule`` to inline images."""
    for where, item in content_items(messages):
        kind = item.get("type")
        if kind not in allowed:
            raise bad(f"{where}.type: unsupported content type {kind!r}; expected one of {list(allowed)}")
        if kind == "text":
            parts.append(Part("text", text=str(item.get("text", ""))))
            continue
        try:
            declared, data, url = image_url_source(item.get("image_url"))
        except MediaError as exc:
            raise bad(f"{where}.image_url: {exc}")
        if url is not None:
            parts.append(Part("image", source="url", ref=url))
            continue
        assert data is not None
        try:
            media = inspect_media(data)
        except MediaError as exc:
            raise bad(f"{where}.image_url: the image could not be decoded ({exc})")
        image_rule(where + ".image_url", declared, media)
        parts.append(Part("image", media=media, declared_mime=declared))


def chat_completion(provider: str, raw: bytes, model: str, parts: list[Part], plan: Any = None,
                    dialect: Any = None) -> dict[str, Any]:
    """OpenAI ``chat.completion`` object describing what was received (or, with a tool ``plan`` from
    :func:`.openai_tools.check`, its scripted tool call or the tool results)."""
    from .openai_tools import OPENAI, answer

    text, calls = describe(provider, model, parts), None
    if plan is not None:
        text, calls = answer(plan, raw, text, dialect or OPENAI)
    p_tok, c_tok = prompt_tokens(parts), completion_tokens(text or json.dumps(calls))
    return {
        "id": request_id(raw, f"{provider}-sim-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": "tool_calls" if calls else "stop",
                     "message": {"role": "assistant", "content": text, "tool_calls": calls}}],
        "usage": {"prompt_tokens": p_tok, "completion_tokens": c_tok, "total_tokens": p_tok + c_tok},
    }


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:] if header.startswith("Bearer ") else None
