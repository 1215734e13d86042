"""Azure OpenAI Files API: ``POST {endpoint}/openai/files?api-version=…`` multipart (``purpose``, ``file``),
header ``api-key`` (https://learn.microsoft.com/en-us/rest/api/azureopenai/files/upload: 201 with the File
object; ``status`` may be ``pending``/``uploaded``/``running`` before ``processed``, so the upload waits
for it, polling ``GET {endpoint}/openai/files/{id}?api-version=…``).

Purpose ``assistants``: the model-input purpose Azure's GA API documents (it lists no ``user_data``).
Files do not expire; the cache keeps an id for :data:`TTL_SECONDS` and relies on the stale-id retry.
"""
from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

from workers.core.errors import UpstreamError
from workers.core.settings import get_settings
from workers.providers.files_api import Uploaded, request
from workers.providers.files_api import openai as openai_files

TTL_SECONDS = 7 * 24 * 3600
PURPOSE = "assistants"
PROCESSED_WAIT_SECONDS = 120.0
_WAITING = ("pending", "uploaded", "running")


def upload(path: Path, mime: str, filename: str, *, base_url: str, api_key: str, timeout: float) -> Uploaded:
    base = base_url.rstrip("/") + "/openai/files"
    query = {"api-version": get_settings().openai_api_version}
    headers = {"api-key": api_key}
    with path.open("rb") as fh:  # httpx streams a file field in chunks
        resp = request("azure", "POST", base, timeout, params=query, headers=headers,
                       data={"purpose": PURPOSE}, files={"file": (filename, fh, mime)})
    body = resp.json()
    deadline = time.monotonic() + PROCESSED_WAIT_SECONDS
    pause = 0.25
    while body.get("status") in _WAITING:
        if time.monotonic() > deadline:
            raise UpstreamError(f"azure file {body.get('id')} still {body.get('status')} after "
                                f"{PROCESSED_WAIT_SECONDS:g} s", stage="deliver", retryable=True)
        time.sleep(pause)
        pause = min(pause * 2, 5.0)
        body = request("azure", "GET", f"{base}/{quote(body['id'], safe='')}", timeout, params=query,
                       headers=headers).json()
    if body.get("status") in ("error", "failed", "deleted"):
        raise UpstreamError(f"azure could not process the uploaded file {body.get('id')}: "
                            f"{body.get('status_details') or body.get('status')}", stage="deliver")
    return Uploaded(body["id"], time.time() + TTL_SECONDS)


def is_stale(status: int | None, message: str) -> bool:
    """OpenAI's wording (400 ``No such File object``, a 404 naming the file) or a 404 "not found"."""
    return openai_files.is_stale(status, message) or (status == 404 and "not found" in message.lower())
