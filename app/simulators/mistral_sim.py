"""Mistral simulator: ``POST /v1/chat/completions`` with text and image_url parts; the Files API and batch
jobs come from ``mistral_files`` and ``mistral_batches``.

Shapes: github.com/mistralai/client-python ``docs/models/imageurlchunk.md`` and
``imageurlunion.md`` (``image_url`` is a string or ``{"url"}``). Rules:
https://docs.mistral.ai/capabilities/vision/ (10 MB per image, 8 images per request, over
10000x10000 px rejected, png/jpeg/webp and single-frame gif) as restated in
shared/PROVIDERS.md, plus the product owner's quirk: PNGs with an alpha channel (RGBA, LA,
palette transparency) fail to decode, so Ferry must flatten them.
Errors: ``{"object": "error", "message", "type", "param", "code"}``; 401 from the gateway as
``{"message": "Unauthorized", "request_id"}``.
"""
from __future__ import annotations

import time
from collections.abc import Iterable

from flask import Flask, Response, jsonify, request

from . import served
from .chatlike import bearer_token, chat_completion, read_body, read_parts
from .common import Part, load_json_body
from .controls import SimReject, install_controls, record_parts
from .files import FileStore
from .media import Media
from .mistral_batches import register_batches
from .mistral_files import register_files
from .openai_tools import MISTRAL, check

IMAGE_MIMES = ("image/png", "image/jpeg", "image/webp", "image/gif")
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_IMAGES = 8
MAX_SIDE = 10000


def render_error(exc: SimReject) -> Response:
    if exc.status == 401:
        return jsonify({"message": exc.message, "request_id": f"sim{time.time_ns()}"})
    kind = exc.kind or {429: "rate_limited", 500: "internal_server_error",
                        503: "service_unavailable"}.get(exc.status, "invalid_request_error")
    return jsonify({"object": "error", "message": exc.message, "type": kind, "param": exc.param,
                    "code": exc.code or str(exc.status)})


def _bad(message: str) -> SimReject:
    return SimReject(400, message, "invalid_request_error")


def _image_rule(where: str, declared: str | None, media: Media) -> None:
    if media.mime not in IMAGE_MIMES:
        raise _bad(f"{where}: unsupported image format {media.mime or 'unknown'}; "
                   "supported: png, jpeg, webp, gif")
    if media.size > MAX_IMAGE_BYTES:
        raise _bad(f"{where}: image is too large: {media.size} bytes > {MAX_IMAGE_BYTES} bytes (10 MB)")
    if media.max_side > MAX_SIDE:
        raise _bad(f"{where}: image dimensions {media.width}x{media.height} exceed {MAX_SIDE}x{MAX_SIDE}")
    if media.mime == "image/gif" and (media.frames or 1) > 1:
        raise _bad(f"{where}: animated GIFs are not supported ({media.frames} frames); send a single frame")
    if media.mime == "image/png" and media.has_alpha:
        raise _bad(f"{where}: Image could not be decoded: PNG with an alpha channel ({media.mode}) "
                   "is not supported; convert it to RGB")


def create_app(api_key: str = "sim-key", models: Iterable[str] | None = None) -> Flask:
    app = Flask("mistral_sim")
    state = install_controls(app, "mistral", render_error)
    files = FileStore("")
    state.reset_hooks.append(files.clear)

    def check_auth() -> None:
        if bearer_token() != api_key:
            raise SimReject(401, "Unauthorized")

    register_files(app, files, check_auth)  # Files API (mistral_files.py) and batch jobs (mistral_batches.py)
    register_batches(app, state, files, api_key, check_auth)

    @app.post("/v1/chat/completions")
    def chat() -> Response:
        if bearer_token() != api_key:
            raise SimReject(401, "Unauthorized")
        raw, body = read_body(_bad)
        parts: list[Part] = []
        record_parts(parts, body["model"])
        served.check("mistral", str(body["model"]), models)
        read_parts(body["messages"], _bad, _image_rule, parts)
        images = sum(1 for p in parts if p.kind == "image")
        if images > MAX_IMAGES:
            raise _bad(f"Too many images in request: {images} > {MAX_IMAGES}")
        plan = check(body, lambda message, _param: _bad(message), MISTRAL)  # tools (app/simulators/tools.py)
        return jsonify(chat_completion("mistral", raw, body["model"], parts, plan, MISTRAL))

    @app.post("/v1/ocr")
    def ocr() -> Response:
        if bearer_token() != api_key:
            raise SimReject(401, "Unauthorized")
        try:
            body = load_json_body(request.get_data())
        except ValueError as exc:
            raise _bad(str(exc))
        if not isinstance(body, dict):
            raise _bad("request body must be a JSON object")
        return jsonify(ocr_answer(body))

    return app


#: https://docs.mistral.ai/capabilities/document_ai/basic_ocr/ (PDFs up to 50 MB and 1,000 pages;
#: ``document_url`` for PDFs, ``image_url`` for images; models ``mistral-ocr-*``).
OCR_MAX_BYTES = 50 * 1024 * 1024
OCR_MAX_PAGES = 1000


def ocr_answer(body: dict) -> dict:  # type: ignore[type-arg]
    """OCRResponse for a base64 PDF: each page's text layer as Markdown, or for a page without one a
    deterministic stand-in for recognised text (the simulator cannot read pixels)."""
    import hashlib

    from .media import MediaError, parse_data_uri

    model = str(body.get("model") or "")
    if not model.startswith("mistral-ocr"):
        raise _bad(f"Invalid model: {model!r} is not an OCR model (mistral-ocr-latest)")
    doc = body.get("document") or {}
    if doc.get("type") != "document_url" or not isinstance(doc.get("document_url"), str):
        raise _bad("document: expected {type: document_url, document_url} (or image_url for images)")
    try:
        _mime, data = parse_data_uri(doc["document_url"])
    except MediaError as exc:
        raise _bad(f"document.document_url: {exc}")
    if len(data) > OCR_MAX_BYTES:
        raise _bad(f"document is too large: {len(data)} bytes > {OCR_MAX_BYTES} (50 MB)")
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        raise _bad("document.document_url: the document could not be read as a PDF")
    if len(pdf) > OCR_MAX_PAGES:
        raise _bad(f"document has {len(pdf)} pages; at most {OCR_MAX_PAGES} are supported")
    pages = []
    for i in range(len(pdf)):
        page = pdf[i]
        text = page.get_textpage().get_text_range().strip()
        w, h = page.get_size()
        if not text:
            digest = hashlib.sha256(data).hexdigest()[:8]
            text = f"OCR-SIM page {i + 1} of {digest}: recognised text"
        pages.append({"index": i, "markdown": text, "images": [],
                      "dimensions": {"dpi": 200, "height": round(h * 200 / 72), "width": round(w * 200 / 72)}})
    return {"pages": pages, "model": model, "document_annotation": None,
            "usage_info": {"pages_processed": len(pages), "doc_size_bytes": len(data)}}
