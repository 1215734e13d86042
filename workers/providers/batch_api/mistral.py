"""Mistral batch jobs: input JSONL through the Files API (purpose ``batch``), ``POST /v1/batch/jobs``, poll, results.

Shapes: mistralai/client-python ``src/mistralai/client/batch_jobs.py`` (``GET/POST /v1/batch/jobs``,
``GET /v1/batch/jobs/{job_id}``, ``POST /v1/batch/jobs/{job_id}/cancel``), models ``createbatchjobrequest.py``
(``input_files``, ``endpoint``, ``model``, ``metadata`` str → str, ``timeout_hours`` default 24),
``batchjob.py`` (``status``, ``output_file``, ``error_file``, ``errors[]`` of ``batcherror.py`` {message, count},
``total/completed/succeeded/failed_requests``), ``batchjobstatus.py`` (QUEUED, RUNNING, SUCCESS, FAILED,
TIMEOUT_EXCEEDED, CANCELLATION_REQUESTED, CANCELLED), ``files.py`` + ``createfileresponse.py`` /
``fileschema.py`` (``POST /v1/files`` multipart ``file`` + ``purpose`` "batch"; ``size_bytes``; list with
``page``, ``page_size``, ``purpose``, ``search``; ``GET /v1/files/{id}/content``), and
https://docs.mistral.ai/capabilities/batch/ (input lines ``{"custom_id", "body"}``, one model per job; result
lines ``{"id", "custom_id", "response": {"status_code", "body"}, "error"}``).

Status words: the driver (workers/services/batch_native.py) speaks OpenAI's (completed, failed, expired,
cancelled), so a job's Mistral status is mapped onto them and kept as ``refs.mistral_status``; the reason names it
(a TIMEOUT_EXCEEDED job is ``expired``, its reason says so).

Idempotent creation: the input file is named after the tag and reused when one of that name and size is there;
the job carries ``metadata.ferry_tag`` and is looked up before one is created. The SDK's ``metadata`` list filter
is a form-exploded query object whose wire form is not documented, so the newest jobs are listed and filtered
here by the tag.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workers.providers import batch_catalog
from workers.providers.base import NativeRequest
from workers.providers.batch_api import Result, State, adopt_or_create, upload_jsonl
from workers.providers.files_api import request

ENDPOINT = "/v1/chat/completions"
#: Mistral's status → the driver's word (batchjobstatus.py); anything unknown is still running.
STATUS = {"QUEUED": "queued", "RUNNING": "in_progress", "SUCCESS": "completed", "FAILED": "failed",
          "TIMEOUT_EXCEEDED": "expired", "CANCELLATION_REQUESTED": "cancelling", "CANCELLED": "cancelled"}
ENDED = ("SUCCESS", "FAILED", "TIMEOUT_EXCEEDED", "CANCELLED")
PAGES = 10  # the newest 1,000 jobs / files: a crash-time duplicate is among them


def _timeout_hours() -> int:
    """The job's ``timeout_hours``: the catalog's window for Mistral (``[batch.mistral] window_seconds``)."""
    lim = batch_catalog.limits("mistral")
    return max(1, (lim.window_seconds if lim else 86_400) // 3600)


def _auth(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


def line(custom_id: str, native: NativeRequest) -> dict[str, Any]:
    """One input line: the chat body exactly as the synchronous call would send it (images inline or by URL)."""
    return {"custom_id": custom_id, "body": native.json}


def _find_file(name: str, size: int, base: str, api_key: str, timeout: float) -> str | None:
    for page in range(PAGES):
        listed = request("mistral", "GET", f"{base}/v1/files", timeout, headers=_auth(api_key),
                         params={"purpose": "batch", "search": name, "page": page, "page_size": 100}).json()
        data = listed.get("data") or []
        for f in data:
            if f.get("filename") == name and int(f.get("size_bytes") or -1) == size and f.get("purpose") == "batch":
                return str(f["id"])
        if len(data) < 100:
            return None
    return None


def _find_job(tag: str, model: str, base: str, api_key: str, timeout: float) -> dict[str, Any] | None:
    for page in range(PAGES):
        listed = request("mistral", "GET", f"{base}/v1/batch/jobs", timeout, headers=_auth(api_key),
                         params={"page": page, "page_size": 100, "model": model, "order_by": "-created"}).json()
        data = listed.get("data") or []
        for job in data:
            if (job.get("metadata") or {}).get("ferry_tag") == tag:
                return job
        if len(data) < 100:
            return None
    return None


def submit(lines_path: Path, tag: str, model: str, *, base_url: str, api_key: str, timeout: float,
           since: float | None = None, exclude: set[str] | None = None) -> State:
    """(``since``/``exclude`` are for providers without metadata; the tag finds a Mistral job at any time.)"""
    base = base_url.rstrip("/")

    def create(file_id: str) -> dict[str, Any]:
        body = {"input_files": [file_id], "model": model, "endpoint": ENDPOINT, "metadata": {"ferry_tag": tag},
                "timeout_hours": _timeout_hours()}
        return request("mistral", "POST", f"{base}/v1/batch/jobs", timeout, content=json.dumps(body),
                       headers={**_auth(api_key), "Content-Type": "application/json"}).json()

    return adopt_or_create(lines_path, tag, find_batch=lambda: _find_job(tag, model, base, api_key, timeout),
                           find_file=lambda name, size: _find_file(name, size, base, api_key, timeout),
                           upload=lambda name: upload_jsonl("mistral", f"{base}/v1/files", lines_path, name,
                                                            _auth(api_key), timeout),
                           create=create, state=_state)


def _reason(job: dict[str, Any]) -> str | None:
    errors = job.get("errors") or []
    said = "; ".join(str(e.get("message")) + (f" (x{e['count']})" if int(e.get("count") or 1) > 1 else "")
                     for e in errors if isinstance(e, dict)) or None
    status = job.get("status")
    if status == "TIMEOUT_EXCEEDED":
        return f"TIMEOUT_EXCEEDED: {said or f'the job did not finish within its {_timeout_hours()} h timeout'}"
    if status == "FAILED":
        return f"FAILED: {said or 'the job failed without saying why'}"
    return said


def _state(job: dict[str, Any]) -> State:
    status = str(job.get("status") or "QUEUED")
    counts = {k: int(job.get(f"{k}_requests") or 0) for k in ("total", "completed", "succeeded", "failed")}
    return State(id=str(job["id"]), status=STATUS.get(status, "in_progress"), ended=status in ENDED, counts=counts,
                 reason=_reason(job), refs={"output_file": job.get("output_file"), "error_file": job.get("error_file"),
                                            "mistral_status": status})


def retrieve(batch_id: str, *, base_url: str, api_key: str, timeout: float) -> State:
    resp = request("mistral", "GET", f"{base_url.rstrip('/')}/v1/batch/jobs/{batch_id}", timeout,
                   headers=_auth(api_key))
    return _state(resp.json())


def cancel(batch_id: str, *, base_url: str, api_key: str, timeout: float) -> State:
    resp = request("mistral", "POST", f"{base_url.rstrip('/')}/v1/batch/jobs/{batch_id}/cancel", timeout,
                   headers=_auth(api_key))
    return _state(resp.json())


def _result(item: dict[str, Any]) -> Result:
    resp = item.get("response")
    error = item.get("error")
    if isinstance(error, str):  # seen as a bare string as well as an object
        error = {"code": "mistral_error", "message": error}
    if isinstance(resp, dict) and resp.get("status_code"):
        return Result(str(item["custom_id"]), int(resp["status_code"]), resp.get("body"), error)
    error = error or {}
    return Result(str(item["custom_id"]), 0, None,
                  {"code": str(error.get("code") or "mistral_error"),
                   "message": str(error.get("message") or "the line has neither a response nor an error message")})


def results(state: State, *, base_url: str, api_key: str, timeout: float) -> Iterator[Result]:
    base = base_url.rstrip("/")
    for ref in ("output_file", "error_file"):
        file_id = state.refs.get(ref)
        if not file_id:
            continue
        content = request("mistral", "GET", f"{base}/v1/files/{file_id}/content", timeout, headers=_auth(api_key))
        for raw in content.iter_lines():
            if raw.strip():
                yield _result(json.loads(raw))
