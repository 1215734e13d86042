"""Amazon Bedrock batch inference: JSONL records in S3, ``CreateModelInvocationJob`` (Converse type), poll, read
the ``.out`` file back from S3.

Shapes: botocore ``data/bedrock/2023-04-20/service-2.json`` (``POST /model-invocation-job`` with ``jobName``
``[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\\+\\-\\.]){0,63}``, ``roleArn``, ``clientRequestToken`` (idempotency),
``modelId``, ``inputDataConfig.s3InputDataConfig {s3Uri, s3InputFormat: JSONL}``,
``outputDataConfig.s3OutputDataConfig {s3Uri}``, ``timeoutDurationInHours`` 24-168, ``modelInvocationType``
InvokeModel | Converse; ``GET /model-invocation-job/{jobIdentifier}`` status Submitted, Validating, Scheduled,
InProgress, Completed, PartiallyCompleted, Failed, Stopping, Stopped, Expired, ``message``, record counts;
``POST …/{id}/stop``; ``GET /model-invocation-jobs?nameContains=``) and
https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-data.html (records ``{"recordId": 11
alphanumerics, "modelInput": <Converse request body>}``; S3 media must sit in the input folder) and
batch-inference-results.html (``{output}/{job id}/{input file}.out`` lines with ``modelOutput`` (a Converse
response) or ``error {errorCode, errorMessage}``, and ``manifest.json.out``).

Called through boto3 ``bedrock`` (SigV4; endpoint and credentials from boto3's variables, e.g.
``AWS_ENDPOINT_URL_BEDROCK``), region from settings, like the synchronous adapter. Idempotent creation: the job is
named after the tag and looked up by name first; its ``clientRequestToken`` is a hash of the tag, so a retry
after a crash between the call and recording it gets the same job back; the input JSONL's key is the tag's.
"""
from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from workers import storage
from workers.core.errors import FerryError, UpstreamError
from workers.core.settings import Settings, get_settings
from workers.providers.base import NativeRequest, upstream_error
from workers.providers.batch_api import Result, State
from workers.providers.catalog import get_catalog

INVOCATION_TYPE = "Converse"  # Ferry's Bedrock adapter builds Converse bodies (workers/providers/bedrock.py)
INPUT_NAME = "input.jsonl"
TIMEOUT_HOURS = 24  # the shortest timeoutDurationInHours allowed, like the other providers' 24 h window
_STATUS = {"Submitted": "validating", "Validating": "validating", "Scheduled": "scheduled",
           "InProgress": "in_progress", "Completed": "completed", "PartiallyCompleted": "partially_completed",
           "Failed": "failed", "Stopping": "cancelling", "Stopped": "cancelled", "Expired": "expired"}
ENDED = ("Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired")


# -- records ------------------------------------------------------------------------------------------

def record_id(custom_id: str) -> str:
    """Ferry's ``ferry-<index>`` as the 11 alphanumerics a recordId is documented as: ``F`` + 10 digits."""
    return f"F{int(custom_id.rsplit('-', 1)[1]):010d}"


def custom_id(rid: str) -> str:
    return f"ferry-{int(rid[1:])}" if re.fullmatch(r"F\d{10}", rid or "") else rid


def line(cid: str, native: NativeRequest) -> dict[str, Any]:
    return {"recordId": record_id(cid), "modelInput": native.json}


# -- settings and clients -----------------------------------------------------------------------------

def unavailable(settings: Settings) -> str | None:
    """Why no job can be created with these settings (the driver answers the group's lines with it, or runs
    them as jobs in mode auto), or None."""
    if not settings.bedrock_batch_role_arn:
        return ("Bedrock batch inference needs a service role: set FERRY_BEDROCK_BATCH_ROLE_ARN "
                "(https://docs.aws.amazon.com/bedrock/latest/userguide/batch-iam-sr.html)")
    if not settings.bedrock_batch_uri():
        return ("Bedrock batch inference reads and writes S3: set FERRY_BEDROCK_BATCH_S3_URI or an s3:// "
                "FERRY_STAGING target")
    return None


