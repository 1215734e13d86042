"""Mistral batch jobs survive kill -9 (issue 13): a worker killed while creating a Mistral job (before or after
Mistral made it) or while collecting its results leaves no orphan, no second job and no line counted twice. A
private stack (tests/stack.py) with the reaper tuned fast; the Mistral simulator is the session's, so jobs are told
apart by Ferry's tag (``metadata.ferry_tag`` = ``ferry-<batch id>-<k>``), like tests/test_batch_crash.py."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.batch_kit import kill_9_in
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
    n = 4
    done, _ = kill_9_in(stack, hook, "mistral/mistral-small-latest", n,
                        lambda batch_id: bool(mistral_jobs(sims, batch_id)))
    made = mistral_jobs(sims, done.id)
    assert len(made) == 1 and made[0]["status"] == "SUCCESS"  # no second job, no orphan
    assert len(input_files(sims, done.id)) == 1  # the input file uploaded once (reused after the kill)
    [pb] = done.model_extra["ferry"]["provider_batches"]
    assert pb["id"] == made[0]["id"] and pb["lines"] == n and pb["status"] == "completed"
