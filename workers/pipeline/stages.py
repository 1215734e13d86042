"""The resource stages as plain functions of (context, job id, resource index).

Each loads what it needs by id, calls a pure module (download, inspect, plan, transform, deliver), and
stores the outcome on the job. The Celery tasks in :mod:`workers.tasks.stages` run them through
:func:`workers.pipeline.steps.run_step`. ``complete`` is in :mod:`workers.pipeline.complete`.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from workers.context import Context
from workers.core.records import Output, Resource
from workers.core.errors import StorageError, Unprocessable
from workers.media.inspect import inspect_file
from workers.media.plan import plan_resource
from workers.media.transform import apply_plan
from workers.net.download import download
from workers.pipeline.dedupe import fetch_once, transform_once
from workers.pipeline.deliver import available, deliver_outputs
from workers.pipeline.delivery_plan import out_of_line_methods
from workers.pipeline.sources import fetch_cloud, youtube_passthrough
from workers.state.files import to_blob
from workers.storage.blobs import blob_key, get_blob, put_blob


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
    if src["kind"] == "youtube":  # not fetched: Gemini reads it (workers.pipeline.sources)
        ctx.store.update_resource(job_id, index, **youtube_passthrough(src["url"]))
        return
    if src["kind"] == "file_id":  # a Ferry file (POST /v1/files) of the job's own tenant
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


def _transform(ctx: Context, res: Resource) -> list[Output]:
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
