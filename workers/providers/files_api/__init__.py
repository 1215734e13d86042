"""Provider Files API clients: upload a file from disk (streamed, never whole in memory), get an id.

One module per provider with ``upload(path, mime, filename, *, base_url, api_key, timeout) -> Uploaded``
and ``is_stale(status, message) -> bool`` (the provider's way of saying a file id no longer exists).
Errors are :class:`UpstreamError` at stage ``deliver``, built like a chat call's
(:func:`workers.providers.base.upstream_error`): 429/5xx/unreachable are retryable, a provider 4xx
in :data:`workers.core.errors.PASSED_UPSTREAM` keeps its status, anything else is 502.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import httpx

from workers.core.errors import UpstreamError
from workers.core.http import shared_client
from workers.providers.base import upstream_error

PROVIDERS = ("openai", "anthropic", "gemini", "azure")


@dataclass
class Uploaded:
    id: str
    """What the chat request references: OpenAI/Anthropic file id, Gemini file URI."""
    expires_at: float


def client_for(provider: str) -> ModuleType | None:
    if provider not in PROVIDERS:
        return None
    return importlib.import_module(f"workers.providers.files_api.{provider}")


def request(provider: str, method: str, url: str, timeout: float, *, api: str = "Files API",
            **kw: Any) -> httpx.Response:
    """One HTTP call to a Files API (or, ``api`` naming it in errors, another of the provider's APIs: a batch
    client's), with transport failures and error statuses translated."""
    try:
        resp = shared_client().request(method, url, timeout=timeout, **kw)
    except httpx.HTTPError as exc:
        raise UpstreamError(f"{provider} {api} unreachable ({url}): {exc or type(exc).__name__}",
                            stage="deliver", retryable=True) from exc
    if resp.status_code >= 400:
        try:
            body: Any = resp.json()
        except ValueError:
            body = resp.text
        raise upstream_error(f"{provider} {api}", resp.status_code, body, stage="deliver",
                             request=f"{method} {httpx.URL(url).path}")
    return resp
