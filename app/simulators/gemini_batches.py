"""Gemini simulator, Batch Mode: ``POST /v1beta/models/{m}:batchGenerateContent``, ``GET /v1beta/batches``,
``GET /v1beta/batches/{id}``, ``POST /v1beta/batches/{id}:cancel``, ``DELETE /v1beta/batches/{id}``; the
responses file is served by the Files API's ``:download`` (gemini_files.py).

Shapes follow github.com/googleapis/python-genai ``google/genai/batches.py``: the create body
``{"batch": {"displayName", "inputConfig": {"fileName"} | {"requests": {"requests": [InlinedRequest]}}}}``
(``_CreateBatchJobParameters_to_mldev``, ``_BatchJobSource_to_mldev``), every answer a long-running Operation
``{"name": "batches/…", "metadata": GenerateContentBatch, "done", "response"}`` (``_BatchJob_from_mldev``:
``metadata.displayName``, ``state``, ``createTime``, ``endTime``, ``updateTime``, ``model``, ``output``
``{"responsesFile"}`` or ``{"inlinedResponses": {"inlinedResponses": [InlinedResponse]}}``), the list
``{"operations", "nextPageToken"}`` (``_ListBatchJobsResponse_from_mldev``), ``:cancel`` answering an empty
message; states are the REST enum ``BATCH_STATE_*`` (``_transformers.py`` ``t_job_state`` renames them).
https://ai.google.dev/gemini-api/docs/batch-mode: input lines ``{"key", "request": GenerateContentRequest}``,
result lines ``{"key", "response"}`` or ``{"key", "error": google.rpc.Status}``; inline requests under 20 MB;
``displayName`` is required (https://ai.google.dev/api/batch-mode GenerateContentBatch).

Strict like the synchronous endpoint: the model must be one the simulator serves (404), the input file must
exist (403) and be ACTIVE, every line must be a JSON object with a ``request`` object (else the create is a
400 naming the line); each request then runs through the simulator's own generateContent handler, in-process
and unlogged, so a request it refuses is that line's ``error``. The create call's log entry lists every
line's media parts (``key`` and file reference), so tests can see what each line referenced. The batch
ends ``delay`` seconds after creation (``POST /_sim/batches {"delay": s, "expire": bool}``).
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, jsonify, request

from . import served
from .batch_controls import BatchConfig, install_batch_controls
from .common import Part
from .controls import SimReject, SimState, record_parts
from .gemini_files import FileRoutes, GFile
from .gemini_wire import VER, bad, check_key, get_field, read_json

MAX_INLINE_BYTES = 20 * 1024 * 1024
INTERNAL = "X-Sim-Batch-Line"  # controls.py neither logs nor faults the in-process line calls
TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch"
OUTPUT_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput"
ENDED = ("BATCH_STATE_SUCCEEDED", "BATCH_STATE_FAILED", "BATCH_STATE_CANCELLED", "BATCH_STATE_EXPIRED")


def _ts(t: float | None) -> str | None:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if t else None


@dataclass
class SimGeminiBatch:
    name: str  # batches/abc
    model: str
    display_name: str
    input_config: dict[str, Any]
    lines: list[dict[str, Any]]  # {"key"?: str, "request": {...}, "metadata"?: {...}}
    inline: bool
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    ended: float | None = None
    state: str = "BATCH_STATE_PENDING"
    results: list[dict[str, Any]] = field(default_factory=list)
    responses_file: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def view(self) -> dict[str, Any]:
        ok = sum(1 for r in self.results if "response" in r)
        stats = {"requestCount": str(len(self.lines)), "successfulRequestCount": str(ok),
                 "failedRequestCount": str(len(self.results) - ok),
                 "pendingRequestCount": str(len(self.lines) - len(self.results))}
        meta: dict[str, Any] = {"@type": TYPE, "model": f"models/{self.model}", "displayName": self.display_name,
                                "inputConfig": self.input_config, "createTime": _ts(self.created),
                                "updateTime": _ts(self.updated), "batchStats": stats, "state": self.state,
                                "name": self.name}
        op: dict[str, Any] = {"name": self.name, "metadata": meta}
        if self.ended:
            meta["endTime"] = _ts(self.ended)
            op["done"] = True
        output: dict[str, Any] | None = None
        if self.responses_file:
            output = {"responsesFile": self.responses_file}
        elif self.inline and self.state == "BATCH_STATE_SUCCEEDED":
            output = {"inlinedResponses": {"inlinedResponses": [
                {k: v for k, v in r.items() if k != "key"} for r in self.results]}}
        if output is not None:
            meta["output"] = output
            op["response"] = {"@type": OUTPUT_TYPE, **output}
        return op


@dataclass
class GeminiBatches:
    config: BatchConfig
    create: Any  # (model) -> Response, called by gemini_sim's models/{m}:{action} route


def register_batches(app: Flask, state: SimState, api_key: str, files: FileRoutes,
                     models: Iterable[str] | None) -> GeminiBatches:
    config = install_batch_controls(app, state)
    served_models = list(models) if models is not None else None

    def create(model: str) -> Response:
        check_key(api_key)
        record_parts([], model)
        _, body = read_json(MAX_INLINE_BYTES)
        served.check("gemini", model, served_models)
        batch = get_field(body, "batch") if isinstance(body, dict) else None
        if not isinstance(batch, dict):
            raise bad("* BatchGenerateContentRequest.batch: batch is required")
        display = get_field(batch, "display_name")
        if not isinstance(display, str) or not display.strip():
            raise bad("* BatchGenerateContentRequest.batch.display_name: display_name is required")
        source = get_field(batch, "input_config")
        if not isinstance(source, dict):
            raise bad("* BatchGenerateContentRequest.batch.input_config: input_config is required")
        file_name, inlined = get_field(source, "file_name"), get_field(source, "requests")
        if (file_name is None) == (inlined is None):
            raise bad("* BatchGenerateContentRequest.batch.input_config: exactly one of file_name and requests "
                      "must be set")
        if file_name is not None:
            lines = _file_lines(files, str(file_name))
            input_config = {"fileName": file_name}
        else:
            lines = _inline_lines(inlined)
            input_config = {"requests": inlined}
        record_parts(_parts(lines), model)
        item = SimGeminiBatch("batches/" + secrets.token_hex(8), model, display, input_config, lines,
                              file_name is None)
        with config.lock:
            config.batches[item.name] = item
        threading.Thread(target=_run, args=(app, config, files, api_key, item), daemon=True,
                         name=f"sim-gemini-{item.name}").start()
        return jsonify(item.view())

    @app.get(f"/{VER}/batches")
    def list_batches(ver: str) -> Response:
        check_key(api_key)
        size = max(1, min(1000, int(request.args.get("pageSize") or 50)))
        start = int(request.args.get("pageToken") or 0)
        with config.lock:
            items = sorted(config.batches.values(), key=lambda b: b.created, reverse=True)
        page = items[start:start + size]
        out: dict[str, Any] = {"operations": [b.view() for b in page]} if page else {}
        if start + size < len(items):
            out["nextPageToken"] = str(start + size)
        return jsonify(out)

    @app.route(f"/{VER}/batches/<bid>", methods=["GET", "POST", "DELETE"])
    def one_batch(ver: str, bid: str) -> Response:
        check_key(api_key)
        if request.method == "POST":
            if not bid.endswith(":cancel"):
                raise SimReject(404, f"Method not found: batches/{bid}", "NOT_FOUND")
            item = _lookup(config, "batches/" + bid.removesuffix(":cancel"))
            with config.lock:
                if item.state not in ENDED:
                    item.cancel.set()
            return jsonify({})
        item = _lookup(config, "batches/" + bid)
        if request.method == "DELETE":
            with config.lock:
                config.batches.pop(item.name, None)
                item.cancel.set()
            return jsonify({})
        return jsonify(item.view())

    return GeminiBatches(config, create)


def _lookup(config: BatchConfig, name: str) -> SimGeminiBatch:
    with config.lock:
        item = config.batches.get(name)
    if item is None:
        raise SimReject(404, f"Batch {name} not found.", "NOT_FOUND")
    return item


def _file_lines(files: FileRoutes, file_name: str) -> list[dict[str, Any]]:
    gfile = files.lookup(file_name if file_name.startswith("files/") else "files/" + file_name)
    if gfile.state() != "ACTIVE":
        raise bad(f"The File {gfile.name} is not in an ACTIVE state and usage is not allowed.", "FAILED_PRECONDITION")
    lines: list[dict[str, Any]] = []
    for n, raw in enumerate(gfile.data.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except ValueError as exc:
            raise bad(f"Invalid JSON in the input file {gfile.name}, line {n}: {exc}")
        if not isinstance(item, dict) or not isinstance(item.get("request"), dict):
            raise bad(f"Invalid request in the input file {gfile.name}, line {n}: each line must be a JSON object "
                      "with a 'request' object (a GenerateContentRequest) and an optional 'key'")
        if "key" in item and not isinstance(item["key"], str):
            raise bad(f"Invalid value in the input file {gfile.name}, line {n}: 'key' must be a string")
        lines.append(item)
    if not lines:
        raise bad(f"The input file {gfile.name} has no requests")
    return lines


def _inline_lines(inlined: Any) -> list[dict[str, Any]]:
    reqs = get_field(inlined, "requests") if isinstance(inlined, dict) else None
    if not isinstance(reqs, list) or not reqs:
        raise bad("* BatchGenerateContentRequest.batch.input_config.requests.requests: requests is required")
    out = []
    for i, r in enumerate(reqs):
        if not isinstance(r, dict) or not isinstance(r.get("request"), dict):
            raise bad(f"* BatchGenerateContentRequest.batch.input_config.requests.requests[{i}].request: "
                      "request is required")
        out.append({"request": r["request"], **({"metadata": r["metadata"]} if "metadata" in r else {})})
    return out


def _parts(lines: list[dict[str, Any]]) -> list[Part]:
    """Each line's media parts for the log (what it references, not yet validated: the run does that)."""
    out: list[Part] = []
    for item in lines:
        key = {"key": item.get("key")}
        contents = item["request"].get("contents")
        for content in contents if isinstance(contents, list) else []:
            parts = content.get("parts") if isinstance(content, dict) else None
            for part in parts if isinstance(parts, list) else []:
                if not isinstance(part, dict):
                    continue
                fd, inline = get_field(part, "file_data"), get_field(part, "inline_data")
                if isinstance(fd, dict):
                    uri = str(get_field(fd, "file_uri") or "")
                    ref = uri[uri.index("files/"):] if "files/" in uri else uri
                    out.append(Part("file", declared_mime=get_field(fd, "mime_type"),
                                    source="file" if ref.startswith("files/") else "url", ref=ref,
                                    extra={**key, "file_uri": uri}))
                elif isinstance(inline, dict):
                    mime = str(get_field(inline, "mime_type") or "")
                    kind = {"image": "image", "audio": "audio", "video": "video"}.get(mime.split("/")[0], "document")
                    out.append(Part(kind, declared_mime=mime or None,
                                    extra={**key, "base64_chars": len(str(inline.get("data") or ""))}))
    return out


