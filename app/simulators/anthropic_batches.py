"""Anthropic simulator, Message Batches: ``POST/GET /v1/messages/batches``, ``GET /v1/messages/batches/{id}``,
``POST …/{id}/cancel``, ``GET …/{id}/results`` (JSONL).

Shapes follow github.com/anthropics/anthropic-sdk-python ``types/messages/``: ``batch_create_params.py``
(``requests[]`` of ``{custom_id, params}``), ``message_batch.py`` (``type: message_batch``,
``processing_status`` in_progress | canceling | ended, RFC 3339 times, ``results_url`` once ended),
``message_batch_request_counts.py``, ``message_batch_individual_response.py`` and the four result types
(succeeded with ``message``, errored with an ErrorResponse, canceled, expired). Limits:
https://docs.anthropic.com/en/docs/build-with-claude/batch-processing (100,000 requests or 256 MB per batch;
``custom_id`` unique, ``^[a-zA-Z0-9_-]{1,64}$``; ``params`` are validated asynchronously: a bad one is an
``errored`` result when the batch ends).

Strict like the synchronous endpoint: each request's ``params`` runs through the simulator's own
``/v1/messages`` handler with the creating call's headers, in-process and unlogged. The batch ends ``delay``
seconds after creation (``POST /_sim/batches {"delay": s, "expire": bool}``).
"""
from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from flask import Flask, Response, jsonify, request

from .batch_controls import BatchConfig, install_batch_controls
from .controls import SimReject, SimState

MAX_REQUESTS = 100_000
MAX_BYTES = 256 * 1024 * 1024
CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
INTERNAL = "X-Sim-Batch-Line"
PASSED_HEADERS = ("x-api-key", "authorization", "anthropic-version", "anthropic-beta")


def _iso(t: float | None) -> str | None:
    return datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z") if t else None


@dataclass
class SimMessageBatch:
    id: str
    requests: list[dict[str, Any]]
    headers: dict[str, str]
    created: float = field(default_factory=time.time)
    status: str = "in_progress"
    ended: float | None = None
    cancel_at: float | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)

    def view(self, host: str) -> dict[str, Any]:
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if self.status != "ended":
            counts["processing"] = len(self.requests)
        else:
            for r in self.results:
                counts[r["result"]["type"]] += 1
        return {"id": self.id, "type": "message_batch", "processing_status": self.status, "request_counts": counts,
                "ended_at": _iso(self.ended), "created_at": _iso(self.created),
                "expires_at": _iso(self.created + 24 * 3600), "archived_at": None,
                "cancel_initiated_at": _iso(self.cancel_at),
                "results_url": f"{host.rstrip('/')}/v1/messages/batches/{self.id}/results" if self.ended else None}


def _bad(message: str) -> SimReject:
    return SimReject(400, message, "invalid_request_error")


def register_batches(app: Flask, state: SimState, check_headers: Any) -> BatchConfig:
    config = install_batch_controls(app, state)

    @app.post("/v1/messages/batches")
    def create() -> Response:
        check_headers()
        raw = request.get_data()
        if len(raw) > MAX_BYTES:
            raise SimReject(413, "Request exceeds the maximum size", "request_too_large")
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise _bad(f"Invalid JSON body: {exc}")
        reqs = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(reqs, list) or not reqs:
            raise _bad("requests: Field required (a non-empty list)")
        if len(reqs) > MAX_REQUESTS:
            raise _bad(f"requests: at most {MAX_REQUESTS} requests per batch, got {len(reqs)}")
        seen: set[str] = set()
        for i, r in enumerate(reqs):
            cid = r.get("custom_id") if isinstance(r, dict) else None
            if not isinstance(cid, str) or not CUSTOM_ID.match(cid):
                raise _bad(f"requests.{i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'")
            if cid in seen:
                raise _bad(f"requests.{i}.custom_id: duplicate custom_id {cid!r}; custom_id must be unique")
            seen.add(cid)
            if not isinstance(r.get("params"), dict):
                raise _bad(f"requests.{i}.params: Field required")
        headers = {k: request.headers[k] for k in PASSED_HEADERS if k in request.headers}
        batch = SimMessageBatch("msgbatch_" + secrets.token_hex(12), reqs, headers)
        with config.lock:
            config.batches[batch.id] = batch
        threading.Thread(target=_run, args=(app, config, batch), daemon=True).start()
        return jsonify(batch.view(request.host_url))

    @app.get("/v1/messages/batches")
    def list_() -> Response:
        check_headers()
        limit = max(1, min(1000, int(request.args.get("limit") or 20)))
        with config.lock:
            items = sorted(config.batches.values(), key=lambda b: b.created, reverse=True)
        page = items[:limit]
        return jsonify({"data": [b.view(request.host_url) for b in page], "has_more": len(items) > limit,
                        "first_id": page[0].id if page else None, "last_id": page[-1].id if page else None})

    @app.get("/v1/messages/batches/<batch_id>")
    def retrieve(batch_id: str) -> Response:
        check_headers()
        return jsonify(_lookup(config, batch_id).view(request.host_url))

    @app.post("/v1/messages/batches/<batch_id>/cancel")
    def cancel(batch_id: str) -> Response:
        check_headers()
        batch = _lookup(config, batch_id)
        with config.lock:
            if batch.status == "in_progress":
                batch.status, batch.cancel_at = "canceling", time.time()
                batch.cancel.set()
        return jsonify(batch.view(request.host_url))

    @app.get("/v1/messages/batches/<batch_id>/results")
    def results(batch_id: str) -> Response:
        check_headers()
        batch = _lookup(config, batch_id)
        if batch.status != "ended":
            raise _bad(f"Batch {batch_id} has not ended yet; its results are not available")
        return Response("".join(json.dumps(r) + "\n" for r in batch.results), mimetype="application/binary")

    return config


def _lookup(config: BatchConfig, batch_id: str) -> SimMessageBatch:
    with config.lock:
        batch = config.batches.get(batch_id)
    if batch is None:
        raise SimReject(404, f"message_batch {batch_id} not found", "not_found_error")
    return batch


def _run(app: Flask, config: BatchConfig, batch: SimMessageBatch) -> None:
    expired = config.expire
    batch.cancel.wait(config.delay)
    client = app.test_client()
    out: list[dict[str, Any]] = []
    for r in batch.requests:
        if batch.cancel.is_set() or expired:
            out.append({"custom_id": r["custom_id"], "result": {"type": "canceled" if batch.cancel.is_set()
                                                                else "expired"}})
            continue
        resp = client.post("/v1/messages", json=r["params"], headers={**batch.headers, INTERNAL: "1"})
        answer = resp.get_json(silent=True)
        if resp.status_code == 200:
            out.append({"custom_id": r["custom_id"], "result": {"type": "succeeded", "message": answer}})
        else:
            out.append({"custom_id": r["custom_id"], "result": {"type": "errored", "error": answer}})
    with config.lock:
        batch.results = out
        batch.status, batch.ended = "ended", time.time()
