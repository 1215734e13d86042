"""Cohere simulator: ``POST /v2/chat`` with text and image_url content parts.

Shapes: github.com/cohere-ai/cohere-python ``src/cohere/v2/types/v2chat_response.py`` (id,
finish_reason, message, usage), ``types/assistant_message_response.py``, ``types/usage.py``
(billed_units, tokens), ``types/image_url.py`` (``{"url", "detail"}``). Rules:
https://docs.cohere.com/docs/image-inputs (images only on ``command-a-vision`` models; at most
20 images or 20 MB per request; PNG, JPEG, WEBP, non-animated GIF). Errors are
``{"message": ...}`` (https://docs.cohere.com/reference/errors); 400 messages start with
"invalid request:".
"""
from __future__ import annotations

from collections.abc import Iterable
from flask import Flask, Response, jsonify

from .chatlike import bearer_token, read_body, read_parts
from .common import Part, completion_tokens, describe, prompt_tokens, request_id
from .controls import SimReject, install_controls, record_parts
from . import served
from .media import Media
from .openai_tools import COHERE, answer, check

IMAGE_MIMES = ("image/png", "image/jpeg", "image/webp", "image/gif")
MAX_IMAGES = 20
MAX_IMAGE_TOTAL_BYTES = 20 * 1024 * 1024
VISION_PREFIX = "command-a-vision"


def render_error(exc: SimReject) -> Response:
    return jsonify({"message": exc.message})


def _bad(message: str) -> SimReject:
    return SimReject(400, f"invalid request: {message}")


def _image_rule(where: str, declared: str | None, media: Media) -> None:
    if media.mime not in IMAGE_MIMES:
        raise _bad(f"{where}: unsupported image type {media.mime or 'unknown'}; supported: png, jpeg, webp, gif")
    if media.mime == "image/gif" and (media.frames or 1) > 1:
        raise _bad(f"{where}: animated GIFs are not supported")


def create_app(api_key: str = "sim-key", models: Iterable[str] | None = None) -> Flask:
    app = Flask("cohere_sim")
    install_controls(app, "cohere", render_error)

    @app.post("/v2/chat")
    def chat() -> Response:
        if bearer_token() != api_key:
            raise SimReject(401, "invalid api token")
        raw, body = read_body(_bad)
        model = body["model"]
        parts: list[Part] = []
        record_parts(parts, model)
        served.check("cohere", str(model), models)
        read_parts(body["messages"], _bad, _image_rule, parts)
        images = [p for p in parts if p.kind == "image"]
        if images and not str(model).startswith(VISION_PREFIX):
            raise _bad(f"model '{model}' does not support image inputs; use a {VISION_PREFIX} model")
        if len(images) > MAX_IMAGES:
            raise _bad(f"too many images: {len(images)} > {MAX_IMAGES}")
        total = sum(p.media.size for p in images if p.media)
        if total > MAX_IMAGE_TOTAL_BYTES:
            raise _bad(f"images total {total} bytes, over the {MAX_IMAGE_TOTAL_BYTES} byte (20 MB) limit")
        plan = check(body, lambda message, _param: _bad(message), COHERE)  # tools (app/simulators/tools.py)
        text, calls = answer(plan, raw, describe("cohere", model, parts), COHERE)
        p_tok, c_tok = prompt_tokens(parts), completion_tokens(text or str(calls))
        message: dict = {"role": "assistant", "content": [{"type": "text", "text": text}]}
        if calls:  # types/assistant_message_response.py: tool_plan and tool_calls, no content
            message = {"role": "assistant", "tool_plan": f"I will call {calls[0]['function']['name']}.",
                       "tool_calls": calls}
        return jsonify({
            "id": request_id(raw, ""),
            "finish_reason": "TOOL_CALL" if calls else "COMPLETE",
            "message": message,
            "usage": {"billed_units": {"input_tokens": p_tok, "output_tokens": c_tok},
                      "tokens": {"input_tokens": p_tok, "output_tokens": c_tok}},
        })

    return app
