"""Bedrock simulator, batch inference on the control plane (boto3 ``bedrock``, not ``bedrock-runtime``):
``POST /model-invocation-job``, ``GET /model-invocation-job/{id}``, ``POST /model-invocation-job/{id}/stop``,
``GET /model-invocation-jobs``.

Shapes from botocore ``data/bedrock/2023-04-20/service-2.json`` (required members, the jobName / roleArn /
clientRequestToken / s3Uri patterns, timeoutDurationInHours 24-168, ModelInvocationType InvokeModel | Converse,
statuses Submitted → Validating → Scheduled → InProgress → Completed, or Failed, Stopping → Stopped, Expired;
``message``; record counts; errors as ``{"message"}`` with ``x-amzn-ErrorType``) and
https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-data.html / batch-inference-results.html
(the input JSONL files under ``s3Uri``, records ``{"recordId", "modelInput"}``, S3 media they name inside
that folder; the output
``{output s3Uri}/{job id}/{file}.out`` with ``modelOutput`` or ``error {errorCode, errorMessage}`` per record,
and ``manifest.json.out``). Validation, as the GetModelInvocationJob docs list it, happens while the job is
Validating: a bad record, or fewer than :data:`MIN_RECORDS` / more than :data:`MAX_RECORDS`, ends it Failed with
a message. Only Converse jobs are run (each record's ``modelInput`` through the simulator's own Converse handler,
in-process and unlogged, with the creating call's signature); InvokeModel bodies are not simulated.

S3 is reached at ``POST /_sim/s3 {"endpoint_url"}`` (a moto server in the tests), else ``AWS_ENDPOINT_URL_S3``.
The job runs ``delay`` seconds (``POST /_sim/batches``); ``expire`` ends it Expired, answering no record.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask, Response, jsonify, request

from .batch_controls import BatchConfig, install_batch_controls
from .controls import SimReject, SimState

MIN_RECORDS = 100  # service quota "Minimum number of records per batch inference job" (most models)
MAX_RECORDS = 50_000  # "Records per batch inference job"
ACCOUNT = "123456789012"
INTERNAL = "X-Sim-Batch-Line"
JOB_NAME = re.compile(r"^[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\+\-\.]){0,63}$")
ROLE_ARN = re.compile(r"^arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+$")
TOKEN = re.compile(r"^[a-zA-Z0-9]{1,256}(-*[a-zA-Z0-9]){0,256}$")
S3_URI = re.compile(r"^s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?$")
RECORD_ID = re.compile(r"^[A-Za-z0-9]+$")  # "alphanumeric string" (batch-inference-data.html)
ENDED = ("Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired")


def _iso(t: float | None) -> str | None:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z") if t else None


@dataclass
class SimJob:
    arn: str
    body: dict[str, Any]
    headers: dict[str, str]
    submitted: float = field(default_factory=time.time)
    status: str = "Submitted"
    message: str | None = None
    ended: float | None = None
    modified: float = field(default_factory=time.time)
    counts: dict[str, int] = field(default_factory=dict)
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def id(self) -> str:
        return self.arn.rsplit("/", 1)[1]

    def view(self) -> dict[str, Any]:
        b = self.body
        out = {"jobArn": self.arn, "jobName": b["jobName"], "modelId": b["modelId"], "roleArn": b["roleArn"],
               "status": self.status, "submitTime": _iso(self.submitted), "lastModifiedTime": _iso(self.modified),
               "inputDataConfig": b["inputDataConfig"], "outputDataConfig": b["outputDataConfig"],
               "timeoutDurationInHours": b.get("timeoutDurationInHours", 24),
               "jobExpirationTime": _iso(self.submitted + 3600 * int(b.get("timeoutDurationInHours", 24))),
               "modelInvocationType": b.get("modelInvocationType", "InvokeModel"),
               **({"clientRequestToken": b["clientRequestToken"]} if b.get("clientRequestToken") else {}),
               **({"message": self.message} if self.message else {}),
               **({"endTime": _iso(self.ended)} if self.ended else {})}
        if self.counts:
            out.update({"totalRecordCount": self.counts.get("total", 0),
                        "processedRecordCount": self.counts.get("processed", 0),
                        "successRecordCount": self.counts.get("success", 0),
                        "errorRecordCount": self.counts.get("error", 0)})
        return out

    def move(self, status: str, message: str | None = None) -> None:
        self.status, self.modified = status, time.time()
        if message:
            self.message = message
        if status in ENDED:
            self.ended = self.modified


def _bad(message: str) -> SimReject:
    return SimReject(400, message, "ValidationException")


def _constraint(value: Any, where: str, rule: str) -> SimReject:
    return _bad(f"1 validation error detected: Value '{value}' at '{where}' failed to satisfy constraint: {rule}")


def _pattern(value: Any, where: str, pattern: re.Pattern[str]) -> None:
    if not isinstance(value, str) or not pattern.match(value):
        raise _constraint(value, where, f"Member must satisfy regular expression pattern: {pattern.pattern[1:-1]}")


def _s3_uri(config: dict[str, Any] | None, member: str, where: str) -> str:
    inner = (config or {}).get(member) if isinstance(config, dict) else None
    if not isinstance(inner, dict):
        raise _bad(f"{where}: exactly one member must be set ({member})")
    _pattern(inner.get("s3Uri"), f"{where}.{member}.s3Uri", S3_URI)
    return str(inner["s3Uri"])


def register_batches(app: Flask, state: SimState, check_auth: Any, check_model: Any, region: Any) -> BatchConfig:
    config = install_batch_controls(app, state)
    s3: dict[str, str | None] = {"endpoint_url": None}

    @app.post("/_sim/s3")
    def _configure_s3() -> Response:
        s3["endpoint_url"] = (request.get_json(force=True, silent=True) or {}).get("endpoint_url")
        return jsonify(s3)

    @app.post("/model-invocation-job")
    def create() -> Response:
        check_auth()
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError as exc:
            raise SimReject(400, f"Invalid JSON: {exc}", "SerializationException")
        for member in ("jobName", "roleArn", "modelId", "inputDataConfig", "outputDataConfig"):
            if member not in body:
                raise _constraint(None, member, "Member must not be null")
        _pattern(body["jobName"], "jobName", JOB_NAME)
        _pattern(body["roleArn"], "roleArn", ROLE_ARN)
        if "clientRequestToken" in body:
            _pattern(body["clientRequestToken"], "clientRequestToken", TOKEN)
        hours = body.get("timeoutDurationInHours", 24)
        if not isinstance(hours, int) or not 24 <= hours <= 168:
            raise _constraint(hours, "timeoutDurationInHours", "Member must have value between 24 and 168")
        kind = body.get("modelInvocationType", "InvokeModel")
        if kind not in ("InvokeModel", "Converse"):
            raise _constraint(kind, "modelInvocationType", "Member must satisfy enum value set: [InvokeModel, Converse]")
        fmt = ((body["inputDataConfig"] or {}).get("s3InputDataConfig") or {}).get("s3InputFormat", "JSONL")
        if fmt != "JSONL":
            raise _constraint(fmt, "inputDataConfig.s3InputDataConfig.s3InputFormat",
                              "Member must satisfy enum value set: [JSONL]")
        _s3_uri(body["inputDataConfig"], "s3InputDataConfig", "inputDataConfig")
        _s3_uri(body["outputDataConfig"], "s3OutputDataConfig", "outputDataConfig")
        check_model(body["modelId"], region(), None)
        with config.lock:
            for job in config.batches.values():  # the same token: that request's job, not a second
                if body.get("clientRequestToken") and job.body.get("clientRequestToken") == body["clientRequestToken"]:
                    return jsonify({"jobArn": job.arn})
            arn = f"arn:aws:bedrock:{region()}:{ACCOUNT}:model-invocation-job/{secrets.token_hex(6)}"
            job = SimJob(arn, body, {k: request.headers[k] for k in ("Authorization", "X-Amz-Date")
                                     if k in request.headers})
            config.batches[arn] = job
        threading.Thread(target=_run, args=(app, config, job, s3), daemon=True).start()
        return jsonify({"jobArn": arn})

    @app.get("/model-invocation-jobs")
    def list_() -> Response:
        check_auth()
        contains = request.args.get("nameContains") or ""
        status = request.args.get("statusEquals")
        limit = max(1, min(1000, int(request.args.get("maxResults") or 1000)))
        start = int(request.args.get("nextToken") or 0)
        with config.lock:
            jobs = [j for j in sorted(config.batches.values(), key=lambda j: j.submitted, reverse=True)
                    if contains in j.body["jobName"] and (status is None or j.status == status)]
        page = jobs[start:start + limit]
        more = start + limit < len(jobs)
        return jsonify({"invocationJobSummaries": [j.view() for j in page],
                        **({"nextToken": str(start + limit)} if more else {})})

    @app.get("/model-invocation-job/<path:ident>")
    def get(ident: str) -> Response:
        check_auth()
        return jsonify(_lookup(config, ident).view())

    @app.post("/model-invocation-job/<path:ident>/stop")
    def stop(ident: str) -> Response:
        check_auth()
        job = _lookup(config, ident)
        with config.lock:
            if job.status in ENDED or job.status == "Stopping":
                raise SimReject(400, f"The job {job.arn} is {job.status} and cannot be stopped.", "ValidationException")
            job.move("Stopping")
            job.cancel.set()
        return jsonify({})

    return config


def _lookup(config: BatchConfig, ident: str) -> SimJob:
    from urllib.parse import unquote

    ident = unquote(ident)
    with config.lock:
        for job in config.batches.values():
            if ident in (job.arn, job.id):
                return job
    raise SimReject(404, f"The specified job {ident} was not found.", "ResourceNotFoundException")


def _s3(s3: dict[str, str | None]) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=s3.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL_S3"),
                        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _s3_refs(x: Any) -> Iterator[str]:
    if isinstance(x, dict):
        loc = x.get("s3Location")
        if isinstance(loc, dict) and isinstance(loc.get("uri"), str):
            yield loc["uri"]
        for v in x.values():
            yield from _s3_refs(v)
    elif isinstance(x, list):
        for v in x:
            yield from _s3_refs(v)


def _read_input(client: Any, uri: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """(file name, records) of each .jsonl under the input s3Uri (a file, or a folder and its subfolders)."""
    bucket, key = _split(uri)
    if key.endswith(".jsonl"):
        keys = [key]
    else:
        listed = client.list_objects_v2(Bucket=bucket, Prefix=key)
        keys = sorted(o["Key"] for o in listed.get("Contents") or [] if o["Key"].endswith(".jsonl"))
    if not keys:
        raise ValueError(f"No .jsonl files were found at the input location {uri}.")
    out = []
    for k in keys:
        raw = client.get_object(Bucket=bucket, Key=k)["Body"].read()
        records = []
        for n, text in enumerate(raw.splitlines(), 1):
            if not text.strip():
                continue
            try:
                item = json.loads(text)
            except ValueError:
                raise ValueError(f"Record {n} of {k.rsplit('/', 1)[-1]} is not valid JSON.")
            if not isinstance(item, dict) or not isinstance(item.get("modelInput"), dict):
                raise ValueError(f"Record {n} of {k.rsplit('/', 1)[-1]} has no modelInput object.")  # noqa: TRY004
            rid = item.setdefault("recordId", secrets.token_hex(6)[:11].upper())
            if not isinstance(rid, str) or not RECORD_ID.match(rid):
                raise ValueError(f"Record {n} of {k.rsplit('/', 1)[-1]}: recordId {rid!r} must be alphanumeric.")
            folder = uri if not uri.endswith(".jsonl") else uri.rsplit("/", 1)[0] + "/"
            for ref in _s3_refs(item["modelInput"]):  # "all resources must be in the same S3 bucket and folder"
                if not ref.startswith(folder.rstrip("/") + "/"):
                    raise ValueError(f"Record {n} of {k.rsplit('/', 1)[-1]} names {ref}, outside the input "
                                     f"location {folder}: S3 resources must be in the job's input folder.")
            records.append(item)
        out.append((k.rsplit("/", 1)[-1], records))
    return out


def _run(app: Flask, config: BatchConfig, job: SimJob, s3: dict[str, str | None]) -> None:
    expired = config.expire
    client = _s3(s3)
    job.move("Validating")
    try:
        files = _read_input(client, job.body["inputDataConfig"]["s3InputDataConfig"]["s3Uri"])
    except (ValueError, BotoCoreError, ClientError) as exc:  # unreadable input, a bad record: fails validation
        job.move("Failed", str(exc))
        return
    total = sum(len(r) for _, r in files)
    if total < MIN_RECORDS or total > MAX_RECORDS:
        job.move("Failed", f"The job has {total} records; a batch inference job for {job.body['modelId']} takes "
                           f"between {MIN_RECORDS} and {MAX_RECORDS} records (service quotas).")
        return
    if job.body.get("modelInvocationType", "InvokeModel") != "Converse":
        job.move("Failed", "The simulator runs Converse jobs only (modelInvocationType Converse).")
        return
    job.counts = {"total": total, "processed": 0, "success": 0, "error": 0}
    job.move("Scheduled")
    if job.cancel.wait(config.delay / 2):
        job.move("Stopped")
        return
    job.move("InProgress")
    if job.cancel.wait(config.delay / 2):
        job.move("Stopped")
        return
    if expired:
        job.move("Expired")
        return
    out_bucket, out_key = _split(job.body["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"])
    folder = f"{out_key.rstrip('/')}/{job.id}".lstrip("/")
    tokens = {"in": 0, "out": 0}
    test = app.test_client()
    path = f"/model/{job.body['modelId']}/converse"
    for name, records in files:
        lines = []
        for item in records:
            resp = test.post(path, json=item["modelInput"], headers={**job.headers, INTERNAL: "1"})
            answer = resp.get_json(silent=True) or {}
            job.counts["processed"] += 1
            if resp.status_code == 200:
                job.counts["success"] += 1
                tokens["in"] += int((answer.get("usage") or {}).get("inputTokens") or 0)
                tokens["out"] += int((answer.get("usage") or {}).get("outputTokens") or 0)
                lines.append({"recordId": item["recordId"], "modelInput": item["modelInput"], "modelOutput": answer})
            else:
                job.counts["error"] += 1
                lines.append({"recordId": item["recordId"], "modelInput": item["modelInput"],
                              "error": {"errorCode": resp.status_code, "errorMessage": answer.get("message", "")}})
        client.put_object(Bucket=out_bucket, Key=f"{folder}/{name}.out",
                          Body="".join(json.dumps(x) + "\n" for x in lines).encode())
    manifest = {"totalRecordCount": total, "processedRecordCount": job.counts["processed"],
                "successRecordCount": job.counts["success"], "errorRecordCount": job.counts["error"],
                "inputTokenCount": tokens["in"], "outputTokenCount": tokens["out"]}
    client.put_object(Bucket=out_bucket, Key=f"{folder}/manifest.json.out", Body=json.dumps(manifest).encode())
    job.move("Completed")
