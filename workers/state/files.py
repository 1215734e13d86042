"""Ferry's own files (``/v1/files``): bytes in storage, the OpenAI ``file`` object in Redis.

Bytes live at ``files/<tenant>/<id>`` in Ferry's storage, so keys are namespaced by
tenant and one tenant's id can never reach another's bytes; the record at
``ferry:file:<id>`` is the OpenAI file object plus the tenant, size, sha256 and sniffed
MIME type. Batch inputs and outputs live here, and so does media that a request names
by ``file-…`` id (``image_url.url`` or ``file.file_id``): the fetch stage copies it into
the content-addressed blob store like any download.
"""
from __future__ import annotations

import hashlib
import io
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from workers.storage.blobs import blob_key, file_sha256, put_blob
from workers.core import keys
from workers.core.errors import BadRequest, NotFound
from workers.state.handles import Handles as Context

#: Purposes a client may upload with (OpenAI's names); ``batch_output`` and ``output`` (generated images and
#: audio, workers/services/outputs.py) are Ferry-written.
UPLOAD_PURPOSES = ("batch", "user_data", "vision")
PURPOSES = (*UPLOAD_PURPOSES, "batch_output", "output")
PUBLIC_FIELDS = ("id", "object", "bytes", "created_at", "filename", "purpose", "status", "status_details",
                 "expires_at")


def new_file_id() -> str:
    return "file-" + secrets.token_hex(12)


def _key(file_id: str) -> str:
    return keys.file(file_id)


def _index(tenant: str) -> str:
    return keys.tenant_files(tenant)


def storage_key(tenant: str, file_id: str) -> str:
    return f"files/{tenant}/{file_id}"


def public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in PUBLIC_FIELDS}


#: Files with an ``expires_at``, scored by it; :func:`sweep_expired` deletes them when due.
EXPIRING = keys.FILES_EXPIRING


def _commit(ctx: Context, record: dict[str, Any]) -> dict[str, Any]:
    pipe = ctx.redis.pipeline()
    pipe.set(_key(record["id"]), json.dumps(record))
    pipe.zadd(_index(record["tenant"]), {record["id"]: record["created_at_precise"]})
    if record.get("expires_at"):
        pipe.zadd(EXPIRING, {record["id"]: record["expires_at"]})
    pipe.execute()
    return public(record)


def _new_record(tenant: str, file_id: str, filename: str, purpose: str, size: int, sha256: str,
                mime: str | None) -> dict[str, Any]:
    now = time.time()
    return {"id": file_id, "object": "file", "bytes": size, "created_at": int(now), "filename": filename,
            "purpose": purpose, "status": "processed", "status_details": None, "expires_at": None,
            "tenant": tenant, "sha256": sha256, "mime": mime, "created_at_precise": now}


def check_purpose(purpose: Any) -> str:
    if purpose not in UPLOAD_PURPOSES:
        raise BadRequest(f"purpose must be one of {', '.join(UPLOAD_PURPOSES)}, not {purpose!r}", param="purpose")
    return purpose


def create_from_path(ctx: Context, tenant: str, path: Path, filename: str, purpose: str,
                     mime: str | None = None) -> dict[str, Any]:
    """Store an uploaded file (already spooled to ``path``) and return its OpenAI file object.

    ``mime`` is what the caller sniffed from the bytes (batch inputs default to JSONL)."""
    sha256 = file_sha256(path)
    file_id = new_file_id()
    mime = mime or ("application/jsonl" if purpose == "batch" else None)
    ctx.storage.put_file(storage_key(tenant, file_id), path, mime)
    return _commit(ctx, _new_record(tenant, file_id, filename, purpose, path.stat().st_size,
                                    sha256, mime))


def write_bytes(ctx: Context, tenant: str, file_id: str, filename: str, purpose: str, data: bytes,
                mime: str = "application/jsonl", expires_at: int | None = None) -> dict[str, Any]:
    """Write a Ferry-made file under a chosen id (batch outputs: rewriting it is idempotent);
    with ``expires_at`` it is deleted after that time (generated outputs live as long as their job)."""
    ctx.storage.put_stream(storage_key(tenant, file_id), io.BytesIO(data), mime)
    old = _load(ctx, file_id)
    record = _new_record(tenant, file_id, filename, purpose, len(data), hashlib.sha256(data).hexdigest(), mime)
    record["expires_at"] = expires_at
    if old is not None:  # keep the first creation time across a redelivered finalize
        record["created_at"], record["created_at_precise"] = old["created_at"], old["created_at_precise"]
    return _commit(ctx, record)


