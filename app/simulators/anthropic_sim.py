"""Anthropic simulator: Messages API with image / document blocks, and the Files API (beta).

Shapes follow github.com/anthropics/anthropic-sdk-python: ``types/image_block_param.py``,
``types/base64_image_source_param.py`` (media_type Literal jpeg/png/gif/webp),
``types/document_block_param.py`` (base64 PDF / text / URL / file sources), ``types/message.py``,
``types/usage.py``; errors ``types/shared/error_response.py`` + ``error_type.py``; Files API
``resources/beta/files.py`` (``/v1/files``, header ``anthropic-beta: files-api-2025-04-14``),
``types/beta/file_metadata.py``, ``types/beta/deleted_file.py``.

Limits: https://docs.anthropic.com/en/docs/build-with-claude/vision (8000 px per side,
2000 px when a request has more than 20 images, 100 images per request, 5 MB per image),
https://docs.anthropic.com/en/docs/build-with-claude/pdf-support (100 pages, 32 MB),
https://docs.anthropic.com/en/api/overview#request-size-limits (32 MB → 413 request_too_large).
Error messages are the real ones as quoted in public bug reports (cited next to each).
"""
from __future__ import annotations

from collections.abc import Iterable
import time
from datetime import datetime, timezone
from typing import Any

from flask import Flask, Response, jsonify, request

from .common import (Part, completion_tokens, content_items, describe, load_json_body, prompt_tokens,
                     request_id)
from .chatlike import STREAM_UNSUPPORTED
from .anthropic_batches import register_batches
from .controls import SimReject, discard_body, install_controls, record_parts
from . import served
from .files import FileStore, StoredFile
from .media import MediaError, b64decode_strict, inspect_lenient, inspect_media, sniff
from . import anthropic_tools

IMAGE_MIMES = ("image/jpeg", "image/png", "image/gif", "image/webp")  # base64_image_source_param.py
MAX_IMAGE_B64_BYTES = 5 * 1024 * 1024  # counted on the base64 string (github.com/lobehub/lobehub/pull/14711)
MAX_SIDE = 8000
MANY_IMAGES = 20  # more than this → every image ≤ MANY_IMAGES_MAX_SIDE
MANY_IMAGES_MAX_SIDE = 2000
MAX_IMAGES = 100
MAX_PDF_PAGES = 100
MAX_REQUEST_BYTES = 32 * 1024 * 1024
FILES_BETA = "files-api-2025-04-14"
# anthropic-sdk-python 2.13.0 sends anthropic-version 2026-10-21 and no longer adds the Files beta
# header (resources/beta/files.py), so from that API version on the header is not required.
FILES_GA_VERSION = "2026-10-21"

_KINDS = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
          503: "api_error", 529: "overloaded_error"}


def render_error(exc: SimReject) -> Response:
    """``{"type": "error", "error": {"type", "message"}, "request_id"}`` (types/shared/error_response.py)."""
    rid = "req_sim" + str(time.time_ns())[-12:]
    resp = jsonify({"type": "error",
                    "error": {"type": exc.kind or _KINDS.get(exc.status, "api_error"), "message": exc.message},
                    "request_id": rid})
    resp.headers["request-id"] = rid
    return resp


def _bad(message: str) -> SimReject:
    return SimReject(400, message, "invalid_request_error")


