"""Staging: put an output where a provider can read it itself (s3:// or gs:// URI, presigned URL).

Targets come from ``FERRY_STAGING`` (comma-separated ``s3://bucket/prefix`` / ``gs://bucket/prefix``),
or ``FERRY_STORAGE`` when that is a cloud bucket. When the target is the blob store itself nothing
is copied; otherwise the blob is streamed through a temp file into ``blobs/<sha256>`` there, once
(content addressed). Storage failures (missing bucket, refused credentials) surface as the backend's
:class:`StorageError`, so the job fails at stage ``deliver`` saying which bucket and why.
"""
from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

from workers.storage.blobs import blob_key, get_blob
from workers.context import Context
from workers.core.errors import StorageError, Unprocessable
from workers import storage
from workers.storage.base import Storage


#: Staging backends are built once per URI (a boto3 or GCS client each).
_target = lru_cache(maxsize=8)(storage.open)


def targets(ctx: Context) -> dict[str, str]:
    """scheme -> staging URI (the first one per scheme wins)."""
    out: dict[str, str] = {}
    for uri in ctx.settings.staging_uris():
        out.setdefault(uri.split("://", 1)[0], uri)
    return out


def store_for(ctx: Context, scheme: str) -> Storage:
    uri = targets(ctx).get(scheme)
    if uri is None:
        raise StorageError(f"no {scheme}:// staging configured (FERRY_STAGING or FERRY_STORAGE)")
    if uri.rstrip("/") == ctx.settings.storage.rstrip("/"):
        return ctx.storage
    if not uri.startswith(("s3://", "gs://")):
        raise StorageError(f"FERRY_STAGING entry {uri!r} must be s3://bucket[/prefix] or gs://bucket[/prefix]")
    return _target(uri)


def can_presign(ctx: Context) -> bool:
    """True when some staging target can mint URLs (GCS with anonymous credentials cannot)."""
    for scheme in targets(ctx):
        try:
            if store_for(ctx, scheme).presigned_url("blobs/probe", 60):
                return True
        except StorageError:
            continue
    return False


def stage(ctx: Context, scheme: str, sha256: str, mime: str | None) -> tuple[Storage, str, bool]:
    """(store, key, already there) after making sure ``blobs/<sha256>`` is in the ``scheme`` target."""
    store = store_for(ctx, scheme)
    key = blob_key(sha256)
    if store is ctx.storage or store.exists(key):
        return store, key, True
    with tempfile.TemporaryDirectory(prefix="ferry-stage-") as tmp:
        path = Path(tmp) / "blob"
        get_blob(ctx.storage, sha256, path)  # checked against its hash: a bad blob is never staged
        store.put_file(key, path, mime)
    return store, key, False


def stage_uri(ctx: Context, scheme: str, sha256: str, mime: str | None) -> tuple[str, bool]:
    store, key, cached = stage(ctx, scheme, sha256, mime)
    return store.uri(key), cached


def presign_seconds(ctx: Context, store: Storage, key: str, lifetime: int | None) -> int:
    """How long a URL from ``store`` is signed for: ``FERRY_PRESIGN_SECONDS``, or at least ``lifetime`` (a
    native batch line's provider may read it a whole batch window later), within what the signer allows.
    A ``lifetime`` no signature can cover is the line's error (422): a URL that dies before it is read is
    never handed out."""
    seconds = max(ctx.settings.presign_seconds, lifetime or 0)
    cap = store.presign_max_seconds
    if cap is not None and seconds > cap:
        if lifetime and lifetime > cap:
            raise Unprocessable(f"a presigned URL for this native batch line must stay valid {lifetime} s (the "
                                f"provider's batch window plus FERRY_BATCH_REF_MARGIN_SECONDS), longer than "
                                f"{store.uri(key)} can be signed for ({cap} s); run the line as a job "
                                "(ferry.mode 'jobs') or deliver it another way", stage="deliver")
        seconds = cap  # FERRY_PRESIGN_SECONDS above the signer's maximum: the longest it can give
    return seconds


def presigned(ctx: Context, sha256: str, mime: str | None, lifetime: int | None = None) -> tuple[str, bool]:
    """A presigned HTTPS URL from the first staging target that can sign, valid at least ``lifetime`` s."""
    for scheme in targets(ctx):
        store, key, cached = stage(ctx, scheme, sha256, mime)
        url = store.presigned_url(key, presign_seconds(ctx, store, key, lifetime))
        if url:
            return url, cached
    raise StorageError("no staging target can presign URLs (GCS needs a service-account key to sign)")