def _load(ctx: Context, file_id: str) -> dict[str, Any] | None:
    raw = ctx.redis.get(_key(file_id))
    return json.loads(raw) if raw else None


def record(ctx: Context, tenant: str, file_id: str, param: str = "file_id") -> dict[str, Any]:
    """The full record of ``file_id`` if ``tenant`` owns it; 404 otherwise (never says whose it is)."""
    rec = _load(ctx, file_id) if isinstance(file_id, str) else None
    if rec is None or rec.get("tenant") != tenant:
        raise NotFound(f"no file {file_id!r}", param=param)
    return rec


def get(ctx: Context, tenant: str, file_id: str) -> dict[str, Any]:
    return public(record(ctx, tenant, file_id, param="file_id"))


@contextmanager
def open_content(ctx: Context, tenant: str, file_id: str) -> Iterator[BinaryIO]:
    rec = record(ctx, tenant, file_id)
    with ctx.storage.open(storage_key(tenant, rec["id"])) as fh:
        yield fh


def read_bytes(ctx: Context, tenant: str, file_id: str) -> bytes:
    with open_content(ctx, tenant, file_id) as fh:
        return fh.read()


def delete(ctx: Context, tenant: str, file_id: str) -> dict[str, Any]:
    rec = record(ctx, tenant, file_id)
    ctx.storage.delete(storage_key(tenant, rec["id"]))
    pipe = ctx.redis.pipeline()
    pipe.delete(_key(file_id))
    pipe.zrem(_index(tenant), file_id)
    pipe.zrem(EXPIRING, file_id)
    pipe.execute()
    return {"id": file_id, "object": "file", "deleted": True}


def sweep_expired(ctx: Context, now: float | None = None, limit: int = 1000) -> int:
    """Delete files past their ``expires_at``; returns how many."""
    deleted = 0
    for raw in ctx.redis.zrangebyscore(EXPIRING, 0, time.time() if now is None else now, start=0, num=limit):
        file_id = raw.decode()
        rec = _load(ctx, file_id)
        if rec is None:
            ctx.redis.zrem(EXPIRING, file_id)
            continue
        delete(ctx, rec["tenant"], file_id)
        deleted += 1
    return deleted


def list_files(ctx: Context, tenant: str, *, purpose: str | None = None, limit: int = 10_000,
               after: str | None = None, order: str = "desc") -> dict[str, Any]:
    """OpenAI's cursor page: newest first by default, ``after`` = the last id of the previous page."""
    index = _index(tenant)
    desc = order != "asc"
    start = 0
    if after:
        rank = ctx.redis.zrevrank(index, after) if desc else ctx.redis.zrank(index, after)
        if rank is None:
            raise NotFound(f"no file {after!r}", param="after")
        start = int(rank) + 1
    out: list[dict[str, Any]] = []
    has_more = False
    chunk = max(100, min(limit + 1, 1000))
    while True:
        ids = (ctx.redis.zrevrange if desc else ctx.redis.zrange)(index, start, start + chunk - 1)
        if not ids:
            break
        start += len(ids)
        raws = ctx.redis.mget([_key(i.decode()) for i in ids])
        for raw in raws:
            if raw is None:
                continue
            rec = json.loads(raw)
            if purpose and rec.get("purpose") != purpose:
                continue
            if len(out) == limit:
                has_more = True
                break
            out.append(public(rec))
        if has_more or len(ids) < chunk:
            break
    return {"object": "list", "data": out, "first_id": out[0]["id"] if out else None,
            "last_id": out[-1]["id"] if out else None, "has_more": has_more}


def to_blob(ctx: Context, tenant: str, file_id: str, tmpdir: Path) -> dict[str, Any]:
    """Copy a Ferry file into the content-addressed blob store (once) for the media pipeline.

    Returns the source facts the fetch stage records: bytes, sha256, filename, content type.
    """
    rec = record(ctx, tenant, file_id, param="file_id")
    if not ctx.storage.exists(blob_key(rec["sha256"])):
        dest = tmpdir / "ferry-file"
        ctx.storage.get_to_file(storage_key(tenant, file_id), dest)
        put_blob(ctx.storage, dest, rec["sha256"], content_type=rec.get("mime"))
    return {"bytes": rec["bytes"], "sha256": rec["sha256"], "filename": rec["filename"],
            "content_type": rec.get("mime")}
