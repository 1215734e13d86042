"""The public API the web tier calls: submit, read and cancel jobs."""
from __future__ import annotations

import time
from typing import Any

from workers.context import Context
from workers.core.errors import BadRequest, Conflict, NotFound, Unprocessable
from workers.core.records import JobRecord, Resource
from workers.media.sniff import SNIFF_BYTES, sniff_mime
from workers.pipeline.steps import enqueue, expect_first, total_steps
from workers.services import schemas
from workers.services.chat_request import parse_chat_request
from workers.state import idempotency, retention
from workers.state.jobs import new_job_id
from workers.state.metrics import job_submitted
from workers.storage.blobs import put_bytes


def submit(ctx: Context, tenant: str, body: Any, idempotency_key: str | None = None, *,
           batch: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate, store inline payloads, commit the job record, then enqueue.

    With an ``idempotency_key`` (workers/state/idempotency.py) a repeat of the same body returns the
    first job (with ``"_replayed": True`` for the API to answer 200); a different body is a 409.
    """
    fields = schemas.parse(schemas.JobBody, body, "body (a JSON object with a 'request')")
    dry_run = fields.dry_run
    metadata = fields.metadata or {}
    delivery = fields.delivery.model_dump(exclude_unset=True) if fields.delivery else {}
    webhook = fields.webhook.model_dump() if fields.webhook else None
    options = fields.options or {}

    parsed = parse_chat_request(
        fields.request, max_bytes=ctx.settings.max_download_bytes, max_resources=ctx.settings.max_resources
    )
    model = parsed.body["model"]
    caps = ctx.catalog.resolve(model, region=ctx.settings.bedrock_region())  # any name of a known provider
    if not dry_run and caps.key_required and not ctx.settings.provider_key(caps.provider):
        raise Unprocessable(
            f"no API key for {caps.provider}: set {ctx.settings.credential_hint(caps.provider)}, or submit with "
            "dry_run: true",
            param="request.model",
        )
    if parsed.body.get("stream"):
        raise BadRequest("stream is not supported on /v1/jobs; poll the job instead", param="request.stream")

    resources: list[Resource] = []
    for ref in parsed.media:
        entry = ref.entry()
        if ref.data is not None:
            entry["source"]["bytes"] = len(ref.data)
            entry["source"]["sha256"] = put_bytes(ctx.storage, ref.data)
            entry["source"]["sniffed_at_submit"] = sniff_mime(ref.data[:SNIFF_BYTES])
        resources.append(entry)

    job_id = new_job_id()
    claimed = None
    if idempotency_key is not None:
        claimed = idempotency.claim(ctx.redis, tenant, idempotency_key, idempotency.body_digest(body), job_id,
                                    ctx.settings.idempotency_ttl)
        if not claimed.won:
            return _replay(ctx, claimed)
    record: JobRecord = {
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
        "n_resources": len(resources),
        "submitted_at": time.time(),
        **({"model_resolution": caps.resolution} if caps.resolution else {}),  # family defaults, profile used
        **({"batch": batch} if batch else {}),  # batch line: workers/services/batches.py counts it
    }
    try:  # one round trip (a transaction): the job, its blobs' references, its first steps' deadlines and
        # messages, the counter; so a job is never committed without its messages, nor queued unwritten
        pipe = ctx.redis.pipeline()
        ctx.store.create(record, resources, pipe)
        retention.track(ctx, job_id, [r["source"].get("sha256") for r in resources], pipe=pipe)
        expect_first(pipe, ctx, job_id, len(resources))
        job_submitted(pipe, caps.provider)
        enqueue(ctx, job_id, resources, expected=True, pipe=pipe)
        pipe.execute()
    except BaseException:
        if claimed is not None:
            idempotency.release(ctx.redis, claimed)
        raise
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
    """The job's view, in one Redis round trip; another tenant's job is a 404 like a missing one."""
    view = ctx.store.view(job_id, tenant=tenant)
    if view is None:
        raise NotFound(f"no job {job_id!r}", param="id")
    return view


def cancel(ctx: Context, tenant: str, job_id: str, purge: bool = False) -> dict[str, Any]:
    """Cancel (idempotent; an ended job keeps its status). ``purge`` also deletes the job's stored
    media that no other live job references (workers/state/retention.py)."""
    if ctx.store.tenant_of(job_id) != tenant:
        raise NotFound(f"no job {job_id!r}", param="id")
    ctx.store.cancel(job_id)
    view = get(ctx, tenant, job_id)
    if purge:
        from workers.services.outputs import delete_outputs

        view["purged_blobs"] = len(retention.purge(ctx, job_id))
        view["purged_outputs"] = delete_outputs(ctx, tenant, job_id)
    return view


def wait(ctx: Context, tenant: str, job_id: str, timeout: float,
         seen: dict[str, Any] | None = None, just_submitted: bool = False) -> dict[str, Any]:
    """Block until the job ends or ``timeout`` passes; returns its view either way (status says which).

    Woken through Redis by the job's end (a blocking pop on ``ferry:job:<id>:ended``), not by polling; the
    view comes back in the round trip that follows the wake-up. ``seen``: the view the caller just read;
    ``just_submitted``: the caller's own submit queued it (no read before the wait)."""
    view = ctx.store.wait_view(job_id, timeout, tenant=tenant, seen=seen, just_submitted=just_submitted)
    if view is None:
        raise NotFound(f"no job {job_id!r}", param="id")
    return view
