"""Gemini (Developer API) simulator: generateContent with inline / file data, and the Files API.

Wire details follow github.com/googleapis/python-genai: ``google/genai/files.py`` (start a
resumable upload at ``upload/v1beta/files``, read ``x-goog-upload-url``, answer ``{"file": ...}``),
``google/genai/_api_client.py`` ``upload_file`` (``X-Goog-Upload-Command: upload[, finalize]``,
``X-Goog-Upload-Offset``, expects ``x-goog-upload-status: active|final``),
``google/genai/_extra_utils.py`` ``prepare_resumable_upload`` (``X-Goog-Upload-Protocol: resumable``,
``X-Goog-Upload-Header-Content-Length/-Type``). REST reference:
https://ai.google.dev/api/generate-content, https://ai.google.dev/api/files.

Limits / formats: https://ai.google.dev/gemini-api/docs/image-understanding (png, jpeg, webp,
heic, heif; inline requests up to 20 MB — the product default, configurable since the docs now
allow more), .../audio (wav, mp3, aiff, aac, ogg, flac), .../video (mp4, mpeg, mov, avi, x-flv,
mpg, webm, wmv, 3gpp), .../document-processing (application/pdf, text/*); files live 48 h.
Errors are Google RPC style: ``{"error": {"code", "message", "status"}}``.
"""
from __future__ import annotations

import base64
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Flask, Response, jsonify, request

from .common import (MediaError, Part, b64decode_strict, canonical_mime, completion_tokens, describe,
                     inspect_lenient, inspect_media, load_json_body, make_png, prompt_tokens, request_id,
                     sha256_hex)
from .controls import SimReject, discard_body, install_controls, record_parts

MAX_INLINE_REQUEST_BYTES = 20 * 1024 * 1024
FILE_TTL = timedelta(hours=48)
ALLOWED_MIMES = {
    "image/png", "image/jpeg", "image/webp", "image/heic", "image/heif",
    "application/pdf", "text/plain", "text/html", "text/csv", "text/markdown", "text/xml", "text/rtf",
    "audio/wav", "audio/mp3", "audio/aiff", "audio/aac", "audio/ogg", "audio/flac",
    "video/mp4", "video/mpeg", "video/mov", "video/avi", "video/x-flv", "video/mpg", "video/webm",
    "video/wmv", "video/3gpp",
}
_ALLOWED_CANONICAL = {canonical_mime(m) for m in ALLOWED_MIMES}
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


_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           409: "ALREADY_EXISTS", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
           503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
_YOUTUBE = re.compile(r"^https?://(www\.)?(youtube\.com/watch|youtu\.be/|youtube\.com/shorts/)")
_FILE_URI = re.compile(r"(?:^|/v1(?:beta)?/)(files/[A-Za-z0-9_-]+)$")
#: The SDK's default API version has been v1beta; newer releases may call v1. Serve both.
_VER = "<any(v1, v1beta):ver>"


def render_error(exc: SimReject) -> Response:
    return jsonify({"error": {"code": exc.status, "message": exc.message,
                              "status": exc.kind or _STATUS.get(exc.status, "UNKNOWN")}})


def _bad(message: str, status: str = "INVALID_ARGUMENT") -> SimReject:
    return SimReject(400, message, status)


def _get(d: dict[str, Any], snake: str) -> Any:
    """Proto JSON accepts both snake_case and lowerCamelCase field names."""
    if snake in d:
        return d[snake]
    head, *rest = snake.split("_")
    return d.get(head + "".join(w.title() for w in rest))


@dataclass
class GFile:
    name: str  # files/abc123
    display_name: str | None
    mime: str
    data: bytes
    created: float
    ready_at: float
    failed: str | None = None

    def state(self) -> str:
        if self.failed:
            return "FAILED"
        return "ACTIVE" if time.time() >= self.ready_at else "PROCESSING"

    def resource(self, base_url: str) -> dict[str, Any]:
        def ts(t: float) -> str:
            return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

        out: dict[str, Any] = {
            "name": self.name, "mimeType": self.mime, "sizeBytes": str(len(self.data)),
            "createTime": ts(self.created), "updateTime": ts(max(self.created, min(time.time(), self.ready_at))),
            "expirationTime": ts(self.created + FILE_TTL.total_seconds()),
            "sha256Hash": sha256_hex(self.data), "uri": f"{base_url}v1beta/{self.name}",
            "state": self.state(), "source": "UPLOADED",
        }
        if self.display_name:
            out["displayName"] = self.display_name
        if self.failed:
            out["error"] = {"code": 400, "message": self.failed}
        return out


