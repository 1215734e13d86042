"""OpenAI simulator, Batch API: ``POST/GET /v1/batches``, ``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``.

Shapes follow github.com/openai/openai-python: ``types/batch.py`` (the batch object, statuses validating →
in_progress → finalizing → completed | failed | expired | cancelling → cancelled), ``batch_create_params.py``
(``completion_window`` "24h" only; the input file has purpose ``batch``, "up to 50,000 requests, and can be up to
200 MB in size"), ``batch_error.py`` (``errors.data[]``: code, line, message, param) and
``batch_request_counts.py``. Input lines are ``{"custom_id", "method", "url", "body"}``; output lines
``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}``; a request the endpoint
refuses goes to the error file with its status and error body and ``error: null`` (what OpenAI writes,
openai/openai-openapi issue 302); requests not run before the window ends or a cancel get
``error: {"code": "batch_expired" | "batch_cancelled"}``. https://platform.openai.com/docs/guides/batch:
one model per input file ("The provided model … does not match", validation fails the batch).

Strict like the synchronous endpoint: each line's body is run through the simulator's own
``/v1/chat/completions`` handler (same rules, same errors), in-process and unlogged. The batch ends after
``delay`` seconds (``POST /_sim/batches {"delay": s, "expire": bool}``), so tests poll a real lifecycle.
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, request

from .batch_controls import BatchConfig, install_batch_controls
from .controls import SimReject, SimState
from .files import FileStore, StoredFile
from .openai_wire import bad, check_auth, json_object

ENDPOINTS = ("/v1/chat/completions",)
MAX_LINES = 50_000
MAX_FILE_BYTES = 200 * 1024 * 1024
FINAL = ("completed", "failed", "expired", "cancelled")
#: The header the in-process line calls carry; controls.py neither logs nor faults them.
INTERNAL = "X-Sim-Batch-Line"


@dataclass
class SimBatch:
    id: str
    input_file_id: str
    endpoint: str
    metadata: dict[str, str] | None
    created_at: int = field(default_factory=lambda: int(time.time()))
    status: str = "validating"
    times: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: {"total": 0, "completed": 0, "failed": 0})
    errors: list[dict[str, Any]] | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    model: str | None = None
    usage: dict[str, int] = field(default_factory=lambda: {"input_tokens": 0, "output_tokens": 0})
    cancel: threading.Event = field(default_factory=threading.Event)

    def view(self) -> dict[str, Any]:
        t = self.times.get
        inp, out = self.usage["input_tokens"], self.usage["output_tokens"]
        return {"id": self.id, "object": "batch", "endpoint": self.endpoint, "model": self.model,
                "errors": {"object": "list", "data": self.errors} if self.errors else None,
                "input_file_id": self.input_file_id, "completion_window": "24h", "status": self.status,
                "output_file_id": self.output_file_id, "error_file_id": self.error_file_id,
                "created_at": self.created_at, "in_progress_at": t("in_progress_at"),
                "expires_at": self.created_at + 24 * 3600, "finalizing_at": t("finalizing_at"),
                "completed_at": t("completed_at"), "failed_at": t("failed_at"), "expired_at": t("expired_at"),
                "cancelling_at": t("cancelling_at"), "cancelled_at": t("cancelled_at"),
                "request_counts": dict(self.counts), "metadata": self.metadata,
                "usage": {"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out,
                          "input_tokens_details": {"cached_tokens": 0},
                          "output_tokens_details": {"reasoning_tokens": 0}}}


def register_batches(app: Flask, state: SimState, files: FileStore, api_key: str) -> BatchConfig:
    """Add the Batch API routes to the OpenAI simulator ``app`` (input and output files live in ``files``)."""
    config = install_batch_controls(app, state)

    @app.post("/v1/batches")
    def create_batch() -> Response:
        check_auth(api_key)
        _, body = json_object()
        for name in ("input_file_id", "endpoint", "completion_window"):
            if not body.get(name):
                raise bad(f"Missing required parameter: '{name}'.", name, "missing_required_parameter")
        if body["endpoint"] not in ENDPOINTS:
            raise bad(f"Invalid value: '{body['endpoint']}'. Supported values are: {', '.join(ENDPOINTS)}.",
                      "endpoint", "invalid_value")
        if body["completion_window"] != "24h":
            raise bad(f"Invalid value: '{body['completion_window']}'. Supported values are: '24h'.",
                      "completion_window", "invalid_value")
        metadata = body.get("metadata")
        if metadata is not None and (not isinstance(metadata, dict) or len(metadata) > 16 or any(
                not isinstance(v, str) or len(k) > 64 or len(v) > 512 for k, v in metadata.items())):
            raise bad("Invalid 'metadata': at most 16 string pairs (keys <= 64, values <= 512 characters).",
                      "metadata", "invalid_value")
        stored = files.get(body["input_file_id"])
        if stored is None:
            raise SimReject(404, f"No such File object: {body['input_file_id']}", "invalid_request_error",
                            param="input_file_id")
        if stored.extra.get("purpose") != "batch":
            raise bad(f"The file {stored.id} has purpose '{stored.extra.get('purpose')}'; a batch input file must "
                      "be uploaded with purpose 'batch'.", "input_file_id", "invalid_value")
        batch = SimBatch("batch_" + secrets.token_hex(12), stored.id, body["endpoint"], metadata or None)
        with config.lock:
            config.batches[batch.id] = batch
        threading.Thread(target=_run, args=(app, config, files, api_key, batch, stored), daemon=True,
                         name=f"sim-batch-{batch.id}").start()
        return jsonify(batch.view())

    @app.get("/v1/batches")
    def list_batches() -> Response:
        check_auth(api_key)
        limit = max(1, min(100, int(request.args.get("limit") or 20)))
        with config.lock:
            items = sorted(config.batches.values(), key=lambda b: (b.created_at, b.id), reverse=True)
        after = request.args.get("after")
        if after:
            ids = [b.id for b in items]
            items = items[ids.index(after) + 1:] if after in ids else []
        page = items[:limit]
        return jsonify({"object": "list", "data": [b.view() for b in page],
                        "first_id": page[0].id if page else None, "last_id": page[-1].id if page else None,
                        "has_more": len(items) > limit})

    @app.get("/v1/batches/<batch_id>")
    def get_batch(batch_id: str) -> Response:
        check_auth(api_key)
        return jsonify(_lookup(config, batch_id).view())

    @app.post("/v1/batches/<batch_id>/cancel")
    def cancel_batch(batch_id: str) -> Response:
        check_auth(api_key)
        batch = _lookup(config, batch_id)
        with config.lock:
            if batch.status in ("validating", "in_progress", "finalizing"):
                batch.status = "cancelling"
                batch.times["cancelling_at"] = int(time.time())
                batch.cancel.set()
            elif batch.status not in ("cancelling", "cancelled"):
                raise bad(f"Cannot cancel a batch with status '{batch.status}'.", None, "invalid_value", status=409)
        return jsonify(batch.view())

    return config


def _lookup(config: BatchConfig, batch_id: str) -> SimBatch:
    with config.lock:
        batch = config.batches.get(batch_id)
    if batch is None:
        raise SimReject(404, f"No batch found with id '{batch_id}'.", "invalid_request_error", param="batch_id")
    return batch


def _move(config: BatchConfig, batch: SimBatch, status: str) -> None:
    with config.lock:
        if batch.status == "cancelling" and status not in ("cancelled",):
            return
        batch.status = status
        batch.times[f"{status}_at"] = int(time.time())


def _validate(batch: SimBatch, data: bytes) -> list[dict[str, Any]]:
    """The input file's lines, or ``batch.errors`` set (the batch then fails, as OpenAI's validation does)."""
    errors: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    if len(data) > MAX_FILE_BYTES:
        errors.append({"code": "file_too_large", "line": None, "param": None,
                       "message": f"The input file is {len(data)} bytes; the maximum is {MAX_FILE_BYTES} bytes."})
    seen: set[str] = set()
    models: set[str] = set()
    raw_lines = [x for x in data.splitlines() if x.strip()]
    if len(raw_lines) > MAX_LINES:
        errors.append({"code": "too_many_requests", "line": None, "param": None,
                       "message": f"The input file has {len(raw_lines)} requests; the maximum is {MAX_LINES}."})
    for n, raw in enumerate(raw_lines, 1):
        try:
            item = json.loads(raw)
            if not isinstance(item, dict):
                raise ValueError("not an object")
        except ValueError:
            errors.append({"code": "invalid_json_line", "line": n, "param": None,
                           "message": "This line is not parseable as valid JSON."})
            continue
        cid = item.get("custom_id")
        if not isinstance(cid, str) or not cid:
            errors.append({"code": "missing_required_parameter", "line": n, "param": "custom_id",
                           "message": "Missing required parameter: 'custom_id'."})
        elif cid in seen:
            errors.append({"code": "duplicate_custom_id", "line": n, "param": "custom_id",
                           "message": f"The custom_id for this request is a duplicate of another request: {cid}."})
        seen.add(cid if isinstance(cid, str) else "")
        if item.get("method") != "POST":
            errors.append({"code": "invalid_value", "line": n, "param": "method",
                           "message": "Invalid value for 'method': only 'POST' is supported."})
        if item.get("url") != batch.endpoint:
            errors.append({"code": "invalid_url", "line": n, "param": "url",
                           "message": f"The URL provided for this request does not match the batch endpoint "
                                      f"{batch.endpoint}."})
        body = item.get("body")
        if not isinstance(body, dict):
            errors.append({"code": "missing_required_parameter", "line": n, "param": "body",
                           "message": "Missing required parameter: 'body'."})
            continue
        models.add(str(body.get("model")))
        if len(models) > 1:
            errors.append({"code": "mismatched_model", "line": n, "param": "body.model",
                           "message": f"The provided model '{body.get('model')}' does not match the model of the "
                                      f"other requests in this file ({sorted(models - {str(body.get('model'))})[0]}); "
                                      "a batch input file may use one model only."})
            models.discard(str(body.get("model")))
        lines.append(item)
    batch.model = next(iter(models), None)
    if errors:
        batch.errors = errors[:100]
    return lines


def _run(app: Flask, config: BatchConfig, files: FileStore, api_key: str, batch: SimBatch, stored: StoredFile) -> None:
    lines = _validate(batch, stored.data)
    if batch.errors:
        _move(config, batch, "failed")
        return
    batch.counts["total"] = len(lines)
    _move(config, batch, "in_progress")
    expired = config.expire
    batch.cancel.wait(config.delay)
    client = app.test_client()
    out: list[dict[str, Any]] = []
    err: list[dict[str, Any]] = []
    for item in lines:
        rid = "batch_req_" + secrets.token_hex(12)
        if batch.cancel.is_set() or expired:
            code = "batch_cancelled" if batch.cancel.is_set() else "batch_expired"
            message = ("This request was cancelled before it was run." if code == "batch_cancelled" else
                       "This request could not be executed before the completion window expired.")
            err.append({"id": rid, "custom_id": item["custom_id"], "response": None,
                        "error": {"code": code, "message": message}})
            continue
        resp = client.post(batch.endpoint, json=item["body"],
                           headers={"Authorization": f"Bearer {api_key}", INTERNAL: "1"})
        answer = resp.get_json(silent=True)
        line = {"id": rid, "custom_id": item["custom_id"],
                "response": {"status_code": resp.status_code, "request_id": secrets.token_hex(16), "body": answer},
                "error": None}
        if resp.status_code == 200:
            usage = (answer or {}).get("usage") or {}
            batch.usage["input_tokens"] += int(usage.get("prompt_tokens") or 0)
            batch.usage["output_tokens"] += int(usage.get("completion_tokens") or 0)
            batch.counts["completed"] += 1
            out.append(line)
        else:
            batch.counts["failed"] += 1
            err.append(line)
    if not batch.cancel.is_set() and not expired:
        _move(config, batch, "finalizing")
    for chosen, attr in ((out, "output_file_id"), (err, "error_file_id")):
        if chosen:
            data = "".join(json.dumps(x) + "\n" for x in chosen).encode()
            f = files.put(StoredFile(files.new_id(), f"{batch.id}_{attr[:-8]}.jsonl", data, "application/jsonl",
                                     extra={"purpose": "batch_output"}))
            setattr(batch, attr, f.id)
    if batch.cancel.is_set():
        _move(config, batch, "cancelled")
    elif expired:
        batch.counts["failed"] = len(lines) - batch.counts["completed"]
        _move(config, batch, "expired")
    else:
        _move(config, batch, "completed")
