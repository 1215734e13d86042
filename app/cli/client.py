"""A small HTTP client for Ferry's API, used by the CLI (and handy in scripts)."""
from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from workers.media.sniff import sniff_mime

TERMINAL = ("succeeded", "failed", "canceled")


def media_part(path: Path, detail: str = "auto") -> dict[str, Any]:
    """An OpenAI content part for a local file, as a base64 data URI (type from the bytes)."""
    data = path.read_bytes()
    mime = sniff_mime(data[:8192]) or "application/octet-stream"
    uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    if mime.startswith("image/"):
        return {"type": "image_url", "image_url": {"url": uri, "detail": detail}}
    if mime.startswith("audio/"):
        fmt = {"audio/wav": "wav", "audio/mpeg": "mp3"}.get(mime, mime.split("/")[1])
        return {"type": "input_audio", "input_audio": {"data": base64.b64encode(data).decode("ascii"), "format": fmt}}
    return {"type": "file", "file": {"filename": path.name, "file_data": uri}}


class FerryClient:
    def __init__(self, base_url: str, api_key: str, timeout: float = 60.0) -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"), headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout
        )

    def _check(self, resp: httpx.Response) -> dict[str, Any]:
        body = resp.json()
        if resp.status_code >= 400:
            err = body.get("error", {}) if isinstance(body, dict) else {}
            raise RuntimeError(f"HTTP {resp.status_code} {err.get('type')}: {err.get('message')}")
        return body

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._check(self.http.post("/v1/jobs", json=body))

    def get(self, job_id: str, wait: float = 0.0) -> dict[str, Any]:
        """The job; with ``wait`` the server answers as soon as it ends (or after ``wait`` seconds)."""
        params = {"wait": f"{wait:.3f}"} if wait > 0 else None
        return self._check(self.http.get(f"/v1/jobs/{job_id}", params=params))

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._check(self.http.delete(f"/v1/jobs/{job_id}"))

    def models(self, **filters: str) -> dict[str, Any]:
        """GET /v1/models with filters such as supported_parameters=vision, output_modalities=image."""
        return self._check(self.http.get("/v1/models", params=filters))

    def wait(
        self, job_id: str, timeout: float = 300.0, interval: float = 2.0,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Long-polls (``?wait=``): woken by the job's end, with a progress update every ``interval`` s."""
        deadline = time.monotonic() + timeout
        last: tuple[Any, ...] | None = None
        job = self.get(job_id)
        while True:
            key = (job["status"], job.get("stage"), job.get("progress"))
            if on_update and key != last:
                on_update(job)
                last = key
            if job["status"] in TERMINAL:
                return job
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"job {job_id} still {job['status']} after {timeout:g} s")
            job = self.get(job_id, wait=min(interval, left))