@dataclass
class _Upload:
    declared_size: int | None
    mime: str | None
    display_name: str | None
    name: str | None
    received: bytearray = field(default_factory=bytearray)


def create_app(api_key: str = "sim-key", inline_limit: int = MAX_INLINE_REQUEST_BYTES,
               processing_seconds: float = 0.0, video_processing_seconds: float = 1.0) -> Flask:
    """``video_processing_seconds``: how long an uploaded video stays PROCESSING (others: ``processing_seconds``)."""
    app = Flask("gemini_sim")
    state = install_controls(app, "gemini", render_error)
    lock = threading.Lock()
    files: dict[str, GFile] = {}
    uploads: dict[str, _Upload] = {}

    def reset() -> None:
        with lock:
            files.clear()
            uploads.clear()

    state.reset_hooks.append(reset)

    def check_key() -> None:
        key = request.headers.get("x-goog-api-key") or request.args.get("key")
        if not key:
            raise SimReject(403, "Method doesn't allow unregistered callers (callers without established "
                            "identity). Please use API Key or other form of API consumer identity to call "
                            "this API.", "PERMISSION_DENIED")
        if key != api_key:
            raise _bad("API key not valid. Please pass a valid API key.")

    def lookup(name: str) -> GFile:
        with lock:
            f = files.get(name)
        if f is None:
            fid = name.split("/", 1)[-1]
            raise SimReject(403, f"You do not have permission to access the File {fid} or it may not exist.",
                            "PERMISSION_DENIED")
        return f

    @app.post(f"/{_VER}/models/<path:model_action>")
    def generate(ver: str, model_action: str) -> Response:
        check_key()
        model, _, action = model_action.partition(":")
        if action != "generateContent":
            raise SimReject(404, f"Method {action or '(none)'} is not supported by the simulator.", "NOT_FOUND")
        if (request.content_length or 0) > inline_limit:
            discard_body()
            raise _bad(f"Request payload size exceeds the limit: {inline_limit} bytes.")
        raw = request.get_data()
        try:
            body = load_json_body(raw)
        except ValueError as exc:
            raise _bad(f"Invalid JSON payload received. {exc}")
        contents = body.get("contents") if isinstance(body, dict) else None
        if not isinstance(contents, list) or not contents:
            raise _bad("* GenerateContentRequest.contents: contents is not specified")
        parts: list[Part] = []
        record_parts(parts, model)
        for i, content in enumerate(contents):
            for j, part in enumerate((content or {}).get("parts") or []):
                parts.append(_read_part(f"contents[{i}].parts[{j}]", part, lookup))
        text = describe("gemini", model, parts)
        p_tok, c_tok = prompt_tokens(parts), completion_tokens(text)
        image_size = _image_output(body, model)
        out_parts: list[dict[str, Any]] = [{"text": text}]
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

    # ---------------------------------------------------------------- Files API
    @app.post(f"/upload/{_VER}/files")
    def upload(ver: str) -> Response:
        upload_id = request.args.get("upload_id")
        if upload_id:
            return _continue_upload(upload_id)
        check_key()
        if request.headers.get("X-Goog-Upload-Protocol", "").lower() != "resumable" or \
                request.headers.get("X-Goog-Upload-Command", "").lower() != "start":
            raise _bad("Simulator supports only resumable uploads: send X-Goog-Upload-Protocol: resumable "
                       "and X-Goog-Upload-Command: start")
        meta = {}
        if request.get_data():
            try:
                meta = _get(load_json_body(request.get_data()), "file") or {}
            except (ValueError, AttributeError):
                raise _bad("Invalid JSON payload received.")
        size = request.headers.get("X-Goog-Upload-Header-Content-Length")
        name = meta.get("name")
        if name and not name.startswith("files/"):
            name = "files/" + name
        if name:
            with lock:
                if name in files:
                    raise SimReject(409, f"File {name} already exists.", "ALREADY_EXISTS")
        up = _Upload(int(size) if size and size.isdigit() else None,
                     request.headers.get("X-Goog-Upload-Header-Content-Type") or _get(meta, "mime_type"),
                     _get(meta, "display_name"), name)
        uid = secrets.token_urlsafe(16)
        with lock:
            uploads[uid] = up
        url = f"{request.host_url}upload/{ver}/files?upload_id={uid}&upload_protocol=resumable"
        resp = Response(b"", status=200)
        resp.headers.update({"X-Goog-Upload-Status": "active", "X-Goog-Upload-URL": url,
                             "X-Goog-Upload-Control-URL": url, "X-Goog-Upload-Chunk-Granularity": "8388608"})
        return resp

    def _continue_upload(uid: str) -> Response:
        with lock:
            up = uploads.get(uid)
        if up is None:
            raise SimReject(404, "Upload session not found (unknown or finished upload_id).", "NOT_FOUND")
        command = {c.strip().lower() for c in request.headers.get("X-Goog-Upload-Command", "").split(",")}
        if "query" in command:
            resp = Response(b"")
            resp.headers.update({"X-Goog-Upload-Status": "active",
                                 "X-Goog-Upload-Size-Received": str(len(up.received))})
            return resp
        if not command & {"upload", "finalize"}:
            raise _bad("X-Goog-Upload-Command must be upload, finalize, 'upload, finalize' or query")
        if "upload" in command:
            offset = request.headers.get("X-Goog-Upload-Offset")
            if offset is None or not offset.isdigit() or int(offset) != len(up.received):
                raise _bad(f"X-Goog-Upload-Offset {offset} does not match the {len(up.received)} bytes received")
            up.received += request.get_data()
        if "finalize" not in command:
            resp = Response(b"")
            resp.headers.update({"X-Goog-Upload-Status": "active",
                                 "X-Goog-Upload-Size-Received": str(len(up.received))})
            return resp
        if up.declared_size is not None and up.declared_size != len(up.received):
            raise _bad(f"Upload finalized with {len(up.received)} bytes but {up.declared_size} were declared")
        data = bytes(up.received)
        media = inspect_lenient(data)
        mime = (up.mime or media.mime or "application/octet-stream").lower()
        failed = _processing_error(mime, data)
        now = time.time()
        delay = video_processing_seconds if mime.startswith("video/") else processing_seconds
        gfile = GFile(up.name or "files/" + secrets.token_hex(6), up.display_name, mime, data, now, now + delay,
                      failed)
        with lock:
            uploads.pop(uid, None)
            files[gfile.name] = gfile
        record_parts([Part("file", media=media, declared_mime=mime, source="file", ref=gfile.name)])
        resp = jsonify({"file": gfile.resource(request.host_url)})
        resp.headers["X-Goog-Upload-Status"] = "final"
        return resp

    @app.get(f"/{_VER}/files/<fid>")
    def get_file(ver: str, fid: str) -> Response:
        check_key()
        return jsonify(lookup("files/" + fid).resource(request.host_url))

    @app.delete(f"/{_VER}/files/<fid>")
    def delete_file(ver: str, fid: str) -> Response:
        check_key()
        lookup("files/" + fid)
        with lock:
            files.pop("files/" + fid, None)
        return jsonify({})

    @app.get(f"/{_VER}/files")
    def list_files(ver: str) -> Response:
        check_key()
        with lock:
            listed = [f.resource(request.host_url) for f in files.values()]
        return jsonify({"files": listed} if listed else {})

    return app


