"""Gemini simulator, Files API: resumable upload, get, list, delete; uploads stay PROCESSING for a
while (videos longest) and end ACTIVE, or FAILED when the bytes are not what they claim.

Wire details follow github.com/googleapis/python-genai: ``google/genai/files.py`` (start a
resumable upload at ``upload/v1beta/files``, read ``x-goog-upload-url``, answer ``{"file": ...}``),
``google/genai/_api_client.py`` ``upload_file`` (``X-Goog-Upload-Command: upload[, finalize]``,
``X-Goog-Upload-Offset``, expects ``x-goog-upload-status: active|final``),
``google/genai/_extra_utils.py`` ``prepare_resumable_upload`` (``X-Goog-Upload-Protocol: resumable``,
``X-Goog-Upload-Header-Content-Length/-Type``). REST reference: https://ai.google.dev/api/files;
files live 48 h.
"""
from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Flask, Response, jsonify, request

from .common import Part, load_json_body
from .controls import SimReject, SimState, record_parts
from .gemini_wire import ALLOWED_CANONICAL, VER, bad, check_key, get_field
from .media import MediaError, canonical_mime, inspect_lenient, inspect_media, sha256_hex

FILE_TTL = timedelta(hours=48)


@dataclass
class GFile:
    name: str  # files/abc123
    display_name: str | None
    mime: str
    data: bytes
    created: float
    ready_at: float
    failed: str | None = None
    source: str = "UPLOADED"
    """UPLOADED, or GENERATED (a batch's responses file: the only kind ``:download`` serves)."""

    def state(self) -> str:
        if self.failed:
            return "FAILED"
        return "ACTIVE" if time.time() >= self.ready_at else "PROCESSING"

    def resource(self, base_url: str) -> dict[str, Any]:
        def ts(t: float) -> str:
            return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

        out: dict[str, Any] = {
            "name": self.name, "mimeType": self.mime, "sizeBytes": str(len(self.data)),
            "createTime": ts(self.created), "updateTime": ts(max(self.created, min(time.time(), self.ready_at))),
            "expirationTime": ts(self.created + FILE_TTL.total_seconds()),
            "sha256Hash": sha256_hex(self.data), "uri": f"{base_url}v1beta/{self.name}",
            "state": self.state(), "source": self.source,
        }
        if self.source == "GENERATED":
            out["downloadUri"] = f"{base_url}download/v1beta/{self.name}:download?alt=media"
        if self.display_name:
            out["displayName"] = self.display_name
        if self.failed:
            out["error"] = {"code": 400, "message": self.failed}
        return out


@dataclass
class _Upload:
    declared_size: int | None
    mime: str | None
    display_name: str | None
    name: str | None
    received: bytearray = field(default_factory=bytearray)


@dataclass
class FileRoutes:
    lookup: Callable[[str], GFile]
    """``lookup(name)`` for generateContent's ``file_data`` parts (403 like Gemini for an unknown file)."""
    put: Callable[[GFile], None]
    """Store a file the simulator made itself (a batch's responses file)."""


