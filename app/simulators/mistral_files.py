"""Mistral simulator, Files API: ``POST/GET /v1/files``, ``GET/DELETE /v1/files/{id}``, ``GET /v1/files/{id}/content``.

Shapes follow mistralai/client-python ``src/mistralai/client/files.py`` and models ``createfileresponse.py`` /
``fileschema.py`` (``id`` a UUID, ``object: "file"``, ``size_bytes``, ``created_at``, ``filename``, ``purpose``
fine-tune | batch | ocr (``filepurpose.py``), ``sample_type`` (``sampletype.py``: batch_request for an uploaded
batch input, batch_result / batch_error for a job's output files), ``source`` upload | mistral, ``num_lines``,
``mimetype``), ``listfilesresponse.py`` (``{"data", "object": "list", "total"}``; list by ``page``, ``page_size``,
``purpose``, ``search``, ``sample_type``) and ``docs/sdks/files/README.md`` ("The size of individual files can be a
maximum of 512 MB").
"""
from __future__ import annotations

import uuid
from typing import Any

from flask import Flask, Response, jsonify, request

from .controls import SimReject
from .files import FileStore, StoredFile

PURPOSES = ("fine-tune", "batch", "ocr")
MAX_FILE_BYTES = 512 * 1024 * 1024


def _bad(message: str, status: int = 400) -> SimReject:
    return SimReject(status, message, "invalid_request_error")


def new_file(files: FileStore, filename: str, data: bytes, purpose: str, sample_type: str,
             source: str = "upload") -> StoredFile:
    """Store a file the way the API would describe it (the batch jobs write their results through this too)."""
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    return files.put(StoredFile(str(uuid.uuid4()), filename, data, "application/jsonl" if filename.endswith(".jsonl")
                                else "application/octet-stream",
                                extra={"purpose": purpose, "sample_type": sample_type, "source": source,
                                       "num_lines": lines}))


def file_object(f: StoredFile) -> dict[str, Any]:
    return {"id": f.id, "object": "file", "size_bytes": len(f.data), "created_at": int(f.created),
            "filename": f.filename, "purpose": f.extra.get("purpose"), "sample_type": f.extra.get("sample_type"),
            "source": f.extra.get("source", "upload"), "num_lines": f.extra.get("num_lines"), "mimetype": f.mime,
            "signature": None, "expires_at": None, "visibility": "workspace"}


def lookup(files: FileStore, file_id: str) -> StoredFile:
    stored = files.get(file_id)
    if stored is None:
        raise SimReject(404, f"File {file_id} not found", "invalid_request_error", param="file_id")
    return stored


def register_files(app: Flask, files: FileStore, check_auth: Any) -> None:
    """Add the Files API routes, backed by ``files``, to the Mistral simulator ``app``."""
    @app.post("/v1/files")
    def upload_file() -> Response:
        check_auth()
        purpose = request.form.get("purpose") or "fine-tune"
        if purpose not in PURPOSES:
            raise _bad(f"purpose: Input should be {', '.join(repr(p) for p in PURPOSES)}")
        upload = request.files.get("file")
        if upload is None:
            raise _bad("file: Field required")
        data = upload.read()
        if len(data) > MAX_FILE_BYTES:
            raise _bad(f"File is too large: {len(data)} bytes; the maximum is 512 MB", 413)
        sample = "batch_request" if purpose == "batch" else "instruct"
        return jsonify(file_object(new_file(files, upload.filename or "upload", data, purpose, sample)))

    @app.get("/v1/files")
    def list_files() -> Response:
        check_auth()
        args = request.args
        page, size = int(args.get("page") or 0), max(1, min(1000, int(args.get("page_size") or 100)))
        chosen = [f for f in sorted(files.all(), key=lambda f: f.created, reverse=True)
                  if (not args.get("purpose") or f.extra.get("purpose") == args["purpose"])
                  and (not args.get("search") or args["search"] in f.filename)
                  and (not args.getlist("sample_type") or f.extra.get("sample_type") in args.getlist("sample_type"))]
        return jsonify({"data": [file_object(f) for f in chosen[page * size:(page + 1) * size]], "object": "list",
                        "total": len(chosen)})

    @app.get("/v1/files/<file_id>")
    def get_file(file_id: str) -> Response:
        check_auth()
        return jsonify({**file_object(lookup(files, file_id)), "deleted": False})

    @app.get("/v1/files/<file_id>/content")
    def get_content(file_id: str) -> Response:
        check_auth()
        stored = lookup(files, file_id)
        return Response(stored.data, mimetype="application/octet-stream")

    @app.delete("/v1/files/<file_id>")
    def delete_file(file_id: str) -> Response:
        check_auth()
        lookup(files, file_id)
        files.delete(file_id)
        return jsonify({"id": file_id, "object": "file", "deleted": True})
