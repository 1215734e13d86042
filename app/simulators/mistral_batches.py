"""Mistral simulator, batch jobs: ``POST/GET /v1/batch/jobs``, ``GET /v1/batch/jobs/{id}``, ``POST …/{id}/cancel``.

Shapes follow mistralai/client-python ``src/mistralai/client/batch_jobs.py`` and models ``createbatchjobrequest.py``
(``input_files`` or inline ``requests``, ``endpoint`` from ``apiendpoint.py``, ``model``, ``metadata`` str → str,
``timeout_hours`` default 24), ``batchjob.py`` (``object: "batch"``, ``errors[]`` of ``batcherror.py`` {message,
count}, ``output_file``, ``error_file``, request counts, unix times), ``batchjobstatus.py`` (QUEUED → RUNNING →
SUCCESS | FAILED | TIMEOUT_EXCEEDED, CANCELLATION_REQUESTED → CANCELLED), ``listbatchjobsresponse.py`` and
``jobs_api_routes_batch_get_batch_jobsop.py`` (list by ``page``, ``page_size``, ``model``, ``status``,
``created_after``, ``order_by`` "-created"). https://docs.mistral.ai/capabilities/batch/: input lines
``{"custom_id", "body"}``, one model per job, up to 1M requests; result lines ``{"id", "custom_id", "response":
{"status_code", "body"}, "error"}`` (answered lines in the output file, refused ones in the error file).

Strict like the synchronous endpoint: each line's body runs through the simulator's own ``/v1/chat/completions``
handler with the job's model (same rules, same errors: an unknown model is each line's ``400 Invalid model``),
in-process and unlogged. An input file that is not JSONL of ``{"custom_id", "body"}`` objects with unique
custom_ids fails the job (``errors[]`` say which lines). The job runs ``delay`` seconds, and with ``expire`` ends
TIMEOUT_EXCEEDED answering no line (``POST /_sim/batches {"delay": s, "expire": bool}``, batch_controls.py).
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, Response, jsonify, request

from .batch_controls import BatchConfig, install_batch_controls
from .controls import SimReject, SimState
from .files import FileStore
from .mistral_files import lookup, new_file

ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings", "/v1/fim/completions", "/v1/moderations",
             "/v1/chat/moderations", "/v1/ocr", "/v1/classifications", "/v1/chat/classifications",
             "/v1/conversations", "/v1/audio/transcriptions")
SIMULATED = ("/v1/chat/completions",)
MAX_REQUESTS = 1_000_000
ENDED = ("SUCCESS", "FAILED", "TIMEOUT_EXCEEDED", "CANCELLED")
INTERNAL = "X-Sim-Batch-Line"  # the in-process line calls: controls.py neither logs nor faults them


@dataclass
class SimJob:
    id: str
    input_files: list[str]
    inline: list[Any] | None
    endpoint: str
    model: str
    metadata: dict[str, str] | None
    timeout_hours: int
    created_at: int = field(default_factory=lambda: int(time.time()))
    status: str = "QUEUED"
    errors: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"total": 0, "completed": 0, "succeeded": 0, "failed": 0})
    output_file: str | None = None
    error_file: str | None = None
    started_at: int | None = None
    completed_at: int | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "object": "batch", "input_files": self.input_files, "metadata": self.metadata,
                "endpoint": self.endpoint, "model": self.model, "agent_id": None, "output_file": self.output_file,
                "error_file": self.error_file, "errors": self.errors, "outputs": None, "status": self.status,
                "created_at": self.created_at, "started_at": self.started_at, "completed_at": self.completed_at,
                **{f"{k}_requests": v for k, v in self.counts.items()}}


def _bad(message: str, status: int = 400) -> SimReject:
    return SimReject(status, message, "invalid_request_error")


def register_batches(app: Flask, state: SimState, files: FileStore, api_key: str, check_auth: Any) -> BatchConfig:
    """Add the batch job routes to the Mistral simulator ``app`` (input and result files live in ``files``)."""
    config = install_batch_controls(app, state)

    @app.post("/v1/batch/jobs")
    def create_job() -> Response:
        check_auth()
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise _bad("request body must be a JSON object", 422)
        endpoint = body.get("endpoint")
        if endpoint not in ENDPOINTS:
            raise _bad(f"endpoint: Input should be one of {', '.join(ENDPOINTS)}", 422)
        if endpoint not in SIMULATED:
            raise _bad(f"endpoint {endpoint} is not implemented by the simulator; use /v1/chat/completions")
        if not body.get("model"):
            raise _bad("model: a batch job needs a model (or an agent_id, which the simulator does not run)")
        metadata = body.get("metadata")
        if metadata is not None and (not isinstance(metadata, dict)
                                     or any(not isinstance(v, str) for v in metadata.values())):
            raise _bad("metadata: Input should be a valid dictionary of strings", 422)
        hours = body.get("timeout_hours", 24)
        if not isinstance(hours, int) or isinstance(hours, bool) or hours < 1:
            raise _bad("timeout_hours: Input should be a positive integer", 422)
        inputs, inline = body.get("input_files"), body.get("requests")
        if not inputs and not inline:
            raise _bad("input_files: give input_files or requests")
        if inputs is not None and (not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs)):
            raise _bad("input_files: Input should be a valid list of file ids", 422)
        for file_id in inputs or []:
            if lookup(files, file_id).extra.get("purpose") != "batch":
                raise _bad(f"input_files: file {file_id} was not uploaded with purpose 'batch'")
        job = SimJob(str(uuid.uuid4()), list(inputs or []), inline if isinstance(inline, list) else None,
                     endpoint, str(body["model"]), metadata or None, hours)
        with config.lock:
            config.batches[job.id] = job
        threading.Thread(target=_run, args=(app, config, files, api_key, job), daemon=True,
                         name=f"sim-mistral-batch-{job.id}").start()
        return jsonify(job.view())

    @app.get("/v1/batch/jobs")
    def list_jobs() -> Response:
        check_auth()
        args = request.args
        page, size = int(args.get("page") or 0), max(1, min(1000, int(args.get("page_size") or 100)))
        with config.lock:
            jobs = list(config.batches.values())
        after = datetime.fromisoformat(args["created_after"]).timestamp() \
            if args.get("created_after") else None
        jobs = [j for j in jobs if (not args.get("model") or j.model == args["model"])
                and (not args.getlist("status") or j.status in args.getlist("status"))
                and (after is None or j.created_at >= after)]
        jobs.sort(key=lambda j: (j.created_at, j.id), reverse=args.get("order_by", "-created") == "-created")
        return jsonify({"data": [j.view() for j in jobs[page * size:(page + 1) * size]], "object": "list",
                        "total": len(jobs)})

    @app.get("/v1/batch/jobs/<job_id>")
    def get_job(job_id: str) -> Response:
        check_auth()
        return jsonify(_lookup(config, job_id).view())

    @app.post("/v1/batch/jobs/<job_id>/cancel")
    def cancel_job(job_id: str) -> Response:
        check_auth()
        job = _lookup(config, job_id)
        with config.lock:
            if job.status in ("QUEUED", "RUNNING"):
                job.status = "CANCELLATION_REQUESTED"
                job.cancel.set()
            elif job.status not in ("CANCELLATION_REQUESTED", "CANCELLED"):
                raise _bad(f"Batch job {job_id} has already ended ({job.status}) and cannot be cancelled")
        return jsonify(job.view())

    return config


def _lookup(config: BatchConfig, job_id: str) -> SimJob:
    with config.lock:
        job = config.batches.get(job_id)
    if job is None:
        raise SimReject(404, f"Batch job {job_id} not found", "invalid_request_error", param="job_id")
    return job


def _read_lines(files: FileStore, job: SimJob) -> list[dict[str, Any]]:
    """The job's requests, or ``job.errors`` set (the job then fails, naming the bad lines)."""
    raw: list[tuple[str, int, Any]] = [("requests", n, r) for n, r in enumerate(job.inline or [], 1)]
    for file_id in job.input_files:
        stored = files.get(file_id)
        for n, line in enumerate((stored.data if stored else b"").splitlines(), 1):
            if line.strip():
                try:
                    raw.append((file_id, n, json.loads(line)))
                except ValueError:
                    job.errors.append({"message": f"file {file_id} line {n}: not valid JSON", "count": 1})
    seen: set[str] = set()
    lines: list[dict[str, Any]] = []
    for where, n, item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("body"), dict):
            job.errors.append({"message": f"{where} line {n}: expected an object with a 'body' object", "count": 1})
            continue
        cid = str(item.get("custom_id") if item.get("custom_id") is not None else n - 1)
        if cid in seen:
            job.errors.append({"message": f"{where} line {n}: duplicate custom_id {cid!r}", "count": 1})
        seen.add(cid)
        lines.append({"custom_id": cid, "body": item["body"]})
    if len(lines) > MAX_REQUESTS:
        job.errors.append({"message": f"{len(lines)} requests; a batch job takes at most {MAX_REQUESTS}", "count": 1})
    return lines


