"""Gemini (Developer API) simulator: generateContent with inline / file data (and image output
from image models); the Files API comes from ``gemini_files``.

REST reference: https://ai.google.dev/api/generate-content. Inline requests up to 20 MB (the
product default, configurable since the docs now allow more); accepted formats and the error
shape: ``gemini_wire``.
"""
from __future__ import annotations

from collections.abc import Iterable
import base64
import re
from typing import Any

from flask import Flask, Response, jsonify

from .common import Part, completion_tokens, describe, prompt_tokens, request_id
from .controls import SimReject, install_controls, record_parts
from . import gemini_tools, served
from .gemini_batches import register_batches
from .gemini_files import register_files
from .gemini_wire import ALLOWED_CANONICAL, VER, bad, check_key, get_field, read_json, render_error
from .generated import make_png
from .media import MediaError, b64decode_strict, canonical_mime, inspect_lenient, inspect_media

MAX_INLINE_REQUEST_BYTES = 20 * 1024 * 1024
# Image output (issue 6 item 5): https://ai.google.dev/gemini-api/docs/image-generation — image models
# (gemini-2.5-flash-image, ...-image-preview) answer ``candidates[].content.parts[]`` with ``text`` and
# ``inlineData {mimeType, data}`` parts; ``generationConfig.responseModalities`` ("TEXT", "IMAGE"; the
# python-genai SDK sends ``response_modalities``) and ``generationConfig.imageConfig.aspectRatio``
# (google/genai/types.py ImageConfig) choose them; every aspect ratio of gemini-2.5-flash-image costs
# 1290 output tokens (same page, table of resolutions). Text-only models refuse IMAGE.
MODALITIES = ("TEXT", "IMAGE", "AUDIO")
IMAGE_TOKENS = 1290
ASPECT_SIZES = {"1:1": (1024, 1024), "2:3": (832, 1248), "3:2": (1248, 832), "3:4": (864, 1184),
                "4:3": (1184, 864), "4:5": (896, 1152), "5:4": (1152, 896), "9:16": (768, 1344),
                "16:9": (1344, 768), "21:9": (1536, 672)}


def image_model(model: str) -> bool:
    """gemini-2.5-flash-image, gemini-2.0-flash-preview-image-generation, gemini-3-pro-image-preview, ..."""
    return "-image" in model


_YOUTUBE = re.compile(r"^https?://(www\.)?(youtube\.com/watch|youtu\.be/|youtube\.com/shorts/)")
_FILE_URI = re.compile(r"(?:^|/v1(?:beta)?/)(files/[A-Za-z0-9_-]+)$")


