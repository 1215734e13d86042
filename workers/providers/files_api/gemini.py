"""Gemini Files API, resumable upload (https://ai.google.dev/api/files, python-genai ``files.upload``).

start: ``POST {base}/upload/v1beta/files`` with ``X-Goog-Upload-Protocol: resumable``,
``X-Goog-Upload-Command: start`` and the size/type headers → ``X-Goog-Upload-URL``; then the bytes in
:data:`CHUNK` pieces (``upload`` … ``upload, finalize``, each at its ``X-Goog-Upload-Offset``), so
memory stays at one chunk. Videos are processed before use: poll until ``state`` is ACTIVE.
Files live 48 h (``expirationTime``); a missing file reads as 403 "... or it may not exist".
"""
from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from workers.core.errors import UnsupportedMedia, UpstreamError
from workers.providers.files_api import Uploaded, request

CHUNK = 8 * 1024 * 1024
TTL_SECONDS = 48 * 3600
ACTIVE_WAIT_SECONDS = 600.0


def upload(path: Path, mime: str, filename: str, *, base_url: str, api_key: str, timeout: float) -> Uploaded:
    info = upload_file(path, mime, filename, base_url=base_url, api_key=api_key, timeout=timeout)
    return Uploaded(info.get("uri") or info["name"], _expiry(info.get("expirationTime")))


def upload_file(path: Path, mime: str, filename: str, *, base_url: str, api_key: str,
                timeout: float) -> dict[str, Any]:
    """Upload and wait until ACTIVE; the whole File resource (``name`` "files/…", ``uri``, ``sizeBytes``), for
    callers that need the resource name (a batch input file: workers/providers/batch_api/gemini.py)."""
    base = base_url.rstrip("/")
    size = path.stat().st_size
    key = {"x-goog-api-key": api_key}
    start = request("gemini", "POST", f"{base}/upload/v1beta/files", timeout, json={"file": {"display_name": filename}},
                    headers={**key, "X-Goog-Upload-Protocol": "resumable", "X-Goog-Upload-Command": "start",
                             "X-Goog-Upload-Header-Content-Length": str(size),
                             "X-Goog-Upload-Header-Content-Type": mime})
    upload_url = start.headers.get("x-goog-upload-url")
    if not upload_url:
        raise UpstreamError("gemini Files API did not return an upload URL", stage="deliver", retryable=True)
    offset = 0
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(CHUNK)
            last = offset + len(chunk) >= size
            resp = request("gemini", "POST", upload_url, timeout, content=chunk,
                           headers={**key, "X-Goog-Upload-Command": "upload, finalize" if last else "upload",
                                    "X-Goog-Upload-Offset": str(offset)})
            offset += len(chunk)
            if last:
                break
    info: dict[str, Any] = resp.json().get("file") or {}
    return _wait_active(base, key, info, timeout)


def _wait_active(base: str, key: dict[str, str], info: dict[str, Any], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + ACTIVE_WAIT_SECONDS
    pause = 0.25
    while info.get("state") == "PROCESSING":
        if time.monotonic() > deadline:
            raise UpstreamError(f"gemini file {info.get('name')} still PROCESSING after {ACTIVE_WAIT_SECONDS:g} s",
                                stage="deliver", retryable=True)
        time.sleep(pause)
        pause = min(pause * 2, 5.0)
        info = request("gemini", "GET", f"{base}/v1beta/{info['name']}", timeout, headers=key).json()
    if info.get("state") == "FAILED":
        reason = (info.get("error") or {}).get("message", "processing failed")
        raise UnsupportedMedia(f"gemini could not process the uploaded file: {reason}", stage="deliver")
    return info


def _expiry(stamp: str | None) -> float:
    if stamp:
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return time.time() + TTL_SECONDS


def is_stale(status: int | None, message: str) -> bool:
    text = message.lower()
    return (status in (403, 404) and "file" in text and ("not exist" in text or "not found" in text))
