"""The seam through which every layer enqueues work by task name, without importing Celery.

Like dramatiq's ``set_broker``: the task layer (workers/tasks/celery.py) installs the sender when it
is imported, which the web app and every worker do at start. Below it, services and the pipeline call
:func:`send` with task names (``ferry.fetch``, ``ferry.notify``…), so nothing
under ``workers/tasks`` imports the tasks themselves.
"""
from __future__ import annotations

from typing import Any, Protocol


class Sender(Protocol):
    def send(self, name: str, args: tuple[Any, ...], countdown: float | None = None, to: str | None = None,
             retries: int = 0, pipe: Any = None) -> None:
        """Queue task ``name`` (on queue ``to``, else its route), ``retries`` being its retry count so far;
        with ``pipe`` (a Redis pipeline on the broker's Redis) the message goes out when it executes."""


_sender: Sender | None = None


def install(sender: Sender) -> None:
    global _sender
    _sender = sender


def _installed() -> Sender:
    if _sender is None:
        raise RuntimeError("no task sender installed: import workers.tasks.celery first (the web app and "
                           "the workers do so at start)")
    return _sender


def send(name: str, *args: Any, countdown: float | None = None, to: str | None = None, retries: int = 0,
         pipe: Any = None) -> None:
    """Queue task ``name``; with ``pipe``, as part of that Redis pipeline (so with the writes it carries)."""
    _installed().send(name, args, countdown, to, retries, pipe)
