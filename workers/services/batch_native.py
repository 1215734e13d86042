"""Native batches (issue 13): a batch's lines sent through the providers' own batch APIs at their batch price.

    ferry.batch_start: a line whose provider has a batch API runs as a job that stops before calling it
      (workers/pipeline/batch_prepare.py) ─▶ its notify records the line as *prepared*
    every line prepared or answered ─▶ ferry.batch_tick (the driver, one at a time per batch, under a lock):
      plan: group lines per provider and model, split at the provider's limits (batch_catalog.toml)
      create: each group's JSONL uploaded and its provider batch created (idempotent: a deterministic tag)
      poll: every FERRY_BATCH_POLL_SECONDS, backing off ×1.5 while nothing changes (at most ×10)
      collect: each ended provider batch's results mapped back to the lines, bodies as chat.completion
    the last line counted ─▶ ferry.batch_finalize writes the output and error files (workers/services/batch_lines.py)

Crash safety: a group's state is written before each upstream step and after it; creation finds a provider batch
already made for its tag instead of making a second; lines are counted once (Lua). Each driver step marks the
batch due in ``ferry:batches:ticking``; the reaper re-sends an overdue step, so a killed worker loses nothing.
"""
from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from workers.context import Context
from workers.core import keys, queue
from workers.core.errors import UpstreamError
from workers.providers import batch_catalog
from workers.providers.catalog import ModelCaps
from workers.providers.base import Call, get_adapter
from workers.providers.batch_api import Result, State, client
from workers.services import batch_jobs, batch_plan
from workers.state import batch_groups as groups_db
from workers.state import batches as records
from workers.state.leases import PassLock, hold
from workers.storage.blobs import blob_key

log = logging.getLogger("ferry.batches")


# -- lines ------------------------------------------------------------------------------------------

def line_prepared(ctx: Context, batch_id: str, index: int, custom_id: str, job_id: str) -> None:
    """A native line's job stored its provider request: keep it for its group; the last one starts the driver."""
    raw = ctx.redis.hget(keys.job(job_id), "batch_line")
    if raw is None:
        return
    info = {**json.loads(raw), "job_id": job_id, "user_custom_id": custom_id}
    groups_db.put_prepared(ctx.redis, batch_id, index, info, ctx.settings.job_ttl_seconds)
    if groups_db.settled(ctx.redis, batch_id):
        kick(ctx, batch_id)


def line_counted(ctx: Context, batch_id: str) -> None:
    """A line was answered (as a job, or an error): if it was the last unsettled one of a batch with native
    lines, start the driver."""
    if ctx.redis.exists(keys.batch(batch_id, "prepared")) and groups_db.settled(ctx.redis, batch_id):
        kick(ctx, batch_id)


def req_id(batch_id: str, index: int) -> str:
    """A line's ``id`` in the output and error files."""
    return f"batch_req_{batch_id.removeprefix('batch_')}_{index}"


def count_line(ctx: Context, batch_id: str, index: int, ok: bool, line: dict[str, Any],
               usage: dict[str, Any] | None = None, cost: dict[str, Any] | None = None) -> int:
    """Count one finished line exactly once (with its usage and cost); the line that completes the batch
    queues the finalize. Returns the store's answer: -1 counted already, 1 the last line, 0 others."""
    n = records.count_line(ctx.redis, batch_id, index, ok, line, usage or {}, ctx.settings.job_ttl_seconds)
    if n != -1:
        records.add_cost(ctx.redis, batch_id, cost)
    if n == 1:
        queue.send("ferry.batch_finalize", batch_id)
    return n


def _answer(ctx: Context, batch_id: str, index: int, info: dict[str, Any], ok: bool, line: dict[str, Any],
            group: dict[str, Any] | None = None, usage: dict[str, Any] | None = None,
            cost: dict[str, Any] | None = None) -> None:
    """A native line's answer: its job ends with it (workers/services/batch_jobs.py), then it is counted once."""
    batch_jobs.answered(ctx, info, line, group)
    count_line(ctx, batch_id, index, ok, line, usage, cost)


