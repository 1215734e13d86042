"""The provider HTTP transport: POST a native request, translate failures into UpstreamErrors."""
from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from workers.core.errors import UpstreamError
from workers.core.http import shared_client
from workers.providers.base import NativeRequest


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP-date (RFC 9110 §10.2.3); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def send(native: NativeRequest, adapter: Any, timeout: float, idempotency_key: str | None = None) -> dict[str, Any]:
    """POST the native request; an adapter with its own transport (e.g. boto3) defines ``send``.

    Transport failures (timeouts, resets) and 429/5xx answers raise retryable UpstreamErrors; a
    ``Retry-After`` header rides along as ``exc.retry_after`` (seconds) for the retry delay.
    ``idempotency_key`` (stable per job) is sent as ``Idempotency-Key`` so a redelivered
    ``complete`` can be de-duplicated by providers that honour it.
    """
    if hasattr(adapter, "send"):
        return adapter.send(native, timeout)
    headers = dict(native.headers)
    if idempotency_key and not any(k.lower() == "idempotency-key" for k in headers):
        headers["Idempotency-Key"] = idempotency_key
    try:
        resp = shared_client().request(native.method, native.url, headers=headers, json=native.json,
                                       timeout=timeout)
    except httpx.TimeoutException as exc:
        raise UpstreamError(f"{native.url} timed out after {timeout:g} s", retryable=True) from exc
    except httpx.HTTPError as exc:
        raise UpstreamError(f"could not reach {native.url}: {exc}", retryable=True) from exc
    try:
        body = resp.json()
    except ValueError:
        body = resp.text
    if resp.status_code >= 400:
        err = adapter.parse_error(resp.status_code, body)
        err.retry_after = retry_after_seconds(resp.headers.get("retry-after"))
        raise err
    if not isinstance(body, dict):
        raise UpstreamError(f"{native.url} answered {resp.status_code} with a non-JSON body")
    return body


