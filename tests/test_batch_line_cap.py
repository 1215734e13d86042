"""Per-line byte cap of native batches (issue 13): a line over its provider's per-request limit
(batch_catalog.toml ``max_line_bytes``, else ``max_bytes``) is answered alone in the error file with
``line_too_large``, its size and the limit; the other lines still go through the provider batch.

Anthropic's is the smallest documented cap (a Message Batch request is a Messages request: 32 MB), so one
Anthropic line carries a text just over it; the official openai SDK talks to Ferry."""
from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.batch_kit import create, fast_batches, ferry_sdk, line, read_jsonl, sim_log, wait
from workers.providers import batch_catalog

MODEL = "anthropic/claude-haiku-4-5"


@pytest.fixture(scope="module")
def sdk(app) -> Iterator[openai.OpenAI]:  # type: ignore[no-untyped-def]
    yield from ferry_sdk(app, timeout=120)


@pytest.fixture
def ant(sims) -> Iterator[str]:  # type: ignore[no-untyped-def]
    yield from fast_batches(sims, "anthropic")


def test_catalog_line_caps_are_within_the_batch_caps():
    for provider, lim in batch_catalog.get().batch.items():
        cap, what = batch_catalog.line_cap(lim)
        assert 0 < cap <= lim.max_bytes, provider
        assert ("max_line_bytes" in what) == (lim.max_line_bytes is not None), provider
        if lim.max_line_bytes is not None:
            assert "max_line_bytes" in lim.source, f"{provider}: cite where max_line_bytes comes from"


def test_a_line_over_the_per_request_limit_is_refused_alone(sdk, ant):
    lim = batch_catalog.limits("anthropic")
    assert lim is not None and lim.max_line_bytes is not None
    cap = lim.max_line_bytes
    big = "x" * (cap + 1000)  # the text alone is over the cap
    jsonl = line("small-0", MODEL, "Say hi", max_tokens=5) + "\n"
    jsonl += line("huge", MODEL, big, max_tokens=5) + "\n"
    jsonl += line("small-1", MODEL, "Say bye", max_tokens=5) + "\n"
    batch = wait(sdk, create(sdk, jsonl, {"mode": "native"}).id, timeout=180)
    assert batch.status == "completed", batch
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (3, 2, 1)
    assert sorted(o["custom_id"] for o in read_jsonl(sdk, batch.output_file_id)) == ["small-0", "small-1"]
    [err] = read_jsonl(sdk, batch.error_file_id)
    assert err["custom_id"] == "huge" and err["response"] is None
    e = err["error"]
    assert e["code"] == "line_too_large" and e["line"] == 2
    assert e["limit"] == cap and e["bytes"] > cap
    assert str(e["bytes"]) in e["message"] and str(cap) in e["message"]
    [pb] = batch.model_extra["ferry"]["provider_batches"]
    assert pb["provider"] == "anthropic" and pb["lines"] == 2 and pb["status"] == "ended"
    created = [e for e in sim_log(ant) if e["method"] == "POST" and e["path"] == "/v1/messages/batches"]
    assert len(created) == 1 and created[0]["status"] == 200  # the provider took the batch: the big line was not in it
