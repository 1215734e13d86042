"""Signed webhooks (Standard Webhooks), retried with backoff, every attempt on the job.

The worker is the session's real Celery process; the receiver is a real HTTP server on
loopback (FERRY_ALLOW_PRIVATE_URLS is on in tests, off by default). The secret and a short
retry base are set before the session's worker starts (module import time precedes every
fixture), so the retries in these tests take about a second, not minutes.
"""
from __future__ import annotations

import http.server
import io
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.conftest import AUTH, WEBHOOK_SECRET as SECRET, wait_job
from tests.helpers import job_body
from workers.context import Context
from workers.core.settings import Settings
from workers.services.webhooks import VISIBILITY_MARGIN_CAP, backoff, post


class Receiver:
    """Records every delivery; answers ``fail_first`` 500s before it starts answering 200."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail_first = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.calls.append({"path": self.path, "headers": dict(self.headers), "body": body.decode()})
                status = 500 if len(receiver.calls) <= receiver.fail_first else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, n: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.calls) < n:
            assert time.monotonic() < deadline, f"waited {timeout:g} s for {n} webhook deliveries, got {len(self.calls)}"
            time.sleep(0.05)
        return self.calls


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def wait_webhook(client: Any, job_id: str, status: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/v1/jobs/{job_id}", headers=AUTH).json
        if (job.get("webhook") or {}).get("status") == status:
            return job
        assert time.monotonic() < deadline, (f"job {job_id}: webhook not {status} after {timeout:g} s: "
                                             f"{job.get('webhook')}")
        time.sleep(0.1)


def test_job_succeeded_is_signed_and_verifiable(client, receiver):
    job_id = client.post("/v1/jobs", headers=AUTH, json=job_body(
        "openai/gpt-4o", webhook={"url": receiver.url}, metadata={"k": "v"})).json["id"]
    call = receiver.wait_for(1)[0]
    payload = Webhook(SECRET).verify(call["body"], call["headers"])  # raises if the signature is wrong
    assert payload["type"] == "job.succeeded"
    assert payload["data"]["id"] == job_id and payload["data"]["metadata"] == {"k": "v"}
    assert payload["data"]["result"]["object"] == "chat.completion"
    assert call["headers"]["webhook-id"] == f"msg_{job_id}"
    job = wait_webhook(client, job_id, "delivered")
    assert job["webhook"]["url"] == receiver.url
    assert [(a["attempt"], a["status"], a["error"]) for a in job["webhook"]["attempts"]] == [(1, 200, None)]
    with pytest.raises(Exception):
        Webhook("whsec_" + "A" * 32).verify(call["body"], call["headers"])  # another secret does not verify


def test_failures_are_retried_with_backoff_and_listed(client, receiver):
    receiver.fail_first = 2
    job_id = client.post("/v1/jobs", headers=AUTH, json=job_body(
        "openai/gpt-4o", dry_run=True, webhook={"url": receiver.url})).json["id"]
    calls = receiver.wait_for(3)
    assert len({c["headers"]["webhook-id"] for c in calls}) == 1  # same message id on every retry
    job = wait_webhook(client, job_id, "delivered")
    attempts = job["webhook"]["attempts"]
    assert [(a["status"], a["error"]) for a in attempts] == [(500, "HTTP 500"), (500, "HTTP 500"), (200, None)]
    assert attempts[0]["at"] <= attempts[1]["at"] <= attempts[2]["at"]


def test_failed_job_sends_job_failed(client, receiver):
    body = job_body("openai/gpt-4o", {"type": "image_url", "image_url": {"url": "http://127.0.0.1:9/x.png"}},
                    webhook={"url": receiver.url})
    job_id = client.post("/v1/jobs", headers=AUTH, json=body).json["id"]
    assert wait_job(client, job_id)["status"] == "failed"
    payload = json.loads(receiver.wait_for(1)[0]["body"])
    assert payload["type"] == "job.failed" and payload["data"]["error"]["stage"] == "fetch"


def test_batch_completed_event(client, receiver):
    line = json.dumps({"custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
                       "body": {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}})
    fid = client.post("/v1/files", headers=AUTH, data={
        "purpose": "batch", "file": (io.BytesIO(line.encode() + b"\n"), "in.jsonl")}).json["id"]
    batch = client.post("/v1/batches", headers=AUTH, json={
        "input_file_id": fid, "endpoint": "/v1/chat/completions", "completion_window": "24h",
        "webhook": {"url": receiver.url}}).json
    call = receiver.wait_for(1)[0]
    payload = Webhook(SECRET).verify(call["body"], call["headers"])
    assert payload["type"] == "batch.completed"
    assert payload["data"]["id"] == batch["id"] and payload["data"]["request_counts"]["completed"] == 1
    deadline = time.monotonic() + 60
    while (webhook := client.get(f"/v1/batches/{batch['id']}", headers=AUTH).json.get("webhook") or {}).get(
            "status") != "delivered":
        assert time.monotonic() < deadline, f"batch {batch['id']}: webhook not marked delivered after 60 s: {webhook}"
        time.sleep(0.1)


def test_webhook_urls_pass_the_ssrf_guard(worker, receiver):
    ctx = Context(Settings(FERRY_ALLOW_PRIVATE_URLS=False, FERRY_WEBHOOK_SECRET=SECRET))
    attempt, outcome = post(ctx, receiver.url, "msg_x", "job.succeeded", {})
    assert outcome == "give_up" and "refused" in attempt["error"]
    assert receiver.calls == []  # nothing reached the loopback receiver


def test_bad_webhook_url_is_400(client):
    resp = client.post("/v1/jobs", headers=AUTH, json=job_body("openai/gpt-4o", webhook={"url": "file:///etc/passwd"}))
    assert resp.status_code == 400 and resp.json["error"]["param"] == "webhook.url"


def test_backoff_grows_with_jitter_and_stays_under_the_visibility_timeout():
    delays = [backoff(n, 2.0, 600.0) for n in range(40)]
    assert 1.0 <= delays[0] <= 2.0 and 4.0 <= delays[2] <= 8.0
    assert max(delays) <= 600.0 < 900
    assert backoff(50, 2.0, 5000.0) <= VISIBILITY_MARGIN_CAP
    # the default 50 attempts keep trying for hours (expected total wait over five hours)
    assert sum(min(600.0, 2.0 * 2 ** n) * 0.75 for n in range(Settings().webhook_max_attempts - 1)) > 5 * 3600
