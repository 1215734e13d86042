"""Crash safety (issue 7.4) with real processes and signals.

A private stack — its own embedded Redis and data dir, a gunicorn web process and Celery
workers started here (not the session worker, which consumes another Redis) — so timing is
ours. For each stage (fetch, transform, deliver, complete, notify) a worker holds the stage
open (``FERRY_TEST_STAGE_DELAY``, workers/state/leases.py), is ``SIGKILL``ed — main process and pool
children — mid-stage, a fresh worker starts, and the job must finish with every step recorded
once and the provider called once. Recovery comes from the reaper (a dead main process's
unacked message would only return after visibility_timeout, 900 s).
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from tests.conftest import CORPUS
from tests.helpers import data_uri, image_part, job_body
from tests.stack import Stack as BaseStack
from workers.state.leases import lease_key

AUTH = {"Authorization": "Bearer ferry-local-key"}
STEP = {"fetch": "fetch:0", "transform": "transform:0", "deliver": "deliver:0", "complete": "complete",
        "notify": "notify"}
COMPLETION = "/chat/completions"
SUMMARY = {"jobs": 0, "lost": 0, "kills": 0}


class Stack(BaseStack):
    """The private stack with the reaper tuned fast and crash-test counters."""

    def __init__(self, sims: dict[str, Any]) -> None:
        super().__init__({"FERRY_LEASE_SECONDS": "2", "FERRY_REAPER_INTERVAL": "0.5", "FERRY_QUEUE_DEADLINE": "4",
                          "FERRY_REAPER_MAX_REQUEUES": "3"}, prefix="ferry-crash-")
        self.sims = sims

    def kill(self, proc: subprocess.Popen[bytes]) -> list[int]:
        SUMMARY["kills"] += 1
        return super().kill(proc)

    def submit(self, tag: str) -> str:  # type: ignore[override]
        img = image_part(data_uri(CORPUS / "images" / "hopper.jpg", "image/jpeg"))
        SUMMARY["jobs"] += 1
        return super().submit(job_body("openai/gpt-4o", img, text=f"crash {tag}"))

    def wait(self, job_id: str, timeout: float = 120) -> dict[str, Any]:
        """Generous, yet far below the 900 s visibility_timeout: a job that finishes here was recovered
        by redelivery or the reaper, not by the broker giving the message back."""
        try:
            return super().wait(job_id, timeout)
        except AssertionError:
            SUMMARY["lost"] += 1
            raise

    def completions(self, job_id: str) -> list[dict[str, Any]]:
        return [e for e in self.sims["openai"].state.log() if COMPLETION in e["path"]
                and e["headers"].get("idempotency-key") == f"ferry-{job_id}"]


@pytest.fixture(scope="module")
def stack(sims: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[Stack]:
    s = Stack(sims)
    yield s
    s.close()
    with request.config.pluginmanager.getplugin("capturemanager").global_and_fixture_disabled():
        print(f"\n[crash safety] {SUMMARY['jobs']} jobs, {SUMMARY['kills']} SIGKILLs, {SUMMARY['lost']} lost")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _assert_once(stack: Stack, job: dict[str, Any], calls: int = 1) -> None:
    assert job["status"] == "succeeded", job.get("error")
    # "complete" is logged just after the status flips to succeeded: give it a moment
    stack.wait_for("the job's timeline to list its 6 steps",
                   lambda: len(stack.http.get(f"/v1/jobs/{job['id']}").json()["timeline"]) >= 6, 60)
    time.sleep(0.2)
    steps = [t["step"] for t in stack.http.get(f"/v1/jobs/{job['id']}").json()["timeline"]]
    assert sorted(steps) == sorted(["fetch:0", "inspect:0", "plan:0", "transform:0", "deliver:0", "complete"])
    assert job["result"]["choices"][0]["message"]["content"].startswith("sim:openai")
    got = stack.completions(job["id"])
    assert len(got) == calls and all(c["status"] == 200 for c in got), got
    blobs = list((stack.dir / "storage").rglob(job["resources"][0]["source"]["sha256"]))
    assert len(blobs) == 1  # content-addressed: stored once however often the step ran


@pytest.mark.parametrize("stage", ["fetch", "transform", "deliver", "complete", "notify"])
def test_sigkill_mid_stage_loses_nothing(stack, stage):
    a = stack.worker(delay=f"{stage}:60")
    job_id = stack.submit(stage)
    step = STEP[stage]
    stack.wait_for(f"{step} to be held", lambda: stack.r.exists(lease_key(job_id, step)))
    pids = stack.kill(a)
    stack.wait_for("the SIGKILLed worker and its pool children to die", lambda: not any(_alive(p) for p in pids), 60)
    b = stack.worker()
    try:
        job = stack.wait(job_id)
        if stage == "notify":
            stack.wait_for("notify to be re-sent and finish",
                           lambda: stack.r.exists(f"ferry:job:{job_id}:done:notify"), timeout=120)
    finally:
        stack.stop(b)
    _assert_once(stack, job)


def test_sigkill_during_the_provider_call_records_one_completion(stack):
    """Killed while the provider is answering: the call is repeated with the same Idempotency-Key
    (at-least-once to the wire; providers that honour the key dedupe it) and the job records one result."""
    sim = stack.sims["openai"]
    sim.state.add_fault(delay=4, count=1, path_contains=COMPLETION)
    a = stack.worker()
    job_id = stack.submit("in-call")
    stack.wait_for("complete to be held", lambda: stack.r.exists(lease_key(job_id, "complete")))
    time.sleep(0.5)  # the request is on the wire, the simulator is sleeping on it
    stack.kill(a)
    b = stack.worker()
    try:
        job = stack.wait(job_id)
        stack.wait_for("both provider calls (the killed one and its repeat) to be logged",
                       lambda: len(stack.completions(job_id)) == 2, timeout=60)
    finally:
        stack.stop(b)
    _assert_once(stack, job, calls=2)
    assert len({c["headers"]["idempotency-key"] for c in stack.completions(job_id)}) == 1


def test_killed_pool_child_is_redelivered(stack):
    """Only the pool child dies: reject_on_worker_lost requeues, the new child takes the dead lease over."""
    a = stack.worker(delay="transform:2")
    try:
        job_id = stack.submit("child")
        stack.wait_for("transform to be held", lambda: stack.r.exists(lease_key(job_id, "transform:0")))
        holder = stack.r.get(lease_key(job_id, "transform:0")).decode()
        child = int(holder.split(":")[-2])
        assert child != a.pid
        os.kill(child, signal.SIGKILL)
        SUMMARY["kills"] += 1
        job = stack.wait(job_id)  # its deadline is far below the visibility timeout: no waiting for that
    finally:
        stack.stop(a)
    _assert_once(stack, job)


def test_lost_message_is_requeued_by_the_reaper(stack):
    """The broker lost the message (e.g. Redis restarted without it): the reaper re-sends the step."""
    job_id = stack.submit("lost")  # no worker is running: the message waits in the queue...
    queues = [k for k in stack.r.keys("*") if k.split(b"\x06")[0] in (b"io", b"cpu", b"llm")]
    assert queues
    stack.r.delete(*queues)  # ...and is lost
    b = stack.worker()
    try:
        job = stack.wait(job_id)
    finally:
        stack.stop(b)
    _assert_once(stack, job)
