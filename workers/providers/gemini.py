"""Gemini generateContent: https://ai.google.dev/api/generate-content"""
from __future__ import annotations

from typing import Any

from workers.errors import UpstreamError
from workers.providers.base import Call, NativeRequest, Part, completion, upstream_error

_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "RECITATION": "content_filter"}
_CONFIG = {"temperature": "temperature", "top_p": "topP", "max_tokens": "maxOutputTokens",
           "max_completion_tokens": "maxOutputTokens", "seed": "seed"}


def _part(p: Part) -> dict[str, Any]:
    if p.type == "text":
        return {"text": p.text}
    if p.file_id or p.url:
        return {"file_data": {"mime_type": p.mime, "file_uri": p.file_id or p.url}}
    return {"inline_data": {"mime_type": p.mime, "data": p.data_b64}}


def build_request(call: Call) -> NativeRequest:
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    for m in call.messages:
        if m.role in ("system", "developer"):
            system.extend({"text": p.text} for p in m.parts if p.type == "text")
            continue
        contents.append({"role": "model" if m.role == "assistant" else "user", "parts": [_part(p) for p in m.parts]})
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    config = {_CONFIG[k]: v for k, v in call.params.items() if k in _CONFIG}
    if "stop" in call.params:
        stop = call.params["stop"]
        config["stopSequences"] = [stop] if isinstance(stop, str) else stop
    if config:
        body["generationConfig"] = config
    url = f"{call.base_url.rstrip('/')}/v1beta/models/{call.model}:generateContent"
    headers = {"x-goog-api-key": call.api_key or "", "Content-Type": "application/json"}
    return NativeRequest("POST", url, headers, body, redact_headers=("x-goog-api-key",))


def parse_response(body: dict[str, Any], call: Call) -> dict[str, Any]:
    candidates = body.get("candidates") or [{}]
    first = candidates[0]
    text = "".join(p.get("text", "") for p in (first.get("content") or {}).get("parts", []))
    usage = body.get("usageMetadata", {})
    return completion(
        id=body.get("responseId"),
        model=f"gemini/{call.model}",
        text=text,
        finish_reason=_FINISH.get(first.get("finishReason", "STOP"), "stop"),
        prompt_tokens=int(usage.get("promptTokenCount", 0)),
        completion_tokens=int(usage.get("candidatesTokenCount", 0)),
    )


def parse_error(status: int, body: Any) -> UpstreamError:
    return upstream_error("gemini", status, body)
