"""Anthropic Message Batches: ``POST /v1/messages/batches`` with the requests inline, poll, stream the results.

Shapes: anthropic-sdk-python ``types/messages/batch_create_params.py`` (``requests[]``: ``custom_id``,
``params`` = a Messages API body), ``message_batch.py`` (``processing_status`` in_progress → canceling → ended,
``request_counts`` {processing, succeeded, errored, canceled, expired}, ``results_url`` once ended,
``cancel_initiated_at``), ``message_batch_individual_response.py`` (result lines ``{"custom_id", "result":
{"type": "succeeded", "message"} | {"type": "errored", "error": ErrorResponse} | {"type": "canceled"} |
{"type": "expired"}}``), ``resources/messages/batches.py`` (the results are fetched from ``results_url``).
https://docs.anthropic.com/en/docs/build-with-claude/batch-processing: 100,000 requests or 256 MB per batch.

Idempotent creation: a Message Batch carries no metadata, so a batch made before a crash is found by listing
the newest batches for one created since this group's creation began with exactly this many requests.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from workers.providers.anthropic import API_VERSION
from workers.providers.base import NativeRequest
from workers.providers.batch_api import Result, State
from workers.providers.files_api import request

FILES_BETA = "files-api-2025-04-14"  # lines may name uploaded files (workers/providers/anthropic.py)


def _headers(api_key: str) -> dict[str, str]:
    return {"x-api-key": api_key, "anthropic-version": API_VERSION, "anthropic-beta": FILES_BETA,
            "content-type": "application/json"}


def line(custom_id: str, native: NativeRequest) -> dict[str, Any]:
    return {"custom_id": custom_id, "params": native.json}


def _total(b: dict[str, Any]) -> int:
    return sum(int(v or 0) for v in (b.get("request_counts") or {}).values())


def _ts(value: str | None) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else 0.0


def submit(lines_path: Path, tag: str, model: str, *, base_url: str, api_key: str, timeout: float,
           since: float | None = None, exclude: set[str] | None = None) -> State:
    """``since``: a retry after a crash; a batch created since the first attempt with this many requests, and
    not another group's (``exclude``), is the one that attempt made (the residual risk: another client of the
    same key creating a batch of exactly this size inside the crash window)."""
    base = base_url.rstrip("/")
    n = sum(1 for raw in lines_path.open("rb") if raw.strip())
    if since is not None:
        listed = request("anthropic", "GET", f"{base}/v1/messages/batches", timeout, headers=_headers(api_key),
                         params={"limit": 100}).json()
        for b in listed.get("data") or []:
            if _ts(b.get("created_at")) >= since - 1 and _total(b) == n and b["id"] not in (exclude or set()):
                return _state(b)
    with lines_path.open("rb") as fh:
        body = b'{"requests":[' + b",".join(raw.strip() for raw in fh if raw.strip()) + b"]}"
    created = request("anthropic", "POST", f"{base}/v1/messages/batches", timeout, headers=_headers(api_key),
                      content=body)
    return _state(created.json())


def _state(b: dict[str, Any]) -> State:
    counts = {k: int(v or 0) for k, v in (b.get("request_counts") or {}).items()}
    status = b.get("processing_status", "in_progress")
    if status == "ended":
        if b.get("cancel_initiated_at"):
            status = "cancelled"
        elif counts.get("expired") and not (counts.get("succeeded") or counts.get("errored")):
            status = "expired"
        else:
            status = "ended"
    reason = f"{counts['expired']} requests expired before the 24 h window ended" if counts.get("expired") else None
    return State(id=b["id"], status=status, ended=b.get("processing_status") == "ended", counts=counts,
                 reason=reason, refs={"results_url": b.get("results_url")})


def retrieve(batch_id: str, *, base_url: str, api_key: str, timeout: float) -> State:
    resp = request("anthropic", "GET", f"{base_url.rstrip('/')}/v1/messages/batches/{batch_id}", timeout,
                   headers=_headers(api_key))
    return _state(resp.json())


def cancel(batch_id: str, *, base_url: str, api_key: str, timeout: float) -> State:
    resp = request("anthropic", "POST", f"{base_url.rstrip('/')}/v1/messages/batches/{batch_id}/cancel", timeout,
                   headers=_headers(api_key))
    return _state(resp.json())


_NOT_RUN = {"canceled": ("batch_cancelled", "the request was canceled before it ran"),
            "expired": ("batch_expired", "the request could not run before the batch's 24 h window ended")}


def results(state: State, *, base_url: str, api_key: str, timeout: float) -> Iterator[Result]:
    url = state.refs.get("results_url")
    if not url:
        return
    if url.startswith("/"):
        url = base_url.rstrip("/") + url
    resp = request("anthropic", "GET", url, timeout, headers={**_headers(api_key), "Accept": "application/binary"})
    for raw in resp.iter_lines():
        if not raw.strip():
            continue
        item = json.loads(raw)
        result = item.get("result") or {}
        kind = result.get("type")
        if kind == "succeeded":
            yield Result(item["custom_id"], 200, result.get("message"))
        elif kind == "errored":
            err = result.get("error") or {}
            etype = (err.get("error") or {}).get("type")
            status = {"invalid_request_error": 400, "not_found_error": 404, "permission_error": 403,
                      "authentication_error": 401, "request_too_large": 413, "rate_limit_error": 429}.get(etype, 500)
            yield Result(item["custom_id"], status, err)
        else:
            code, message = _NOT_RUN.get(kind or "", ("batch_failed", f"result type {kind!r}"))
            yield Result(item["custom_id"], 0, None, {"code": code, "message": message})
