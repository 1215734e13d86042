"""OpenAI Chat Completions: https://platform.openai.com/docs/api-reference/chat/create"""
from __future__ import annotations

from typing import Any

from workers.errors import UpstreamError
from workers.providers.base import Call, NativeRequest, Part, upstream_error

_AUDIO_FORMAT = {"audio/wav": "wav", "audio/mpeg": "mp3"}


def _part(p: Part) -> dict[str, Any]:
    if p.type == "text":
        return {"type": "text", "text": p.text}
    if p.kind == "image":
        if p.file_id:  # an uploaded image travels as a file part (PROVIDERS.md: image by file id)
            return {"type": "file", "file": {"file_id": p.file_id}}
        url = p.url or f"data:{p.mime};base64,{p.data_b64}"
        image: dict[str, Any] = {"url": url}
        if p.detail:
            image["detail"] = p.detail
        return {"type": "image_url", "image_url": image}
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
    messages: list[dict[str, Any]] = []
    for m in call.messages:
        if all(p.type == "text" for p in m.parts) and m.role != "user":
            messages.append({"role": m.role, "content": "\n".join(p.text or "" for p in m.parts)})
        else:
            messages.append({"role": m.role, "content": [_part(p) for p in m.parts]})
    body = {"model": call.model, "messages": messages, **call.params}
    return NativeRequest(
        "POST",
        call.base_url.rstrip("/") + "/chat/completions",
        {"Authorization": f"Bearer {call.api_key}", "Content-Type": "application/json"},
        body,
        redact_headers=("authorization",),
    )


def parse_response(body: dict[str, Any], call: Call) -> dict[str, Any]:
    """OpenAI already speaks chat.completion; keep it, name the model as Ferry knows it."""
    return {**body, "model": f"openai/{body.get('model', call.model)}"}


def parse_error(status: int, body: Any) -> UpstreamError:
    return upstream_error("openai", status, body)
