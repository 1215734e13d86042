"""Vertex AI simulator: Gemini ``generateContent`` and Claude ``rawPredict`` under a project and location.

Paths as python-genai (google/genai/_api_client.py: ``projects/{project}/locations/{location}/`` prefixed to
``publishers/google/models/{model}:generateContent``) and anthropic-sdk-python's Vertex client
(src/anthropic/lib/vertex/_client.py: ``/projects/{p}/locations/{l}/publishers/anthropic/models/{m}:rawPredict``,
body ``anthropic_version: "vertex-2023-10-16"``, ``model`` popped from the body) call them, under ``/v1``,
with ``Authorization: Bearer <OAuth token>`` (Application Default Credentials).

Strict where Vertex is: a missing or wrong bearer token is 401 UNAUTHENTICATED, another project 403
PERMISSION_DENIED, an unknown location 400; Vertex has no Gemini Files API (``files/…`` URIs are refused),
``fileData`` needs ``mimeType`` and a ``gs://`` or http(s) URI; an inline image over 7 MB is refused
(https://cloud.google.com/vertex-ai/generative-ai/docs/multimodal/image-understanding). Claude bodies must
carry ``anthropic_version`` ``vertex-2023-10-16`` and no ``model``, and take no Files API or URL sources; media
rules and error bodies of the publisher's model are the Anthropic simulator's (``anthropic_sim``), errors
of Vertex itself are Google RPC ``{"error": {"code", "message", "status"}}``. An unknown model is 404
"Publisher Model `projects/…/models/X` was not found or your project does not have access to it."
"""
from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Any

from flask import Flask, Response, jsonify, request

from . import served
from .anthropic_sim import _BlockReader, _check_totals, render_error as anthropic_error
from .chatlike import STREAM_UNSUPPORTED
from .common import Part, completion_tokens, content_items, describe, prompt_tokens, request_id
from .controls import SimReject, discard_body, install_controls, record_parts
from .files import FileStore
from .gemini_sim import _read_part
from .gemini_wire import bad, read_json, render_error as google_error

VERTEX_VERSION = "vertex-2023-10-16"
LOCATIONS = ("global", "us", "eu", "us-central1", "us-east1", "us-east5", "europe-west1", "europe-west4",
             "asia-southeast1")
CLAUDE = ("claude-sonnet-4-5@20250929", "claude-haiku-4-5@20251001", "claude-opus-4-1@20250805",
          "claude-opus-4-5@20251101", "claude-sonnet-4@20250514", "claude-3-7-sonnet@20250219",
          "claude-3-5-haiku@20241022")
MAX_INLINE_IMAGE = 7 * 1024 * 1024
MAX_GEMINI_BODY = 20 * 1024 * 1024
MAX_CLAUDE_BODY = 30 * 1024 * 1024


class _AnthropicReject(SimReject):
    """An error of the Claude model server, passed back by rawPredict in Anthropic's own shape."""


def render_error(exc: SimReject) -> Response:
    return anthropic_error(exc) if isinstance(exc, _AnthropicReject) else google_error(exc)


