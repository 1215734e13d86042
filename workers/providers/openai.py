"""OpenAI Chat Completions: https://platform.openai.com/docs/api-reference/chat/create

and, for image generation (``call.task == "images"``), the Images API:
https://platform.openai.com/docs/api-reference/images/create. Generated media stays base64 here
(``message.audio.data``; images as ``message.images[].image_url.url`` data URIs); the complete
stage moves it into Ferry files (workers/services/outputs.py).
"""
from __future__ import annotations

from typing import Any

from workers.core.errors import Unprocessable, UpstreamError
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
    if call.task == "images":
        return _images_request(call)
    body = {"model": call.model, "messages": chat_messages(call, _part), **call.params}
    return bearer_json(call.base_url.rstrip("/") + "/chat/completions", call.api_key, body)


def parse_response(body: dict[str, Any], call: Call) -> dict[str, Any]:
    """OpenAI already speaks chat.completion; keep it, name the model as Ferry knows it."""
    if call.task == "images":
        return _images_completion(body, call)
    return {**body, "model": f"openai/{body.get('model', call.model)}"}


def parse_error(status: int, body: Any) -> UpstreamError:
    return upstream_error("openai", status, body)


# -- image generation (issue 6 item 5) ---------------------------------------------------------
#: Images API body fields (openai-python types/image_generate_params.py) Ferry passes through.
_IMAGE_PARAMS = ("n", "size", "quality", "background", "output_format", "output_compression", "moderation",
                 "style", "user", "safety_identifier")


def _images_request(call: Call) -> NativeRequest:
    """The prompt is the text of the request's messages; pictures in it would be an edit (not supported)."""
    if any(p.type != "text" for m in call.messages for p in m.parts):
        raise Unprocessable(f"openai/{call.model} generates images from text only here (image edits are not "
                            "supported yet)", param="request.messages")
    prompt = "\n".join(p.text or "" for m in call.messages if m.role != "assistant" for p in m.parts)
    body: dict[str, Any] = {"model": call.model, "prompt": prompt,
                            **{k: v for k, v in call.params.items() if k in _IMAGE_PARAMS and v is not None}}
    if call.model.startswith("dall-e"):  # GPT image models always answer base64; DALL-E must be asked to
        body["response_format"] = "b64_json"
    return bearer_json(call.base_url.rstrip("/") + "/images/generations", call.api_key, body)


def _images_completion(body: dict[str, Any], call: Call) -> dict[str, Any]:
    """An ImagesResponse as a chat.completion whose message carries ``images`` (OpenRouter's shape);
    usage in chat names with the image tokens in ``*_tokens_details``."""
    mime = {"jpeg": "image/jpeg", "webp": "image/webp"}.get(body.get("output_format") or "png", "image/png")
    images: list[dict[str, Any]] = []
    for item in body.get("data") or []:
        url = f"data:{mime};base64,{item['b64_json']}" if item.get("b64_json") else item.get("url")
        entry: dict[str, Any] = {"type": "image_url", "image_url": {"url": url}}
        if item.get("revised_prompt"):
            entry["revised_prompt"] = item["revised_prompt"]
        images.append(entry)
    usage = body.get("usage") or {}
    details_in = usage.get("input_tokens_details") or {}
    details_out = usage.get("output_tokens_details") or {}
    prompt_tokens, completion_tokens = int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
    created = int(body.get("created") or 0)
    return {
        "id": f"imggen-{call.model}-{created}",
        "object": "chat.completion",
        "created": created,
        "model": f"openai/{call.model}",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": None, "refusal": None, "images": images}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": int(usage.get("total_tokens", prompt_tokens + completion_tokens)),
                  "prompt_tokens_details": {"text_tokens": int(details_in.get("text_tokens", prompt_tokens)),
                                            "image_tokens": int(details_in.get("image_tokens", 0))},
                  "completion_tokens_details": {
                      "image_tokens": int(details_out.get("image_tokens", completion_tokens)),
                      "text_tokens": int(details_out.get("text_tokens", 0))}},
        "image_generation": {k: body[k] for k in ("background", "output_format", "quality", "size") if body.get(k)},
    }
