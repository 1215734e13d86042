"""Retention of stored media: blobs live as long as the last job (or file) that references them.

Blobs are content-addressed and shared (the same bytes are stored once for every job that uses them),
so a blob cannot expire with one job. Instead each reference is tracked in Redis:

``ferry:blobref:<sha256>`` (sorted set)  owner (job id, or any id a caller passes) → expiry time
``ferry:blobs`` (sorted set)             sha256 → latest expiry among its owners
``ferry:owner:<owner>:blobs`` (set)      the blobs an owner references (for purges)

Jobs register their source and output blobs as the fetch and transform steps finish, with the job's
own expiry (``FERRY_JOB_TTL_SECONDS``). :func:`sweep` (run by the reaper thread in the workers, see
workers/tasks/reaper.py) deletes blobs whose every owner has expired or no longer exists.
:func:`purge` drops one owner's references at once and deletes the blobs nobody else references:
``DELETE /v1/jobs/{id}?purge=true`` cancels the job and purges its media; the Files API calls
``purge(ctx, file_id)`` (after ``track(ctx, file_id, shas, ...)``) for media it derived from a file.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import redis

from workers.core import keys
from workers.state.handles import Handles as Context
from workers.state.files import sweep_expired  # generated outputs expire with their job
from workers.storage.blobs import blob_key


log = logging.getLogger("ferry.retention")

BLOBS = keys.BLOBS


def _ref(sha: str) -> str:
    return keys.blob_refs(sha)


def _owned(owner: str) -> str:
    return keys.owner_blobs(owner)


def track(ctx: Context, owner: str, shas: Iterable[str | None], ttl: float | None = None,
          pipe: redis.client.Pipeline | None = None) -> None:
    """``owner`` references these blobs until ``ttl`` seconds from now (default: the job TTL); on a
    given ``pipe`` the writes go with the caller's others."""
    shas = [s for s in shas if s]
    if not shas:
        return
    ttl = ctx.settings.job_ttl_seconds if ttl is None else ttl
    expires = time.time() + ttl
    own = pipe is None
    pipe = ctx.redis.pipeline() if pipe is None else pipe
    for sha in shas:
        pipe.zadd(_ref(sha), {owner: expires})
        pipe.zadd(BLOBS, {sha: expires}, gt=True)  # only ever pushes the blob's expiry later
        pipe.zadd(BLOBS, {sha: expires}, nx=True)
        pipe.sadd(_owned(owner), sha)
    pipe.expire(_owned(owner), int(ttl) + 3600)
    if own:
        pipe.execute()


def _owner_alive(ctx: Context, owner: str) -> bool:
    if owner.startswith("job_"):
        return ctx.store.exists(owner)
    return True  # other owners (files) are trusted to their expiry or an explicit purge


def _delete_if_unreferenced(ctx: Context, sha: str, now: float) -> bool:
    r = ctx.redis
    r.zremrangebyscore(_ref(sha), 0, now)
    for raw in r.zrange(_ref(sha), 0, -1):
        owner = raw.decode()
        if not _owner_alive(ctx, owner):
            r.zrem(_ref(sha), owner)
    latest = r.zrange(_ref(sha), -1, -1, withscores=True)
    if latest:
        r.zadd(BLOBS, {sha: latest[0][1]})
        return False
    ctx.storage.delete(blob_key(sha))
    pipe = r.pipeline()
    pipe.zrem(BLOBS, sha)
    pipe.delete(_ref(sha))
    pipe.execute()
    log.info("retention: deleted blob %s", sha)
    return True


def sweep(ctx: Context, now: float | None = None, limit: int = 1000) -> int:
    """Delete blobs whose owners have all expired, and expired files; returns how many were deleted."""
    now = time.time() if now is None else now
    deleted = 0
    for raw in ctx.redis.zrangebyscore(BLOBS, 0, now, start=0, num=limit):
        try:
            deleted += _delete_if_unreferenced(ctx, raw.decode(), now)
        except Exception:  # one bad blob must not stop the sweep
            log.exception("retention: could not sweep %s", raw)

    return deleted + sweep_expired(ctx, now, limit)


def purge(ctx: Context, owner: str) -> list[str]:
    """Drop ``owner``'s references now; delete (and return) the blobs no live owner still references."""
    r = ctx.redis
    gone: list[str] = []
    for raw in r.smembers(_owned(owner)):
        sha = raw.decode()
        r.zrem(_ref(sha), owner)
        if _delete_if_unreferenced(ctx, sha, time.time()):
            gone.append(sha)
    r.delete(_owned(owner))
    return gone
