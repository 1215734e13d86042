"""The Celery settings that keep jobs safe are set, and every stage has a queue."""
from __future__ import annotations

from workers.pipeline.routing import RESOURCE_STAGES
from workers.tasks.celery import QUEUES, app


def test_safety_settings():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert {q.name for q in conf.task_queues} == set(QUEUES) == {"io", "cpu", "llm"}


def test_every_stage_is_routed():
    import workers.tasks.stages  # noqa: F401  (registers the tasks)

    routes = app.conf.task_routes
    for stage in (*RESOURCE_STAGES, "complete", "notify"):
        assert f"ferry.{stage}" in app.tasks
        assert routes[f"ferry.{stage}"]["queue"] in QUEUES
    assert routes["ferry.fetch"]["queue"] == "io" and routes["ferry.transform"]["queue"] == "cpu"
    assert routes["ferry.complete"]["queue"] == "llm"


def test_workers_on_tracked_queues_skip_kombu_ack_emulation():
    """A worker consuming only cpu/llm (pipeline steps, recovered by Ferry's reaper) runs kombu's Redis
    transport without its unacked hash; a worker that consumes io (webhooks, batch steps) keeps it."""
    from types import SimpleNamespace

    from celery.signals import celeryd_init
    from kombu import Connection

    decided = {}
    for queues in (["llm"], ["cpu"], "cpu,llm", ["io"], ["io", "cpu", "llm"], None):
        conf = SimpleNamespace(broker_transport_options={"visibility_timeout": 900})
        celeryd_init.send(sender="test@host", instance=None, conf=conf, options={"queues": queues})
        decided[str(queues)] = conf.broker_transport_options.get("ack_emulation", True)
        assert conf.broker_transport_options["visibility_timeout"] == 900
    assert decided == {"['llm']": False, "['cpu']": False, "cpu,llm": False, "['io']": True,
                       "['io', 'cpu', 'llm']": True, "None": True}
    from kombu.transport import virtual
    from kombu.transport.redis import QoS as EmulatedQoS

    for emulate, qos in ((False, virtual.QoS), (True, EmulatedQoS)):
        options = {"visibility_timeout": 900, **({} if emulate else {"ack_emulation": False})}
        with Connection(app.conf.broker_url, transport_options=options) as conn:
            assert conn.default_channel.QoS is qos
