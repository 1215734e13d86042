"""The resource stages as plain functions of (context, the resource, the job record).

Each calls a pure module (download, inspect, plan, transform, deliver) and returns the resource with its
outcome, which the step runner writes in the same Redis script that records the step. The Celery tasks in :mod:`workers.tasks.stages` run them through
:func:`workers.pipeline.steps.run_step`. ``complete`` is in :mod:`workers.pipeline.complete`.
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from workers.context import Context
from workers.core.records import JobRecord, Output, Resource
from workers.core.errors import StorageError, Unprocessable
from workers.media.inspect import inspect_file
from workers.media.pdf import first_page_preview
from workers.media.plan import plan_resource
from workers.media.transform import apply_plan, kept_output
from workers.net.download import download
from workers.pipeline import ocr
from workers.pipeline.dedupe import fetch_once, transform_once
from workers.pipeline.deliver import available, deliver_outputs
from workers.pipeline.delivery_plan import out_of_line_methods
from workers.pipeline.sources import cloud_passthrough, fetch_cloud, passes_through, youtube_passthrough
from workers.state import factcache
from workers.state.files import to_blob
from workers.storage.blobs import blob_key, get_blob, put_blob, put_bytes

log = logging.getLogger(__name__)


def _tmpdir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="ferry-")


def fetch(ctx: Context, res: Resource, record: JobRecord) -> Resource | None:
    src = res["source"]
    if src["kind"] == "data":
        if not ctx.storage.exists(blob_key(src["sha256"])):
            raise StorageError("inline data stored at submit time is missing from storage")
        return None
    if src["kind"] == "url":
        src.update(fetch_once(ctx, record["tenant"], src["url"], lambda: _download(ctx, src["url"])))  # once per URL and tenant
        return res
    if src["kind"] in ("s3", "gs"):
        passed = cloud_passthrough(ctx, src["url"], src["kind"], ctx.catalog.resolve(record["model"]))
        if passed is not None:  # Vertex reads gs:// itself: nothing downloaded
            src.update(bytes=passed["outputs"][0]["bytes"], mime=passed["facts"]["mime"])
            res.update(passed)
            return res
        src.update(fetch_cloud(ctx, src["url"]))
        return res
    if src["kind"] == "youtube":  # not fetched: Gemini reads it (workers.pipeline.sources)
        res.update(youtube_passthrough(src["url"]))
        return res
    if src["kind"] == "file_id":  # a Ferry file (POST /v1/files) of the job's own tenant
        with _tmpdir() as tmp:
            got = to_blob(ctx, record["tenant"], src["url"], Path(tmp))
        src.update(got, filename=src.get("filename") or got["filename"])
        return res
    raise Unprocessable(f"{src['kind']} sources are not supported yet")


def _download(ctx: Context, url: str) -> dict[str, Any]:
    with _tmpdir() as tmp:
        got = download(url, Path(tmp) / "download", ctx.settings)
        put_blob(ctx.storage, got.path, got.sha256)
    return {"bytes": got.size, "sha256": got.sha256, "content_type": got.content_type, "final_url": got.final_url}


def inspect(ctx: Context, res: Resource, record: JobRecord) -> Resource | None:
    src = res["source"]
    if passes_through(res):
        return None
    declared, name = src.get("declared_mime") or src.get("content_type"), src.get("filename") or src.get("url")
    hints = factcache.hints_digest(declared, name)
    known = factcache.get(ctx.redis, src["sha256"], hints)
    preview = (known or {}).get("preview")
    if known is not None and (preview is None or ctx.storage.exists(blob_key(preview["sha256"]))):
        facts = known["facts"]  # these bytes were inspected already (another job, another tenant: same facts)
        if preview is not None:
            res["preview"] = preview
    else:
        with _tmpdir() as tmp:
            path = get_blob(ctx.storage, src["sha256"], Path(tmp) / "src")
            facts = inspect_file(path, declared, name)
            if facts["mime"] == "application/pdf":
                _preview(ctx, res, path)
        factcache.put(ctx.redis, src["sha256"], hints,
                      {"facts": facts, **({"preview": res["preview"]} if res.get("preview") else {})})
    src["mime"] = facts["mime"]
    notes = res.get("notes", [])
    declared = src.get("declared_mime")
    if declared and declared != facts["mime"]:
        notes.append(f"declared {declared}, but the bytes are {facts['mime']}; using {facts['mime']}")
    res.update(facts=facts, notes=notes)
    return res


def _preview(ctx: Context, res: Resource, pdf: Path) -> None:
    """Store the PDF's first page as a small JPEG for the browser UI (the web tier decodes no PDF). A page
    pdfium cannot draw only costs the thumbnail: the job goes on and later stages say what is wrong."""
    try:
        data, width, height = first_page_preview(pdf)
    except Exception:  # noqa: BLE001 - pdfium's own errors too: a missing thumbnail must not fail the job
        log.info("no preview for %s", res.get("part"), exc_info=True)
        return
    res["preview"] = {"sha256": put_bytes(ctx.storage, data), "mime": "image/jpeg", "width": width,
                      "height": height}


def plan(ctx: Context, res: Resource, record: JobRecord) -> Resource | None:
    if passes_through(res):
        return None
    caps = ctx.catalog.resolve(record["model"])
    options = {"detail": res.get("detail", "auto"), **(record.get("options") or {})}
    # Where a Files API or staging can carry an item, the media planner need not shrink it to fit inline.
    options["out_of_line"] = out_of_line_methods(caps, res["facts"]["kind"], available(ctx, caps))
    options["ocr"] = ocr.configured(ctx)  # pdf_strategy=ocr needs an OCR provider (workers/pipeline/ocr.py)
    res["transforms"] = plan_resource(res["facts"], caps, options)
    return res


def transform(ctx: Context, res: Resource, record: JobRecord) -> Resource | None:
    if passes_through(res):
        return None
    kept = kept_output(res["facts"], res.get("transforms", []))
    if kept is not None:  # the source is sent as it is: it is already a blob, nothing to produce or share
        res["outputs"] = [{**kept, "sha256": res["source"]["sha256"], "bytes": res["source"]["bytes"]}]
        return res
    res["outputs"] = transform_once(ctx, res, lambda: _transform(ctx, res))  # once per (source, recipe), across jobs
    return res


def _transform(ctx: Context, res: Resource) -> list[Output]:
    outputs: list[dict[str, Any]] = []
    with _tmpdir() as tmp:
        src = get_blob(ctx.storage, res["source"]["sha256"], Path(tmp) / "src")
        steps = res.get("transforms", [])
        made = ocr.read_pages(ctx, src, steps[0]) if steps and steps[0]["op"] == "pdf_ocr" else \
            apply_plan(src, res["facts"], steps, Path(tmp))
        for out in made:
            path = out.pop("path", None)
            if path is not None:
                out["bytes"] = Path(path).stat().st_size
                out["sha256"] = put_blob(ctx.storage, Path(path), content_type=out.get("mime"))
            outputs.append(out)
    return outputs


def deliver(ctx: Context, res: Resource, record: JobRecord) -> Resource | None:
    caps = ctx.catalog.resolve(record["model"])
    res["delivery"] = deliver_outputs(ctx, record, res, caps)
    return res
