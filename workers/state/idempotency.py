"""Idempotency-Key on POST /v1/jobs: the same key and body give the same job.

A key is claimed per tenant with one ``SET NX`` of
``ferry:idem:<tenant>:<sha256(key)>`` → ``{"body": <sha256 of the canonical
body>, "job": <job id>}`` that expires after ``FERRY_IDEMPOTENCY_TTL``
(default 24 h). The job id is chosen *before* the claim, so of two concurrent
identical submits exactly one wins the ``SET NX`` and creates the job; the
other reads the claim and answers with the winner's id (waiting briefly for
the winner to commit the record). A different body under a claimed key is a
409 ``conflict_error``. The key itself is only stored hashed.

If the winner fails before committing its job (validation passed, storage
failed), it releases the claim so a retry with the same key can succeed.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import redis

from workers.core import keys
from workers.core.errors import BadRequest, Conflict

MAX_KEY_LENGTH = 255

# KEYS[1] claim; ARGV[1] value we wrote. Delete only our own claim.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def body_digest(body: Any) -> str:
    """sha256 of the body as canonical JSON (key order and whitespace do not matter)."""
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canon.encode("utf-8", "surrogatepass")).hexdigest()


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise BadRequest(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters",
                         param="Idempotency-Key")
    return key


def claim_key(tenant: str, key: str) -> str:
    return keys.idempotency(tenant, hashlib.sha256(key.encode()).hexdigest())


@dataclass
class Claim:
    redis_key: str
    value: str
    job_id: str
    won: bool  # True: this request created the claim and must create the job


def claim(r: redis.Redis, tenant: str, key: str, digest: str, job_id: str, ttl: int) -> Claim:
    """Claim (tenant, key) for ``job_id``, or return the existing claim's job id.

    Raises :class:`Conflict` when the key was used with a different body.
    """
    rkey = claim_key(tenant, key)
    value = json.dumps({"body": digest, "job": job_id})
    for _ in range(3):
        if r.set(rkey, value, nx=True, ex=max(1, int(ttl))):
            return Claim(rkey, value, job_id, won=True)
        raw = r.get(rkey)
        if raw is None:  # expired or released between SET and GET: try again
            continue
        held = json.loads(raw)
        if held["body"] != digest:
            raise Conflict("this Idempotency-Key was already used with a different request body",
                           param="Idempotency-Key")
        return Claim(rkey, raw.decode() if isinstance(raw, bytes) else raw, held["job"], won=False)
    raise Conflict("this Idempotency-Key is being claimed concurrently; retry", param="Idempotency-Key")


def release(r: redis.Redis, c: Claim) -> None:
    """Give the key back after a failed submit (only if it is still ours)."""
    if c.won:
        r.eval(_RELEASE, 1, c.redis_key, c.value)


def wait_for_job(exists: Any, job_id: str, timeout: float = 10.0) -> bool:
    """Wait for a concurrent winner to commit ``job_id`` (``exists`` is JobStore.exists)."""
    deadline = time.monotonic() + timeout
    while not exists(job_id):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
