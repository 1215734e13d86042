"""OpenAI's wire conventions shared by the simulated chat, images and files endpoints: the error
envelope ``{"error": {"message", "type", "param", "code"}}``
(https://platform.openai.com/docs/guides/error-codes), Bearer auth and JSON request bodies."""
from __future__ import annotations

import re
from typing import Any

from flask import Response, jsonify, request

from .common import load_json_body
from .controls import SimReject

_ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
                413: "invalid_request_error", 429: "requests", 500: "server_error", 503: "server_error"}
_ERROR_CODES = {429: "rate_limit_exceeded"}


def render_error(exc: SimReject) -> Response:
    """OpenAI error envelope (openai-python _exceptions.py reads body["error"])."""
    return jsonify({"error": {"message": exc.message,
                              "type": exc.kind or _ERROR_TYPES.get(exc.status, "invalid_request_error"),
                              "param": exc.param,
                              "code": exc.code or _ERROR_CODES.get(exc.status)}})


def error_param(path: str) -> str:
    """``messages.0.content.1`` → ``messages[0].content[1]`` (OpenAI's param style)."""
    return re.sub(r"\.(\d+)", r"[\1]", path)


def bad(message: str, path: str | None = None, code: str | None = None, status: int = 400) -> SimReject:
    return SimReject(status, message, "invalid_request_error", param=error_param(path) if path else None,
                     code=code)


def json_object() -> tuple[bytes, dict[str, Any]]:
    """The raw body and its JSON object, or OpenAI's 400 for anything else."""
    raw = request.get_data()
    try:
        body = load_json_body(raw)
    except ValueError as exc:
        raise bad(f"We could not parse the JSON body of your request. ({exc})")
    if not isinstance(body, dict):
        raise bad("Invalid request body: expected a JSON object.")
    return raw, body


def check_auth(api_key: str) -> None:
    """OpenAI's 401s for a missing or wrong ``Authorization: Bearer`` key."""
    header = request.headers.get("Authorization", "")
    if not header:
        raise SimReject(401, "You didn't provide an API key. You need to provide your API key in an "
                        "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                        "invalid_request_error")
    token = header[7:] if header.startswith("Bearer ") else ""
    if token != api_key:
        shown = (token[:3] + "*" * 4 + token[-4:]) if len(token) > 8 else token
        raise SimReject(401, f"Incorrect API key provided: {shown}. You can find your API key at "
                        "https://platform.openai.com/account/api-keys.", "invalid_request_error",
                        code="invalid_api_key")