def _image_output(body: dict[str, Any], model: str) -> tuple[int, int] | None:
    """(width, height) of the image to answer with, or None for text only; rejects what Gemini rejects."""
    config = _get(body, "generation_config") or {}
    if not isinstance(config, dict):
        raise _bad("Invalid value at 'generation_config': expected an object")
    modalities = _get(config, "response_modalities")
    if modalities is not None:
        if not isinstance(modalities, list) or any(
                not isinstance(m, str) or m.upper() not in MODALITIES for m in modalities):
            raise _bad(f"Invalid value at 'generation_config.response_modalities': {modalities!r} "
                       f"(expected {', '.join(MODALITIES)})")
        wanted = {m.upper() for m in modalities}
    else:
        wanted = {"TEXT", "IMAGE"} if image_model(model) else {"TEXT"}  # image models answer both by default
    if "AUDIO" in wanted:
        raise _bad("The simulator's models do not support the requested response modalities: AUDIO")
    if "IMAGE" not in wanted:
        return None
    if not image_model(model):
        raise _bad(f"Model {model} does not support the requested response modalities: image")
    image_config = _get(config, "image_config") or {}
    ratio = _get(image_config, "aspect_ratio") if isinstance(image_config, dict) else None
    if ratio is None:
        return ASPECT_SIZES["1:1"]
    if ratio not in ASPECT_SIZES:
        raise _bad(f"Invalid value at 'generation_config.image_config.aspect_ratio': {ratio!r} "
                   f"(supported: {', '.join(ASPECT_SIZES)})")
    return ASPECT_SIZES[ratio]


