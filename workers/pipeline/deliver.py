"""Deliver a resource's outputs: decide the method per output (pure planner), then carry it out.

Returns the resource's ``delivery`` entry: ``{"method", "ref", "cached", "reason"}`` for one output,
or ``{"method", "parts": [...], "cached"}`` for several. Also the two request-wide steps ``complete``
runs: :func:`fit_request` (the sum of inline parts must stay under ``request_max_bytes``: the largest
inline parts move out of line) and :func:`refresh_stale_files` (a provider says a cached file id is
gone: forget it, upload again, once).

A native batch line's request is read by its provider up to a batch window later (issue 13), so its file
ids and presigned URLs must live that long: :func:`ref_lifetime`. A cached id that would die sooner is
not reused (a fresh upload), a URL is signed for that long, and a ref that cannot live that long is the
line's error, never shipped to die in the provider's queue.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from workers.storage.blobs import get_blob
from workers.context import Context
from workers.core.records import Decision, JobRecord, Output, Resource
from workers.pipeline import staging
from workers.state.claims import once
from workers.pipeline.delivery_plan import OUT_OF_LINE, Available, b64_size, plan_delivery
from workers.core.errors import FerryError, TooLarge, Unprocessable, UpstreamError
from workers.pipeline.batch_prepare import is_native
from workers.state.filecache import FileCache, account_of
from workers.providers import batch_catalog, files_api
from workers.providers.catalog import ModelCaps

_EXT = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif",
        "audio/mpeg": "mp3", "audio/wav": "wav", "video/mp4": "mp4", "text/plain": "txt", "text/markdown": "md",
        "text/csv": "csv", "text/html": "html"}


def available(ctx: Context, caps: ModelCaps) -> Available:
    key = ctx.settings.provider_key(caps.provider)
    schemes = frozenset(staging.targets(ctx))
    return Available(
        files_api=bool(key) and files_api.client_for(caps.provider) is not None,
        staging=schemes,
        presign=bool(schemes) and staging.can_presign(ctx),
        max_inline_bytes=ctx.settings.max_inline_bytes,
    )


def ref_lifetime(ctx: Context, record: JobRecord, caps: ModelCaps) -> int | None:
    """Seconds a file id or URL in this job's request must stay valid: for a native batch line, the provider's
    batch window (batch_catalog ``ref_seconds``, else ``window_seconds``) plus ``FERRY_BATCH_REF_MARGIN_SECONDS``;
    None for a job, which sends its request now (the file cache's margin and ``FERRY_PRESIGN_SECONDS`` apply)."""
    if not is_native(record):
        return None
    lim = batch_catalog.limits(caps.provider)
    window = (lim.ref_seconds or lim.window_seconds) if lim else 0
    return window + ctx.settings.batch_ref_margin_seconds


def _uses(ctx: Context, record: JobRecord, res: Resource) -> int:
    """How many resources of this job carry the same source (by sha256, else by URL)."""
    src = res["source"]
    ident = src.get("sha256") or src.get("url")
    if not ident or "id" not in record or record.get("n_resources") == 1:
        return 1
    return sum(1 for r in ctx.store.resources(record["id"], record.get("n_resources"))
               if (r["source"].get("sha256") or r["source"].get("url")) == ident) or 1


def deliver_outputs(ctx: Context, record: JobRecord, res: Resource, caps: ModelCaps) -> Decision:
    avail = available(ctx, caps)
    prefer = (record.get("delivery") or {}).get("prefer")
    uses = _uses(ctx, record, res)
    lifetime = ref_lifetime(ctx, record, caps)
    decisions = []
    for out in res["outputs"]:
        planned = plan_delivery(out, caps, prefer, avail, uses)
        decisions.append(carry_out(ctx, caps, res, out, planned, tenant=record.get("tenant", ""), lifetime=lifetime))
    if len(decisions) == 1:
        return decisions[0]
    return {"method": decisions[0]["method"], "parts": decisions, "cached": all(d["cached"] for d in decisions)}


def carry_out(ctx: Context, caps: ModelCaps, res: Resource, out: Output, planned: Decision, *, tenant: str,
              force_upload: bool = False, lifetime: int | None = None) -> Decision:
    """Do what the planner chose; returns ``{"method", "ref", "cached", "reason"}``. ``lifetime``: seconds a
    file id or URL must stay valid (:func:`ref_lifetime`)."""
    method = planned["method"]
    ref: str | None = None
    cached = False
    if method == "inline":
        ref = f"sha256:{out['sha256']}"
    elif method == "youtube" or out.get("passthrough"):
        ref = out.get("url")
    elif method == "storage":
        scheme = getattr(caps.caps_for(out["kind"]), "storage_scheme", None) or ""
        ref, cached = staging.stage_uri(ctx, scheme, out["sha256"], out.get("mime"))
    elif method == "url":
        ref, cached = staging.presigned(ctx, out["sha256"], out.get("mime"), lifetime)
    elif method == "file":
        ref, cached = ensure_file(ctx, caps, out, res["source"].get("filename"), tenant=tenant, force=force_upload,
                                  lifetime=lifetime)
    return {"method": method, "ref": ref, "cached": cached, "reason": planned["reason"]}


# -- provider Files API, through the file-id cache and a per-hash claim ------------------------------

def ensure_file(ctx: Context, caps: ModelCaps, out: Output, filename: str | None,
                *, tenant: str, force: bool = False, lifetime: int | None = None) -> tuple[str, bool]:
    """(file id, came from cache): upload ``out`` to the provider unless an unexpired id is cached.

    The cache account hashes the tenant with the provider key: a tenant can never learn, from a
    cache hit, that another tenant sent the same bytes. With ``lifetime`` only an id living that much
    longer is reused, and an upload the provider keeps for less is an error (:func:`ref_lifetime`)."""
    provider = caps.provider
    client = files_api.client_for(provider)
    api_key = ctx.settings.provider_key(provider)
    if client is None or not api_key:
        raise FerryError(f"{provider} has no Files API client or key", stage="deliver")
    account = account_of(f"{tenant}\n{api_key}")
    sha = out["sha256"]
    cache = FileCache(ctx.redis)
    if force:
        cache.forget(provider, account, sha)
    base_url = ctx.settings.provider_base_url(provider) or caps.default_base_url
    name = filename or f"{sha[:16]}.{_EXT.get(out.get('mime') or '', 'bin')}"

    def lookup() -> str | None:
        entry = cache.get(provider, account, sha, margin=lifetime)
        return entry.id if entry else None

    def produce() -> str:
        with tempfile.TemporaryDirectory(prefix="ferry-upload-") as tmp:
            path = get_blob(ctx.storage, sha, Path(tmp) / "blob")
            up = client.upload(path, out["mime"], name, base_url=base_url, api_key=api_key,
                               timeout=ctx.settings.upstream_timeout)
        cache.put(provider, account, sha, up.id, up.expires_at)  # only after a successful upload (jobs reuse it)
        left = up.expires_at - time.time()
        if lifetime and left < lifetime:
            raise Unprocessable(
                f"{provider} keeps the uploaded file {up.id} for {left / 3600:.1f} h, less than this native batch "
                f"line needs ({lifetime / 3600:.1f} h: {provider}'s batch window plus "
                "FERRY_BATCH_REF_MARGIN_SECONDS); the provider could find it gone before it reads the line. "
                "Run it as a job (ferry.mode 'jobs').", stage="deliver")
        return up.id

    file_id, produced = once(ctx.redis, f"upload:{provider}:{account[:16]}:{sha}", produce, lookup=lookup)
    return file_id, not produced


# -- request-wide steps, run by complete ------------------------------------------------------------

def _decisions(res: Resource) -> list[Decision]:
    d = res.get("delivery") or {}
    return d.get("parts") or [d]


def _store_decisions(ctx: Context, job_id: str, index: int, res: Resource, parts: list[Decision]) -> None:
    if len(parts) == 1:
        delivery = parts[0]
    else:
        delivery = {"method": parts[0]["method"], "parts": parts, "cached": all(p["cached"] for p in parts)}
    res["delivery"] = delivery
    ctx.store.update_resource(job_id, index, delivery=delivery)


def fit_request(ctx: Context, job_id: str, caps: ModelCaps, resources: list[Resource], tenant: str,
                lifetime: int | None = None) -> int:
    """Keep the sum of inline payloads under ``request_max_bytes`` by moving the largest inline
    outputs to storage / Files API / URL (``resources`` are updated in place and stored). Returns how
    many were moved; 413 if one must move and nothing else is configured."""
    cap = caps.request_max_bytes
    if not cap:
        return 0
    inline = [(b64_size(int(out["bytes"])), i, j)
              for i, res in enumerate(resources)
              for j, (out, how) in enumerate(zip(res.get("outputs") or [], _decisions(res)))
              if how.get("method") == "inline"]
    total = sum(size for size, _, _ in inline)
    if total <= cap:
        return 0
    avail = available(ctx, caps)
    moved = 0
    for size, i, j in sorted(inline, reverse=True):
        if total <= cap:
            break
        res = resources[i]
        out = res["outputs"][j]
        kcaps = caps.caps_for(out["kind"])
        scheme = getattr(kcaps, "storage_scheme", None)
        method = next((m for m in OUT_OF_LINE if kcaps and m in kcaps.delivery and avail.has(m, scheme)), None)
        if method is None:
            raise TooLarge(f"inline media total {total} bytes after base64, over {caps.provider}'s request limit of "
                           f"{cap}; {out['kind']} parts of {caps.id} can only go inline here (configure "
                           "FERRY_STAGING or the provider key for its Files API)", stage="complete")
        reason = f"request total {total} bytes after base64 > {cap} ({caps.provider} request_max_bytes): moved out"
        parts = _decisions(res)
        parts[j] = carry_out(ctx, caps, res, out, {"method": method, "reason": reason}, tenant=tenant,
                             lifetime=lifetime)
        _store_decisions(ctx, job_id, i, res, parts)
        total -= size
        moved += 1
    return moved


def refresh_stale_files(ctx: Context, job_id: str, caps: ModelCaps, exc: UpstreamError) -> bool:
    """If the provider rejected a file id as gone: forget it, upload again, and say so (True)."""
    client = files_api.client_for(caps.provider)
    if client is None or not client.is_stale(exc.upstream_status, exc.message):
        return False
    refreshed = False
    tenant = ctx.store.record(job_id).get("tenant", "")
    for i, res in enumerate(ctx.store.resources(job_id)):
        parts = _decisions(res)
        if not any(p.get("method") == "file" for p in parts):
            continue
        for j, (out, how) in enumerate(zip(res.get("outputs") or [], parts)):
            if how.get("method") == "file":
                reason = f"{how.get('reason', '')}; re-uploaded after {caps.provider} said the file was gone"
                parts[j] = carry_out(ctx, caps, res, out, {"method": "file", "reason": reason}, tenant=tenant,
                                     force_upload=True)
                refreshed = True
        _store_decisions(ctx, job_id, i, res, parts)
    return refreshed
