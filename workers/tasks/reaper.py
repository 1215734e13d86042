"""The reaper: re-sends steps that stopped making progress (records in workers/state/leases.py).

A thread in every worker's main process (:func:`start_thread`) runs a pass every
``FERRY_REAPER_INTERVAL`` seconds; the pass lock (:class:`workers.state.leases.PassLock`) lets one pass
run at a time, held for as long as the pass runs. A pass looks at overdue steps: ended jobs' steps are
dropped (but ``notify`` and ``webhook``, which follow the end), a step whose lease is alive gets more time,
anything else is re-sent (its task carries the job on) — at most ``FERRY_REAPER_MAX_REQUEUES`` times, then the
job fails with a clear error. Side effects stay idempotent: blobs are content-addressed, ``complete``
records its result through the status compare-and-set once and sends a per-job ``Idempotency-Key``.
Then the retention sweep runs (workers/state/retention.py).
"""
from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from workers.context import Context
from workers.core import queue
from workers.core.keys import REQUEUES, RUNNING
from workers.pipeline.routing import RESOURCE_STAGES
from workers.services import batch_native
from workers.state import retention
from workers.state.jobs import TERMINAL
from workers.state.leases import PassLock, as_text, hold, holder_alive, is_done, lease_key, settle

log = logging.getLogger("ferry.reaper")

#: Steps that run after a job ended, so the reaper keeps them when it drops a finished job's steps.
AFTER_END = ("notify", "webhook")


def requeue(job_id: str, step: str) -> None:
    """Send ``step`` again (the task carries its job on from there)."""
    name, _, index = step.partition(":")
    if name in ("complete", "notify", "webhook"):
        queue.send(f"ferry.{name}", job_id)
    elif name in RESOURCE_STAGES:
        queue.send(f"ferry.{name}", job_id, int(index))
    else:
        raise ValueError(f"unknown step {step!r}")


def step_of(task: str, args: tuple | list) -> tuple[str, str] | None:
    """(job id, step) of a stage task's message (the inverse of :func:`requeue`); None for other tasks."""
    name = task.removeprefix("ferry.")
    if not args or not isinstance(args[0], str):
        return None
    if name in ("complete", "notify", "webhook"):
        return args[0], name
    if name in RESOURCE_STAGES and len(args) > 1 and isinstance(args[1], int):
        return args[0], f"{name}:{args[1]}"
    return None


def reap_once(ctx: Context, now: float | None = None, limit: int = 500,
              still_ours: Callable[[], bool] = lambda: True) -> dict[str, int]:
    """Handle overdue steps once; returns counts (dropped, extended, requeued, failed).

    ``still_ours`` fences the pass: once it answers False (the pass lock was lost), nothing more is done."""
    r, store, settings = ctx.redis, ctx.store, ctx.settings
    now = time.time() if now is None else now
    counts = {"dropped": 0, "extended": 0, "requeued": 0, "failed": 0}
    for raw in r.zrangebyscore(RUNNING, 0, now, start=0, num=limit):
        if not still_ours():
            log.warning("reaper: lost the pass lock; stopping this pass")
            break
        m = as_text(raw)
        job_id, _, step = m.partition("|")
        status = store.status(job_id)
        if status is None or (status in TERMINAL and step not in AFTER_END) or is_done(r, job_id, step):
            settle(r, job_id, step)
            counts["dropped"] += 1
            continue
        held = r.get(lease_key(job_id, step))
        if held is not None and holder_alive(as_text(held)):
            r.zadd(RUNNING, {m: now + settings.lease_seconds}, xx=True)
            counts["extended"] += 1
            continue
        n = r.hincrby(REQUEUES, m, 1)
        if n > settings.reaper_max_requeues:
            store.fail(job_id, {"type": "internal_error", "stage": step.partition(":")[0],
                                "message": f"{step} made no progress after {n - 1} requeues; giving up"})
            settle(r, job_id, step)
            counts["failed"] += 1
            continue
        log.warning("job %s: %s is overdue (status %s); requeue %d", job_id, step, status, n)
        r.zadd(RUNNING, {m: now + settings.queue_deadline}, xx=True)
        requeue(job_id, step)
        counts["requeued"] += 1
    return counts


def reap_pass(ctx: Context) -> dict[str, int] | None:
    """One pass (overdue steps, then retention) under the pass lock; None if another pass holds it."""
    lock = PassLock(ctx.redis, ttl=max(ctx.settings.lease_seconds, 1.0))
    if not lock.acquire():
        return None
    try:
        hold(ctx.settings, "reaper")  # test hook: a slow pass
        counts = reap_once(ctx, still_ours=lambda: lock.held)
        if counts["requeued"] or counts["failed"]:
            log.warning("reaper: %s", counts)
        if lock.held:
            batch_native.resend_overdue(ctx)  # native batches' driver steps a killed worker left (issue 13)
        if lock.held:
            _sweep_retention(ctx)
        return counts
    finally:
        lock.release()


def run_forever(ctx: Context, stop: threading.Event | None = None) -> None:
    """Reap every FERRY_REAPER_INTERVAL seconds (with jitter); one process at a time does it."""
    stop = stop or threading.Event()
    interval = ctx.settings.reaper_interval
    while not stop.wait(interval * (0.8 + 0.4 * random.random())):
        try:
            reap_pass(ctx)
        except Exception:  # the reaper must outlive Redis hiccups
            log.exception("reaper pass failed")


def _sweep_retention(ctx: Context) -> None:
    retention.sweep(ctx)


def start_thread(ctx: Context) -> threading.Thread | None:
    """Start the reaper in this process (called when a worker is ready); None when disabled."""
    if ctx.settings.reaper_interval <= 0:
        return None
    thread = threading.Thread(target=run_forever, args=(ctx,), name="ferry-reaper", daemon=True)
    thread.start()
    return thread