def _end(config: BatchConfig, job: SimJob, status: str) -> None:
    with config.lock:
        job.status = "CANCELLED" if job.cancel.is_set() and status != "FAILED" else status
        job.completed_at = int(time.time())


def _run(app: Flask, config: BatchConfig, files: FileStore, api_key: str, job: SimJob) -> None:
    lines = _read_lines(files, job)
    job.counts["total"] = len(lines)
    if job.errors:
        _end(config, job, "FAILED")
        return
    with config.lock:
        if job.status == "QUEUED":
            job.status, job.started_at = "RUNNING", int(time.time())
    expired = config.expire
    job.cancel.wait(config.delay)
    if expired and not job.cancel.is_set():
        job.errors.append({"message": f"the job exceeded its timeout of {job.timeout_hours} h", "count": len(lines)})
        _end(config, job, "TIMEOUT_EXCEEDED")
        return
    client = app.test_client()
    out: list[dict[str, Any]] = []
    err: list[dict[str, Any]] = []
    for n, item in enumerate(lines):
        if job.cancel.is_set():
            break  # the lines not run yet get no result
        resp = client.post(job.endpoint, json={**item["body"], "model": job.model},
                           headers={"Authorization": f"Bearer {api_key}", INTERNAL: "1"})
        answer = resp.get_json(silent=True)
        result = {"id": f"batch-{job.id[:8]}-{n}", "custom_id": item["custom_id"],
                  "response": {"status_code": resp.status_code, "body": answer}, "error": None}
        job.counts["completed"] += 1
        if resp.status_code == 200:
            job.counts["succeeded"] += 1
            out.append(result)
        else:
            job.counts["failed"] += 1
            result["error"] = {"message": str((answer or {}).get("message") or f"HTTP {resp.status_code}"),
                               "code": str((answer or {}).get("code") or resp.status_code)}
            err.append(result)
    for chosen, attr, sample in ((out, "output_file", "batch_result"), (err, "error_file", "batch_error")):
        if chosen:
            data = "".join(json.dumps(x) + "\n" for x in chosen).encode()
            stored = new_file(files, f"{job.id}_{sample}.jsonl", data, "batch", sample, source="mistral")
            setattr(job, attr, stored.id)
    _end(config, job, "SUCCESS")
