"""A batch task that raises fails its batch visibly (issue 10.1), never leaves it ``in_progress`` for ever.

A private stack: the batch is created while no worker runs, one of its Redis records is then broken (a key
of the wrong type, so ``batch_start`` raises ``WRONGTYPE``), and a worker is started.
"""
from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.stack import Stack


@pytest.fixture
def stack(sims: dict[str, Any]) -> Iterator[Stack]:
    s = Stack(prefix="ferry-batch-errors-")
    yield s
    s.close()


def test_batch_start_that_raises_fails_the_batch(stack: Stack) -> None:
    line = json.dumps({"custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
                       "body": {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}})
    up = stack.http.post("/v1/files", data={"purpose": "batch"},
                         files={"file": ("in.jsonl", io.BytesIO(line.encode() + b"\n"), "application/jsonl")})
    batch = stack.http.post("/v1/batches", json={"input_file_id": up.json()["id"], "endpoint": "/v1/chat/completions",
                                                 "completion_window": "24h"}).json()
    stack.r.set(f"ferry:batch:{batch['id']}:done", "not a set")  # smembers() on it raises WRONGTYPE
    worker = stack.worker()
    try:
        stack.wait_for("the batch to fail after its retries",
                       lambda: stack.http.get(f"/v1/batches/{batch['id']}").json()["status"] == "failed", timeout=120)
    finally:
        stack.stop(worker)
    failed = stack.http.get(f"/v1/batches/{batch['id']}").json()
    error = failed["errors"]["data"][0]
    assert error["code"] == "internal_error"
    assert "batch_start failed" in error["message"] and "WRONGTYPE" in error["message"]
