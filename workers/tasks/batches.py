"""Batch tasks: thin wrappers over workers/services/batch_lines.py."""
from __future__ import annotations

from collections.abc import Callable

from celery import Task

from workers.context import Context, get_context
from workers.services import batch_lines, batch_native
from workers.tasks.celery import app


#: A batch task that raises is retried this often (a Redis or storage hiccup), then fails its batch.
TASK_RETRIES = 3


def _guarded(task: Task, batch_id: str, step: str, run: Callable[[Context, str], None]) -> None:
    """Run a batch step; an unexpected error is retried, then fails the batch visibly (never left running)."""
    ctx = get_context()
    try:
        run(ctx, batch_id)
    except Exception as exc:
        if task.request.retries < TASK_RETRIES:
            raise task.retry(countdown=2 ** task.request.retries, exc=exc)
        batch_lines.fail(ctx, batch_id, "internal_error", f"{step} failed: {type(exc).__name__}: {exc}", param=None)
        raise


@app.task(name="ferry.batch_start", bind=True, acks_late=True, max_retries=TASK_RETRIES)
def start(self: Task, batch_id: str) -> None:
    """Count the lines, then submit one job per valid line (resumable if redelivered)."""
    _guarded(self, batch_id, "batch_start", batch_lines.start)


@app.task(name="ferry.batch_cancel", bind=True, acks_late=True, max_retries=TASK_RETRIES)
def cancel_lines(self: Task, batch_id: str) -> None:
    _guarded(self, batch_id, "batch_cancel", batch_lines.cancel_lines)


@app.task(name="ferry.batch_finalize", bind=True, acks_late=True, max_retries=TASK_RETRIES)
def finalize(self: Task, batch_id: str) -> None:
    _guarded(self, batch_id, "batch_finalize", batch_lines.finalize)


@app.task(name="ferry.batch_tick", bind=True, acks_late=True, max_retries=TASK_RETRIES)
def tick(self: Task, batch_id: str) -> None:
    """One step of a native batch's driver: create, poll or collect its provider batches (batch_native.py)."""
    _guarded(self, batch_id, "batch_tick", batch_native.tick)


@app.task(name="ferry.batch_fallback", bind=True, acks_late=True, max_retries=TASK_RETRIES)
def fallback(self: Task, batch_id: str, index: int) -> None:
    """``ferry.fallback: "jobs"``: one line its provider batch did not answer, run as a job."""
    _guarded(self, batch_id, "batch_fallback", lambda ctx, b: batch_lines.resubmit(ctx, b, index))
