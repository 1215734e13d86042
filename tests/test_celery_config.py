"""The Celery settings that keep jobs safe are set, and every stage has a queue."""
from __future__ import annotations

from workers.tasks.celery import QUEUES, app
from workers.pipeline.routing import RESOURCE_STAGES


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