def _error(batch_id: str, index: int, custom_id: str | None, code: str, message: str) -> dict[str, Any]:
    return {"id": req_id(batch_id, index), "custom_id": custom_id, "response": None,
            "error": {"code": code, "message": message}}


# -- the driver -------------------------------------------------------------------------------------

def kick(ctx: Context, batch_id: str, countdown: float | None = None) -> None:
    """Queue a driver step (now, or after ``countdown``) and mark when it is due, for the reaper."""
    delay = countdown or 0.0
    countdown = countdown or None
    groups_db.schedule(ctx.redis, batch_id, time.time() + delay + ctx.settings.queue_deadline)
    queue.send("ferry.batch_tick", batch_id, countdown=countdown)


def resend_overdue(ctx: Context, now: float | None = None) -> int:
    """The reaper's part: driver steps that went silent (a killed worker) are sent again."""
    now = time.time() if now is None else now
    due = groups_db.overdue(ctx.redis, now)
    for batch_id in due:
        log.warning("batch %s: driver step overdue; sending it again", batch_id)
        kick(ctx, batch_id)
    return len(due)


def tick(ctx: Context, batch_id: str) -> None:
    """One driver step, alone for this batch (a renewed lock); the next is scheduled unless the batch is done."""
    lock = PassLock(ctx.redis, ttl=max(ctx.settings.lease_seconds, 1.0), key=keys.batch(batch_id, "tick"))
    again_key = keys.batch(batch_id, "tick_again")
    if not lock.acquire():
        ctx.redis.set(again_key, 1, ex=3600)  # the running step looks again when it ends: nothing news is lost
        return
    try:
        ctx.redis.delete(again_key)
        groups_db.schedule(ctx.redis, batch_id, time.time() + ctx.settings.queue_deadline)
        again = _advance(ctx, batch_id, lambda: lock.held)
    finally:
        lock.release()
    if ctx.redis.delete(again_key) and again is not None:
        again = 0.0
    if again is None:
        groups_db.unschedule(ctx.redis, batch_id)
    else:
        kick(ctx, batch_id, countdown=again)


def _advance(ctx: Context, batch_id: str, ours: Any) -> float | None:
    """Plan, create, poll, collect; returns when to look again (seconds), or None when nothing is left."""
    h = records.load(ctx.redis, batch_id)
    if not h or h["status"] in records.FINAL:
        return None
    if not groups_db.settled(ctx.redis, batch_id):
        return ctx.settings.batch_poll_seconds * 10  # a re-check only: the line that settles the batch kicks it
    rec = json.loads(h["record"])
    planned = groups_db.groups(ctx.redis, batch_id) or groups_db.plan(
        ctx.redis, batch_id, _plan(ctx, batch_id), ctx.settings.job_ttl_seconds)
    cancelling = h["status"] == "cancelling"
    changed, running = False, False
    for k, group in planned.items():
        if not ours():
            return ctx.settings.lease_seconds  # lost the lock: the step that holds it carries on
        before = (group["state"], group.get("status"))
        try:
            _step(ctx, batch_id, rec, k, group, cancelling)
        except UpstreamError as exc:
            if exc.retryable:
                log.warning("batch %s group %d: %s (retrying)", batch_id, k, exc)
                running = True
                continue
            _refused(ctx, batch_id, rec, k, group, exc)
        changed |= (group["state"], group.get("status")) != before
        running |= group["state"] != "collected"
    if not running:
        return None
    polls = 0 if changed else int(ctx.redis.hincrby(keys.batch(batch_id), "polls", 1))
    if changed:
        ctx.redis.hset(keys.batch(batch_id), "polls", 0)
    base = ctx.settings.batch_poll_seconds
    return min(base * 1.5 ** polls, base * 10)