def _processing_error(mime: str, data: bytes) -> str | None:
    """Why processing would fail (the file then ends FAILED), or None."""
    if canonical_mime(mime) not in _ALLOWED_CANONICAL:
        return None  # stored as-is; rejected when used in a request
    try:
        media = inspect_media(data)
    except MediaError as exc:
        return str(exc)
    if canonical_mime(media.mime) != canonical_mime(mime):
        return f"File content is {media.mime or 'unknown data'}, not {mime}"
    return None


def _read_part(where: str, part: dict[str, Any], lookup) -> Part:
    if "text" in part:
        return Part("text", text=str(part["text"]))
    inline = _get(part, "inline_data")
    if inline is not None:
        return _read_inline(where + ".inline_data", inline)
    file_data = _get(part, "file_data")
    if file_data is not None:
        return _read_file_data(where + ".file_data", file_data, lookup)
    return Part("other", declared_mime=",".join(sorted(part)) or "empty")


def _check_mime(where: str, mime: Any) -> str:
    if not mime:
        raise _bad(f"Invalid value at '{where}.mime_type': mime_type is required")
    if canonical_mime(mime) not in _ALLOWED_CANONICAL:
        raise _bad(f"Unsupported MIME type: {mime}")
    return str(mime)


def _kind(mime: str | None) -> str:
    top = (mime or "").split("/")[0]
    return {"image": "image", "audio": "audio", "video": "video"}.get(top, "document")


def _read_inline(where: str, inline: dict[str, Any]) -> Part:
    mime = _check_mime(where, _get(inline, "mime_type"))
    try:
        data = b64decode_strict(inline.get("data") or "", urlsafe_ok=True)
    except MediaError:
        raise _bad(f"Invalid value at '{where}.data' (TYPE_BYTES), Base64 decoding failed")
    try:
        media = inspect_media(data)
    except MediaError:
        raise _bad("Provided image is not valid." if _kind(mime) == "image" else
                   f"Unable to process input data at '{where}': the bytes are not valid {mime}.")
    if canonical_mime(media.mime) != canonical_mime(mime):
        raise _bad(f"Request contains an invalid argument: '{where}.mime_type' is {mime} but the data is "
                   f"{media.mime or 'unrecognised'}.")
    return Part(_kind(mime), media=media, declared_mime=mime)


def _read_file_data(where: str, fd: dict[str, Any], lookup) -> Part:
    uri = _get(fd, "file_uri")
    mime = _get(fd, "mime_type")
    if not isinstance(uri, str) or not uri:
        raise _bad(f"Invalid value at '{where}.file_uri': file_uri is required")
    m = _FILE_URI.search(uri)
    if m and (uri.startswith("files/") or "/files/" in uri):
        gfile = lookup(m.group(1))
        fid = gfile.name.split("/", 1)[1]
        if gfile.state() != "ACTIVE":
            raise _bad(f"The File {fid} is not in an ACTIVE state and usage is not allowed.", "FAILED_PRECONDITION")
        if mime:
            _check_mime(where, mime)
            if canonical_mime(mime) != canonical_mime(gfile.mime):
                raise _bad(f"Request contains an invalid argument: '{where}.mime_type' is {mime} but File "
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
    raise _bad(f"Invalid value at '{where}.file_uri': unsupported file URI {uri!r}")
