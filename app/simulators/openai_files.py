"""OpenAI simulator, Files API: multipart upload with ``purpose``, list, get, content, delete.

Shapes follow github.com/openai/openai-python: ``resources/files.py`` (upload), ``types/file_object.py``
and ``types/file_deleted.py``.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request

from .common import Part
from .controls import SimReject, record_parts
from .files import FileStore, StoredFile
from .media import inspect_lenient, sniff
from .openai_wire import bad, check_auth

# types/file_purpose.py / file_object.py purposes accepted on upload
PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")


def register_files(app: Flask, files: FileStore, api_key: str) -> None:
    """Add the Files API routes, backed by ``files``, to the OpenAI simulator ``app``."""
    @app.post("/v1/files")
    def upload_file() -> Response:
        check_auth(api_key)
        purpose = request.form.get("purpose")
        if not purpose:
            raise bad("Missing required parameter: 'purpose'.", "purpose", "missing_required_parameter")
        if purpose not in PURPOSES:
            raise bad(f"'{purpose}' is not one of {list(PURPOSES)} - 'purpose'", "purpose")
        upload = request.files.get("file")
        if upload is None:
            raise bad("Missing required parameter: 'file'.", "file", "missing_required_parameter")
        data = upload.read()
        stored = files.put(StoredFile(files.new_id(), upload.filename or "upload", data,
                                      sniff(data) or "application/octet-stream", extra={"purpose": purpose}))
        record_parts([Part("file", media=inspect_lenient(data), source="file", ref=stored.id)])
        return jsonify(_file_object(stored))

    @app.get("/v1/files")
    def list_files() -> Response:
        check_auth(api_key)
        purpose = request.args.get("purpose")  # files.list(purpose=...) filters server-side
        return jsonify({"object": "list", "data": [_file_object(f) for f in files.all()
                                                   if not purpose or f.extra.get("purpose") == purpose],
                        "has_more": False})

    @app.get("/v1/files/<file_id>")
    def get_file(file_id: str) -> Response:
        check_auth(api_key)
        return jsonify(_file_object(_lookup(files, file_id)))

    @app.get("/v1/files/<file_id>/content")
    def get_file_content(file_id: str) -> Response:
        check_auth(api_key)
        stored = _lookup(files, file_id)
        return Response(stored.data, mimetype=stored.mime)

    @app.delete("/v1/files/<file_id>")
    def delete_file(file_id: str) -> Response:
        check_auth(api_key)
        _lookup(files, file_id)
        files.delete(file_id)
        return jsonify({"id": file_id, "object": "file", "deleted": True})


def _lookup(files: FileStore, file_id: str) -> StoredFile:
    stored = files.get(file_id)
    if stored is None:
        raise SimReject(404, f"No such File object: {file_id}", "invalid_request_error", param="id")
    return stored


def _file_object(f: StoredFile) -> dict[str, Any]:
    return {"id": f.id, "object": "file", "bytes": len(f.data), "created_at": int(f.created),
            "filename": f.filename, "purpose": f.extra.get("purpose"), "status": "processed",
            "status_details": None, "expires_at": None}
