"""Sources that are not plain URLs: ``s3://`` and ``gs://`` objects, and YouTube links.

Cloud objects are streamed to a temp file (hashing as they come, under FERRY_MAX_DOWNLOAD_BYTES),
then stored as a blob like any download, with boto3 / google-cloud-storage's own credentials. A
YouTube link is not fetched at all: Gemini reads it itself, so the resource passes through with a
single ``video`` output carrying the URL (only models whose catalog lists ``youtube`` accept it).
"""
from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

from workers.storage.blobs import put_blob
from workers.context import Context
from workers.core.errors import FetchError, StorageError, TooLarge
from workers.providers.catalog import ModelCaps
from workers import storage

CHUNK = 1024 * 1024


def check_allowed(uri: str, allowed: list[str]) -> None:
    """Workers read cloud sources with their own credentials, so a tenant must never be able to name
    any object those credentials reach (Ferry's own buckets included): only listed prefixes are read."""
    if not any(uri == p or uri.startswith(p.rstrip("/") + "/") for p in allowed):
        where = ", ".join(allowed) if allowed else "none are configured"
        raise FetchError(f"{uri} is not under an allowed source bucket (FERRY_SOURCE_BUCKETS: {where})")


def fetch_cloud(ctx: Context, uri: str) -> dict[str, Any]:
    """Stream an s3:// or gs:// object into a blob; returns the source fields."""
    check_allowed(uri, ctx.settings.source_bucket_list())
    limit = ctx.settings.max_download_bytes
    digest = hashlib.sha256()
    size = 0
    with tempfile.TemporaryDirectory(prefix="ferry-") as tmp:
        path = Path(tmp) / "download"
        try:
            store, key = storage.locate(uri)
            with store.open(key) as src, path.open("wb") as dst:
                while block := src.read(CHUNK):
                    size += len(block)
                    if size > limit:
                        raise TooLarge(f"{uri} is over FERRY_MAX_DOWNLOAD_BYTES ({limit} bytes)")
                    digest.update(block)
                    dst.write(block)
        except StorageError as exc:
            if exc.retryable:
                raise
            raise FetchError(f"{uri} could not be read: {exc.message}") from exc
        put_blob(ctx.storage, path, digest.hexdigest())
    return {"bytes": size, "sha256": digest.hexdigest()}


def youtube_passthrough(url: str) -> dict[str, Any]:
    """Resource fields for a YouTube link: nothing fetched, one output that is the link itself."""
    return {
        "facts": {"kind": "video", "mime": None, "youtube": True},
        "transforms": [],
        "outputs": [{"kind": "video", "mime": None, "youtube": True, "url": url, "bytes": 0, "sha256": None}],
    }


_KIND_OF = {"image": "image", "audio": "audio", "video": "video"}


def cloud_passthrough(ctx: Context, uri: str, scheme: str, caps: ModelCaps) -> dict[str, Any] | None:
    """Resource fields for a cloud source the provider reads itself (Vertex: ``gs://``), or None to fetch it.

    Only when the catalog says the provider reads that scheme (``source_passthrough``) and takes the object's
    kind by storage delivery in its stored format (the object's Content-Type, read from its metadata, not its
    bytes); anything else is downloaded and converted as usual. The allow-list applies all the same: the
    provider reads the object with Ferry's credentials."""
    if scheme not in caps.source_passthrough:
        return None
    check_allowed(uri, ctx.settings.source_bucket_list())
    store, key = storage.locate(uri)
    stat = getattr(store, "stat", None)
    if stat is None:
        return None
    try:
        size, mime = stat(key)
    except StorageError as exc:
        if exc.retryable:
            raise
        raise FetchError(f"{uri} could not be read: {exc.message}") from exc
    mime = (mime or "").split(";")[0].strip().lower()
    kind = "document" if mime == "application/pdf" else _KIND_OF.get(mime.split("/")[0])
    kcaps = caps.caps_for(kind) if kind else None  # type: ignore[arg-type]
    if kcaps is None or "storage" not in kcaps.delivery or kcaps.storage_scheme != scheme or mime not in kcaps.formats:
        return None
    out = {"kind": kind, "mime": mime, "passthrough": True, "url": uri, "bytes": size, "sha256": None}
    return {"facts": {"kind": kind, "mime": mime, "passthrough": True},
            "transforms": [], "outputs": [out],
            "notes": [f"{caps.provider} reads {scheme}:// itself: {uri} ({mime}, {size} bytes) is sent as its URI, "
                      "not downloaded (so Ferry checks no pixels, pages or duration of it)"]}


def passes_through(res: Any) -> bool:
    """A resource Ferry does not fetch or convert: a YouTube link, or a cloud object the provider reads."""
    return (res.get("source") or {}).get("kind") == "youtube" or bool((res.get("facts") or {}).get("passthrough"))
