"""OpenAI simulator, Files API: multipart upload with ``purpose``, list, get, content, delete.

Shapes follow github.com/openai/openai-python: ``resources/files.py`` (upload), ``types/file_object.py``
and ``types/file_deleted.py``. Expiry as ``types/file_create_params.py`` has it: ``expires_after`` (anchor
``created_at``, 3600..2592000 seconds) sets the file's ``expires_at``; without it a file is kept. A file past
its ``expires_at`` is gone (404). Test knob: ``POST /_sim/files {"expires_after": s | null}`` gives uploads
that do not ask an expiry of ``s`` seconds (as a provider whose files live a fixed time would).
"""
from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response, jsonify, request

from .common import Part
from .controls import SimReject, record_parts
from .files import FileStore, StoredFile
from .media import inspect_lenient, sniff
from .openai_wire import bad, check_auth

# types/file_purpose.py / file_object.py purposes accepted on upload
PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
EXPIRES_MIN, EXPIRES_MAX = 3600, 2_592_000  # file_create_params.py ExpiresAfter.seconds


def register_files(app: Flask, files: FileStore, api_key: str) -> None:
    """Add the Files API routes, backed by ``files``, to the OpenAI simulator ``app``."""
    knobs: dict[str, float | None] = {"expires_after": None}

    @app.post("/_sim/files")
    def _configure_files() -> Response:
        body = request.get_json(force=True, silent=True) or {}
        value = body.get("expires_after")
        knobs["expires_after"] = float(value) if value is not None else None
        return jsonify(knobs)

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
        expires_after = _expires_after(knobs["expires_after"])
        data = upload.read()
        now = time.time()
        extra: dict[str, Any] = {"purpose": purpose}
        if expires_after is not None:
            extra["expires_at"] = int(now + expires_after)
        stored = files.put(StoredFile(files.new_id(), upload.filename or "upload", data,
                                      sniff(data) or "application/octet-stream", created=now, extra=extra))
        record_parts([Part("file", media=inspect_lenient(data), source="file", ref=stored.id)])
        return jsonify(_file_object(stored))

    @app.get("/v1/files")
    def list_files() -> Response:
        check_auth(api_key)
        purpose = request.args.get("purpose")  # files.list(purpose=...) filters server-side
        return jsonify({"object": "list", "data": [_file_object(f) for f in files.all()
                                                   if live(f) and not purpose or f.extra.get("purpose") == purpose],
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


def _expires_after(default: float | None) -> float | None:
    """The upload's ``expires_after[anchor]`` / ``expires_after[seconds]`` form fields (openai-python sends a
    nested multipart field so), checked as the API does; else the test knob's default."""
    anchor, seconds = request.form.get("expires_after[anchor]"), request.form.get("expires_after[seconds]")
    if anchor is None and seconds is None:
        return default
    if anchor != "created_at":
        raise bad(f"Invalid value: '{anchor}'. Supported values are: 'created_at'.", "expires_after.anchor")
    try:
        value = int(seconds or "")
    except ValueError:
        raise bad("Invalid type for 'expires_after.seconds': expected an integer.", "expires_after.seconds") from None
    if not EXPIRES_MIN <= value <= EXPIRES_MAX:
        raise bad(f"Invalid 'expires_after.seconds': {value}. Expected a value between {EXPIRES_MIN} and "
                  f"{EXPIRES_MAX}.", "expires_after.seconds")
    return float(value)


def live(stored: StoredFile | None) -> StoredFile | None:
    """The file, unless it has expired (OpenAI deletes a file at its ``expires_at``)."""
    if stored is None:
        return None
    expires = stored.extra.get("expires_at")
    return None if expires is not None and expires <= time.time() else stored


def _lookup(files: FileStore, file_id: str) -> StoredFile:
    stored = live(files.get(file_id))
    if stored is None:
        raise SimReject(404, f"No such File object: {file_id}", "invalid_request_error", param="id")
    return stored


def _file_object(f: StoredFile) -> dict[str, Any]:
    return {"id": f.id, "object": "file", "bytes": len(f.data), "created_at": int(f.created),
            "filename": f.filename, "purpose": f.extra.get("purpose"), "status": "processed",
            "status_details": None, "expires_at": f.extra.get("expires_at")}
