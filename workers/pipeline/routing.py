"""Where each step runs, and which next steps a task runs itself instead of queueing them.

Every step has a home queue (``io`` waits on the network, ``cpu`` burns a core, ``llm`` waits on the
provider). A task that finished a step runs the next one itself when that step's home is the queue the
task came from (inspect → plan → transform on ``cpu``), or when the resource is *light*: an image small
in bytes and pixels, whose steps cost less than a hop through the broker. A job whose resources are all
light inline data starts on ``llm``, so submit → result is one task. Each step still runs under its own
lease and is recorded in the timeline (workers/pipeline/steps.py); only the queueing between them goes.
"""
from __future__ import annotations

from workers.core.records import Resource
from workers.core.settings import Settings

RESOURCE_STAGES = ("fetch", "inspect", "plan", "transform", "deliver")

#: Each step's home queue (workers/tasks/celery.py routes the tasks by it).
STAGE_QUEUE = {"fetch": "io", "inspect": "cpu", "plan": "cpu", "transform": "cpu", "deliver": "io",
               "complete": "llm", "notify": "io"}


def next_stage(stage: str) -> str | None:
    k = RESOURCE_STAGES.index(stage) + 1
    return RESOURCE_STAGES[k] if k < len(RESOURCE_STAGES) else None


def light(res: Resource, settings: Settings) -> bool:
    """Small images (by bytes, and by pixels once inspected) and YouTube pass-throughs."""
    src = res.get("source") or {}
    if src.get("kind") == "youtube":
        return True
    size = src.get("bytes")
    if size is None or int(size) > settings.light_bytes:
        return False
    facts = res.get("facts") or {}
    mime = facts.get("mime") or src.get("sniffed_at_submit") or ""
    if not str(mime).startswith("image/"):
        return False
    pixels = int(facts.get("width") or 0) * int(facts.get("height") or 0) * max(1, int(facts.get("frames") or 1))
    return pixels <= settings.light_pixels


def runs_here(stage: str, res: Resource, here: str | None, settings: Settings) -> bool:
    """May the task that ran the step before ``stage`` (consumed from queue ``here``) run it too?"""
    if here is None:
        return False
    if STAGE_QUEUE[stage] == here:
        return True
    return here in ("io", "llm") and light(res, settings)  # never network waits on the cpu pool


def start_queue(resources: list[Resource], settings: Settings) -> str | None:
    """The queue a new job's first steps go to: ``llm`` when every resource is light inline data (the
    whole job then runs in one task there); None for the steps' home queues."""
    if all(r["source"]["kind"] == "data" and light(r, settings) for r in resources):
        return STAGE_QUEUE["complete"]
    return None
