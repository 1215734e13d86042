"""The batches list and a batch's page (counts, progress, per-line status, output and error files).

Batches are read through ``workers.services.batches`` (``get`` answers 404 for another tenant's id,
``list_batches`` walks the tenant's own index), exactly as ``/v1/batches`` does.
"""
from __future__ import annotations

from typing import Any

from flask import Response, redirect, request

from app.auth import context
import app.ui.data as data
import app.ui.session as session
from app.ui.blueprint import bp, fragment_wanted, page
from workers.context import Context
from workers.services import batches

LINES_PER_PAGE = 100


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    try:
        value = int(request.args.get(name, default))
    except ValueError:
        return default
    return min(max(value, lo), hi)


@bp.get("/batches")
def batches_list():  # type: ignore[no-untyped-def]
    tenant = session.tenant()
    after = request.args.get("after") or None
    listed = batches.list_batches(context(), tenant, limit=_int_arg("limit", 20, 1, 100), after=after)
    running = any(b["status"] not in batches.FINAL for b in listed["data"])
    return page("batches.html", title="Batches", listed=listed, running=running, refresh=after is None and running,
                first_page=after is None)


@bp.get("/batches/<batch_id>")
def batch_page(batch_id: str):  # type: ignore[no-untyped-def]
    tenant, ctx = session.tenant(), context()
    return render_batch(ctx, batches.get(ctx, tenant, batch_id), _int_arg("offset", 0, 0, 10_000_000))


def render_batch(ctx: Context, batch: dict[str, Any], offset: int) -> Response:
    """A batch (as ``GET /v1/batches/{id}`` answers it, already checked to be the tenant's) as its page; in
    native mode its ``ferry.provider_batches`` (issue 13's contract: ``[{provider, model, id, status,
    lines}]``) are listed with their states."""
    lines = data.batch_lines(ctx, batch["id"], offset=offset, limit=LINES_PER_PAGE)
    counts = batch["request_counts"]
    done = counts["completed"] + counts["failed"]
    ferry = batch.get("ferry") if isinstance(batch.get("ferry"), dict) else {}
    return page("batch.html", title=f"Batch {batch['id']}", batch=batch, lines=lines, offset=offset,
                ferry=ferry, provider_batches=data.provider_batches(ferry), cost=data.cost_of(ferry, batch),
                per_page=LINES_PER_PAGE, done=done, live=batch["status"] not in batches.FINAL,
                fragment=fragment_wanted())


@bp.post("/batches/<batch_id>/cancel")
def batch_cancel(batch_id: str):  # type: ignore[no-untyped-def]
    tenant = session.tenant()
    session.check_csrf()
    batches.cancel(context(), tenant, batch_id)
    return redirect(f"/ui/batches/{batch_id}", code=303)
