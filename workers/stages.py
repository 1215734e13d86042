"""The pipeline stages as plain functions of (context, job id, resource index).

Each loads what it needs by id, calls a pure module (fetch, inspect, plan,
transform, deliver, build request), and stores the outcome on the job. The
Celery tasks in :mod:`workers.pipeline` are one-line wrappers around these.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from workers.blobs import blob_key, get_blob, put_blob, read_blob_b64
from workers.context import Context
from workers.delivery.deliver import available, deliver_outputs, fit_request, refresh_stale_files
from workers.delivery.dedupe import fetch_once, transform_once
from workers.delivery.sources import fetch_cloud, youtube_passthrough
from workers.estimate import delivery_plan, usage_estimate
from workers.errors import FerryError, StorageError, Unprocessable, UpstreamError
from workers.fetch import download
from workers.media.inspect import inspect_file
from workers.delivery.plan import out_of_line_methods
from workers.media.plan import plan_resource
from workers.media.transform import apply_plan
from workers.providers.catalog import ModelCaps
from workers.providers.base import Call, Message, NativeRequest, Part, get_adapter
from workers.outputs import store_outputs, task_for
from workers.reaper import hold


def _tmpdir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="ferry-")


def fetch(ctx: Context, job_id: str, index: int) -> None:
    res = ctx.store.resource(job_id, index)
    src = res["source"]
    if src["kind"] == "data":
        if not ctx.storage.exists(blob_key(src["sha256"])):
            raise StorageError("inline data stored at submit time is missing from storage")
        return
    if src["kind"] == "url":
        tenant = ctx.store.record(job_id)["tenant"]
        src.update(fetch_once(ctx, tenant, src["url"], lambda: _download(ctx, src["url"])))  # once per URL and tenant
        ctx.store.update_resource(job_id, index, source=src)
        return
    if src["kind"] in ("s3", "gs"):
        src.update(fetch_cloud(ctx, src["url"]))
        ctx.store.update_resource(job_id, index, source=src)
        return
    if src["kind"] == "youtube":  # not fetched: Gemini reads it (workers.delivery.sources)
        ctx.store.update_resource(job_id, index, **youtube_passthrough(src["url"]))
        return
    if src["kind"] == "file_id":  # a Ferry file (POST /v1/files) of the job's own tenant
        from workers.ferry_files import to_blob

        with _tmpdir() as tmp:
            got = to_blob(ctx, ctx.store.record(job_id)["tenant"], src["url"], Path(tmp))
        src.update(got, filename=src.get("filename") or got["filename"])
        ctx.store.update_resource(job_id, index, source=src)
        return
    raise Unprocessable(f"{src['kind']} sources are not supported yet")


def _download(ctx: Context, url: str) -> dict[str, Any]:
    with _tmpdir() as tmp:
        got = download(url, Path(tmp) / "download", ctx.settings)
        put_blob(ctx.storage, got.path, got.sha256)
    return {"bytes": got.size, "sha256": got.sha256, "content_type": got.content_type, "final_url": got.final_url}


def inspect(ctx: Context, job_id: str, index: int) -> None:
    res = ctx.store.resource(job_id, index)
    src = res["source"]
    if src["kind"] == "youtube":
        return
    with _tmpdir() as tmp:
        facts = inspect_file(get_blob(ctx.storage, src["sha256"], Path(tmp) / "src"))
    src["mime"] = facts["mime"]
    notes = res.get("notes", [])
    declared = src.get("declared_mime")
    if declared and declared != facts["mime"]:
        notes.append(f"declared {declared}, but the bytes are {facts['mime']}; using {facts['mime']}")
    ctx.store.update_resource(job_id, index, source=src, facts=facts, notes=notes)


def plan(ctx: Context, job_id: str, index: int) -> None:
    record = ctx.store.record(job_id)
    res = ctx.store.resource(job_id, index)
    if res["source"]["kind"] == "youtube":
        return
    caps = ctx.catalog.resolve(record["model"])
    options = {"detail": res.get("detail", "auto"), **(record.get("options") or {})}
    # Where a Files API or staging can carry an item, the media planner need not shrink it to fit inline.
    options["out_of_line"] = out_of_line_methods(caps, res["facts"]["kind"], available(ctx, caps))
    steps = plan_resource(res["facts"], caps, options)
    ctx.store.update_resource(job_id, index, transforms=steps)


def transform(ctx: Context, job_id: str, index: int) -> None:
    res = ctx.store.resource(job_id, index)
    if res["source"]["kind"] == "youtube":
        return
    outputs = transform_once(ctx, res, lambda: _transform(ctx, res))  # once per (source, recipe), across jobs
    ctx.store.update_resource(job_id, index, outputs=outputs)


def _transform(ctx: Context, res: dict[str, Any]) -> list[dict[str, Any]]:
    outputs: list[dict[str, Any]] = []
    with _tmpdir() as tmp:
        src = get_blob(ctx.storage, res["source"]["sha256"], Path(tmp) / "src")
        for out in apply_plan(src, res["facts"], res.get("transforms", []), Path(tmp)):
            path = out.pop("path", None)
            if path is not None:
                out["bytes"] = Path(path).stat().st_size
                out["sha256"] = put_blob(ctx.storage, Path(path), content_type=out.get("mime"))
            outputs.append(out)
    return outputs


def deliver(ctx: Context, job_id: str, index: int) -> None:
    record = ctx.store.record(job_id)
    res = ctx.store.resource(job_id, index)
    caps = ctx.catalog.resolve(record["model"])
    delivery = deliver_outputs(ctx, record, res, caps)
    ctx.store.update_resource(job_id, index, delivery=delivery)


# -- complete ---------------------------------------------------------------

def _media_parts(ctx: Context, res: dict[str, Any]) -> list[Part]:
    parts: list[Part] = []
    deliveries = res["delivery"].get("parts") or [res["delivery"]]
    for out, how in zip(res["outputs"], deliveries):
        if out["kind"] == "text":
            parts.append(Part("text", text=out["text"]))
            continue
        part = Part("media", kind=out["kind"], mime=out["mime"], sha256=out.get("sha256"), size=out.get("bytes"),
                    filename=res["source"].get("filename"), detail=res.get("detail"))
        if how["method"] == "inline":
            part.data_b64 = read_blob_b64(ctx.storage, out["sha256"])
        elif how["method"] == "file":
            part.file_id = how["ref"]
        else:
            part.url = how["ref"]
        parts.append(part)
    return parts


def build_call(ctx: Context, job_id: str) -> Call:
    record = ctx.store.record(job_id)
    resources = ctx.store.resources(job_id)
    caps = ctx.catalog.resolve(record["model"])
    body = record["request"]
    messages: list[Message] = []
    for msg in body["messages"]:
        content = msg.get("content")
        if content is None:
            parts: list[Part] = []
        elif isinstance(content, str):
            parts = [Part("text", text=content)]
        else:
            parts = []
            for p in content:
                if p["type"] == "text":
                    parts.append(Part("text", text=p["text"]))
                else:
                    parts.extend(_media_parts(ctx, resources[p["index"]]))
        messages.append(Message(msg["role"], parts))
    params = {k: v for k, v in body.items() if k not in ("model", "messages", "stream", "stream_options")}
    base_url = ctx.settings.provider_base_url(caps.provider) or caps.default_base_url
    return Call(caps.provider, caps.model, messages, params, base_url, ctx.settings.provider_key(caps.provider),
                task=task_for(record, caps))


def shorten_payloads(obj: Any, call: Call) -> Any:
    """Replace each base64 payload by ``<sha256:…, N bytes>`` so dry runs stay readable."""
    labels = {p.data_b64: f"<sha256:{p.sha256}, {p.size} bytes>" for m in call.messages for p in m.parts if p.data_b64}

    def walk(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        if isinstance(x, str) and len(x) > 64:
            if x in labels:
                return labels[x]
            head, sep, tail = x.partition(";base64,")
            if sep and tail in labels:
                return f"{head};base64,{labels[tail]}"
        return x

    return walk(obj)


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP-date (RFC 9110 §10.2.3); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from email.utils import parsedate_to_datetime

        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def send(native: NativeRequest, adapter: Any, timeout: float, idempotency_key: str | None = None) -> dict[str, Any]:
    """POST the native request; an adapter with its own transport (e.g. boto3) defines ``send``.

    Transport failures (timeouts, resets) and 429/5xx answers raise retryable UpstreamErrors; a
    ``Retry-After`` header rides along as ``exc.retry_after`` (seconds) for the retry delay.
    ``idempotency_key`` (stable per job) is sent as ``Idempotency-Key`` so a redelivered
    ``complete`` can be de-duplicated by providers that honour it.
    """
    if hasattr(adapter, "send"):
        return adapter.send(native, timeout)
    headers = dict(native.headers)
    if idempotency_key and not any(k.lower() == "idempotency-key" for k in headers):
        headers["Idempotency-Key"] = idempotency_key
    try:
        resp = httpx.request(native.method, native.url, headers=headers, json=native.json, timeout=timeout)
    except httpx.TimeoutException as exc:
        raise UpstreamError(f"{native.url} timed out after {timeout:g} s", retryable=True) from exc
    except httpx.HTTPError as exc:
        raise UpstreamError(f"could not reach {native.url}: {exc}", retryable=True) from exc
    try:
        body = resp.json()
    except ValueError:
        body = resp.text
    if resp.status_code >= 400:
        err = adapter.parse_error(resp.status_code, body)
        err.retry_after = retry_after_seconds(resp.headers.get("retry-after"))
        raise err
    if not isinstance(body, dict):
        raise UpstreamError(f"{native.url} answered {resp.status_code} with a non-JSON body")
    return body


def check_part_counts(call: Call, caps: ModelCaps) -> None:
    """Per-request counts (images, documents) from the catalog: PDF pages rendered as images and
    video frames count too, so this runs on the final parts, not on the request as submitted."""
    counts: dict[str, int] = {}
    for m in call.messages:
        for p in m.parts:
            if p.type == "media" and p.kind:
                counts[p.kind] = counts.get(p.kind, 0) + 1
    for kind, n in counts.items():
        cap = getattr(caps.caps_for(kind), "max_per_request", None)
        if cap and n > cap:
            raise Unprocessable(f"the request carries {n} {kind} parts after processing; {caps.id} takes at most "
                                f"{cap} per request (split the request, or lower pdf_image_pages / video_frames)",
                                param="request.messages")


def complete(ctx: Context, job_id: str) -> None:
    record = ctx.store.record(job_id)
    caps = ctx.catalog.resolve(record["model"])
    fit_request(ctx, job_id, caps)  # sum of inline parts <= request_max_bytes
    call = build_call(ctx, job_id)
    check_part_counts(call, caps)
    adapter = get_adapter(caps.adapter)
    native = adapter.build_request(call)
    ctx.store.put_field(job_id, "provider_request", shorten_payloads(native.public(), call))
    resources = ctx.store.resources(job_id)
    estimate = usage_estimate(record, resources)
    if record.get("dry_run"):
        ctx.store.succeed(job_id, None, delivery_plan=delivery_plan(resources), usage_estimate=estimate)
        hold(ctx.settings, "succeeded")
        return
    if not call.api_key:
        raise Unprocessable(f"{call.provider.upper()}_API_KEY is not set on the workers", param="request.model")
    try:
        body = send(native, adapter, ctx.settings.upstream_timeout, idempotency_key=f"ferry-{job_id}")
    except UpstreamError as exc:  # a cached file id the provider no longer has: re-upload once, retry
        if not refresh_stale_files(ctx, job_id, caps, exc):
            raise
        native = adapter.build_request(build_call(ctx, job_id))
        body = send(native, adapter, ctx.settings.upstream_timeout, idempotency_key=f"ferry-{job_id}-refreshed")
    result = adapter.parse_response(body, call)
    # Providers report image tokens inside prompt_tokens; Ferry's per-image estimate shows the share.
    result.setdefault("usage", {}).setdefault("prompt_tokens_details", {})["image_tokens_estimate"] = \
        estimate["prompt_tokens_details"]["image"]
    result = store_outputs(ctx, record, job_id, result, call)  # generated media -> Ferry files, URLs (workers/outputs.py)
    ctx.store.succeed(job_id, result, usage_estimate=estimate)
    hold(ctx.settings, "succeeded")  # test hook: a kill here must still notify (tests/test_success_window.py)


def fail_message(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, FerryError):
        return exc.to_dict()
    return {"type": "internal_error", "message": f"{type(exc).__name__}: {exc}"}
