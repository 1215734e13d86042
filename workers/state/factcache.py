"""Inspect once per content: facts about bytes another job already inspected, by sha256.

Inspect is a pure function of the bytes (plus the declared type and file name, which only text formats
read), so the facts of the same bytes are the same for every job and tenant. A 1,000-line batch sharing one
image, or the same PDF sent again, then reads one small Redis value instead of copying the blob out of
storage and decoding it each time. Entries carry :data:`VERSION`; bump it when inspect learns new facts, and
the old entries are simply not found. Errors are not cached: a retry may meet fixed limits or code.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

import redis

from workers.core import keys

#: Bump when the facts inspect computes change shape or meaning.
VERSION = "1"
TTL_SECONDS = 24 * 3600


def hints_digest(declared_mime: str | None, name: str | None) -> str:
    """What besides the bytes inspect may read: the declared type and the name's extension."""
    base = (name or "").rsplit("/", 1)[-1]
    ext = base.rpartition(".")[2].lower() if "." in base else ""
    raw = f"{VERSION}\n{declared_mime or ''}\n{ext}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def get(r: redis.Redis, sha256: str, hints: str) -> dict[str, Any] | None:
    raw = r.get(keys.inspected(sha256, hints))
    return json.loads(raw) if raw else None


def put(r: redis.Redis, sha256: str, hints: str, entry: dict[str, Any]) -> None:
    """Keep the facts, and count one inspect really done (``ferry:stats:produced:inspect``: how tests see it)."""
    pipe = r.pipeline(transaction=False)
    pipe.set(keys.inspected(sha256, hints), json.dumps(entry, separators=(",", ":")), ex=TTL_SECONDS)
    pipe.incr(keys.produced("inspect"))
    pipe.execute()
