"""Native batches (issue 13) with the official openai SDK: Ferry's /v1/batches sends lines through the OpenAI
Batch API (the simulator in app/simulators/openai_batches.py), media prepared by the job pipeline first."""
from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.batch_kit import create, fast_batches, ferry_sdk, image_content, line, read_jsonl, sim_log, wait
from tests.helpers import fresh_image_uri



@pytest.fixture(scope="module")
def sdk(app) -> Iterator[openai.OpenAI]:  # type: ignore[no-untyped-def]
    yield from ferry_sdk(app)


@pytest.fixture
def ant(sims) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The Anthropic simulator's URL, its log cleared and its Message Batches ending after 0.5 s."""
    yield from fast_batches(sims, "anthropic")


@pytest.fixture
def oai(sims) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The OpenAI simulator's URL, its log cleared and its batches answering after 0.5 s."""
    yield from fast_batches(sims, "openai")


def test_native_openai_mixed_with_jobs_and_a_bad_line(sdk, oai):
    """auto: OpenAI lines go through one OpenAI batch (the shared image uploaded once, no chat calls), the
    Cohere line (no chat batch API) runs as a job, an unknown provider is answered in the error file; costs
    and savings."""
    n, uri = 6, fresh_image_uri("JPEG")
    jsonl = "".join(line(f"img-{i}", "openai/gpt-4o-mini", image_content(f"picture {i}", uri), max_tokens=20) + "\n"
                    for i in range(n))
    jsonl += line("claude", "cohere/command-a-vision-07-2025", max_tokens=20) + "\n"
    jsonl += line("bad", "nosuch/model") + "\n"
    created = create(sdk, jsonl)
    assert created.model_extra["ferry"]["mode"] == "auto"
    batch = wait(sdk, created.id)
    assert batch.status == "completed", batch
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (n + 2, n + 1, 1)
    ferry = batch.model_extra["ferry"]
    [pb] = ferry["provider_batches"]
    assert pb["provider"] == "openai" and pb["model"] == "gpt-4o-mini" and pb["lines"] == n
    assert pb["status"] == "completed" and pb["id"].startswith("batch_")

    out = {o["custom_id"]: o for o in read_jsonl(sdk, batch.output_file_id)}
    assert sorted(out) == sorted([f"img-{i}" for i in range(n)] + ["claude"])
    for i in range(n):
        body = out[f"img-{i}"]["response"]["body"]
        assert body["object"] == "chat.completion" and body["model"] == "openai/gpt-4o-mini"
        assert "image/jpeg" in body["choices"][0]["message"]["content"] or "file=" in \
            body["choices"][0]["message"]["content"]
        assert body["cost"]["priced"] and body["cost"]["usd"] == pytest.approx(body["cost"]["sync_usd"] / 2)
        # the line's job carries the same answer (GET /v1/jobs/{id}, the UI), not only the output file
        job = sdk.get(f"/jobs/{out[f'img-{i}']['response']['request_id']}", cast_to=object)
        assert job["result"] == body and job["status"] == "succeeded"
    assert out["claude"]["response"]["body"]["object"] == "chat.completion"
    assert out["claude"]["response"]["body"]["model"].startswith("cohere/")
    [bad] = read_jsonl(sdk, batch.error_file_id)
    assert bad["custom_id"] == "bad" and bad["response"]["status_code"] == 422

    log = sim_log(oai)
    assert not [e for e in log if e["path"].endswith("/chat/completions")]  # nothing synchronous upstream
    uploads = [e for e in log if e["method"] == "POST" and e["path"] == "/v1/files"]
    assert len(uploads) == 2  # the image once (shared by all lines), the JSONL input once
    assert [e["path"] for e in log if e["method"] == "POST" and e["path"] == "/v1/batches"] == ["/v1/batches"]
    cost = ferry["cost"]
    assert cost["usd"] > 0 and cost["sync_usd"] > cost["usd"] and cost["saved_usd"] > 0
    assert cost["estimate_usd"] > 0


def test_native_mode_refuses_a_provider_without_batch_api_per_line(sdk, oai):
    """Cohere has no chat batch API: in native mode its line is refused with the reason, the rest goes on."""
    jsonl = line("ok", "openai/gpt-4o", max_tokens=5) + "\n" + line("cohere", "cohere/command-a-03-2025") + "\n"
    batch = wait(sdk, create(sdk, jsonl, {"mode": "native"}).id)
    assert batch.status == "completed"
    assert [o["custom_id"] for o in read_jsonl(sdk, batch.output_file_id)] == ["ok"]
    [err] = read_jsonl(sdk, batch.error_file_id)
    assert err["custom_id"] == "cohere" and err["error"]["code"] == "no_batch_api"
    assert "cohere has no batch API" in err["error"]["message"] and "mistral" in err["error"]["message"]


