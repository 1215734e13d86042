"""The jobs list, a job's page, its cancel button, result download and the media it shows.

A job is read through ``workers.services.jobs.get`` (another tenant's id is a 404 there, as on the
API); media is served only when its sha256 belongs to that job, generated files only through
``workers.state.files`` (tenant-checked). The web tier decodes nothing: originals and what was sent
are served as stored, and the browser scales them.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flask import Response, redirect, request, stream_with_context

from app.auth import context
import app.ui.data as data
import app.ui.session as session
from app.ui.blueprint import bp, fragment_wanted, page
from workers.core.errors import NotFound
from workers.pipeline.outputs import has_outputs, slots
from workers.services import jobs, outputs
from workers.state import files as ferry_files
from workers.state.jobs import TERMINAL
from workers.storage.blobs import blob_key

#: Served inline (the browser shows or plays them); anything else downloads.
SHOWN = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "audio/wav", "audio/mpeg",
         "audio/ogg", "audio/webm", "audio/flac", "audio/mp4", "video/mp4", "video/webm", "application/pdf")
PAGE_SIZES = (10, 25, 50, 100)


def _limit() -> int:
    try:
        value = int(request.args.get("limit", 25))
    except ValueError:
        value = 25
    return value if value in PAGE_SIZES else 25


@bp.get("/jobs")
def jobs_list():  # type: ignore[no-untyped-def]
    tenant, ctx = session.tenant(), context()
    status = request.args.get("status") or None
    status = status if status in data.STATUSES else None
    window = request.args.get("window") or None
    model = (request.args.get("model") or "").strip() or None
    cursor = request.args.get("cursor") or None
    result = data.list_jobs(ctx, tenant, status=status, model=model, window=window, cursor=cursor, limit=_limit())
    running = any(r["status"] not in TERMINAL for r in result.rows)
    filters = {"status": status or "", "model": model or "", "window": window or "", "limit": _limit()}
    return page("jobs.html", title="Jobs", page=result, filters=filters, running=running,
                refresh=cursor is None and running, statuses=data.STATUSES,
                windows=data.WINDOWS, page_sizes=PAGE_SIZES, first_page=cursor is None)


def _ui_result(result: Any, job_id: str) -> Any:
    """Generated images and audio pointed at the UI's file route (the API's needs a bearer header)."""
    return outputs.linked(result, lambda file_id: f"/ui/files/{file_id}/content")


def _media_of(result: Any) -> list[dict[str, Any]]:
    if not has_outputs(result):
        return []
    return [{"kind": kind, "where": where, "url": holder.get("url") or (holder.get("image_url") or {}).get("url"),
             "mime": holder.get("mime"), "bytes": holder.get("bytes"), "transcript": holder.get("transcript")}
            for kind, where, holder in slots(result)]


@bp.get("/jobs/<job_id>")
def job_page(job_id: str):  # type: ignore[no-untyped-def]
    tenant, ctx = session.tenant(), context()
    view = jobs.get(ctx, tenant, job_id)
    record = ctx.store.record(job_id)
    result = _ui_result(view.get("result"), job_id)
    media = data.media_index(view)
    return page("job.html", title=f"Job {job_id}", job=view, record=record, result=result,
                generated=_media_of(result), cost=data.cost_of(view, view.get("result")), timeline=data.timeline(view, record.get("submitted_at")),
                prompt=data.prompt_text(record), shown=SHOWN, media=media, live=view["status"] not in TERMINAL,
                fragment=fragment_wanted())


@bp.post("/jobs/<job_id>/cancel")
def job_cancel(job_id: str):  # type: ignore[no-untyped-def]
    tenant = session.tenant()
    session.check_csrf()
    jobs.cancel(context(), tenant, job_id)
    return redirect(f"/ui/jobs/{job_id}", code=303)


@bp.get("/jobs/<job_id>/result.json")
def job_download(job_id: str):  # type: ignore[no-untyped-def]
    """The job exactly as ``GET /v1/jobs/{id}`` answers it, as a file."""
    tenant, ctx = session.tenant(), context()
    view = outputs.present_view(ctx, tenant, jobs.get(ctx, tenant, job_id), base_url=request.host_url)
    resp = Response(json.dumps(view, indent=2, ensure_ascii=False), mimetype="application/json")
    resp.headers["Content-Disposition"] = f'attachment; filename="{job_id}.json"'
    return resp


def _stream(opener: Any) -> Iterator[bytes]:
    with opener as fh:
        while block := fh.read(256 * 1024):
            yield block


def _serve(opener: Any, mime: str, size: int | None, filename: str) -> Response:
    shown = mime in SHOWN
    resp = Response(stream_with_context(_stream(opener)), mimetype=mime if shown else "application/octet-stream")
    if size is not None:
        resp.headers["Content-Length"] = str(size)
    resp.headers["Content-Disposition"] = f'{"inline" if shown else "attachment"}; filename="{filename}"'
    resp.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'; media-src 'self'"
    resp.headers["Cache-Control"] = "private, max-age=3600"  # content-addressed: the bytes never change
    return resp


@bp.get("/jobs/<job_id>/media/<sha256>")
def job_media(job_id: str, sha256: str):  # type: ignore[no-untyped-def]
    """An original or a sent output of this job, by its sha256 (no other blob is reachable here)."""
    tenant, ctx = session.tenant(), context()
    mime = data.media_index(jobs.get(ctx, tenant, job_id)).get(sha256)
    if mime is None:
        raise NotFound(f"job {job_id} has no media {sha256!r}", param="sha256")
    key = blob_key(sha256)
    if not ctx.storage.exists(key):
        raise NotFound(f"media {sha256[:12]}… is no longer stored (purged or expired)", param="sha256")
    ext = mime.rsplit("/", 1)[-1].split("+")[0]
    return _serve(ctx.storage.open(key), mime, None, f"{sha256[:12]}.{ext}")


@bp.get("/files/<file_id>/content")
def file_content(file_id: str):  # type: ignore[no-untyped-def]
    """A Ferry file of this tenant (generated media, batch output and error files)."""
    tenant, ctx = session.tenant(), context()
    rec = ferry_files.record(ctx, tenant, file_id)
    name = str(rec.get("filename") or file_id).replace('"', "")
    mime = rec.get("mime") or "application/octet-stream"
    if name.endswith(".jsonl"):
        mime = "application/jsonl"
    return _serve(ferry_files.open_content(ctx, tenant, file_id), mime, rec.get("bytes"), name)
