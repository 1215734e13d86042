"""The Celery application: queues, routes and the settings that keep jobs safe.

``celery -A workers.celery_app worker -Q io,cpu,llm`` runs a worker. Queues
follow the work: ``io`` (fetch, deliver, notify) waits on the network,
``cpu`` (inspect, plan, transform) burns a core, ``llm`` (complete) waits on
the provider for minutes.
"""
from __future__ import annotations

from celery import Celery
from celery.signals import worker_ready
from kombu import Queue

from workers.embedded_redis import celery_url, redis_url
from workers.settings import get_settings

QUEUES = ("io", "cpu", "llm")

ROUTES = {
    "ferry.fetch": {"queue": "io"},
    "ferry.deliver": {"queue": "io"},
    "ferry.notify": {"queue": "io"},
    "ferry.inspect": {"queue": "cpu"},
    "ferry.plan": {"queue": "cpu"},
    "ferry.transform": {"queue": "cpu"},
    "ferry.complete": {"queue": "llm"},
}


def make_celery() -> Celery:
    settings = get_settings()
    broker = celery_url(redis_url(settings))
    app = Celery("ferry", broker=broker, include=["workers.pipeline"])
    app.conf.update(
        task_acks_late=True,
        # A killed pool child requeues its task instead of marking it failed (DESIGN: known traps).
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_queues=[Queue(name) for name in QUEUES],
        task_default_queue="io",
        task_routes=ROUTES,
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        # A dead main process's unacked messages come back after this; keep it short.
        broker_transport_options={"visibility_timeout": 900},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_max_memory_per_child=512_000,  # KiB: a decoder gone wild recycles its child
        task_time_limit=1800,
        task_soft_time_limit=1700,
    )
    return app


app = make_celery()
celery = app


@worker_ready.connect
def _start_reaper(**_: object) -> None:
    """Every worker's main process runs the reaper thread (workers/reaper.py: re-enqueues steps that
    stopped making progress; a Redis lock lets one worker at a time do a pass). FERRY_REAPER_INTERVAL=0
    turns it off."""
    from workers.context import Context
    from workers.reaper import start_thread

    start_thread(Context(get_settings()))
