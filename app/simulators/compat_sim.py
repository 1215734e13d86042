"""A generic OpenAI-compatible chat server (vLLM, Ollama, LM Studio, llama.cpp server, OpenRouter, …).

``POST /v1/chat/completions`` in OpenAI's shape, as strict as the cautious common denominator such servers
are (issue 12 item 5): images only inline as base64 data URIs (many cannot fetch URLs: the simulator
refuses them), JPEG or PNG only, the long edge at most ``max_side``, no ``file``/``input_audio`` parts, the
whole body at most ``max_body`` bytes (413), and only the ``models`` it serves. Errors in vLLM's shape
(vllm/entrypoints/openai/protocol.py ``ErrorResponse``: ``{"object": "error", "message", "type", "param",
"code"}``; an unknown model is 404 "The model `x` does not exist."). ``api_key=None``: no auth, like a local
Ollama; otherwise ``Authorization: Bearer <key>`` is required (vLLM ``--api-key``: 401 ``Unauthorized``).
"""
from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, Response, jsonify, request

from .chatlike import bearer_token, chat_completion, read_body, read_parts
from .common import Part
from .controls import SimReject, discard_body, install_controls, record_parts
from .media import Media
from .openai_tools import check

IMAGE_MIMES = ("image/jpeg", "image/png")


def render_error(exc: SimReject) -> Response:
    if exc.status == 401:
        return jsonify({"error": "Unauthorized"})
    return jsonify({"object": "error", "message": exc.message, "type": exc.kind or "BadRequestError",
                    "param": exc.param, "code": exc.status})


def _bad(message: str) -> SimReject:
    return SimReject(400, message, "BadRequestError")


def create_app(api_key: str | None = "sim-key", models: Iterable[str] = ("llava-1.6", "qwen2.5-vl-7b"),
               max_side: int = 2048, max_body: int = 20_000_000) -> Flask:
    app = Flask("compat_sim")
    install_controls(app, "compat", render_error)
    served = tuple(models)

    def image_rule(where: str, declared: str | None, media: Media) -> None:
        if media.mime not in IMAGE_MIMES:
            raise _bad(f"{where}: unsupported image format {media.mime or 'unknown'}; this server reads JPEG and PNG")
        if media.max_side > max_side:
            raise _bad(f"{where}: image {media.width}x{media.height} is larger than {max_side} px on its long edge")

    @app.post("/v1/chat/completions")
    def chat() -> Response:
        if api_key is not None and bearer_token() != api_key:
            raise SimReject(401, "Unauthorized")
        if (request.content_length or 0) > max_body:
            discard_body()
            raise SimReject(413, f"Request body of {request.content_length} bytes is larger than {max_body} bytes",
                            "RequestTooLarge")
        raw, body = read_body(_bad)
        parts: list[Part] = []
        record_parts(parts, body["model"])
        if body["model"] not in served:
            raise SimReject(404, f"The model `{body['model']}` does not exist.", "NotFoundError")
        read_parts(body["messages"], _bad, image_rule, parts)
        if any(p.source == "url" for p in parts if p.kind == "image"):
            raise _bad("image URLs cannot be fetched by this server: send images as base64 data URIs")
        plan = check(body, lambda message, param: SimReject(400, message, "BadRequestError", param=param))
        return jsonify(chat_completion("compat", raw, body["model"], parts, plan))

    return app
