"""Do a piece of work once per key, however many workers ask for it at the same time.

The first caller takes a claim (``SET NX`` with an expiry, so a dead winner frees it), produces the
value and publishes it; the others wait for the value instead of repeating the work. A winner that
fails releases its claim, and a waiter then claims in turn. Used for downloads (keyed by URL),
transforms (source sha256 + recipe) and provider uploads (provider, account, variant sha256), so
the same bytes are fetched, transformed and uploaded once.

Every produced value bumps ``ferry:stats:produced:<kind>`` (kind = the key up to its first ``:``), which
is how tests and bench/p5 count real work.
"""
from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis

from workers.core import keys

T = TypeVar("T")

#: Compare-and-delete: release the claim only if it is still ours.
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def stats_key(kind: str) -> str:
    return keys.produced(kind)


def produced_count(r: redis.Redis, kind: str) -> int:
    return int(r.get(stats_key(kind)) or 0)


def once(
    r: redis.Redis,
    key: str,
    produce: Callable[[], T],
    *,
    ttl: int = 0,
    lookup: Callable[[], T | None] | None = None,
    valid: Callable[[T], bool] | None = None,
    claim_seconds: int = 900,
    wait_seconds: float = 900.0,
) -> tuple[T, bool]:
    """``(value, produced_here)``.

    Without ``lookup`` the value is kept as JSON under ``ferry:once:<key>`` for ``ttl`` seconds (waiters
    read it there, so ``ttl`` must be > 0 to share work). With ``lookup`` the producer stores the value
    itself (e.g. the file-id cache with the provider's expiry) and ``lookup`` finds it.
    ``valid`` rejects a remembered value whose backing object is gone (it is then produced again).
    """
    result_key = keys.once_result(key)
    claim_key = keys.once_claim(key)

    def find() -> T | None:
        if lookup is not None:
            return lookup()
        raw = r.get(result_key)
        if raw is None:
            return None
        value: T = json.loads(raw)
        if valid is not None and not valid(value):
            r.delete(result_key)
            return None
        return value

    deadline = time.monotonic() + wait_seconds
    pause = 0.02
    while True:
        found = find()
        if found is not None:
            return found, False
        token = secrets.token_hex(8)
        if r.set(claim_key, token, nx=True, ex=claim_seconds):
            try:
                found = find()  # the previous winner may have published between our look and our claim
                if found is not None:
                    return found, False
                value = produce()
                if lookup is None and ttl > 0:
                    r.set(result_key, json.dumps(value), ex=ttl)
                r.incr(stats_key(key.split(":", 1)[0]))
                return value, True
            finally:
                r.eval(_RELEASE, 1, claim_key, token)
        if time.monotonic() > deadline:
            # The winner is stuck past our patience: do the work ourselves rather than fail the job.
            value = produce()
            r.incr(stats_key(key.split(":", 1)[0]))
            return value, True
        time.sleep(pause)
        pause = min(pause * 1.5, 0.25)


def digest(*parts: Any) -> str:
    """A short stable hash of JSON-able parts, for keys."""
    import hashlib

    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]
