"""Mistral batch jobs survive kill -9 (issue 13): a worker killed while creating a Mistral job (before or after
Mistral made it) or while collecting its results leaves no orphan, no second job and no line counted twice. A
private stack (tests/stack.py) with the reaper tuned fast; the Mistral simulator is the session's, so jobs are told
apart by Ferry's tag (``metadata.ferry_tag`` = ``ferry-<batch id>-<k>``), like tests/test_batch_crash.py."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.stack import Stack

SIM_AUTH = {"Authorization": "Bearer sim-key"}


@pytest.fixture
def stack(sims) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    s = Stack({"FERRY_LEASE_SECONDS": "2", "FERRY_REAPER_INTERVAL": "0.5", "FERRY_QUEUE_DEADLINE": "4",
               "FERRY_BATCH_POLL_SECONDS": "0.3"}, prefix="ferry-mistral-crash-")
    httpx.post(f"{sims['mistral'].url}/_sim/batches", json={"delay": 0.5, "expire": False})
    yield s
    s.close()
    httpx.post(f"{sims['mistral'].url}/_sim/batches", json={"delay": 1.0, "expire": False})


def upstream(sims: dict[str, Any], path: str, **params: Any) -> dict[str, Any]:
    return httpx.get(f"{sims['mistral'].url}/v1{path}", headers=SIM_AUTH, params=params).json()


def mistral_jobs(sims: dict[str, Any], batch_id: str) -> list[dict[str, Any]]:
    return [j for j in upstream(sims, "/batch/jobs", page_size=1000)["data"]
            if (j.get("metadata") or {}).get("ferry_tag", "").startswith(f"ferry-{batch_id}-")]


def input_files(sims: dict[str, Any], batch_id: str) -> list[dict[str, Any]]:
    return [f for f in upstream(sims, "/files", purpose="batch", search=f"ferry-{batch_id}-", page_size=1000)["data"]
            if f["sample_type"] == "batch_request"]


@pytest.mark.parametrize("hook", ["batch_create", "batch_created", "batch_collect"])
def test_kill_9_around_a_mistral_job_makes_one_job_and_loses_no_line(stack, sims, hook):
    a = stack.worker(FERRY_TEST_STAGE_DELAY=f"{hook}:60")
    sdk = openai.OpenAI(base_url=stack.url + "/v1", api_key="ferry-local-key", max_retries=0, timeout=30)
    n = 4
    jsonl = "".join(json.dumps({"custom_id": f"k{i}", "method": "POST", "url": "/v1/chat/completions",
                                "body": {"model": "mistral/mistral-small-latest", "max_tokens": 5,
                                         "messages": [{"role": "user", "content": f"line {i}"}]}}) + "\n"
                    for i in range(n))
    f = sdk.files.create(file=("in.jsonl", jsonl.encode()), purpose="batch")
    batch = sdk.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h",
                               extra_body={"ferry": {"mode": "native"}})
    groups = f"ferry:batch:{batch.id}:groups"

    def in_hook() -> bool:
        if hook == "batch_create":
            return any(json.loads(g)["state"] == "creating" for g in stack.r.hvals(groups))
        if hook == "batch_created":
            return bool(mistral_jobs(sims, batch.id))
        return sdk.batches.retrieve(batch.id).request_counts.completed >= 1

    stack.wait_for(f"the worker inside {hook}", in_hook, timeout=60)
    time.sleep(0.3)  # well inside the 60 s hold
    if hook == "batch_created":  # made upstream, not yet recorded here: the window creation must survive
        assert [json.loads(g)["state"] for g in stack.r.hvals(groups)] == ["creating"]
    stack.kill(a)
    stack.worker()
    deadline = time.monotonic() + 90
    while (done := sdk.batches.retrieve(batch.id)).status not in ("completed", "failed", "cancelled"):
        assert time.monotonic() < deadline, (done, [stack.tail(w) for w in stack.workers])
        time.sleep(0.2)
    assert done.status == "completed"
    assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (n, n, 0)
    out = [json.loads(x) for x in sdk.files.content(done.output_file_id).text.splitlines()]
    assert sorted(o["custom_id"] for o in out) == [f"k{i}" for i in range(n)]  # each once
    made = mistral_jobs(sims, batch.id)
    assert len(made) == 1 and made[0]["status"] == "SUCCESS"  # no second job, no orphan
    assert len(input_files(sims, batch.id)) == 1  # the input file uploaded once (reused after the kill)
    [pb] = done.model_extra["ferry"]["provider_batches"]
    assert pb["id"] == made[0]["id"] and pb["lines"] == n and pb["status"] == "completed"
    assert done.usage.input_tokens == sum(o["response"]["body"]["usage"]["prompt_tokens"] for o in out)
