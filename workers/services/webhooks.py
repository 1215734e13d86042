"""Signed webhooks for job and batch events, retried for hours.

Events: ``job.succeeded``, ``job.failed``, ``job.canceled`` (to a job's ``webhook.url``) and
``batch.completed``, ``batch.failed``, ``batch.cancelled`` (to a batch's). The body is a
Standard Webhooks payload ``{"type", "timestamp", "data"}``; headers ``webhook-id`` (the
same on every retry, so receivers can drop duplicates), ``webhook-timestamp`` and
``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` over ``id.timestamp.body`` with the
``whsec_…`` secret ``FERRY_WEBHOOK_SECRET``). Receivers verify with the
``standardwebhooks`` library: ``Webhook(secret).verify(body, headers)``.

A non-2xx answer or a network error is retried with exponential backoff and jitter
(``FERRY_WEBHOOK_RETRY_BASE`` doubling, capped at ``FERRY_WEBHOOK_RETRY_MAX`` and always
under the broker's 900 s visibility timeout, since a Redis-broker ETA task held longer is
delivered twice) for ``FERRY_WEBHOOK_MAX_ATTEMPTS`` attempts (default 50: about five hours).
``410 Gone`` and a URL the SSRF guard refuses stop at once. Every attempt (time, status,
error) is listed on the job or batch under ``webhook.attempts``.
"""
from __future__ import annotations

import json
import random
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import httpx
from standardwebhooks.webhooks import Webhook

from workers.context import Context
from workers.core import keys
from workers.core.errors import BadRequest, FerryError
from workers.net.guard import guarded_client
from workers.services.batches import view as batch_view
from workers.state.metrics import count

#: Countdown ceiling: below the broker's visibility_timeout (900 s, workers/tasks/celery.py) with margin.
VISIBILITY_MARGIN_CAP = 840.0
JOB_FIELDS = ("id", "object", "status", "stage", "model", "created_at", "updated_at", "metadata", "result", "error")


def check_url(url: Any, param: str = "webhook.url") -> str:
    """Syntax only (http/https with a host); addresses are checked by the SSRF guard at send time."""
    if not isinstance(url, str) or len(url) > 2048:
        raise BadRequest("webhook.url must be an http(s) URL", param=param)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest("webhook.url must be an http(s) URL", param=param)
    return url


def backoff(retries: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: base * 2**retries, capped, times a random 0.5-1."""
    ceiling = min(cap, VISIBILITY_MARGIN_CAP, base * (2 ** min(retries, 30)))
    return ceiling * (0.5 + random.random() / 2)


def sign_headers(secret: str | None, msg_id: str, body: str, now: datetime | None = None) -> dict[str, str]:
    now = now or datetime.now(timezone.utc)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp()))}
    if secret:
        headers["webhook-signature"] = Webhook(secret).sign(msg_id, now, body)
    return headers


def post(ctx: Context, url: str, msg_id: str, event: str, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """One attempt. Returns (attempt record, outcome: delivered | retry | give_up)."""
    started = time.time()
    body = json.dumps({"type": event, "timestamp": datetime.now(timezone.utc).isoformat(), "data": data})
    headers = {"Content-Type": "application/json", "User-Agent": "Ferry-Webhooks/0.1",
               **sign_headers(ctx.settings.webhook_secret, msg_id, body)}
    attempt: dict[str, Any] = {"at": int(started), "status": None, "error": None}
    outcome = "retry"
    try:
        with guarded_client(allow_private=ctx.settings.allow_private_urls, timeout=ctx.settings.webhook_timeout,
                            max_redirects=0) as client:
            resp = client.post(url, content=body.encode(), headers=headers)
        attempt["status"] = resp.status_code
        if 200 <= resp.status_code < 300:
            outcome = "delivered"
        elif resp.status_code == 410:
            attempt["error"] = "410 Gone: the receiver asked not to be called again"
            outcome = "give_up"
        else:
            attempt["error"] = f"HTTP {resp.status_code}"
    except FerryError as exc:  # the SSRF guard refused the address: retrying cannot help
        attempt["error"] = exc.message
        outcome = "give_up"
    except httpx.HTTPError as exc:
        attempt["error"] = f"{type(exc).__name__}: {exc}"[:300]
    attempt["duration_ms"] = int((time.time() - started) * 1000)
    count(ctx.redis, f"webhook_attempts|{outcome}")
    return attempt, outcome


def _deliver(ctx: Context, retries: int, url: str, msg_id: str, event: str, data: dict[str, Any],
             load: Any, save: Any) -> float | None:
    """Send once and record the attempt; returns the delay before the next attempt, or None when done."""
    state = load() or {"url": url, "event": event, "status": "pending", "attempts": []}
    if state.get("status") in ("delivered", "failed"):
        return None  # a redelivered task after the final attempt
    attempt, outcome = post(ctx, url, msg_id, event, data)
    attempt["attempt"] = len(state["attempts"]) + 1
    state["attempts"].append(attempt)
    state["event"] = event
    last = attempt["attempt"] >= ctx.settings.webhook_max_attempts
    if outcome == "delivered":
        state["status"] = "delivered"
    elif outcome == "give_up" or last:
        state["status"] = "failed"
    else:
        delay = backoff(retries, ctx.settings.webhook_retry_base, ctx.settings.webhook_retry_max)
        state["next_attempt_at"] = int(time.time() + delay)
        save(state)
        return delay
    state.pop("next_attempt_at", None)
    save(state)
    return None


def job_event(status: str) -> str:
    return {"succeeded": "job.succeeded", "failed": "job.failed"}.get(status, "job.canceled")


def deliver_job(ctx: Context, job_id: str, retries: int = 0) -> float | None:
    """One attempt of the job's event to its ``webhook.url``; the delay before the next one, or None."""
    record = ctx.store.record(job_id)
    hook = record.get("webhook") or {}
    if not hook.get("url"):
        return None
    view = ctx.store.view(job_id) or {}
    event = job_event(view.get("status", "failed"))
    data = {k: view.get(k) for k in JOB_FIELDS if k in view}
    return _deliver(ctx, retries, hook["url"], f"msg_{job_id}", event, data,
                    lambda: ctx.store.field(job_id, "webhook"), lambda s: ctx.store.put_field(job_id, "webhook", s))


def deliver_batch(ctx: Context, batch_id: str, retries: int = 0) -> float | None:
    """One attempt of the batch's event to its webhook; the delay before the next one, or None."""
    key = keys.batch(batch_id)
    view = batch_view(ctx, batch_id)
    rec = json.loads(ctx.redis.hget(key, "record") or b"{}")
    url = (rec.get("webhook") or {}).get("url")
    if not url:
        return None
    event = f"batch.{view['status']}"
    view.pop("webhook", None)

    def load() -> Any:
        raw = ctx.redis.hget(key, "webhook")
        return json.loads(raw) if raw else None

    return _deliver(ctx, retries, url, f"msg_{batch_id}", event, view, load,
                    lambda s: ctx.redis.hset(key, "webhook", json.dumps(s)))