def _set(config: BatchConfig, item: SimGeminiBatch, state: str) -> None:
    with config.lock:
        item.state, item.updated = state, time.time()
        if state in ENDED:
            item.ended = item.updated


def _run(app: Flask, config: BatchConfig, files: FileRoutes, api_key: str, item: SimGeminiBatch) -> None:
    expired = config.expire
    _set(config, item, "BATCH_STATE_RUNNING")
    item.cancel.wait(config.delay)
    if expired and not item.cancel.is_set():
        _set(config, item, "BATCH_STATE_EXPIRED")  # docs: an expired batch has no results to retrieve
        return
    client = app.test_client()
    for line in item.lines:
        if item.cancel.is_set():
            break
        resp = client.post(f"/v1beta/models/{item.model}:generateContent", json=line["request"],
                           headers={"x-goog-api-key": api_key, INTERNAL: "1"})
        answer = resp.get_json(silent=True) or {}
        out: dict[str, Any] = {"key": line["key"]} if "key" in line else {}
        if resp.status_code == 200:
            out["response"] = answer
        else:
            out["error"] = answer.get("error") or {"code": resp.status_code, "message": resp.get_data(as_text=True)}
        if "metadata" in line:
            out["metadata"] = line["metadata"]
        with config.lock:
            item.results.append(out)
    if item.results and not item.inline:
        data = "".join(json.dumps(r) + "\n" for r in item.results).encode()
        now = time.time()
        gfile = GFile("files/batch-" + item.name.split("/", 1)[1], None, "application/jsonl", data, now, now,
                      source="GENERATED")
        files.put(gfile)
        item.responses_file = gfile.name
    _set(config, item, "BATCH_STATE_CANCELLED" if item.cancel.is_set() else "BATCH_STATE_SUCCEEDED")