def _plan(ctx: Context, batch_id: str) -> dict[int, dict[str, Any]]:
    """The provider batches the lines make (workers/services/batch_plan.py); a line over its provider's per-line
    limit is answered alone (``line_too_large``): sent, it would make the provider refuse its whole batch."""
    done = {int(i) for i in ctx.redis.smembers(keys.batch(batch_id, "done"))}
    groups, too_large = batch_plan.plan(batch_id, groups_db.prepared(ctx.redis, batch_id), done)
    for big in too_large:
        size, provider = int(big.info["bytes"]), big.info["provider"]
        line = _error(batch_id, big.index, big.info.get("user_custom_id"), "line_too_large",
                      f"line {big.index + 1} is {size} bytes as a {provider} batch request, over {provider}'s "
                      f"limit of {big.limit} bytes {big.what}; shrink its text or media")
        line["error"].update(line=big.index + 1, bytes=size, limit=big.limit)
        _answer(ctx, batch_id, big.index, big.info, False, line)
    return groups


def _conn(ctx: Context, provider: str) -> dict[str, Any]:
    return {"base_url": ctx.settings.provider_base_url(provider) or ctx.catalog.providers[provider].default_base_url,
            "api_key": ctx.settings.provider_key(provider) or "", "timeout": ctx.settings.upstream_timeout}


def _step(ctx: Context, batch_id: str, rec: dict[str, Any], k: int, group: dict[str, Any], cancelling: bool) -> None:
    """Move one group on by one step; its record is written before and after each upstream call."""
    api = client(batch_catalog.native_client(group["provider"]) or "")
    conn = _conn(ctx, group["provider"])
    if group["state"] in ("planned", "creating") and cancelling:
        for index in group["lines"]:
            info = groups_db.prepared(ctx.redis, batch_id).get(index) or {}
            _answer(ctx, batch_id, index, info, False, _error(
                batch_id, index, info.get("user_custom_id"), "batch_cancelled",
                "the batch was cancelled before its provider batch was created"))
        group.update(state="collected", status="not_created")
        groups_db.update(ctx.redis, batch_id, k, group)
        return
    if group["state"] == "planned" and (unfit := _unfit(ctx, api, group)):
        _not_native(ctx, batch_id, rec, k, group, *unfit)
        return
    if group["state"] in ("planned", "creating"):
        retry = group["state"] == "creating"  # an attempt began before (and its worker died): look upstream first
        group["state"] = "creating"
        group.setdefault("creating_at", time.time())  # the first attempt's: a batch made since then is ours
        groups_db.update(ctx.redis, batch_id, k, group)  # recorded before anything is made upstream
        with tempfile.TemporaryDirectory(prefix="ferry-batch-") as tmp:
            path = _write_input(ctx, batch_id, group, Path(tmp) / "input.jsonl")
            hold(ctx.settings, "batch_create")  # test hook: a kill between building the input and creating
            taken = {g.get("id") for j, g in groups_db.groups(ctx.redis, batch_id).items() if j != k and g.get("id")}
            state = api.submit(path, group["tag"], group["model"], **conn,
                               since=group["creating_at"] if retry else None, exclude=taken)
        hold(ctx.settings, "batch_created")  # test hook: a kill after creating, before recording it
        group.update(state="created", id=state.id, status=state.status, counts=state.counts)
        groups_db.update(ctx.redis, batch_id, k, group)
        prepared = groups_db.prepared(ctx.redis, batch_id)
        batch_jobs.waiting(ctx, group, [prepared[i]["job_id"] for i in group["lines"] if prepared.get(i, {}).get("job_id")])
        return
    if group["state"] == "created":
        state = api.retrieve(group["id"], **conn)
        hold(ctx.settings, "batch_poll")  # test hook: a kill mid-poll, the provider's answer not yet recorded
        if cancelling and not state.ended and not group.get("cancel_sent"):
            state = api.cancel(group["id"], **conn)
            group["cancel_sent"] = True
        group.update(status=state.status, counts=state.counts, reason=state.reason, refs=state.refs)
        if state.ended:
            group["state"] = "collecting"
        groups_db.update(ctx.redis, batch_id, k, group)
        if not state.ended:
            return
    if group["state"] == "collecting":
        state = State(group["id"], group["status"], True, group.get("counts") or {}, group.get("reason"),
                      group.get("refs") or {})
        _collect(ctx, batch_id, rec, group, state, api, conn)
        group["state"] = "collected"
        groups_db.update(ctx.redis, batch_id, k, group)


