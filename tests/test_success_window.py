"""Success and what follows it (issue 10.2): a worker killed right after a job succeeded still notifies.

``complete`` used to mark the job succeeded and only then record its step and queue ``notify``; a kill in
between meant no webhook and a batch line never counted, because the redelivered ``complete`` saw a finished
job and the reaper dropped the steps of finished jobs. Now the status change itself expects ``notify`` (one
Redis script), so the reaper sends it. ``FERRY_TEST_STAGE_DELAY=succeeded:60`` holds the worker in exactly
that window (just after the success is recorded), and it is SIGKILLed there.
"""
from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import CORPUS
from tests.helpers import data_uri, image_part, job_body
from tests.stack import Stack
from tests.test_webhooks import Receiver


@pytest.fixture(scope="module")
def stack(sims: dict[str, Any]) -> Iterator[Stack]:
    s = Stack({"FERRY_LEASE_SECONDS": "2", "FERRY_REAPER_INTERVAL": "0.5", "FERRY_QUEUE_DEADLINE": "4"},
              prefix="ferry-window-")
    yield s
    s.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def _kill_in_the_window(stack: Stack, until: str, ended: Any) -> None:
    """Run a one-process worker that holds after each success (so nothing else runs there), SIGKILL it
    once ``ended()`` is true."""
    held = stack.worker(delay="succeeded:60", concurrency=1)
    stack.wait_for(until, ended, timeout=120)
    stack.kill(held)


def test_webhook_is_sent_after_a_kill_right_after_success(stack: Stack, receiver: Receiver) -> None:
    img = image_part(data_uri(CORPUS / "images" / "hopper.jpg", "image/jpeg"))
    job_id = stack.submit(job_body("openai/gpt-4o", img, webhook={"url": receiver.url}))
    _kill_in_the_window(stack, "the job to be marked succeeded",
                        lambda: stack.http.get(f"/v1/jobs/{job_id}").json()["status"] == "succeeded")
    assert receiver.calls == []  # killed before anything followed the success
    fresh = stack.worker()
    try:
        calls = receiver.wait_for(1, timeout=120)
        stack.wait_for("the webhook to be recorded as delivered",
                       lambda: (stack.http.get(f"/v1/jobs/{job_id}").json().get("webhook") or {}).get("status")
                       == "delivered", timeout=60)
    finally:
        stack.stop(fresh)
    payload = json.loads(calls[0]["body"])
    assert payload["type"] == "job.succeeded" and payload["data"]["id"] == job_id
    assert len(receiver.calls) == 1


def test_batch_line_is_counted_after_a_kill_right_after_success(stack: Stack) -> None:
    lines = "".join(json.dumps({"custom_id": f"l{i}", "method": "POST", "url": "/v1/chat/completions",
                                "body": {"model": "openai/gpt-4o",
                                         "messages": [{"role": "user", "content": f"hi {i}"}]}}) + "\n"
                    for i in range(2))
    up = stack.http.post("/v1/files", data={"purpose": "batch"},
                         files={"file": ("in.jsonl", io.BytesIO(lines.encode()), "application/jsonl")})
    assert up.status_code == 200, up.text
    # jobs mode: each line a job whose success notify counts (a native line's job ends at collection instead)
    batch = stack.http.post("/v1/batches", json={"input_file_id": up.json()["id"], "endpoint": "/v1/chat/completions",
                                                 "completion_window": "24h", "ferry": {"mode": "jobs"}}).json()

    def a_line_job_succeeded() -> bool:
        jobs = [j.decode() for j in stack.r.hvals(f"ferry:batch:{batch['id']}:jobs")]
        return any(stack.r.hget(f"ferry:job:{j}", "status") == b"succeeded" for j in jobs)

    _kill_in_the_window(stack, "a line job to be marked succeeded", a_line_job_succeeded)
    assert stack.http.get(f"/v1/batches/{batch['id']}").json()["request_counts"]["completed"] == 0
    fresh = stack.worker()
    try:
        stack.wait_for("the batch to complete",
                       lambda: stack.http.get(f"/v1/batches/{batch['id']}").json()["status"] == "completed",
                       timeout=120)
    finally:
        stack.stop(fresh)
    done = stack.http.get(f"/v1/batches/{batch['id']}").json()
    assert done["request_counts"] == {"total": 2, "completed": 2, "failed": 0}
