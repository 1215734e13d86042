"""``ferry batch DIR`` in native mode (the default): one /v1/batches batch whose lines Ferry sends through the
providers' own batch APIs at their batch price (issue 13); the progress bar names each provider batch's state.

The files still to do go into one JSONL input (``custom_id`` = the file's name under DIR), uploaded to
``/v1/files``; the batch is created with ``ferry.mode = "native"`` (lines whose provider has no batch API run
as jobs: ``auto``), polled, and its output and error files turned into the same result lines as jobs mode.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, TextIO

from rich.progress import Progress

from app.cli.client import FerryClient, media_part

FINAL = ("completed", "failed", "cancelled", "expired")


def _check(resp: Any) -> dict[str, Any]:
    if resp.status_code >= 400:
        raise RuntimeError(f"HTTP {resp.status_code}: {resp.text[:300]}")
    return resp.json()  # type: ignore[no-any-return]


def states(batch: dict[str, Any]) -> str:
    """``openai/gpt-4o: in_progress (1000 lines)`` for each provider batch, or the batch's own status."""
    pbs = (batch.get("ferry") or {}).get("provider_batches") or []
    shown = [f"{p['provider']}/{p['model']}: {p.get('status')} ({p['lines']})" for p in pbs]
    return "; ".join(shown) or str(batch.get("status"))


def result_line(name: str, model: str, item: dict[str, Any]) -> dict[str, Any]:
    resp = item.get("response") or {}
    body = resp.get("body") or {}
    ok = resp.get("status_code") == 200
    choices = body.get("choices") or [{}]
    return {"file": name, "job_id": resp.get("request_id"), "status": "succeeded" if ok else "failed",
            "model": model, "content": (choices[0].get("message") or {}).get("content") if ok else None,
            "usage": body.get("usage") if ok else None, "cost": body.get("cost") if ok else None,
            "error": None if ok else (item.get("error") or body.get("error"))}


def run(client: FerryClient, files: list[Path], names: dict[Path, str], model: str, prompt: str, detail: str,
        sink: TextIO, progress: Progress, bar: Any, mode: str = "native") -> int:
    """Run ``files`` as one batch; append a result line per file to ``sink``; returns how many failed."""
    lines = "".join(json.dumps({"custom_id": names[p], "method": "POST", "url": "/v1/chat/completions",
                                "body": {"model": model, "messages": [{"role": "user", "content": [
                                    {"type": "text", "text": prompt}, media_part(p, detail)]}]}}) + "\n"
                    for p in files)
    up = _check(client.http.post("/v1/files", data={"purpose": "batch"},
                                 files={"file": ("ferry-batch.jsonl", lines.encode(), "application/jsonl")}))
    batch = _check(client.http.post("/v1/batches", json={
        "input_file_id": up["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h",
        "ferry": {"mode": mode}, "metadata": {"source": "ferry batch"}}))
    done = 0
    while batch["status"] not in FINAL:
        time.sleep(0.5)
        batch = _check(client.http.get(f"/v1/batches/{batch['id']}"))
        counts = batch["request_counts"]
        progress.advance(bar, counts["completed"] + counts["failed"] - done)
        done = counts["completed"] + counts["failed"]
        progress.update(bar, note=f"{batch['id']}: {states(batch)}")
    failures = 0
    for key in ("output_file_id", "error_file_id"):
        if batch.get(key):
            text = client.http.get(f"/v1/files/{batch[key]}/content").text
            for raw in text.splitlines():
                item = json.loads(raw)
                line = result_line(item.get("custom_id") or "", model, item)
                failures += line["status"] != "succeeded"
                sink.write(json.dumps(line) + "\n")
    sink.flush()
    if batch["status"] != "completed":
        failures += len(files) - done
    for pb in (batch.get("ferry") or {}).get("provider_batches") or []:
        progress.console.print(f"{pb['provider']}/{pb['model']}: {pb.get('status')} ({pb['lines']}) {pb.get('id')}")
    progress.update(bar, note=f"{batch['id']} {batch['status']}: {states(batch)}; saved "
                              f"${((batch.get('ferry') or {}).get('cost') or {}).get('saved_usd', 0):.4f}")
    return failures