def test_jobs_mode_is_todays_behaviour(sdk, oai):
    batch = wait(sdk, create(sdk, line("a", "openai/gpt-4o", max_tokens=5) + "\n", {"mode": "jobs"}).id)
    assert batch.status == "completed" and batch.model_extra["ferry"]["provider_batches"] == []
    [out] = read_jsonl(sdk, batch.output_file_id)
    assert out["response"]["request_id"].startswith("job_")
    assert [e["path"] for e in sim_log(oai) if e["path"].endswith("/batches")] == []
    assert out["response"]["body"]["cost"]["usd"] > 0  # a job result carries its cost too


def test_lines_group_per_model_and_a_line_the_provider_refuses_is_in_the_error_file(sdk, oai):
    """One model per OpenAI input file: two models make two provider batches. The strict simulator runs each line
    through the synchronous endpoint's rules, so a model it does not serve is its own 404 in the error file."""
    jsonl = "".join(line(f"good{i}", "openai/gpt-4o", max_tokens=5) + "\n" for i in range(2))
    jsonl += line("unserved", "openai/gpt-4o-nosuch-1", max_tokens=5) + "\n"
    batch = wait(sdk, create(sdk, jsonl, {"mode": "native"}).id)
    assert batch.status == "completed"
    pbs = batch.model_extra["ferry"]["provider_batches"]
    assert sorted((p["model"], p["lines"], p["status"]) for p in pbs) == [
        ("gpt-4o", 2, "completed"), ("gpt-4o-nosuch-1", 1, "completed")]
    assert len({p["id"] for p in pbs}) == 2
    assert sorted(o["custom_id"] for o in read_jsonl(sdk, batch.output_file_id)) == ["good0", "good1"]
    [err] = read_jsonl(sdk, batch.error_file_id)
    assert err["custom_id"] == "unserved" and err["response"]["status_code"] == 404
    assert "gpt-4o-nosuch-1" in err["response"]["body"]["error"]["message"]