def register_files(app: Flask, state: SimState, api_key: str, processing_seconds: float,
                   video_processing_seconds: float) -> FileRoutes:
    """Add the Files API routes to the Gemini simulator ``app``."""
    lock = threading.Lock()
    files: dict[str, GFile] = {}
    uploads: dict[str, _Upload] = {}

    def reset() -> None:
        with lock:
            files.clear()
            uploads.clear()

    state.reset_hooks.append(reset)

    def lookup(name: str) -> GFile:
        with lock:
            f = files.get(name)
        if f is None:
            fid = name.split("/", 1)[-1]
            raise SimReject(403, f"You do not have permission to access the File {fid} or it may not exist.",
                            "PERMISSION_DENIED")
        return f

    @app.post(f"/upload/{VER}/files")
    def upload(ver: str) -> Response:
        upload_id = request.args.get("upload_id")
        if upload_id:
            return _continue_upload(upload_id)
        check_key(api_key)
        if request.headers.get("X-Goog-Upload-Protocol", "").lower() != "resumable" or \
                request.headers.get("X-Goog-Upload-Command", "").lower() != "start":
            raise bad("Simulator supports only resumable uploads: send X-Goog-Upload-Protocol: resumable "
                      "and X-Goog-Upload-Command: start")
        meta = {}
        if request.get_data():
            try:
                meta = get_field(load_json_body(request.get_data()), "file") or {}
            except (ValueError, AttributeError):
                raise bad("Invalid JSON payload received.")
        size = request.headers.get("X-Goog-Upload-Header-Content-Length")
        name = meta.get("name")
        if name and not name.startswith("files/"):
            name = "files/" + name
        if name:
            with lock:
                if name in files:
                    raise SimReject(409, f"File {name} already exists.", "ALREADY_EXISTS")
        up = _Upload(int(size) if size and size.isdigit() else None,
                     request.headers.get("X-Goog-Upload-Header-Content-Type") or get_field(meta, "mime_type"),
                     get_field(meta, "display_name"), name)
        uid = secrets.token_urlsafe(16)
        with lock:
            uploads[uid] = up
        url = f"{request.host_url}upload/{ver}/files?upload_id={uid}&upload_protocol=resumable"
        resp = Response(b"", status=200)
        resp.headers.update({"X-Goog-Upload-Status": "active", "X-Goog-Upload-URL": url,
                             "X-Goog-Upload-Control-URL": url, "X-Goog-Upload-Chunk-Granularity": "8388608"})
        return resp

    def _continue_upload(uid: str) -> Response:
        with lock:
            up = uploads.get(uid)
        if up is None:
            raise SimReject(404, "Upload session not found (unknown or finished upload_id).", "NOT_FOUND")
        command = {c.strip().lower() for c in request.headers.get("X-Goog-Upload-Command", "").split(",")}
        if "query" in command:
            resp = Response(b"")
            resp.headers.update({"X-Goog-Upload-Status": "active",
                                 "X-Goog-Upload-Size-Received": str(len(up.received))})
            return resp
        if not command & {"upload", "finalize"}:
            raise bad("X-Goog-Upload-Command must be upload, finalize, 'upload, finalize' or query")
        if "upload" in command:
            offset = request.headers.get("X-Goog-Upload-Offset")
            if offset is None or not offset.isdigit() or int(offset) != len(up.received):
                raise bad(f"X-Goog-Upload-Offset {offset} does not match the {len(up.received)} bytes received")
            up.received += request.get_data()
        if "finalize" not in command:
            resp = Response(b"")
            resp.headers.update({"X-Goog-Upload-Status": "active",
                                 "X-Goog-Upload-Size-Received": str(len(up.received))})
            return resp
        if up.declared_size is not None and up.declared_size != len(up.received):
            raise bad(f"Upload finalized with {len(up.received)} bytes but {up.declared_size} were declared")
        data = bytes(up.received)
        media = inspect_lenient(data)
        mime = (up.mime or media.mime or "application/octet-stream").lower()
        failed = _processing_error(mime, data)
        now = time.time()
        delay = video_processing_seconds if mime.startswith("video/") else processing_seconds
        gfile = GFile(up.name or "files/" + secrets.token_hex(6), up.display_name, mime, data, now, now + delay,
                      failed)
        with lock:
            uploads.pop(uid, None)
            files[gfile.name] = gfile
        record_parts([Part("file", media=media, declared_mime=mime, source="file", ref=gfile.name)])
        resp = jsonify({"file": gfile.resource(request.host_url)})
        resp.headers["X-Goog-Upload-Status"] = "final"
        return resp

    def put(gfile: GFile) -> None:
        with lock:
            files[gfile.name] = gfile

    @app.get(f"/{VER}/files/<fid>")
    def get_file(ver: str, fid: str) -> Response:
        check_key(api_key)
        if fid.endswith(":download"):  # python-genai files.download: files/{id}:download?alt=media
            return _download(fid.removesuffix(":download"))
        return jsonify(lookup("files/" + fid).resource(request.host_url))

    @app.get(f"/download/{VER}/files/<fid>")
    def download_file(ver: str, fid: str) -> Response:
        """The REST docs' form: ``download/v1beta/files/{id}:download?alt=media``."""
        check_key(api_key)
        if not fid.endswith(":download"):
            raise SimReject(404, f"Method not found: files/{fid}", "NOT_FOUND")
        return _download(fid.removesuffix(":download"))

    def _download(fid: str) -> Response:
        gfile = lookup("files/" + fid)
        if request.args.get("alt") != "media":
            return jsonify(gfile.resource(request.host_url))
        if gfile.source != "GENERATED":  # files.py download: "uploaded files can't be downloaded"
            raise bad(f"File files/{fid} was uploaded; only generated files can be downloaded.")
        return Response(gfile.data, mimetype=gfile.mime)

    @app.delete(f"/{VER}/files/<fid>")
    def delete_file(ver: str, fid: str) -> Response:
        check_key(api_key)
        lookup("files/" + fid)
        with lock:
            files.pop("files/" + fid, None)
        return jsonify({})

    @app.get(f"/{VER}/files")
    def list_files(ver: str) -> Response:
        check_key(api_key)
        with lock:
            listed = [f.resource(request.host_url) for f in files.values()]
        return jsonify({"files": listed} if listed else {})

    return FileRoutes(lookup, put)


def _processing_error(mime: str, data: bytes) -> str | None:
    """Why processing would fail (the file then ends FAILED), or None."""
    if canonical_mime(mime) not in ALLOWED_CANONICAL:
        return None  # stored as-is; rejected when used in a request
    try:
        media = inspect_media(data)
    except MediaError as exc:
        return str(exc)
    if canonical_mime(media.mime) != canonical_mime(mime):
        return f"File content is {media.mime or 'unknown data'}, not {mime}"
    return None