@lru_cache(maxsize=4)
def _client(region: str, timeout: float) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(read_timeout=timeout, connect_timeout=10, retries={"max_attempts": 1, "mode": "standard"})
    return boto3.session.Session().client("bedrock", region_name=region, config=config)


def _call(op: str, timeout: float, **kwargs: Any) -> dict[str, Any]:
    """One control-plane call; botocore's errors as UpstreamError (429 / 5xx / unreachable: retryable)."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    settings = get_settings()
    try:
        answer: dict[str, Any] = getattr(_client(settings.bedrock_region(), timeout), op)(**kwargs)
    except ClientError as exc:
        err = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500)
        raise upstream_error("bedrock", status, {"message": f"{err.get('Code', 'Error')}: {err.get('Message', '')}"},
                             stage="batch", request=op) from exc
    except (EndpointConnectionError, ReadTimeoutError) as exc:
        raise UpstreamError(f"bedrock could not be reached: {exc}", stage="batch", retryable=True) from exc
    except BotoCoreError as exc:
        raise UpstreamError(f"bedrock {op} failed: {exc}", stage="batch") from exc
    answer.pop("ResponseMetadata", None)
    return answer


def job_name(tag: str) -> str:
    """The tag in jobName's alphabet (``ferry-batch_<hex>-<k>``: the underscore is not allowed)."""
    name = re.sub(r"[^a-zA-Z0-9+.-]", "-", tag)
    return name if len(name) <= 63 else f"{name[:50]}-{hashlib.sha256(name.encode()).hexdigest()[:12]}"


def _token(tag: str) -> str:
    return hashlib.sha256(tag.encode()).hexdigest()[:64]


def _folder(tag: str) -> tuple[storage.Storage, str]:
    uri = get_settings().bedrock_batch_uri()
    if not uri:
        raise UpstreamError(unavailable(get_settings()) or "no S3 location for Bedrock batches", stage="batch")
    return storage.open(uri), job_name(tag)


# -- the client interface -----------------------------------------------------------------------------

def _find(name: str, timeout: float) -> dict[str, Any] | None:
    token: str | None = None
    for _ in range(10):
        page = _call("list_model_invocation_jobs", timeout, nameContains=name, maxResults=100,
                     **({"nextToken": token} if token else {}))
        for job in page.get("invocationJobSummaries") or []:
            if job.get("jobName") == name:
                return job
        token = page.get("nextToken")
        if not token:
            return None
    return None


def _stage_media(x: Any, store: storage.Storage, folder: str) -> Any:
    """s3Location media must be in the job's input folder (batch-inference-data.html): copy each object
    there once (by name) and point the record at the copy."""
    if isinstance(x, dict):
        loc = x.get("s3Location")
        if isinstance(loc, dict) and str(loc.get("uri", "")).startswith("s3://"):
            src, key = storage.locate(loc["uri"])
            dest = f"{folder}/input/media/{key.rsplit('/', 1)[-1]}"
            if not store.exists(dest):
                with src.open(key) as fh:
                    store.put_stream(dest, fh)
            return {**x, "s3Location": {**loc, "uri": store.uri(dest)}}
        return {k: _stage_media(v, store, folder) for k, v in x.items()}
    if isinstance(x, list):
        return [_stage_media(v, store, folder) for v in x]
    return x


def _upload(lines_path: Path, store: storage.Storage, folder: str) -> None:
    key = f"{folder}/input/{INPUT_NAME}"
    if store.exists(key):  # idempotent by key: a tag's lines are fixed when its group is planned
        return
    with tempfile.TemporaryDirectory(prefix="ferry-bedrock-batch-") as tmp:
        path = Path(tmp) / INPUT_NAME
        with lines_path.open("rb") as src, path.open("wb") as out:
            for raw in src:
                if raw.strip():
                    record = json.loads(raw)
                    if b'"s3Location"' in raw:
                        record = _stage_media(record, store, folder)
                    out.write(json.dumps(record, separators=(",", ":")).encode() + b"\n")
        store.put_file(key, path, "application/jsonl")


