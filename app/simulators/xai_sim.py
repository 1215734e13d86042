"""xAI simulator: ``POST /v1/chat/completions`` (OpenAI-compatible) with text and image_url parts.

Rules: https://docs.x.ai/docs/guides/image-understanding (jpg/jpeg and png only, 20 MiB per
image; image URLs or base64 data URIs). Error body ``{"code": <status text>, "error": <message>}``;
a bad API key is a **400** with "Incorrect API key provided: ... You can obtain an API key from
https://console.x.ai." (as reported in github.com/continuedev/continue/issues/10778).
"""
from __future__ import annotations

from collections.abc import Iterable
from flask import Flask, Response, jsonify

from .chatlike import bearer_token, chat_completion, read_body, read_parts
from .common import Part
from .controls import SimReject, install_controls, record_parts
from . import served
from .media import Media
from .openai_tools import check

IMAGE_MIMES = ("image/jpeg", "image/png")
DECLARED_MIMES = ("image/jpeg", "image/jpg", "image/png")
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # 20 MiB
_CODES = {400: "Client specified an invalid argument", 401: "Unauthenticated",
          404: "Some requested entity was not found", 429: "Too many requests",
          500: "Internal server error", 503: "Service unavailable"}


def render_error(exc: SimReject) -> Response:
    return jsonify({"code": exc.kind or _CODES.get(exc.status, "Unknown"), "error": exc.message})


def _bad(message: str) -> SimReject:
    return SimReject(400, message)


def _image_rule(where: str, declared: str | None, media: Media) -> None:
    if declared not in DECLARED_MIMES or media.mime not in IMAGE_MIMES:
        raise _bad(f"{where}: Unsupported image format {media.mime or declared}. Supported formats: jpg/jpeg, png.")
    if media.size > MAX_IMAGE_BYTES:
        raise _bad(f"{where}: Image size {media.size} bytes exceeds the maximum of {MAX_IMAGE_BYTES} bytes (20 MiB).")


def create_app(api_key: str = "sim-key", models: Iterable[str] | None = None) -> Flask:
    app = Flask("xai_sim")
    install_controls(app, "xai", render_error)

    @app.post("/v1/chat/completions")
    def chat() -> Response:
        token = bearer_token()
        if token != api_key:
            shown = (token[:2] + "***" + token[-2:]) if token and len(token) > 4 else "***"
            raise _bad(f"Incorrect API key provided: {shown}. You can obtain an API key from https://console.x.ai.")
        raw, body = read_body(_bad)
        parts: list[Part] = []
        record_parts(parts, body["model"])
        served.check("xai", str(body["model"]), models)
        read_parts(body["messages"], _bad, _image_rule, parts)
        plan = check(body, lambda message, _param: _bad(message))  # tools (app/simulators/tools.py)
        return jsonify(chat_completion("xai", raw, body["model"], parts, plan))

    return app