def _unfit(ctx: Context, api: Any, group: dict[str, Any]) -> tuple[str, str] | None:
    """(code, why) a group cannot be one provider batch: fewer lines than the provider's minimum
    (batch_catalog.toml ``min_lines``), or the client's settings missing (its ``unavailable``)."""
    lim, n = batch_catalog.limits(group["provider"]), len(group["lines"])
    if lim is not None and n < lim.min_lines:
        return "batch_too_small", (f"{group['provider']} batch jobs take at least {lim.min_lines} requests; this "
                                   f"batch has {n} for {group['model']}")
    why = getattr(api, "unavailable", lambda _settings: None)(ctx.settings)
    return ("batch_unavailable", why) if why else None


def _not_native(ctx: Context, batch_id: str, rec: dict[str, Any], k: int, group: dict[str, Any], code: str,
                why: str) -> None:
    """In mode auto (or with ``fallback: "jobs"``) the group's lines run as ordinary jobs; in mode native each
    is answered with ``why``. Redelivered, nothing is done twice (lines are counted, and resubmitted, once)."""
    ferry = rec.get("ferry") or {}
    as_jobs = ferry.get("mode", "auto") == "auto" or ferry.get("fallback") == "jobs"
    prepared = groups_db.prepared(ctx.redis, batch_id)
    for index in group["lines"]:
        info = prepared.get(index) or {}
        if as_jobs:
            _resubmit(ctx, batch_id, rec, index, info)
        else:
            count_line(ctx, batch_id, index, False, _error(batch_id, index, info.get("user_custom_id"), code,
                                                       why + " (ferry.mode 'auto' runs such lines as jobs)"))
    group.update(state="collected", status="ran_as_jobs" if as_jobs else "not_created", reason=why)
    groups_db.update(ctx.redis, batch_id, k, group)


def _write_input(ctx: Context, batch_id: str, group: dict[str, Any], path: Path) -> Path:
    prepared = groups_db.prepared(ctx.redis, batch_id)
    with path.open("wb") as out:
        for index in group["lines"]:
            with ctx.storage.open(blob_key(prepared[index]["sha256"])) as src:
                out.write(src.read())
    return path


def _collect(ctx: Context, batch_id: str, rec: dict[str, Any], group: dict[str, Any], state: State,
             api: Any, conn: dict[str, Any]) -> None:
    """Map each result back to its line (counted once each: a redelivered collection counts nothing twice)."""
    prepared = groups_db.prepared(ctx.redis, batch_id)
    by_cid = {prepared[i]["custom_id"]: i for i in group["lines"] if i in prepared}
    caps = ctx.catalog.resolve(f"{group['provider']}/{group['model']}")  # once per provider batch, not per line
    seen: set[int] = set()
    for result in api.results(state, **conn):
        index = by_cid.get(result.custom_id)
        if index is None or index in seen:
            continue
        seen.add(index)
        _record_result(ctx, batch_id, rec, group, caps, index, prepared[index], result)
        if len(seen) == 1:
            hold(ctx.settings, "batch_collect")  # test hook: a kill mid-collection, one line counted
    missing = [i for i in group["lines"] if i not in seen]
    fallback = (rec.get("ferry") or {}).get("fallback") == "jobs" and state.status in ("expired", "failed")
    for index in missing:
        info = prepared.get(index) or {}
        if fallback:
            _resubmit(ctx, batch_id, rec, index, info)
            continue
        code = {"expired": "batch_expired", "cancelled": "batch_cancelled"}.get(state.status, "provider_batch_failed")
        _answer(ctx, batch_id, index, info, False, _error(
            batch_id, index, info.get("user_custom_id"), code,
            f"{group['provider']} batch {group['id']} ended {state.status} without an answer for this line"
            + (f": {state.reason}" if state.reason else "")), group)


