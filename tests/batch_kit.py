"""What the native batch tests share: the openai SDK pointed at Ferry, simulators with fast batches, and the
helpers that write an input file, create a batch, wait for it and read its output (tests/test_batch_*.py)."""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai

from app.simulators.server import SimServer

DONE = ("completed", "failed", "cancelled", "expired")


def ferry_sdk(app: Any, timeout: float = 60) -> Iterator[openai.OpenAI]:
    """For a module fixture: ``yield from ferry_sdk(app)`` serves Ferry's app on a real socket for the SDK."""
    with SimServer(app) as server:
        yield openai.OpenAI(base_url=server.url + "/v1", api_key="ferry-local-key", max_retries=0, timeout=timeout)


def fast_batches(sims: dict[str, Any], provider: str, delay: float = 0.5) -> Iterator[str]:
    """For a fixture: ``provider``'s simulator URL, its log cleared and its batches ending after ``delay`` s;
    afterwards back to the 1 s default, with any fault a failed test left unused removed."""
    url = sims[provider].url
    httpx.post(f"{url}/_sim/batches", json={"delay": delay, "expire": False})
    httpx.delete(f"{url}/_sim/log")
    yield url
    httpx.post(f"{url}/_sim/batches", json={"delay": 1.0, "expire": False})
    httpx.delete(f"{url}/_sim/faults")


def sim_log(url: str) -> list[dict[str, Any]]:
    return httpx.get(f"{url}/_sim/log").json()


def line(custom_id: str, model: str, content: Any = "Say hi", **body: Any) -> str:
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
                       "body": {"model": model, "messages": [{"role": "user", "content": content}], **body}})


def image_content(text: str, uri: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": uri}}]


def create(sdk: openai.OpenAI, jsonl: str, ferry: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    f = sdk.files.create(file=("in.jsonl", jsonl.encode()), purpose="batch")
    extra = {"ferry": ferry} if ferry is not None else None
    return sdk.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h",
                              extra_body=extra)


def wait(sdk: openai.OpenAI, batch_id: str, timeout: float = 90, until: tuple[str, ...] = DONE):  # type: ignore[no-untyped-def]
    """The batch once its status is one of ``until``; fails after ``timeout`` s with the worker log's tail."""
    deadline = time.monotonic() + timeout
    while True:
        batch = sdk.batches.retrieve(batch_id)
        if batch.status in until:
            return batch
        if time.monotonic() > deadline:
            from tests.conftest import DATA_DIR

            log = (DATA_DIR / "worker.log").read_text(errors="replace")[-4000:]
            raise AssertionError(f"batch still {batch.status} after {timeout} s: {batch.model_extra}\n{log}")
        time.sleep(0.2)


def read_jsonl(sdk: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    return [json.loads(x) for x in sdk.files.content(file_id).text.splitlines()] if file_id else []


def kill_9_in(stack: Any, hook: str, model: str, n: int,
              made_upstream: Callable[[str], bool]) -> tuple[Any, list[dict[str, Any]]]:
    """The crash scenario every batch client must survive: an ``n``-line native batch for ``model`` on a private
    stack (tests/stack.py) whose worker is held at test hook ``hook`` (``batch_create``: before anything is made
    upstream; ``batch_created``: made upstream, not yet recorded; ``batch_collect``: one line counted), that
    worker killed with SIGKILL there, another started. ``made_upstream(batch_id)``: whether the provider holds
    a batch for it. Returns the completed batch and its output lines, each line answered exactly once."""
    a = stack.worker(FERRY_TEST_STAGE_DELAY=f"{hook}:60")
    sdk = openai.OpenAI(base_url=stack.url + "/v1", api_key="ferry-local-key", max_retries=0, timeout=30)
    jsonl = "".join(line(f"k{i}", model, f"line {i}", max_tokens=5) + "\n" for i in range(n))
    batch = create(sdk, jsonl, {"mode": "native"})
    groups = f"ferry:batch:{batch.id}:groups"

    def in_hook() -> bool:
        if hook == "batch_create":
            return any(json.loads(g)["state"] == "creating" for g in stack.r.hvals(groups))
        if hook == "batch_created":
            return made_upstream(batch.id)
        return bool(sdk.batches.retrieve(batch.id).request_counts.completed >= 1)

    stack.wait_for(f"the worker inside {hook}", in_hook, timeout=60)
    time.sleep(0.3)  # well inside the 60 s hold
    if hook == "batch_created":  # made upstream, not yet recorded here: the crash window creation must survive
        assert [json.loads(g)["state"] for g in stack.r.hvals(groups)] == ["creating"]
    stack.kill(a)
    stack.worker()
    deadline = time.monotonic() + 90
    while (done := sdk.batches.retrieve(batch.id)).status not in ("completed", "failed", "cancelled"):
        assert time.monotonic() < deadline, (done, [stack.tail(w) for w in stack.workers])
        time.sleep(0.2)
    assert done.status == "completed"
    assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (n, n, 0)
    out = read_jsonl(sdk, done.output_file_id)
    assert sorted(o["custom_id"] for o in out) == [f"k{i}" for i in range(n)]  # each once
    assert done.usage.input_tokens == sum(o["response"]["body"]["usage"]["prompt_tokens"] for o in out)
    return done, out
