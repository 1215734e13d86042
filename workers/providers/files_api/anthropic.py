"""Anthropic Files API (beta): ``POST {base}/v1/files`` multipart ``file``, header
``anthropic-beta: files-api-2025-04-14`` (https://docs.anthropic.com/en/docs/build-with-claude/files).

Files persist until deleted; the cache keeps an id for :data:`TTL_SECONDS`.
"""
from __future__ import annotations

import time
from pathlib import Path

from workers.providers.files_api import Uploaded, request

BETA = "files-api-2025-04-14"
API_VERSION = "2023-06-01"
TTL_SECONDS = 7 * 24 * 3600


def upload(path: Path, mime: str, filename: str, *, base_url: str, api_key: str, timeout: float) -> Uploaded:
    headers = {"x-api-key": api_key, "anthropic-version": API_VERSION, "anthropic-beta": BETA}
    with path.open("rb") as fh:
        resp = request("anthropic", "POST", base_url.rstrip("/") + "/v1/files", timeout,
                       headers=headers, files={"file": (filename, fh, mime)})
    return Uploaded(resp.json()["id"], time.time() + TTL_SECONDS)


def is_stale(status: int | None, message: str) -> bool:
    return status == 404 and "file" in message.lower()
