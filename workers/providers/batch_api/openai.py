"""OpenAI Batch API: input JSONL through the Files API (purpose ``batch``), ``POST /batches``, poll, results.

Shapes: openai-python ``types/batch.py`` (status validating → in_progress → finalizing → completed, or failed,
expired, cancelling → cancelled; ``output_file_id``, ``error_file_id``, ``errors.data[]``),
``batch_create_params.py`` (``completion_window`` "24h", ``metadata`` ≤ 16 pairs), and
https://platform.openai.com/docs/guides/batch (lines ``{"custom_id", "method", "url", "body"}``; results
``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}``).

Idempotent creation: the input file is named after the tag and reused when one of that name and size is there
(``GET /files?purpose=batch``); the batch carries ``metadata.ferry_tag`` and is looked up by it
(``GET /batches``) before a new one is created.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workers.providers.base import NativeRequest
from workers.providers.batch_api import Result, State, adopt_or_create, upload_jsonl
from workers.providers.files_api import request

ENDPOINT = "/v1/chat/completions"
ENDED = ("completed", "failed", "expired", "cancelled")


def _auth(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


def line(custom_id: str, native: NativeRequest) -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": native.json}


def _find_file(name: str, size: int, base: str, api_key: str, timeout: float) -> str | None:
    listed = request("openai", "GET", f"{base}/files", timeout, headers=_auth(api_key),
                     params={"purpose": "batch"}).json()
    for f in listed.get("data") or []:
        if f.get("filename") == name and int(f.get("bytes") or -1) == size and f.get("purpose") == "batch":
            return str(f["id"])
    return None


def _find_batch(tag: str, base: str, api_key: str, timeout: float) -> dict[str, Any] | None:
    after: str | None = None
    for _ in range(10):  # the newest 1,000 batches: a crash-time duplicate is among them
        params: dict[str, Any] = {"limit": 100, **({"after": after} if after else {})}
        page = request("openai", "GET", f"{base}/batches", timeout, headers=_auth(api_key), params=params).json()
        for b in page.get("data") or []:
            if (b.get("metadata") or {}).get("ferry_tag") == tag:
                return b
        if not page.get("has_more") or not page.get("data"):
            return None
        after = page["data"][-1]["id"]
    return None


def submit(lines_path: Path, tag: str, model: str, *, base_url: str, api_key: str, timeout: float,
           since: float | None = None, exclude: set[str] | None = None) -> State:
    """(``since``/``exclude`` are for providers without metadata; the tag finds an OpenAI batch at any time.)"""
    base = base_url.rstrip("/")

    def create(file_id: str) -> dict[str, Any]:
        body = {"input_file_id": file_id, "endpoint": ENDPOINT, "completion_window": "24h",
                "metadata": {"ferry_tag": tag}}
        return request("openai", "POST", f"{base}/batches", timeout, content=json.dumps(body),
                       headers={**_auth(api_key), "Content-Type": "application/json"}).json()

    return adopt_or_create(lines_path, tag, find_batch=lambda: _find_batch(tag, base, api_key, timeout),
                           find_file=lambda name, size: _find_file(name, size, base, api_key, timeout),
                           upload=lambda name: upload_jsonl("openai", f"{base}/files", lines_path, name,
                                                            _auth(api_key), timeout),
                           create=create, state=_state)


def _state(b: dict[str, Any]) -> State:
    errors = ((b.get("errors") or {}).get("data")) or []
    reason = "; ".join(f"{e.get('code')}: {e.get('message')}" + (f" (line {e['line']})" if e.get("line") else "")
                       for e in errors) or None
    if b.get("status") == "expired" and not reason:
        reason = "the batch expired before its 24 h completion window ended"
    return State(id=b["id"], status=b["status"], ended=b["status"] in ENDED, counts=b.get("request_counts") or {},
                 reason=reason, refs={"output_file_id": b.get("output_file_id"),
                                      "error_file_id": b.get("error_file_id")})


def retrieve(batch_id: str, *, base_url: str, api_key: str, timeout: float) -> State:
    resp = request("openai", "GET", f"{base_url.rstrip('/')}/batches/{batch_id}", timeout, headers=_auth(api_key))
    return _state(resp.json())


def cancel(batch_id: str, *, base_url: str, api_key: str, timeout: float) -> State:
    resp = request("openai", "POST", f"{base_url.rstrip('/')}/batches/{batch_id}/cancel", timeout,
                   headers=_auth(api_key))
    return _state(resp.json())


def results(state: State, *, base_url: str, api_key: str, timeout: float) -> Iterator[Result]:
    base = base_url.rstrip("/")
    for ref in ("output_file_id", "error_file_id"):
        file_id = state.refs.get(ref)
        if not file_id:
            continue
        content = request("openai", "GET", f"{base}/files/{file_id}/content", timeout, headers=_auth(api_key))
        for raw in content.iter_lines():
            if not raw.strip():
                continue
            item = json.loads(raw)
            resp = item.get("response") or {}
            yield Result(custom_id=item["custom_id"], status_code=int(resp.get("status_code") or 0),
                         body=resp.get("body"), error=item.get("error"))
