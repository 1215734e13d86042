"""OpenAI Chat Completions: https://platform.openai.com/docs/api-reference/chat/create"""
from __future__ import annotations

from typing import Any

from workers.errors import UpstreamError
from workers.providers.base import (Call, NativeRequest, Part, bearer_json, chat_messages, image_url_part,
                                    upstream_error)

_AUDIO_FORMAT = {"audio/wav": "wav", "audio/mpeg": "mp3"}


def _part(p: Part) -> dict[str, Any]:
    if p.type == "text":
        return {"type": "text", "text": p.text}
    if p.kind == "image":
        if p.file_id:  # an uploaded image travels as a file part (PROVIDERS.md: image by file id)
            return {"type": "file", "file": {"file_id": p.file_id}}
        return image_url_part(p)
    if p.kind == "document":
        if p.file_id:
            return {"type": "file", "file": {"file_id": p.file_id}}
        return {
            "type": "file",
            "file": {"filename": p.filename or "document.pdf", "file_data": f"data:{p.mime};base64,{p.data_b64}"},
        }
    if p.kind == "audio":
        return {"type": "input_audio", "input_audio": {"data": p.data_b64, "format": _AUDIO_FORMAT[p.mime or ""]}}
    raise ValueError(f"openai adapter cannot send {p.kind}")


def build_request(call: Call) -> NativeRequest:
    body = {"model": call.model, "messages": chat_messages(call, _part), **call.params}
    return bearer_json(call.base_url.rstrip("/") + "/chat/completions", call.api_key, body)


def parse_response(body: dict[str, Any], call: Call) -> dict[str, Any]:
    """OpenAI already speaks chat.completion; keep it, name the model as Ferry knows it."""
    return {**body, "model": f"openai/{body.get('model', call.model)}"}


def parse_error(status: int, body: Any) -> UpstreamError:
    return upstream_error("openai", status, body)
