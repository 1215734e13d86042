"""Gemini's wire conventions shared by the simulated generateContent and Files endpoints.

Accepted formats: https://ai.google.dev/gemini-api/docs/image-understanding (png, jpeg, webp,
heic, heif), .../audio (wav, mp3, aiff, aac, ogg, flac), .../video (mp4, mpeg, mov, avi, x-flv,
mpg, webm, wmv, 3gpp), .../document-processing (application/pdf, text/*).
Errors are Google RPC style: ``{"error": {"code", "message", "status"}}``.
"""
from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from .common import load_json_body
from .controls import SimReject, discard_body
from .media import canonical_mime

ALLOWED_MIMES = {
    "image/png", "image/jpeg", "image/webp", "image/heic", "image/heif",
    "application/pdf", "text/plain", "text/html", "text/csv", "text/markdown", "text/xml", "text/rtf",
    "audio/wav", "audio/mp3", "audio/aiff", "audio/aac", "audio/ogg", "audio/flac",
    "video/mp4", "video/mpeg", "video/mov", "video/avi", "video/x-flv", "video/mpg", "video/webm",
    "video/wmv", "video/3gpp",
}
ALLOWED_CANONICAL = {canonical_mime(m) for m in ALLOWED_MIMES}

_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           409: "ALREADY_EXISTS", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
           503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
#: The SDK's default API version has been v1beta; newer releases may call v1. Serve both.
VER = "<any(v1, v1beta):ver>"


def render_error(exc: SimReject) -> Response:
    return jsonify({"error": {"code": exc.status, "message": exc.message,
                              "status": exc.kind or _STATUS.get(exc.status, "UNKNOWN")}})


def bad(message: str, status: str = "INVALID_ARGUMENT") -> SimReject:
    return SimReject(400, message, status)


def get_field(d: dict[str, Any], snake: str) -> Any:
    """Proto JSON accepts both snake_case and lowerCamelCase field names."""
    if snake in d:
        return d[snake]
    head, *rest = snake.split("_")
    return d.get(head + "".join(w.title() for w in rest))


def check_key(api_key: str) -> None:
    """Gemini's answers to a missing (403) or wrong (400) ``x-goog-api-key`` / ``?key=``."""
    key = request.headers.get("x-goog-api-key") or request.args.get("key")
    if not key:
        raise SimReject(403, "Method doesn't allow unregistered callers (callers without established "
                        "identity). Please use API Key or other form of API consumer identity to call "
                        "this API.", "PERMISSION_DENIED")
    if key != api_key:
        raise bad("API key not valid. Please pass a valid API key.")


def read_json(limit: int) -> tuple[bytes, Any]:
    """The raw body and its JSON (Gemini and Vertex): over ``limit`` bytes or not JSON is Google's 400."""
    if (request.content_length or 0) > limit:
        discard_body()
        raise bad(f"Request payload size exceeds the limit: {limit} bytes.")
    raw = request.get_data()
    try:
        return raw, load_json_body(raw)
    except ValueError as exc:
        raise bad(f"Invalid JSON payload received. {exc}")