def test_cancel_cancels_the_provider_batch(sdk, oai):
    httpx.post(f"{oai}/_sim/batches", json={"delay": 30})
    jsonl = "".join(line(f"c{i}", "openai/gpt-4o", f"n {i}", max_tokens=5) + "\n" for i in range(4))
    created = create(sdk, jsonl, {"mode": "native"})
    deadline = time.monotonic() + 30
    while not (b := sdk.batches.retrieve(created.id)).model_extra["ferry"]["provider_batches"] or \
            not b.model_extra["ferry"]["provider_batches"][0]["id"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    provider_id = b.model_extra["ferry"]["provider_batches"][0]["id"]
    assert sdk.batches.cancel(created.id).status in ("cancelling", "cancelled")
    batch = wait(sdk, created.id, timeout=30)
    assert batch.status == "cancelled"
    lines = read_jsonl(sdk, batch.error_file_id)
    assert sorted(x["custom_id"] for x in lines) == [f"c{i}" for i in range(4)]
    assert {x["error"]["code"] for x in lines} == {"batch_cancelled"}
    upstream = httpx.get(f"{oai}/v1/batches/{provider_id}", headers={"Authorization": "Bearer sim-key"}).json()
    assert upstream["status"] == "cancelled"
    assert batch.model_extra["ferry"]["provider_batches"][0]["status"] == "cancelled"


@pytest.mark.parametrize("fallback", [None, "jobs"])
def test_an_expired_provider_batch_reports_or_falls_back(sdk, oai, fallback):
    httpx.post(f"{oai}/_sim/batches", json={"delay": 0.2, "expire": True})
    jsonl = "".join(line(f"e{i}", "openai/gpt-4o", f"n {i}", max_tokens=5) + "\n" for i in range(3))
    ferry = {"mode": "native", **({"fallback": fallback} if fallback else {})}
    batch = wait(sdk, create(sdk, jsonl, ferry).id)
    assert batch.status == "completed"
    assert batch.model_extra["ferry"]["provider_batches"][0]["status"] == "expired"
    if fallback is None:
        errors = read_jsonl(sdk, batch.error_file_id)
        assert sorted(e["custom_id"] for e in errors) == ["e0", "e1", "e2"]
        assert {e["error"]["code"] for e in errors} == {"batch_expired"}
    else:
        out = read_jsonl(sdk, batch.output_file_id)
        assert sorted(o["custom_id"] for o in out) == ["e0", "e1", "e2"]
        assert all(o["response"]["request_id"].startswith("job_") for o in out)
        assert len([e for e in sim_log(oai) if e["path"].endswith("/chat/completions")]) == 3


def test_bad_ferry_object_is_a_400(client):
    import io

    from tests.conftest import AUTH

    fid = client.post("/v1/files", headers=AUTH, data={
        "purpose": "batch", "file": (io.BytesIO((line("a", "openai/gpt-4o") + "\n").encode()), "in.jsonl")}).json["id"]
    resp = client.post("/v1/batches", headers=AUTH, json={
        "input_file_id": fid, "endpoint": "/v1/chat/completions", "completion_window": "24h",
        "ferry": {"mode": "fastest"}})
    assert resp.status_code == 400 and resp.json["error"]["param"].startswith("ferry")


def test_mixed_providers_each_through_its_batch_api(sdk, oai, ant):
    """OpenAI and Anthropic lines in one input file: one OpenAI Batch and one Anthropic Message Batch, the shared
    image uploaded once to each provider's Files API, no synchronous call to either; results back in one file."""
    n, uri = 4, fresh_image_uri("JPEG")
    jsonl = "".join(line(f"o{i}", "openai/gpt-4o", image_content(f"o {i}", uri), max_tokens=10) + "\n"
                    for i in range(n))
    jsonl += "".join(line(f"a{i}", "anthropic/claude-sonnet-4-5", image_content(f"a {i}", uri), max_tokens=10) + "\n"
                     for i in range(n))
    batch = wait(sdk, create(sdk, jsonl, {"mode": "native"}).id)
    assert batch.status == "completed" and batch.request_counts.completed == 2 * n, batch
    pbs = {p["provider"]: p for p in batch.model_extra["ferry"]["provider_batches"]}
    assert pbs["openai"]["lines"] == n and pbs["anthropic"]["lines"] == n
    assert pbs["anthropic"]["id"].startswith("msgbatch_") and pbs["anthropic"]["status"] == "ended"
    out = {o["custom_id"]: o for o in read_jsonl(sdk, batch.output_file_id)}
    assert sorted(out) == sorted([f"o{i}" for i in range(n)] + [f"a{i}" for i in range(n)])
    for i in range(n):
        body = out[f"a{i}"]["response"]["body"]
        assert body["object"] == "chat.completion" and body["model"].startswith("anthropic/")
        assert "sim:anthropic" in body["choices"][0]["message"]["content"]
        assert body["cost"]["usd"] == pytest.approx(body["cost"]["sync_usd"] / 2)
    alog = sim_log(ant)
    assert not [e for e in alog if e["path"] == "/v1/messages"]
    assert len([e for e in alog if e["method"] == "POST" and e["path"] == "/v1/files"]) == 1
    assert len([e for e in alog if e["method"] == "POST" and e["path"] == "/v1/messages/batches"]) == 1
    assert not [e for e in sim_log(oai) if e["path"].endswith("/chat/completions")]


def test_anthropic_errored_and_canceled_results(sdk, ant):
    """A model the simulator does not serve is an errored result (its 404 in the error file); a cancel turns the
    requests not yet run into batch_cancelled lines."""
    jsonl = line("ok", "anthropic/claude-sonnet-4-5", max_tokens=5) + "\n"
    jsonl += line("nosuch", "anthropic/claude-sonnet-4-5-nosuch", max_tokens=5) + "\n"
    batch = wait(sdk, create(sdk, jsonl, {"mode": "native"}).id)
    assert batch.status == "completed"
    [err] = read_jsonl(sdk, batch.error_file_id)
    assert err["custom_id"] == "nosuch" and err["response"]["status_code"] == 404

    httpx.post(f"{ant}/_sim/batches", json={"delay": 30})
    created = create(sdk, line("slow", "anthropic/claude-haiku-4-5", max_tokens=5) + "\n", {"mode": "native"})
    deadline = time.monotonic() + 30
    while not (sdk.batches.retrieve(created.id).model_extra["ferry"]["provider_batches"] or [{}])[0].get("id"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    sdk.batches.cancel(created.id)
    done = wait(sdk, created.id, timeout=30)
    assert done.status == "cancelled"
    [line_] = read_jsonl(sdk, done.error_file_id)
    assert line_["error"]["code"] == "batch_cancelled"
    assert done.model_extra["ferry"]["provider_batches"][0]["status"] == "cancelled"
