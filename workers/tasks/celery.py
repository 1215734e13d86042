"""The Celery application: queues, routes and the settings that keep jobs safe.

``celery -A workers.tasks.celery worker -Q io,cpu,llm`` runs a worker. Queues
follow the work: ``io`` (fetch, deliver, notify, webhooks, batches) waits on the network,
``cpu`` (inspect, plan, transform) burns a core, ``llm`` (complete) waits on
the provider for minutes. Importing this module installs Celery as the sender behind
:mod:`workers.core.queue`, so every layer below enqueues by task name.
"""
from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.signals import (
    celeryd_init,
    task_received,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)
from kombu import Queue

from workers.context import get_context
from workers.core import queue
from workers.core.embedded_redis import celery_url, redis_url
from workers.core.settings import get_settings
from workers.pipeline.routing import STAGE_QUEUE
from workers.state import metrics
from workers.tasks import publish
from workers.tasks.broker import install as share_broker_clients

QUEUES = ("io", "cpu", "llm")
#: Queues that carry nothing but pipeline steps (workers/pipeline/routing.py): every step a job still
#: expects has a deadline in ``ferry:running`` and, once a worker holds its message, a reservation or a
#: lease, so Ferry's reaper re-sends a message that died with its worker (workers/tasks/reaper.py).
TRACKED_QUEUES = frozenset({"cpu", "llm"})
TASK_MODULES = ["workers.tasks.stages", "workers.tasks.batches", "workers.tasks.webhooks"]

ROUTES = {f"ferry.{step}": {"queue": name} for step, name in STAGE_QUEUE.items()}


def make_celery() -> Celery:
    share_broker_clients()  # one Redis client per broker channel (workers/tasks/broker.py)
    settings = get_settings()
    broker = celery_url(redis_url(settings))
    app = Celery("ferry", broker=broker, include=TASK_MODULES)
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
# httpx logs every request at INFO: one line per provider call and upload drowns a worker's own log.
logging.getLogger("httpx").setLevel(logging.WARNING)
# Celery logs "Task … received" and "Task … succeeded in …" at INFO for every task: two formatted lines per
# step, 5 % of the llm worker's CPU for small jobs (py-spy). Each job's timeline records its steps already;
# failures, retries and Ferry's own INFO lines still log.
for _name in ("celery.app.trace", "celery.worker.strategy"):
    logging.getLogger(_name).setLevel(logging.WARNING)
celery = app


class CelerySender:
    """:class:`workers.core.queue.Sender` over this app: tasks by name, routed by ``ROUTES``, each message
    Celery's own, pushed straight onto the broker's Redis list (workers/tasks/publish.py)."""

    def __init__(self, celery_app: Celery) -> None:
        self.app = celery_app

    def send(self, name: str, args: tuple[Any, ...], countdown: float | None = None, to: str | None = None,
             retries: int = 0, pipe: Any = None) -> None:
        queue_name = to or ROUTES.get(name, {}).get("queue") or self.app.conf.task_default_queue
        message = publish.task_message(self.app, name, args, queue_name, countdown=countdown, retries=retries)
        publish.push(pipe if pipe is not None else get_context().redis, queue_name, message)  # the broker is Ferry's Redis


queue.install(CelerySender(app))


def consumes_only_tracked(queues: Any) -> bool:
    """Does a worker started with ``-Q queues`` take only messages the reaper can recover?"""
    names = queues.split(",") if isinstance(queues, str) else list(queues or [])
    names = [n.strip() for n in names if n and n.strip()]
    return bool(names) and set(names) <= TRACKED_QUEUES


@celeryd_init.connect
def _ack_emulation_for_queues(conf: Any = None, options: dict[str, Any] | None = None, **_: object) -> None:
    """Workers that consume only tracked queues skip kombu's ack emulation.

    Ack emulation keeps every received message in an unacked hash and index (two Redis transactions per
    message: a third of the llm worker's CPU for small jobs, by py-spy) only to restore it after the
    900 s visibility timeout if the worker dies. For pipeline steps Ferry's own deadlines already do that
    sooner (a lease TTL for a step taken or begun, FERRY_QUEUE_DEADLINE at most). ``io`` carries webhooks
    and batch driver steps too, so a worker consuming it keeps ack emulation.
    ``FERRY_BROKER_ACK_EMULATION=on`` keeps it everywhere."""
    if conf is None or get_settings().broker_ack_emulation == "on":
        return
    if consumes_only_tracked((options or {}).get("queues")):
        conf.broker_transport_options = {**(conf.broker_transport_options or {}), "ack_emulation": False}
        logging.getLogger("ferry.worker").info("queues %s: kombu ack emulation off (steps are tracked by "
                                               "Ferry's deadlines)", (options or {}).get("queues"))


@worker_ready.connect
def _start_reaper(**_: object) -> None:
    """Every worker's main process runs the reaper thread (workers/tasks/reaper.py: re-enqueues steps that
    stopped making progress; a Redis lock lets one worker at a time do a pass). FERRY_REAPER_INTERVAL=0
    turns it off."""
    from workers.context import Context
    from workers.tasks.reaper import start_thread

    start_thread(Context(get_settings()))


@worker_process_shutdown.connect
@worker_shutdown.connect
def _flush_metrics(**_: object) -> None:
    """A pool child ends without running atexit: add its buffered metric counts first."""
    metrics.flush()


@task_received.connect
def _reserve_received_step(request: Any = None, **_: object) -> None:
    """A stage task's message is in this worker's hands: keep its step's deadline a lease TTL ahead until
    it begins (workers/state/leases.py ``Reservation``), so a host killed after taking the message but
    before beginning the step is noticed within a TTL. Retries with a countdown wait their ETA instead."""
    if request is None or request.eta:
        return
    from workers.context import get_context
    from workers.state.leases import Reservation
    from workers.tasks.reaper import step_of

    found = step_of(request.name, request.args)
    if found is not None:
        ctx = get_context()
        Reservation(ctx.redis, *found, ttl=ctx.settings.lease_seconds, until=ctx.settings.queue_deadline).start()