def submit(lines_path: Path, tag: str, model: str, *, base_url: str, api_key: str, timeout: float,
           since: float | None = None, exclude: set[str] | None = None) -> State:
    """(``since``/``exclude`` are for providers without names; the job name finds a Bedrock job at any time.)"""
    settings = get_settings()
    why = unavailable(settings)
    if why:
        raise UpstreamError(why, stage="batch")
    store, folder = _folder(tag)
    name = job_name(tag)
    found = _find(name, timeout)
    if found is None:
        try:
            _upload(lines_path, store, folder)
        except FerryError as exc:  # a missing bucket, refused credentials: the group is refused with it
            raise UpstreamError(f"bedrock batch input upload failed: {exc.message}", stage="batch") from exc
        wire = get_catalog().resolve(f"bedrock/{model}", region=settings.bedrock_region()).wire_model or model
        created = _call("create_model_invocation_job", timeout, jobName=name, roleArn=settings.bedrock_batch_role_arn,
                        clientRequestToken=_token(tag), modelId=wire, modelInvocationType=INVOCATION_TYPE,
                        inputDataConfig={"s3InputDataConfig": {"s3Uri": store.uri(f"{folder}/input") + "/",
                                                               "s3InputFormat": "JSONL"}},
                        outputDataConfig={"s3OutputDataConfig": {"s3Uri": store.uri(f"{folder}/output") + "/"}},
                        timeoutDurationInHours=TIMEOUT_HOURS)
        found = {"jobArn": created["jobArn"]}
    return retrieve(found["jobArn"], base_url=base_url, api_key=api_key, timeout=timeout)


def _state(job: dict[str, Any]) -> State:
    raw = job.get("status") or "Submitted"
    counts = {"total": int(job.get("totalRecordCount") or 0), "processed": int(job.get("processedRecordCount") or 0),
              "completed": int(job.get("successRecordCount") or 0), "failed": int(job.get("errorRecordCount") or 0)}
    reason = job.get("message") or None
    if raw == "Expired" and not reason:
        reason = f"the job did not begin before its {job.get('timeoutDurationInHours') or TIMEOUT_HOURS} h timeout"
    out = ((job.get("outputDataConfig") or {}).get("s3OutputDataConfig") or {}).get("s3Uri")
    return State(id=job["jobArn"], status=_STATUS.get(raw, raw.lower()), ended=raw in ENDED, counts=counts,
                 reason=reason, refs={"output_uri": out, "job_status": raw})


def retrieve(batch_id: str, *, base_url: str, api_key: str, timeout: float) -> State:
    return _state(_call("get_model_invocation_job", timeout, jobIdentifier=batch_id))


def cancel(batch_id: str, *, base_url: str, api_key: str, timeout: float) -> State:
    try:
        _call("stop_model_invocation_job", timeout, jobIdentifier=batch_id)
    except UpstreamError as exc:
        if exc.retryable:
            raise
        # a job that ended (or began stopping) since it was polled cannot be stopped: its state says the rest
    return retrieve(batch_id, base_url=base_url, api_key=api_key, timeout=timeout)
    return retrieve(batch_id, base_url=base_url, api_key=api_key, timeout=timeout)


def results(state: State, *, base_url: str, api_key: str, timeout: float) -> Iterator[Result]:
    """The ``.out`` file's records (none when the job wrote none: failed, expired, stopped before running)."""
    out = state.refs.get("output_uri")
    if not out:
        return
    uri = f"{out.rstrip('/')}/{state.id.rsplit('/', 1)[-1]}/{INPUT_NAME}.out"
    store, key = storage.locate(uri)
    if not store.exists(key):
        return
    with store.open(key) as fh:
        for raw in fh.iter_lines() if hasattr(fh, "iter_lines") else fh:
            if not raw.strip():
                continue
            item = json.loads(raw)
            cid = custom_id(str(item.get("recordId") or ""))
            if "modelOutput" in item:
                yield Result(cid, 200, item["modelOutput"])
                continue
            err = item.get("error") or {}
            try:
                status = int(err.get("errorCode"))
            except (TypeError, ValueError):
                status = 500
            yield Result(cid, status, {"message": f"{err.get('errorCode')}: {err.get('errorMessage')}"})
