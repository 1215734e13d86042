"""Mistral's OCR endpoint: ``POST {base}/v1/ocr`` with ``{"model", "document": {"type": "document_url",
"document_url": "data:application/pdf;base64,..."}}``, answered ``{"pages": [{"index", "markdown", ...}],
"model", "usage_info": {"pages_processed", "doc_size_bytes"}}``
(https://docs.mistral.ai/capabilities/document_ai/basic_ocr/, API reference https://docs.mistral.ai/api/#tag/ocr).
Used by ``pdf_strategy: "ocr"`` (workers/pipeline/ocr.py)."""
from __future__ import annotations

import base64
from typing import Any

from workers.core.errors import UpstreamError
from workers.providers.base import NativeRequest, bearer_json, upstream_error

DEFAULT_BASE_URL = "https://api.mistral.ai"


def build_request(pdf: bytes, *, base_url: str, api_key: str, model: str) -> NativeRequest:
    data = "data:application/pdf;base64," + base64.b64encode(pdf).decode("ascii")
    body = {"model": model, "document": {"type": "document_url", "document_url": data}, "include_image_base64": False}
    return bearer_json(base_url.rstrip("/") + "/v1/ocr", api_key, body)


def pages(body: dict[str, Any]) -> list[tuple[int, str]]:
    """(1-based page, Markdown) in page order."""
    out = []
    for page in body.get("pages") or []:
        if isinstance(page, dict):
            out.append((int(page.get("index", len(out))) + 1, str(page.get("markdown") or "")))
    return sorted(out)


def parse_error(status: int, body: Any) -> UpstreamError:
    return upstream_error("mistral", status, body, stage="transform", request="POST /v1/ocr")
