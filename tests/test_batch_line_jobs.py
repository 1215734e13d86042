"""A native batch line's job says what it waits for (issue 13): while its provider batch runs it is ``running`` at
stage ``batch`` with ``status_detail`` naming that provider batch, not ``succeeded`` without a result; the
collection ends it, succeeded with the provider's answer or failed with the provider's error. The official
openai SDK against Ferry, the OpenAI simulator's Batch API behind it."""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.batch_kit import create, fast_batches, ferry_sdk, line, read_jsonl, wait
from workers.context import get_context
from workers.core import keys


@pytest.fixture(scope="module")
def sdk(app) -> Iterator[openai.OpenAI]:  # type: ignore[no-untyped-def]
    yield from ferry_sdk(app)


@pytest.fixture
def slow_oai(sims) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The OpenAI simulator, its batches running 3 s: long enough to look at the lines' jobs meanwhile."""
    yield from fast_batches(sims, "openai", delay=3.0)


def job(sdk: openai.OpenAI, job_id: str) -> dict[str, Any]:
    return sdk.get(f"/jobs/{job_id}", cast_to=object)  # type: ignore[return-value]


def test_a_native_lines_job_waits_for_its_provider_batch_then_ends_with_its_answer(sdk, slow_oai):
    jsonl = line("ok", "openai/gpt-4o", "Say hi", max_tokens=5) + "\n"
    jsonl += line("unserved", "openai/gpt-4o-nosuch-2", "Say hi", max_tokens=5) + "\n"
    created = create(sdk, jsonl, {"mode": "native"})
    r = get_context().redis
    deadline = time.monotonic() + 60
    while True:  # until both provider batches exist (one model per OpenAI batch)
        b = sdk.batches.retrieve(created.id)
        pbs = b.model_extra["ferry"]["provider_batches"]
        if len(pbs) == 2 and all(p["id"] for p in pbs):
            break
        assert time.monotonic() < deadline, f"provider batches not created: {b}"
        time.sleep(0.1)
    by_model = {p["model"]: p["id"] for p in pbs}
    jobs = {int(i): j.decode() for i, j in r.hgetall(keys.batch(created.id, "jobs")).items()}
    waiting = {i: job(sdk, j) for i, j in jobs.items()}  # the provider batches run 3 s: still running now
    for i, model in ((0, "gpt-4o"), (1, "gpt-4o-nosuch-2")):
        view = waiting[i]
        assert view["status"] == "running" and view["stage"] == "batch" and view["progress"] < 1, view
        assert view["status_detail"] == f"waiting for the openai batch {by_model[model]}"
        assert "result" not in view and view["batch_line"]["provider"] == "openai"

    done = wait(sdk, created.id)
    assert done.status == "completed" and (done.request_counts.completed, done.request_counts.failed) == (1, 1)
    [out] = read_jsonl(sdk, done.output_file_id)
    ok = job(sdk, jobs[0])
    assert ok["status"] == "succeeded" and ok["result"] == out["response"]["body"]
    assert ok["status_detail"] == f"answered by the openai batch {by_model['gpt-4o']}"
    [err] = read_jsonl(sdk, done.error_file_id)
    bad = job(sdk, jobs[1])
    assert bad["status"] == "failed" and "result" not in bad
    assert bad["error"]["type"] == "upstream_error" and bad["error"]["upstream_status"] == 404
    assert bad["error"]["message"] == err["response"]["body"]["error"]["message"]
    assert "gpt-4o-nosuch-2" in bad["error"]["message"]


def test_a_cancelled_native_batch_cancels_its_lines_jobs(sdk, sims):
    url = sims["openai"].url
    httpx.post(f"{url}/_sim/batches", json={"delay": 30})
    try:
        jsonl = "".join(line(f"c{i}", "openai/gpt-4o", f"n {i}", max_tokens=5) + "\n" for i in range(2))
        created = create(sdk, jsonl, {"mode": "native"})
        deadline = time.monotonic() + 60
        while not (pbs := sdk.batches.retrieve(created.id).model_extra["ferry"]["provider_batches"]) or \
                not pbs[0]["id"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        sdk.batches.cancel(created.id)
        done = wait(sdk, created.id, timeout=60)
        assert done.status == "cancelled"
        jobs = get_context().redis.hvals(keys.batch(created.id, "jobs"))
        views = [job(sdk, j.decode()) for j in jobs]
        assert [v["status"] for v in views] == ["canceled", "canceled"]
        assert all(v["status_detail"] == f"cancelled with the openai batch {pbs[0]['id']}" for v in views), views
    finally:
        httpx.post(f"{url}/_sim/batches", json={"delay": 1.0})
