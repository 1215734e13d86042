"""``pdf_strategy: "ocr"``: a PDF's pages read by a provider's OCR endpoint (Mistral ``/v1/ocr``) and sent as
text, one part per page. Not a pure transform (it calls out), so the transform stage runs it here; the
result is shared across jobs like any transform (workers/pipeline/dedupe.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from workers.context import Context
from workers.core.errors import Unprocessable, UpstreamError
from workers.providers import ocr_mistral
from workers.providers.transport import send

OCR_PROVIDERS = {"mistral": ocr_mistral}


def configured(ctx: Context) -> str | None:
    """The OCR provider this deployment can call (FERRY_OCR_PROVIDER with its API key), else None."""
    name = (ctx.settings.ocr_provider or "").strip().lower()
    if name in OCR_PROVIDERS and ctx.settings.provider_key(name):
        return name
    return None


def read_pages(ctx: Context, src: Path, step: dict[str, Any]) -> list[dict[str, Any]]:
    name = step.get("provider") or configured(ctx)
    adapter = OCR_PROVIDERS.get(name or "")
    key = ctx.settings.provider_key(name or "")
    if adapter is None or not key:
        raise Unprocessable("pdf_strategy=ocr: no OCR provider is configured on the workers (set "
                            "FERRY_OCR_PROVIDER=mistral and MISTRAL_API_KEY)", stage="transform")
    base_url = ctx.settings.provider_base_url(name or "") or adapter.DEFAULT_BASE_URL
    native = adapter.build_request(src.read_bytes(), base_url=base_url, api_key=key,
                                   model=step.get("model") or ctx.settings.ocr_model)
    body = send(native, adapter, ctx.settings.upstream_timeout)
    found = adapter.pages(body)
    if not found:
        raise UpstreamError(f"{name} OCR answered no pages", stage="transform")
    return [{"kind": "text", "mime": "text/plain", "page": n,
             "text": f"[Page {n}]\n{markdown.strip() or '(no text found on this page)'}"} for n, markdown in found]
