"""OpenAI Files API: ``POST {base}/files`` multipart (``purpose``, ``file``).

https://platform.openai.com/docs/api-reference/files/create: purpose ``user_data`` for files used as
model input (PDFs), ``vision`` for images. Files do not expire unless asked to, so the cache keeps an
id for :data:`TTL_SECONDS` and relies on the stale-id retry if a user deletes it sooner.
"""
from __future__ import annotations

import time
from pathlib import Path

from workers.providers.files_api import Uploaded, request

TTL_SECONDS = 7 * 24 * 3600


def upload(path: Path, mime: str, filename: str, *, base_url: str, api_key: str, timeout: float) -> Uploaded:
    purpose = "vision" if mime.startswith("image/") else "user_data"
    with path.open("rb") as fh:  # httpx streams a file field in chunks
        resp = request("openai", "POST", base_url.rstrip("/") + "/files", timeout,
                       headers={"Authorization": f"Bearer {api_key}"},
                       data={"purpose": purpose}, files={"file": (filename, fh, mime)})
    body = resp.json()
    expires = body.get("expires_at") or time.time() + TTL_SECONDS
    return Uploaded(body["id"], float(expires))


def is_stale(status: int | None, message: str) -> bool:
    """Chat answers a file id OpenAI no longer has with **400** ``No such File object: file-…`` (issue 12);
    the Files API itself answers 404."""
    text = message.lower()
    return (status == 400 and "no such file object" in text) or (status == 404 and "file" in text)