def _record_result(ctx: Context, batch_id: str, rec: dict[str, Any], group: dict[str, Any], caps: ModelCaps,
                   index: int, info: dict[str, Any], result: Result) -> None:
    cid, job_id = info.get("user_custom_id"), info.get("job_id")
    if result.error and not result.body:
        fallback = (rec.get("ferry") or {}).get("fallback") == "jobs" and result.error.get("code") == "batch_expired"
        if fallback:
            _resubmit(ctx, batch_id, rec, index, info)
            return
        _answer(ctx, batch_id, index, info, False, _error(batch_id, index, cid, str(result.error.get("code")),
                                                          str(result.error.get("message"))), group)
        return
    if result.status_code == 200 and result.body:
        call = Call(group["provider"], group["model"], [], {}, "", None)
        body = get_adapter(caps.adapter).parse_response(result.body, call)
        cost = batch_catalog.cost(caps.id, body.get("usage"), batch=True)
        body["cost"] = {"usd": cost["usd"], "sync_usd": cost["sync_usd"], "priced": cost["priced"]}
        line = {"id": req_id(batch_id, index), "custom_id": cid,
                "response": {"status_code": 200, "request_id": job_id, "body": body}, "error": None}
        # the line's job ends with the provider's answer as its result (GET /v1/jobs/{id}, the UI), not only the file
        _answer(ctx, batch_id, index, info, True, line, group, body.get("usage"), cost)
        return
    err = get_adapter(caps.adapter).parse_error(result.status_code or 502, result.body)
    line = {"id": req_id(batch_id, index), "custom_id": cid,
            "response": {"status_code": result.status_code or err.status, "request_id": job_id,
                         "body": {"error": {"message": err.message, "type": "upstream_error",
                                            "code": result.status_code, "provider": group["provider"]}}},
            "error": None}
    _answer(ctx, batch_id, index, info, False, line, group)


def _resubmit(ctx: Context, batch_id: str, rec: dict[str, Any], index: int, info: dict[str, Any]) -> None:
    """``ferry.fallback: "jobs"``: a line its provider batch did not answer runs as an ordinary job
    (``ferry.batch_fallback``, workers/services/batch_lines.py ``resubmit``: once per line); its native job ends."""
    batch_jobs.answered(ctx, info, _error(batch_id, index, info.get("user_custom_id"), "batch_fallback",
                                          "its provider batch did not answer it; the line runs again as an ordinary "
                                          "job (ferry.fallback 'jobs')"), None)
    queue.send("ferry.batch_fallback", batch_id, index)


def _refused(ctx: Context, batch_id: str, rec: dict[str, Any], k: int, group: dict[str, Any],
             exc: UpstreamError) -> None:
    """The provider refused the batch (a 4xx on create/poll): its lines are answered with the reason; or, with
    ``fallback: "jobs"``, run as jobs."""
    prepared = groups_db.prepared(ctx.redis, batch_id)
    fallback = (rec.get("ferry") or {}).get("fallback") == "jobs"
    for index in group["lines"]:
        info = prepared.get(index) or {}
        if fallback:
            _resubmit(ctx, batch_id, rec, index, info)
        else:
            _answer(ctx, batch_id, index, info, False, _error(batch_id, index, info.get("user_custom_id"),
                                                              "provider_refused_batch", exc.message), group)
    group.update(state="collected", status="refused", reason=exc.message)
    groups_db.update(ctx.redis, batch_id, k, group)


# -- cancel and view ---------------------------------------------------------------------------------

def view(ctx: Context, batch_id: str, h: dict[str, str], rec: dict[str, Any]) -> dict[str, Any]:
    """The batch object's ``ferry`` member: mode, the provider batches, cost and savings."""
    settings = rec.get("ferry") or {}
    provider_batches = [{"provider": g["provider"], "model": g["model"], "id": g.get("id"), "status": g.get("status"),
                         "lines": len(g["lines"]), **({"reason": g["reason"]} if g.get("reason") else {})}
                        for g in groups_db.groups(ctx.redis, batch_id).values()]
    usd, sync = float(h.get("cost_usd") or 0), float(h.get("sync_usd") or 0)
    estimate = sum(float((i.get("cost_estimate") or {}).get("usd") or 0)
                   for i in groups_db.prepared(ctx.redis, batch_id).values())
    return {"mode": settings.get("mode", "auto"), "fallback": settings.get("fallback"),
            "provider_batches": provider_batches,
            "cost": {"usd": round(usd, 6), "sync_usd": round(sync, 6), "saved_usd": round(sync - usd, 6),
                     "estimate_usd": round(estimate, 6), "currency": "USD"}}