def create_app(api_key: str = "sim-key", project: str = "ferry-sim", models: Iterable[str] | None = None) -> Flask:
    """``api_key`` is the bearer token accepted (VERTEX_ACCESS_TOKEN in tests); ``project`` the only project."""
    app = Flask("vertex_sim")
    install_controls(app, "vertex", render_error)
    gemini_models = tuple(models) if models is not None else served.SERVED["gemini"]
    claude_models = tuple(models) if models is not None else CLAUDE

    @app.post("/v1/projects/<proj>/locations/<loc>/publishers/<publisher>/models/<path:model_action>")
    def predict(proj: str, loc: str, publisher: str, model_action: str) -> Response:
        auth = request.headers.get("Authorization", "")
        if auth != f"Bearer {api_key}":
            raise SimReject(401, "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                            "login cookie or other valid authentication credential.", "UNAUTHENTICATED")
        model, _, action = model_action.partition(":")
        resource = f"projects/{proj}/locations/{loc}/publishers/{publisher}/models/{model}"
        if proj != project:
            raise SimReject(403, f"Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform."
                            f"googleapis.com/{resource}' (or it may not exist).", "PERMISSION_DENIED")
        if loc not in LOCATIONS:
            raise bad(f"Location {loc} is not supported for this API.")
        known = {"google": ("generateContent", gemini_models), "anthropic": ("rawPredict", claude_models)}
        method, names = known.get(publisher, ("", ()))
        if action in ("streamGenerateContent", "streamRawPredict"):
            raise bad(STREAM_UNSUPPORTED)
        if action != method or not any(fnmatchcase(model, pat) for pat in names):
            record_parts([], model)
            raise SimReject(404, f"Publisher Model `{resource}` was not found or your project does not have access "
                            "to it. Please ensure you are using a valid model version.", "NOT_FOUND")
        if publisher == "google":
            return _gemini(model)
        return _claude(model)

    return app


def _body(limit: int) -> tuple[bytes, dict[str, Any]]:
    raw, body = read_json(limit)
    if not isinstance(body, dict):
        raise bad("Invalid JSON payload received. Expected an object.")
    return raw, body


def _no_files(name: str) -> Any:
    raise bad(f"Unsupported file uri: {name}. Vertex AI has no Files API: use a gs:// or https:// URI.")


def _gemini(model: str) -> Response:
    raw, body = _body(MAX_GEMINI_BODY)
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise bad("Unable to submit request because it has an empty contents field.")
    parts: list[Part] = []
    record_parts(parts, model)
    for i, content in enumerate(contents):
        for j, part in enumerate((content or {}).get("parts") or []):
            where = f"contents[{i}].parts[{j}]"
            file_data = part.get("fileData") or part.get("file_data")
            if isinstance(file_data, dict) and not (file_data.get("mimeType") or file_data.get("mime_type")):
                raise bad(f"{where}.file_data.mime_type: mime_type is required for file_data on Vertex AI.")
            got = _read_part(where, part, _no_files)
            if got.kind == "image" and got.media is not None and got.media.size > MAX_INLINE_IMAGE:
                raise bad(f"{where}: inline image of {got.media.size} bytes is larger than the 7 MB inline limit; "
                          "use a Cloud Storage URI.")
            parts.append(got)
    text = describe("vertex", model, parts)
    p_tok, c_tok = prompt_tokens(parts), completion_tokens(text)
    return jsonify({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                                    "finishReason": "STOP", "index": 0}],
                    "usageMetadata": {"promptTokenCount": p_tok, "candidatesTokenCount": c_tok,
                                      "totalTokenCount": p_tok + c_tok},
                    "modelVersion": model, "responseId": request_id(raw, "vsim")})


def _claude(model: str) -> Response:
    if (request.content_length or 0) > MAX_CLAUDE_BODY:
        discard_body()
        raise _AnthropicReject(413, "Request exceeds the maximum size", "request_too_large")
    raw, body = _body(MAX_CLAUDE_BODY)
    if "model" in body:
        raise _AnthropicReject(400, "model: Extra inputs are not permitted", "invalid_request_error")
    if body.get("anthropic_version") != VERTEX_VERSION:
        raise _AnthropicReject(400, f"anthropic_version: Input should be '{VERTEX_VERSION}'", "invalid_request_error")
    for key in ("max_tokens", "messages"):
        if key not in body:
            raise _AnthropicReject(400, f"{key}: Field required", "invalid_request_error")
    if body.get("stream"):
        raise _AnthropicReject(400, STREAM_UNSUPPORTED, "invalid_request_error")
    parts: list[Part] = []
    record_parts(parts, model)
    reader = _BlockReader(FileStore("file_"), files_beta=False)  # no Files API on Vertex
    for path, block in content_items(body["messages"]):
        source = (block.get("source") or {}) if isinstance(block.get("source"), dict) else {}
        if source.get("type") == "url":
            raise _AnthropicReject(400, f"{path}.source: URL sources are not supported on Vertex AI; send base64",
                                   "invalid_request_error")
        try:
            reader.read(path, block, parts)
        except SimReject as exc:
            raise _AnthropicReject(exc.status, exc.message, exc.kind) from None
    try:
        _check_totals(reader, 100)
    except SimReject as exc:
        raise _AnthropicReject(exc.status, exc.message, exc.kind) from None
    text = describe("vertex", model, parts)
    return jsonify({"id": request_id(raw, "msg_vrtx_"), "type": "message", "role": "assistant", "model": model,
                    "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
                    "usage": {"input_tokens": prompt_tokens(parts), "output_tokens": completion_tokens(text)}})
