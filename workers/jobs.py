"""The public API the web tier calls: submit, read and cancel jobs."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from workers.blobs import put_bytes
from workers.chat_request import parse_chat_request
from workers.context import Context
from workers import idempotency, retention
from workers.errors import BadRequest, Conflict, NotFound, Unprocessable
from workers.media.sniff import sniff_mime
from workers.metrics import job_submitted
from workers.store import new_job_id

DELIVERY_PREFS = ("inline", "url", "file", "storage")


def submit(ctx: Context, tenant: str, body: Any, idempotency_key: str | None = None, *,
           batch: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate, store inline payloads, commit the job record, then enqueue.

    With an ``idempotency_key`` (workers/idempotency.py) a repeat of the same body returns the
    first job (with ``"_replayed": True`` for the API to answer 200); a different body is a 409.
    """
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
    if webhook is not None:
        from workers.webhooks import check_url

        check_url(webhook["url"])  # http(s) with a host; the SSRF guard checks the address at send time
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
    claimed = None
    if idempotency_key is not None:
        claimed = idempotency.claim(ctx.redis, tenant, idempotency_key, idempotency.body_digest(body), job_id,
                                    ctx.settings.idempotency_ttl)
        if not claimed.won:
            return _replay(ctx, claimed)
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
        **({"batch": batch} if batch else {}),  # batch line: workers/batches.py counts it
    }
    try:
        ctx.store.create(record, resources)  # committed before anything is enqueued
        retention.track(ctx, job_id, [r["source"].get("sha256") for r in resources])
    except BaseException:
        if claimed is not None:
            idempotency.release(ctx.redis, claimed)
        raise
    enqueue(ctx, job_id, len(resources))
    job_submitted(ctx.redis, caps.provider)
    return {"id": job_id, "object": "job", "status": "queued", "model": model, "dry_run": dry_run}


def _replay(ctx: Context, claimed: idempotency.Claim) -> dict[str, Any]:
    """The job an earlier request with the same Idempotency-Key and body created."""
    if not idempotency.wait_for_job(ctx.store.exists, claimed.job_id):
        raise Conflict("the first request with this Idempotency-Key has not created its job yet; retry",
                       param="Idempotency-Key")
    view = ctx.store.view(claimed.job_id) or {}
    return {"id": claimed.job_id, "object": "job", "status": view.get("status", "queued"),
            "model": view.get("model"), "dry_run": view.get("dry_run", False), "_replayed": True}


def get(ctx: Context, tenant: str, job_id: str) -> dict[str, Any]:
    if ctx.store.tenant_of(job_id) != tenant:
        raise NotFound(f"no job {job_id!r}", param="id")
    view = ctx.store.view(job_id)
    if view is None:
        raise NotFound(f"no job {job_id!r}", param="id")
    return view


def cancel(ctx: Context, tenant: str, job_id: str, purge: bool = False) -> dict[str, Any]:
    """Cancel (idempotent; an ended job keeps its status). ``purge`` also deletes the job's stored
    media that no other live job references (workers/retention.py)."""
    if ctx.store.tenant_of(job_id) != tenant:
        raise NotFound(f"no job {job_id!r}", param="id")
    ctx.store.cancel(job_id)
    view = get(ctx, tenant, job_id)
    if purge:
        from workers.outputs import delete_outputs

        view["purged_blobs"] = len(retention.purge(ctx, job_id))
        view["purged_outputs"] = delete_outputs(ctx, tenant, job_id)
    return view


def wait(ctx: Context, tenant: str, job_id: str, timeout: float) -> dict[str, Any]:
    """Block until the job ends or ``timeout`` passes; returns its view either way (status says which).

    Polls the status field only (cheap), backing off from 20 ms to 250 ms.
    """
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        status = ctx.store.status(job_id)
        if status in ("succeeded", "failed", "canceled") or time.monotonic() >= deadline:
            return get(ctx, tenant, job_id)
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.5, 0.25)
