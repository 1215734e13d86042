"""Gemini Batch Mode (Developer API, generativelanguage): a JSONL input file, ``batchGenerateContent``, poll, results.

Shapes: python-genai ``google/genai/batches.py`` (``_CreateBatchJobParameters_to_mldev``: ``POST
{model}:batchGenerateContent`` with ``{"batch": {"displayName", "inputConfig": {"fileName"}}}``;
``_BatchJob_from_mldev``: the answer is a long-running Operation ``{"name": "batches/…", "metadata":
{"displayName", "state", "createTime", "endTime", "model", "output": {"responsesFile"}}, "done", "error"}``;
``batches/{name}`` get, ``batches/{name}:cancel``, ``batches`` list answering ``{"operations",
"nextPageToken"}``), ``_transformers.py`` ``t_job_state`` (the REST API says ``BATCH_STATE_PENDING | RUNNING |
SUCCEEDED | FAILED | CANCELLED | EXPIRED``; the SDK renames them ``JOB_STATE_*``, both are read here),
``files.py`` ``download`` (``files/{id}:download?alt=media``). https://ai.google.dev/gemini-api/docs/batch-mode:
input lines ``{"key", "request": GenerateContentRequest}`` uploaded through the Files API (the docs' SDK
examples upload with ``mime_type='jsonl'``), result lines ``{"key", "response": GenerateContentResponse}`` or
``{"key", "error": google.rpc.Status}``, read from ``download/v1beta/{responsesFile}:download?alt=media``;
a batch expires after 48 h running or pending, with no results.

Always the file path, never ``inputConfig.requests`` (inline, under 20 MB): one code path for every size,
results always a JSONL file, and the input file is what makes a retry after a crash cheap (found by name).

Idempotent creation: the batch's ``displayName`` is the tag, looked up (``GET batches``) before creating; the
input file's display name is ``<tag>.jsonl`` and an ACTIVE one of the same size is reused.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workers.providers.base import NativeRequest
from workers.providers.batch_api import Result, State, adopt_or_create
from workers.providers.files_api import gemini as files
from workers.providers.files_api import request

VER = "v1beta"
MIME = "jsonl"  # what the docs' upload examples send (UploadFileConfig(mime_type='jsonl'))
ENDED = ("succeeded", "failed", "cancelled", "expired")
PAGES = 10  # listing: the newest 10 pages; a crash-time batch or file is among them
API = "Batch API"  # names these calls in errors ("gemini Batch API answered 404 to POST …")
EXPIRED = "the batch expired: Gemini Batch Mode ends a batch still running or pending after 48 h, with no results"


def _auth(api_key: str) -> dict[str, str]:
    return {"x-goog-api-key": api_key}


def line(custom_id: str, native: NativeRequest) -> dict[str, Any]:
    """One input line: the generateContent body the sync adapter builds (the model is the batch's)."""
    return {"key": custom_id, "request": native.json}


def _pages(base: str, what: str, field: str, api_key: str, timeout: float) -> Iterator[dict[str, Any]]:
    token: str | None = None
    for _ in range(PAGES):
        params: dict[str, Any] = {"pageSize": 100, **({"pageToken": token} if token else {})}
        api = API if what == "batches" else "Files API"
        page = request("gemini", "GET", f"{base}/{VER}/{what}", timeout, api=api, headers=_auth(api_key),
                       params=params).json()
        yield from page.get(field) or []
        token = page.get("nextPageToken")
        if not token:
            return


def _find_batch(tag: str, base: str, api_key: str, timeout: float) -> dict[str, Any] | None:
    for op in _pages(base, "batches", "operations", api_key, timeout):
        if (op.get("metadata") or {}).get("displayName") == tag:
            return op
    return None


def _find_file(name: str, size: int, base: str, api_key: str, timeout: float) -> str | None:
    for f in _pages(base, "files", "files", api_key, timeout):
        if f.get("displayName") == name and int(f.get("sizeBytes") or -1) == size and f.get("state") == "ACTIVE":
            return str(f["name"])
    return None


def submit(lines_path: Path, tag: str, model: str, *, base_url: str, api_key: str, timeout: float,
           since: float | None = None, exclude: set[str] | None = None) -> State:
    """(``since``/``exclude`` are for providers without a name to look up; the tag finds a Gemini batch.)"""
    base = base_url.rstrip("/")

    def upload(name: str) -> str:
        return str(files.upload_file(lines_path, MIME, name, base_url=base, api_key=api_key, timeout=timeout)["name"])

    def create(file_name: str) -> dict[str, Any]:
        body = {"batch": {"displayName": tag, "inputConfig": {"fileName": file_name}}}
        return request("gemini", "POST", f"{base}/{VER}/models/{model}:batchGenerateContent", timeout,
                       api=API, headers={**_auth(api_key), "Content-Type": "application/json"},
                       content=json.dumps(body)).json()

    return adopt_or_create(lines_path, tag, find_batch=lambda: _find_batch(tag, base, api_key, timeout),
                           find_file=lambda name, size: _find_file(name, size, base, api_key, timeout),
                           upload=upload, create=create, state=_state)


def _word(state: str | None) -> str:
    """``BATCH_STATE_RUNNING`` (REST) or ``JOB_STATE_RUNNING`` (the SDK's name) -> ``running``."""
    return (state or "BATCH_STATE_UNSPECIFIED").removeprefix("BATCH_STATE_").removeprefix("JOB_STATE_").lower()


def _state(op: dict[str, Any]) -> State:
    meta = op.get("metadata") or {}
    status = _word(meta.get("state"))
    stats = meta.get("batchStats") or {}
    counts = {k: int(stats[f]) for k, f in (("total", "requestCount"), ("succeeded", "successfulRequestCount"),
                                             ("failed", "failedRequestCount"), ("pending", "pendingRequestCount"))
              if stats.get(f) is not None}
    error = op.get("error") or {}
    reason = error.get("message") and f"{error.get('status') or error.get('code')}: {error['message']}"
    if status == "expired" and not reason:
        reason = EXPIRED
    output = meta.get("output") or op.get("response") or {}
    return State(id=str(op["name"]), status=status, ended=status in ENDED, counts=counts, reason=reason or None,
                 refs={"responses_file": output.get("responsesFile")})


def retrieve(batch_id: str, *, base_url: str, api_key: str, timeout: float) -> State:
    resp = request("gemini", "GET", f"{base_url.rstrip('/')}/{VER}/{batch_id}", timeout, api=API,
                   headers=_auth(api_key))
    return _state(resp.json())


def cancel(batch_id: str, *, base_url: str, api_key: str, timeout: float) -> State:
    """``:cancel`` answers an empty message (the SDK returns None): the batch is read again for its state."""
    request("gemini", "POST", f"{base_url.rstrip('/')}/{VER}/{batch_id}:cancel", timeout, api=API,
            headers=_auth(api_key))
    return retrieve(batch_id, base_url=base_url, api_key=api_key, timeout=timeout)


def _status_of(error: dict[str, Any]) -> int:
    code = error.get("code")
    return int(code) if isinstance(code, int) and 400 <= code <= 599 else 500


def results(state: State, *, base_url: str, api_key: str, timeout: float) -> Iterator[Result]:
    """Each line of the responses file; a batch that ended without one (expired, cancelled before running)
    yields nothing and the driver reports its lines with the reason."""
    file_name = state.refs.get("responses_file")
    if not file_name:
        return
    url = f"{base_url.rstrip('/')}/download/{VER}/{file_name}:download"
    content = request("gemini", "GET", url, timeout, headers=_auth(api_key), params={"alt": "media"})
    for raw in content.iter_lines():
        if not raw.strip():
            continue
        item = json.loads(raw)
        key = str(item.get("key") or "")
        if item.get("response") is not None:
            yield Result(key, 200, item["response"])
        else:
            error = item.get("error") or {"code": 500, "message": "the result line has neither response nor error"}
            yield Result(key, _status_of(error), {"error": error})
