"""``/v1/files``: OpenAI's Files API for batch inputs and outputs and media referenced by id.

Uploads are multipart (``file`` + ``purpose``), spooled to disk by werkzeug, never
held in memory, and refused before parsing when the declared length is over
``FERRY_MAX_FILE_BYTES``. Everything is tenant-scoped: another tenant's id is a 404.
"""
from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

from flask import Blueprint, Response, jsonify, request, stream_with_context

from app.auth import context, require_tenant
from app.compat import openai_errors, query_int
from workers.state import files as ferry_files
from workers.core.errors import BadRequest, TooLarge
from workers.media.sniff import SNIFF_BYTES, sniff_mime

bp = openai_errors(Blueprint("files", __name__, url_prefix="/v1/files"))
_MULTIPART_SLACK = 64 * 1024  # form boundaries and the purpose field


@bp.post("")
def upload():  # type: ignore[no-untyped-def]
    tenant = require_tenant()
    ctx = context()
    limit = ctx.settings.max_file_bytes
    if (request.content_length or 0) > limit + _MULTIPART_SLACK:
        raise TooLarge(f"file is over FERRY_MAX_FILE_BYTES ({limit} bytes)", param="file")
    if not (request.mimetype or "").startswith("multipart/form-data"):
        raise BadRequest("upload as multipart/form-data with fields 'file' and 'purpose'", param="file")
    purpose = ferry_files.check_purpose(request.form.get("purpose"))
    upload = request.files.get("file")
    if upload is None:
        raise BadRequest("missing required field 'file'", param="file")
    tmp_root = ctx.settings.data_dir / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp_root, prefix="upload-") as tmp:
        path = Path(tmp) / "upload"
        upload.save(path)
        if path.stat().st_size > limit:
            raise TooLarge(f"file is over FERRY_MAX_FILE_BYTES ({limit} bytes)", param="file")
        filename = Path(upload.filename or "upload").name or "upload"
        with path.open("rb") as fh:
            mime = sniff_mime(fh.read(SNIFF_BYTES))
        return jsonify(ferry_files.create_from_path(ctx, tenant, path, filename, purpose, mime))


@bp.get("")
def list_():  # type: ignore[no-untyped-def]
    tenant = require_tenant()
    order = request.args.get("order", "desc")
    if order not in ("asc", "desc"):
        raise BadRequest("order must be asc or desc", param="order")
    return jsonify(ferry_files.list_files(
        context(), tenant, purpose=request.args.get("purpose") or None,
        limit=query_int("limit", 10_000, 1, 10_000), after=request.args.get("after") or None, order=order))


@bp.get("/<file_id>")
def read(file_id: str):  # type: ignore[no-untyped-def]
    return jsonify(ferry_files.get(context(), require_tenant(), file_id))


@bp.delete("/<file_id>")
def delete(file_id: str):  # type: ignore[no-untyped-def]
    return jsonify(ferry_files.delete(context(), require_tenant(), file_id))


@bp.get("/<file_id>/content")
def content(file_id: str):  # type: ignore[no-untyped-def]
    tenant = require_tenant()
    ctx = context()
    rec = ferry_files.record(ctx, tenant, file_id)

    def body() -> Iterator[bytes]:
        with ferry_files.open_content(ctx, tenant, file_id) as fh:
            while block := fh.read(256 * 1024):
                yield block

    resp = Response(stream_with_context(body()), mimetype=rec.get("mime") or "application/octet-stream")
    resp.headers["Content-Length"] = str(rec["bytes"])
    resp.headers["Content-Disposition"] = f'attachment; filename="{rec["filename"].replace(chr(34), "")}"'
    return resp
