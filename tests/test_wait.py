"""Synchronous waits are woken by the job's end through Redis (issue 11.2), not by polling."""
from __future__ import annotations

import threading
from typing import Any

from tests.conftest import AUTH
from tests.helpers import job_body
from workers.context import get_context
from workers.core import keys
from workers.services import jobs
from workers.state.jobs import new_job_id


def test_every_waiter_of_a_job_is_woken_by_its_end(client: Any) -> None:
    ctx = get_context()
    job_id = client.post("/v1/jobs", json=job_body("openai/gpt-4o", dry_run=True), headers=AUTH).json["id"]
    views: list[dict[str, Any]] = []
    waiters = [threading.Thread(target=lambda: views.append(jobs.wait(ctx, "local", job_id, 120))) for _ in range(3)]
    for w in waiters:
        w.start()
    for w in waiters:
        w.join(150)
    assert [v["status"] for v in views] == ["succeeded"] * 3
    assert ctx.redis.lrange(keys.job_ended(job_id), 0, -1) == [b"succeeded"]  # the token stays for later waiters


def test_a_wait_on_a_job_that_does_not_end_returns_its_view_at_the_timeout(client: Any) -> None:
    ctx = get_context()
    job_id = new_job_id()
    ctx.store.create({"id": job_id, "tenant": "local", "model": "openai/gpt-4o", "request": {}, "total_steps": 1}, [])
    view = jobs.wait(ctx, "local", job_id, 0.3)  # nothing was enqueued: it stays queued
    assert view["status"] == "queued" and not ctx.redis.exists(keys.job_ended(job_id))
    ctx.store.cancel(job_id)
    assert jobs.wait(ctx, "local", job_id, 120)["status"] == "canceled"


def test_long_poll_answers_when_the_job_ends(client: Any) -> None:
    job_id = client.post("/v1/jobs", json=job_body("openai/gpt-4o", dry_run=True), headers=AUTH).json["id"]
    polled = client.get(f"/v1/jobs/{job_id}?wait=60", headers=AUTH)
    assert polled.status_code == 200 and polled.json["status"] == "succeeded"


def test_long_poll_checks_its_argument_and_the_tenant(client: Any) -> None:
    for bad in ("-1", "61", "soon"):
        resp = client.get("/v1/jobs/job_x?wait=" + bad, headers=AUTH)
        assert resp.status_code == 400 and resp.json["error"]["param"] == "wait"
    assert client.get("/v1/jobs/job_doesnotexist?wait=60", headers=AUTH).status_code == 404


def test_a_long_poll_checks_the_tenant_first_also_for_jobs_written_before_the_hash_kept_it(client: Any) -> None:
    """``?wait`` looks at the status and owner before it blocks: another tenant's job (or none) is a 404 at
    once, and a job whose hash has no ``tenant`` field (written by an older release) is checked by its record."""
    ctx = get_context()
    job_id = new_job_id()
    ctx.store.create({"id": job_id, "tenant": "local", "model": "openai/gpt-4o", "request": {}, "total_steps": 1}, [])
    assert ctx.store.peek(job_id, "local") == "queued" and ctx.store.peek(job_id, "someone-else") is None
    ctx.redis.hdel(keys.job(job_id), "tenant")  # as an older release wrote it
    assert ctx.store.peek(job_id, "local") == "queued" and ctx.store.peek(job_id, "someone-else") is None
    waited = client.get(f"/v1/jobs/{job_id}?wait=0.2", headers=AUTH)
    assert waited.status_code == 200 and waited.json["status"] == "queued"
    ctx.store.cancel(job_id)
    ended = client.get(f"/v1/jobs/{job_id}?wait=30", headers=AUTH)
    assert ended.status_code == 200 and ended.json["status"] == "canceled" and ended.json["id"] == job_id
    missing = client.get(f"/v1/jobs/{new_job_id()}?wait=30", headers=AUTH)
    assert missing.status_code == 404 and missing.json["error"]["param"] == "id"