def create_app(api_key: str = "sim-key", inline_limit: int = MAX_INLINE_REQUEST_BYTES,
               processing_seconds: float = 0.0, video_processing_seconds: float = 1.0,
               models: Iterable[str] | None = None) -> Flask:
    """``video_processing_seconds``: how long an uploaded video stays PROCESSING (others: ``processing_seconds``)."""
    app = Flask("gemini_sim")
    state = install_controls(app, "gemini", render_error)
    file_routes = register_files(app, state, api_key, processing_seconds, video_processing_seconds)
    lookup = file_routes.lookup
    batches = register_batches(app, state, api_key, file_routes, models)

    @app.post(f"/{VER}/models/<path:model_action>")
    def generate(ver: str, model_action: str) -> Response:
        check_key(api_key)
        model, _, action = model_action.partition(":")
        if action == "batchGenerateContent":
            return batches.create(model)
        if action != "generateContent":
            raise SimReject(404, f"Method {action or '(none)'} is not supported by the simulator.", "NOT_FOUND")
        raw, body = read_json(inline_limit)
        contents = body.get("contents") if isinstance(body, dict) else None
        if not isinstance(contents, list) or not contents:
            raise bad("* GenerateContentRequest.contents: contents is not specified")
        parts: list[Part] = []
        record_parts(parts, model)
        served.check("gemini", model, models)
        for i, content in enumerate(contents):
            for j, part in enumerate((content or {}).get("parts") or []):
                if not gemini_tools.is_call_part(part):  # function calls and responses: gemini_tools
                    parts.append(_read_part(f"contents[{i}].parts[{j}]", part, lookup))
        plan = gemini_tools.check(body)
        text = describe("gemini", model, parts)
        p_tok, c_tok = prompt_tokens(parts), completion_tokens(text)
        image_size = _image_output(body, model)
        out_parts: list[dict[str, Any]] = gemini_tools.answer(plan, text) or [{"text": text}]
        usage: dict[str, Any] = {"promptTokenCount": p_tok, "candidatesTokenCount": c_tok,
                                 "totalTokenCount": p_tok + c_tok}
        if image_size is not None:
            png = make_png(*image_size, seed=f"{model}:{raw.decode('utf-8', 'replace')}")
            out_parts.append({"inlineData": {"mimeType": "image/png", "data": base64.b64encode(png).decode("ascii")}})
            by_kind: dict[str, int] = {}
            for p in parts:
                key = {"text": "TEXT", "image": "IMAGE", "audio": "AUDIO", "video": "VIDEO"}.get(p.kind, "DOCUMENT")
                by_kind[key] = by_kind.get(key, 0) + p.tokens()
            usage = {"promptTokenCount": p_tok, "candidatesTokenCount": c_tok + IMAGE_TOKENS,
                     "totalTokenCount": p_tok + c_tok + IMAGE_TOKENS,
                     "promptTokensDetails": [{"modality": k, "tokenCount": v} for k, v in by_kind.items()],
                     "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": c_tok},
                                                 {"modality": "IMAGE", "tokenCount": IMAGE_TOKENS}]}
        return jsonify({
            "candidates": [{"content": {"role": "model", "parts": out_parts},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": usage,
            "modelVersion": model,
            "responseId": request_id(raw, "sim"),
        })

    return app


def _image_output(body: dict[str, Any], model: str) -> tuple[int, int] | None:
    """(width, height) of the image to answer with, or None for text only; rejects what Gemini rejects."""
    config = get_field(body, "generation_config") or {}
    if not isinstance(config, dict):
        raise bad("Invalid value at 'generation_config': expected an object")
    modalities = get_field(config, "response_modalities")
    if modalities is not None:
        if not isinstance(modalities, list) or any(
                not isinstance(m, str) or m.upper() not in MODALITIES for m in modalities):
            raise bad(f"Invalid value at 'generation_config.response_modalities': {modalities!r} "
                      f"(expected {', '.join(MODALITIES)})")
        wanted = {m.upper() for m in modalities}
    else:
        wanted = {"TEXT", "IMAGE"} if image_model(model) else {"TEXT"}  # image models answer both by default
    if "AUDIO" in wanted:
        raise bad("The simulator's models do not support the requested response modalities: AUDIO")
    if "IMAGE" not in wanted:
        return None
    if not image_model(model):
        raise bad(f"Model {model} does not support the requested response modalities: image")
    image_config = get_field(config, "image_config") or {}
    ratio = get_field(image_config, "aspect_ratio") if isinstance(image_config, dict) else None
    if ratio is None:
        return ASPECT_SIZES["1:1"]
    if ratio not in ASPECT_SIZES:
        raise bad(f"Invalid value at 'generation_config.image_config.aspect_ratio': {ratio!r} "
                  f"(supported: {', '.join(ASPECT_SIZES)})")
    return ASPECT_SIZES[ratio]


def _read_part(where: str, part: dict[str, Any], lookup) -> Part:
    if "text" in part:
        return Part("text", text=str(part["text"]))
    inline = get_field(part, "inline_data")
    if inline is not None:
        return _read_inline(where + ".inline_data", inline)
    file_data = get_field(part, "file_data")
    if file_data is not None:
        return _read_file_data(where + ".file_data", file_data, lookup)
    return Part("other", declared_mime=",".join(sorted(part)) or "empty")


def _check_mime(where: str, mime: Any) -> str:
    if not mime:
        raise bad(f"Invalid value at '{where}.mime_type': mime_type is required")
    if canonical_mime(mime) not in ALLOWED_CANONICAL:
        raise bad(f"Unsupported MIME type: {mime}")
    return str(mime)


def _kind(mime: str | None) -> str:
    top = (mime or "").split("/")[0]
    return {"image": "image", "audio": "audio", "video": "video"}.get(top, "document")


def _read_inline(where: str, inline: dict[str, Any]) -> Part:
    mime = _check_mime(where, get_field(inline, "mime_type"))
    try:
        data = b64decode_strict(inline.get("data") or "", urlsafe_ok=True)
    except MediaError:
        raise bad(f"Invalid value at '{where}.data' (TYPE_BYTES), Base64 decoding failed")
    try:
        media = inspect_media(data)
    except MediaError:
        raise bad("Provided image is not valid." if _kind(mime) == "image" else
                  f"Unable to process input data at '{where}': the bytes are not valid {mime}.")
    if canonical_mime(media.mime) != canonical_mime(mime):
        raise bad(f"Request contains an invalid argument: '{where}.mime_type' is {mime} but the data is "
                  f"{media.mime or 'unrecognised'}.")
    return Part(_kind(mime), media=media, declared_mime=mime)


def _read_file_data(where: str, fd: dict[str, Any], lookup) -> Part:
    uri = get_field(fd, "file_uri")
    mime = get_field(fd, "mime_type")
    if not isinstance(uri, str) or not uri:
        raise bad(f"Invalid value at '{where}.file_uri': file_uri is required")
    m = _FILE_URI.search(uri)
    if m and (uri.startswith("files/") or "/files/" in uri):
        gfile = lookup(m.group(1))
        fid = gfile.name.split("/", 1)[1]
        if gfile.state() != "ACTIVE":
            raise bad(f"The File {fid} is not in an ACTIVE state and usage is not allowed.", "FAILED_PRECONDITION")
        if mime:
            _check_mime(where, mime)
            if canonical_mime(mime) != canonical_mime(gfile.mime):
                raise bad(f"Request contains an invalid argument: '{where}.mime_type' is {mime} but File "
                          f"{fid} is {gfile.mime}.")
        _check_mime(where, gfile.mime)
        return Part(_kind(gfile.mime), media=inspect_lenient(gfile.data), declared_mime=gfile.mime,
                    source="file", ref=gfile.name)
    if _YOUTUBE.match(uri):
        return Part("video", declared_mime=mime or "video/*", source="url", ref=uri)
    if uri.startswith(("https://", "http://", "gs://")):
        if mime:
            _check_mime(where, mime)
        return Part(_kind(mime), declared_mime=mime, source="url", ref=uri)
    raise bad(f"Invalid value at '{where}.file_uri': unsupported file URI {uri!r}")
