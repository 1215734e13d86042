"""The public API the web tier calls: submit, read and cancel jobs."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from workers.blobs import put_bytes
from workers.chat_request import parse_chat_request
from workers.context import Context
from workers.errors import BadRequest, NotFound, Unprocessable
from workers.media.sniff import sniff_mime
from workers.store import new_job_id

DELIVERY_PREFS = ("inline", "url", "file", "storage")


def submit(ctx: Context, tenant: str, body: Any) -> dict[str, Any]:
    """Validate, store inline payloads, commit the job record, then enqueue."""
    from workers.pipeline import enqueue, total_steps

    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object with a 'request'", param="body")
    unknown = set(body) - {"request", "webhook", "delivery", "dry_run", "metadata", "options"}
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}", param=sorted(unknown)[0])
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise BadRequest("dry_run must be true or false", param="dry_run")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise BadRequest("metadata must be an object", param="metadata")
    delivery = body.get("delivery") or {}
    if not isinstance(delivery, dict) or delivery.get("prefer", "inline") not in DELIVERY_PREFS:
        raise BadRequest(f"delivery.prefer must be one of {', '.join(DELIVERY_PREFS)}", param="delivery.prefer")
    webhook = body.get("webhook")
    if webhook is not None and not (isinstance(webhook, dict) and isinstance(webhook.get("url"), str)):
        raise BadRequest("webhook must be an object with a 'url'", param="webhook.url")
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise BadRequest("options must be an object", param="options")

    parsed = parse_chat_request(
        body.get("request"), max_bytes=ctx.settings.max_download_bytes, max_resources=ctx.settings.max_resources
    )
    model = parsed.body["model"]
    caps = ctx.catalog.resolve(model)
    if not dry_run and not ctx.settings.provider_key(caps.provider):
        raise Unprocessable(
            f"no API key for {caps.provider}: set {caps.provider.upper()}_API_KEY, or submit with dry_run: true",
            param="request.model",
        )
    if parsed.body.get("stream"):
        raise BadRequest("stream is not supported on /v1/jobs; poll the job instead", param="request.stream")

    resources: list[dict[str, Any]] = []
    tmp = ctx.settings.data_dir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    for ref in parsed.media:
        entry = ref.entry()
        if ref.data is not None:
            entry["source"]["bytes"] = len(ref.data)
            entry["source"]["sha256"] = put_bytes(ctx.storage, ref.data, Path(tmp))
            entry["source"]["sniffed_at_submit"] = sniff_mime(ref.data[:8192])
        resources.append(entry)

    job_id = new_job_id()
    record = {
        "id": job_id,
        "tenant": tenant,
        "model": model,
        "request": parsed.body,
        "dry_run": dry_run,
        "metadata": metadata,
        "delivery": delivery,
        "options": options,
        "webhook": webhook,
        "total_steps": total_steps(len(resources)),
        "submitted_at": time.time(),
    }
    ctx.store.create(record, resources)  # committed before anything is enqueued
    enqueue(job_id, len(resources))
    return {"id": job_id, "object": "job", "status": "queued", "model": model, "dry_run": dry_run}


def get(ctx: Context, tenant: str, job_id: str) -> dict[str, Any]:
    if ctx.store.tenant_of(job_id) != tenant:
        raise NotFound(f"no job {job_id!r}", param="id")
    view = ctx.store.view(job_id)
    if view is None:
        raise NotFound(f"no job {job_id!r}", param="id")
    return view


def cancel(ctx: Context, tenant: str, job_id: str) -> dict[str, Any]:
    if ctx.store.tenant_of(job_id) != tenant:
        raise NotFound(f"no job {job_id!r}", param="id")
    ctx.store.cancel(job_id)
    return get(ctx, tenant, job_id)