def create_app(api_key: str = "sim-key", max_pdf_pages: int = MAX_PDF_PAGES, models: Iterable[str] | None = None) -> Flask:
    app = Flask("anthropic_sim")
    state = install_controls(app, "anthropic", render_error)
    files = FileStore("file_sim")
    state.reset_hooks.append(files.clear)

    def check_headers() -> None:
        # x-api-key (SDK ≤ 1.x, docs); anthropic-sdk-python 2.x sends the API key as
        # "Authorization: Bearer <key>" (anthropic/_client.py _api_key_auth), so accept both.
        bearer = request.headers.get("Authorization", "")
        key = request.headers.get("x-api-key") or (bearer[7:] if bearer.startswith("Bearer ") else None)
        if not key:
            raise SimReject(401, "x-api-key header is required", "authentication_error")
        if key != api_key:
            raise SimReject(401, "invalid x-api-key", "authentication_error")
        if not request.headers.get("anthropic-version"):
            raise _bad("anthropic-version: header is required")

    def has_files_beta() -> bool:
        if request.headers.get("anthropic-version", "") >= FILES_GA_VERSION:
            return True
        betas = request.headers.get("anthropic-beta", "")
        return FILES_BETA in [b.strip() for b in betas.split(",")]

    @app.post("/v1/messages")
    def messages() -> Response:
        if (request.content_length or 0) > MAX_REQUEST_BYTES:
            # Real body: {"error":{"type":"request_too_large","message":"Request exceeds the maximum size"}}
            # (github.com/anthropics/anthropic-sdk-python/issues/938)
            discard_body()
            raise SimReject(413, "Request exceeds the maximum size", "request_too_large")
        check_headers()
        raw = request.get_data()
        try:
            body = load_json_body(raw)
        except ValueError as exc:
            raise _bad(str(exc))
        if not isinstance(body, dict):
            raise _bad("Request body must be a JSON object")
        for key in ("model", "max_tokens", "messages"):
            if key not in body:
                raise _bad(f"{key}: Field required")
        if body.get("stream"):
            raise _bad(STREAM_UNSUPPORTED)
        model = body["model"]
        parts: list[Part] = []
        record_parts(parts, model)
        served.check("anthropic", str(model), models)
        reader = _BlockReader(files, has_files_beta())
        for path, block in content_items(body["messages"]):
            reader.read(path, block, parts)
        _check_totals(reader, max_pdf_pages)
        plan = anthropic_tools.check(body)  # tools, tool_use / tool_result pairing (app/simulators/tools.py)
        content, stop_reason = anthropic_tools.answer(plan, raw, describe("anthropic", model, parts))
        text = str(content)
        return jsonify({
            "id": request_id(raw, "msg_sim"),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": prompt_tokens(parts), "output_tokens": completion_tokens(text)},
        })

    # ---------------------------------------------------------------- Files API (beta)
    def check_files_api() -> None:
        check_headers()
        if not has_files_beta():
            raise _bad(f"The Files API is in beta: add the header 'anthropic-beta: {FILES_BETA}'")

    def lookup(file_id: str) -> StoredFile:
        stored = files.get(file_id)
        if stored is None:
            raise SimReject(404, f"File not found: {file_id}", "not_found_error")
        return stored

    @app.post("/v1/files")
    def upload() -> Response:
        check_files_api()
        up = request.files.get("file")
        if up is None:
            raise _bad("file: Field required")
        data = up.read()
        declared = (up.mimetype or "").lower()
        mime = sniff(data) or (declared if declared and declared != "application/octet-stream" else None) \
            or "application/octet-stream"
        stored = files.put(StoredFile(files.new_id(), up.filename or "upload", data, mime))
        record_parts([Part("file", media=inspect_lenient(data), source="file", ref=stored.id)])
        return jsonify(_metadata(stored))

    @app.get("/v1/files")
    def list_files() -> Response:
        check_files_api()
        data = [_metadata(f) for f in files.all()]
        return jsonify({"data": data, "has_more": False,
                        "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None})

    @app.get("/v1/files/<file_id>")
    def get_file(file_id: str) -> Response:
        check_files_api()
        return jsonify(_metadata(lookup(file_id)))

    @app.delete("/v1/files/<file_id>")
    def delete_file(file_id: str) -> Response:
        check_files_api()
        lookup(file_id)
        files.delete(file_id)
        return jsonify({"id": file_id, "type": "file_deleted"})

    register_batches(app, state, check_headers)
    return app


def _metadata(f: StoredFile) -> dict[str, Any]:
    created = datetime.fromtimestamp(f.created, timezone.utc).isoformat().replace("+00:00", "Z")
    return {"id": f.id, "type": "file", "filename": f.filename, "mime_type": f.mime,
            "size_bytes": len(f.data), "created_at": created, "downloadable": False}


class _BlockReader:
    """Walks content blocks (recursing into tool_result), applying per-block rules."""

    def __init__(self, files: FileStore, files_beta: bool) -> None:
        self.files = files
        self.files_beta = files_beta
        self.images: list[tuple[str, Part]] = []
        self.pdf_pages = 0

    def read(self, path: str, block: dict[str, Any], parts: list[Part]) -> None:
        kind = block.get("type")
        if kind == "text":
            parts.append(Part("text", text=str(block.get("text", ""))))
        elif kind == "image":
            part = self._image(path + ".image.source", block.get("source") or {})
            self.images.append((path + ".image.source", part))
            parts.append(part)
        elif kind == "document":
            parts.append(self._document(path + ".document.source", block.get("source") or {}))
        elif kind == "tool_result" and isinstance(block.get("content"), list):
            for j, sub in enumerate(block["content"]):
                if isinstance(sub, dict):
                    self.read(f"{path}.tool_result.content.{j}", sub, parts)
        elif kind == "tool_result":  # a string result (app/simulators/anthropic_tools.py checks the pairing)
            parts.append(Part("text", text=str(block.get("content") or "")))
        elif kind == "tool_use":
            pass
        else:
            parts.append(Part("other", declared_mime=str(kind)))

    def _file(self, where: str, source: dict[str, Any]) -> StoredFile:
        if not self.files_beta:
            # Without the beta header the API does not know the "file" source type.
            raise _bad(f"{where}: Input tag 'file' found using 'type' does not match any of the expected "
                       "tags: 'base64', 'url'")
        stored = self.files.get(str(source.get("file_id")))
        if stored is None:
            raise SimReject(404, f"File not found: {source.get('file_id')}", "not_found_error")
        return stored

    def _image(self, where: str, source: dict[str, Any]) -> Part:
        stype = source.get("type")
        if stype == "url":
            return Part("image", source="url", ref=source.get("url"))
        if stype == "file":
            stored = self._file(where, source)
            media = _decode(stored.data, where)
            if media.mime not in IMAGE_MIMES:
                raise _bad(f"{where}: File {stored.id} is not a supported image ({media.mime})")
            part = Part("image", media=media, source="file", ref=stored.id)
        elif stype == "base64":
            media_type = source.get("media_type")
            if media_type not in IMAGE_MIMES:
                # Real message: github.com/anthropics/claude-code/issues/8184
                raise _bad(f"{where}.base64.media_type: Input should be 'image/jpeg', 'image/png', "
                           "'image/gif' or 'image/webp'")
            data_b64 = source.get("data") or ""
            if len(data_b64) > MAX_IMAGE_B64_BYTES:
                # Real message: github.com/anthropics/claude-code/issues/10612
                raise _bad(f"{where}.base64: image exceeds 5 MB maximum: {len(data_b64)} bytes > "
                           f"{MAX_IMAGE_B64_BYTES} bytes")
            try:
                data = b64decode_strict(data_b64)
            except MediaError as exc:
                raise _bad(f"{where}.base64.data: {exc}")
            media = _decode(data, where + ".base64.data")
            if media.mime != media_type:
                # Real message: github.com/home-assistant/core/issues/167208, dust-tt/dust PR 26545
                raise _bad(f"{where}.base64: The image was specified using the {media_type} media type, "
                           f"but the image appears to be a {media.mime or 'unknown'} image")
            part = Part("image", media=media, declared_mime=media_type)
        else:
            raise _bad(f"{where}: Input tag '{stype}' found using 'type' does not match any of the expected "
                       "tags: 'base64', 'file', 'url'")
        if media.max_side > MAX_SIDE:
            # Real message: github.com/anthropics/claude-code/issues/4778
            raise _bad(f"{where}.base64.data: At least one of the image dimensions exceed max allowed size: "
                       f"{MAX_SIDE} pixels")
        return part

    def _document(self, where: str, source: dict[str, Any]) -> Part:
        stype = source.get("type")
        if stype == "url":
            return Part("document", source="url", ref=source.get("url"))
        if stype == "text":
            if source.get("media_type") != "text/plain":
                raise _bad(f"{where}.text.media_type: Input should be 'text/plain'")
            data = str(source.get("data", "")).encode()
            return Part("document", media=inspect_lenient(data), declared_mime="text/plain")
        if stype == "content":
            return Part("document", declared_mime="content")
        if stype == "file":
            stored = self._file(where, source)
            media = _decode(stored.data, where, "pdf")
            if media.mime not in ("application/pdf", "text/plain"):
                raise _bad(f"{where}: File {stored.id} has type {media.mime}; documents must be PDF or plain text")
            part = Part("document", media=media, source="file", ref=stored.id)
        elif stype == "base64":
            if source.get("media_type") != "application/pdf":
                raise _bad(f"{where}.base64.media_type: Input should be 'application/pdf'")
            try:
                data = b64decode_strict(source.get("data") or "")
            except MediaError as exc:
                raise _bad(f"{where}.base64.data: {exc}")
            media = _decode(data, where + ".base64.data", "pdf")
            if media.mime != "application/pdf":
                raise _bad(f"{where}.base64.data: The PDF specified was not valid.")
            part = Part("document", media=media, declared_mime="application/pdf")
        else:
            raise _bad(f"{where}: Input tag '{stype}' found using 'type' does not match any of the expected "
                       "tags: 'base64', 'content', 'file', 'text', 'url'")
        if media.mime == "application/pdf":
            if media.encrypted and media.pages is None:
                raise _bad(f"{where}: The PDF specified is password protected.")
            self.pdf_pages += media.pages or 0
        return part


def _decode(data: bytes, where: str, what: str = "image"):
    try:
        return inspect_media(data)
    except MediaError:
        if what == "pdf":
            raise _bad(f"{where}: The PDF specified was not valid.") from None
        raise _bad(f"{where}: Could not process image") from None


def _check_totals(reader: _BlockReader, max_pdf_pages: int) -> None:
    count = len(reader.images)
    if count > MAX_IMAGES:
        raise _bad(f"messages: Too many images: {count} images were provided, the maximum is {MAX_IMAGES}")
    if count > MANY_IMAGES:
        for where, part in reader.images:
            if part.media is not None and part.media.max_side > MANY_IMAGES_MAX_SIDE:
                # Real message: github.com/anthropics/claude-code/issues/14412
                raise _bad(f"{where}.base64.data: At least one of the image dimensions exceed max allowed size "
                           f"for many-image requests: {MANY_IMAGES_MAX_SIDE} pixels")
    if reader.pdf_pages > max_pdf_pages:
        # Real message: github.com/anthropics/claude-code/issues/6231
        raise _bad(f"A maximum of {max_pdf_pages} PDF pages may be provided.")
