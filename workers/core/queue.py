"""The seam through which every layer enqueues work by task name, without importing Celery.

Like dramatiq's ``set_broker``: the task layer (workers/tasks/celery.py) installs the sender when it
is imported, which the web app and every worker do at start. Below it, services and the pipeline call
:func:`send` and :func:`send_chains` with task names (``ferry.fetch``, ``ferry.notify``…), so nothing
under ``workers/tasks`` imports the tasks themselves.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

#: One step of a chain: (task name, positional arguments).
Step = tuple[str, tuple[Any, ...]]


class Sender(Protocol):
    def send(self, name: str, args: tuple[Any, ...], countdown: float | None = None) -> None: ...

    def send_chains(self, chains: Sequence[Sequence[Step]]) -> None:
        """Each chain runs its steps in order (a step that stops its job stops its chain); chains in parallel."""


_sender: Sender | None = None


def install(sender: Sender) -> None:
    global _sender
    _sender = sender


def _installed() -> Sender:
    if _sender is None:
        raise RuntimeError("no task sender installed: import workers.tasks.celery first (the web app and "
                           "the workers do so at start)")
    return _sender


def send(name: str, *args: Any, countdown: float | None = None) -> None:
    _installed().send(name, args, countdown)


def send_chains(chains: Sequence[Sequence[Step]]) -> None:
    _installed().send_chains(chains)
