"""Native batches survive kill -9 (issue 13, item 4): a worker killed while creating a provider batch (before
or after the provider made it) or while collecting its results leaves no orphan, no duplicate provider batch and
no line counted twice. A private stack (tests/stack.py) with the reaper tuned fast; the OpenAI simulator is the
session's, so its batches are told apart by Ferry's tag (``metadata.ferry_tag`` = ``ferry-<batch id>-<k>``)."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.batch_kit import kill_9_in
from tests.stack import Stack

SIM_AUTH = {"Authorization": "Bearer sim-key"}


@pytest.fixture
def stack(sims) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    s = Stack({"FERRY_LEASE_SECONDS": "2", "FERRY_REAPER_INTERVAL": "0.5", "FERRY_QUEUE_DEADLINE": "4",
               "FERRY_BATCH_POLL_SECONDS": "0.3"}, prefix="ferry-batch-crash-")
    httpx.post(f"{sims['openai'].url}/_sim/batches", json={"delay": 0.5, "expire": False})
    yield s
    s.close()


def upstream(sims: dict[str, Any], path: str, **params: Any) -> dict[str, Any]:
    return httpx.get(f"{sims['openai'].url}/v1{path}", headers=SIM_AUTH, params=params).json()


def provider_batches(sims: dict[str, Any], batch_id: str) -> list[dict[str, Any]]:
    return [b for b in upstream(sims, "/batches", limit=100)["data"]
            if (b.get("metadata") or {}).get("ferry_tag", "").startswith(f"ferry-{batch_id}-")]


def input_files(sims: dict[str, Any], batch_id: str) -> list[dict[str, Any]]:
    return [f for f in upstream(sims, "/files", purpose="batch")["data"]
            if f["filename"].startswith(f"ferry-{batch_id}-")]


def anthropic_batches(sims: dict[str, Any]) -> list[dict[str, Any]]:
    return httpx.get(f"{sims['anthropic'].url}/v1/messages/batches", params={"limit": 1000},
                     headers={"x-api-key": "sim-key", "anthropic-version": "2023-06-01"}).json()["data"]


def test_anthropic_kill_9_after_creating_adopts_the_batch_made(stack, sims):
    """A Message Batch has no metadata: the retry finds the batch its first attempt made (created since then,
    this many requests) instead of creating a second."""
    httpx.post(f"{sims['anthropic'].url}/_sim/batches", json={"delay": 0.5})
    a = stack.worker(**{"FERRY_TEST_STAGE_DELAY": "batch_created:60"})
    sdk = openai.OpenAI(base_url=stack.url + "/v1", api_key="ferry-local-key", max_retries=0, timeout=30)
    n = 3
    jsonl = "".join(json.dumps({"custom_id": f"q{i}", "method": "POST", "url": "/v1/chat/completions",
                                "body": {"model": "anthropic/claude-haiku-4-5", "max_tokens": 5,
                                         "messages": [{"role": "user", "content": f"line {i}"}]}}) + "\n"
                    for i in range(n))
    f = sdk.files.create(file=("in.jsonl", jsonl.encode()), purpose="batch")
    before = {b["id"] for b in anthropic_batches(sims)}
    batch = sdk.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h",
                               extra_body={"ferry": {"mode": "native"}})
    stack.wait_for("the Message Batch made upstream", lambda: {b["id"] for b in anthropic_batches(sims)} - before,
                   timeout=60)
    time.sleep(0.3)
    stack.kill(a)
    stack.worker()
    deadline = time.monotonic() + 90
    while (done := sdk.batches.retrieve(batch.id)).status != "completed":
        assert time.monotonic() < deadline, done
        time.sleep(0.2)
    made = [b for b in anthropic_batches(sims) if b["id"] not in before]
    assert len(made) == 1  # adopted, not made twice
    assert done.model_extra["ferry"]["provider_batches"][0]["id"] == made[0]["id"]
    assert done.request_counts.completed == n


@pytest.mark.parametrize("hook", ["batch_create", "batch_created", "batch_collect"])
def test_kill_9_mid_creation_or_collection_loses_nothing_and_makes_nothing_twice(stack, sims, hook):
    n = 5
    done, _ = kill_9_in(stack, hook, "openai/gpt-4o", n, lambda batch_id: bool(provider_batches(sims, batch_id)))
    made = provider_batches(sims, done.id)
    assert len(made) == 1 and made[0]["status"] == "completed"  # no duplicate, no orphan
    assert len(input_files(sims, done.id)) == 1  # the input file uploaded once (reused after the kill)
    [pb] = done.model_extra["ferry"]["provider_batches"]
    assert pb["id"] == made[0]["id"] and pb["lines"] == n
