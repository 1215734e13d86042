"""Mistral batch jobs as a native batch client (issue 13), with the official openai SDK against Ferry's /v1/batches:
lines go through the Mistral simulator's Files API and /v1/batch/jobs (app/simulators/mistral_batches.py), media
prepared by the job pipeline first; and the client (workers/providers/batch_api/mistral.py) against the
simulator directly for what Ferry never sends (bad JSONL) and for idempotent creation."""
from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.helpers import fresh_image_uri
from tests.batch_kit import create, fast_batches, ferry_sdk, image_content, line, read_jsonl, sim_log, wait
from workers.providers.batch_api import mistral as client

SIM_AUTH = {"Authorization": "Bearer sim-key"}
SMALL = "mistral/mistral-small-latest"


@pytest.fixture(scope="module")
def sdk(app) -> Iterator[openai.OpenAI]:  # type: ignore[no-untyped-def]
    yield from ferry_sdk(app)


@pytest.fixture
def mis(sims) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The Mistral simulator's URL, its log cleared and its batch jobs ending after 0.5 s."""
    yield from fast_batches(sims, "mistral")


@pytest.fixture
def oai(sims) -> Iterator[str]:  # type: ignore[no-untyped-def]
    yield from fast_batches(sims, "openai")


def upstream(url: str, path: str, **params: Any) -> Any:
    resp = httpx.get(f"{url}/v1{path}", headers=SIM_AUTH, params=params)
    assert resp.status_code == 200, resp.text
    return resp.json() if path.split("/")[-1] != "content" else resp.content


def provider_id(sdk: openai.OpenAI, batch_id: str) -> str:
    """Wait until Ferry recorded its provider batch's id."""
    deadline = time.monotonic() + 30
    while not ((b := sdk.batches.retrieve(batch_id)).model_extra["ferry"]["provider_batches"] or [{}])[0].get("id"):
        assert time.monotonic() < deadline, f"no provider batch recorded for {batch_id}: {b.model_extra}"
        time.sleep(0.1)
    return str(b.model_extra["ferry"]["provider_batches"][0]["id"])


def test_mistral_native_batch_with_images_carries_what_the_sync_call_would(sdk, mis):
    """auto: Mistral lines with an image go through one Mistral batch job (no chat call upstream). Ferry sends
    Mistral images inline (it has no Mistral Files API; no presigned URLs here), so each input line carries a
    data URI, and each answer describes exactly what the synchronous call of the same request receives."""
    n, uri = 4, fresh_image_uri("JPEG")
    jsonl = "".join(line(f"m{i}", SMALL, image_content(f"picture {i}", uri), max_tokens=20) + "\n" for i in range(n))
    batch = wait(sdk, create(sdk, jsonl).id)
    assert batch.status == "completed", batch
    assert (batch.request_counts.total, batch.request_counts.completed) == (n, n)
    [pb] = batch.model_extra["ferry"]["provider_batches"]
    assert (pb["provider"], pb["model"], pb["lines"], pb["status"]) == ("mistral", "mistral-small-latest", n,
                                                                        "completed")
    out = {o["custom_id"]: o for o in read_jsonl(sdk, batch.output_file_id)}
    assert sorted(out) == [f"m{i}" for i in range(n)]

    log = sim_log(mis)
    assert not [e for e in log if e["path"] == "/v1/chat/completions"]  # nothing synchronous upstream
    assert len([e for e in log if e["method"] == "POST" and e["path"] == "/v1/files"]) == 1
    assert len([e for e in log if e["method"] == "POST" and e["path"] == "/v1/batch/jobs"]) == 1
    job = upstream(mis, f"/batch/jobs/{pb['id']}")
    assert job["status"] == "SUCCESS" and job["metadata"]["ferry_tag"].startswith(f"ferry-{batch.id}-")
    [input_file] = job["input_files"]
    sent = [json.loads(x) for x in upstream(mis, f"/files/{input_file}/content").splitlines()]
    assert len(sent) == n and all(set(s) == {"custom_id", "body"} for s in sent)
    for s in sent:
        url = s["body"]["messages"][0]["content"][1]["image_url"]
        assert isinstance(url, str) and url.startswith("data:image/")  # Mistral's bare-string image_url, inline
        base64.b64decode(url.partition(",")[2], validate=True)

    sync = sdk.chat.completions.create(model=SMALL, max_tokens=20,
                                       messages=[{"role": "user", "content": image_content("picture 0", uri)}])
    body = out["m0"]["response"]["body"]
    assert body["object"] == "chat.completion" and body["model"] == SMALL
    assert body["choices"][0]["message"]["content"] == sync.choices[0].message.content  # same parts arrived
    assert "image" in body["choices"][0]["message"]["content"]
    assert body["cost"]["priced"] and body["cost"]["usd"] == pytest.approx(body["cost"]["sync_usd"] / 2)
    cost = batch.model_extra["ferry"]["cost"]
    assert cost["usd"] > 0 and cost["saved_usd"] == pytest.approx(cost["sync_usd"] - cost["usd"], abs=1e-6)


def test_a_line_mistral_refuses_is_in_the_error_file_and_the_rest_goes_on(sdk, mis):
    """One model per Mistral job: two models make two jobs. The simulator runs each line through its synchronous
    endpoint's rules, so a model it does not serve is that line's own 400 ``Invalid model`` in the error file."""
    jsonl = "".join(line(f"good{i}", SMALL, f"n {i}", max_tokens=5) + "\n" for i in range(2))
    jsonl += line("unserved", "mistral/mistral-nosuch-9", max_tokens=5) + "\n"
    batch = wait(sdk, create(sdk, jsonl, {"mode": "native"}).id)
    assert batch.status == "completed"
    pbs = batch.model_extra["ferry"]["provider_batches"]
    assert sorted((p["model"], p["lines"], p["status"]) for p in pbs) == [
        ("mistral-nosuch-9", 1, "completed"), ("mistral-small-latest", 2, "completed")]
    assert sorted(o["custom_id"] for o in read_jsonl(sdk, batch.output_file_id)) == ["good0", "good1"]
    [err] = read_jsonl(sdk, batch.error_file_id)
    assert err["custom_id"] == "unserved" and err["response"]["status_code"] == 400
    assert "Invalid model: mistral-nosuch-9" in err["response"]["body"]["error"]["message"]
    job = upstream(mis, f"/batch/jobs/{next(p['id'] for p in pbs if p['model'] == 'mistral-nosuch-9')}")
    assert (job["succeeded_requests"], job["failed_requests"]) == (0, 1) and job["error_file"]


def test_mistral_refusing_the_job_answers_its_lines_with_the_reason(sdk, mis):
    """Mistral answers the job creation with a 4xx: each of its lines gets the reason; nothing runs as a job."""
    fault = {"status": 400, "path_contains": "/v1/batch/jobs", "body_contains": "input_files", "count": 1,
             "message": "Batch jobs are not enabled for this workspace"}
    assert httpx.post(f"{mis}/_sim/faults", json=fault).status_code == 201
    jsonl = "".join(line(f"r{i}", SMALL, f"n {i}", max_tokens=5) + "\n" for i in range(2))
    batch = wait(sdk, create(sdk, jsonl, {"mode": "native"}).id)
    assert batch.status == "completed" and batch.request_counts.failed == 2
    [pb] = batch.model_extra["ferry"]["provider_batches"]
    assert pb["status"] == "refused" and "not enabled for this workspace" in pb["reason"]
    errors = read_jsonl(sdk, batch.error_file_id)
    assert sorted(e["custom_id"] for e in errors) == ["r0", "r1"]
    assert {e["error"]["code"] for e in errors} == {"provider_refused_batch"}
    assert all("not enabled for this workspace" in e["error"]["message"] for e in errors)
    assert not [e for e in sim_log(mis) if e["path"] == "/v1/chat/completions"]


def test_cancel_while_running_cancels_the_mistral_job(sdk, mis):
    httpx.post(f"{mis}/_sim/batches", json={"delay": 30})
    jsonl = "".join(line(f"c{i}", SMALL, f"n {i}", max_tokens=5) + "\n" for i in range(3))
    created = create(sdk, jsonl, {"mode": "native"})
    pid = provider_id(sdk, created.id)
    assert upstream(mis, f"/batch/jobs/{pid}")["status"] == "RUNNING"
    assert sdk.batches.cancel(created.id).status in ("cancelling", "cancelled")
    batch = wait(sdk, created.id, timeout=30)
    assert batch.status == "cancelled"
    lines = read_jsonl(sdk, batch.error_file_id)
    assert sorted(x["custom_id"] for x in lines) == ["c0", "c1", "c2"]
    assert {x["error"]["code"] for x in lines} == {"batch_cancelled"}
    assert upstream(mis, f"/batch/jobs/{pid}")["status"] == "CANCELLED"
    assert [e for e in sim_log(mis) if e["path"] == f"/v1/batch/jobs/{pid}/cancel"]
    assert batch.model_extra["ferry"]["provider_batches"][0]["status"] == "cancelled"


@pytest.mark.parametrize("fallback", [None, "jobs"])
def test_timeout_exceeded_is_reported_with_its_reason_or_falls_back_to_jobs(sdk, mis, fallback):
    httpx.post(f"{mis}/_sim/batches", json={"delay": 0.2, "expire": True})
    jsonl = "".join(line(f"t{i}", SMALL, f"n {i}", max_tokens=5) + "\n" for i in range(3))
    ferry = {"mode": "native", **({"fallback": fallback} if fallback else {})}
    batch = wait(sdk, create(sdk, jsonl, ferry).id)
    assert batch.status == "completed"
    [pb] = batch.model_extra["ferry"]["provider_batches"]
    assert pb["status"] == "expired" and "TIMEOUT_EXCEEDED" in pb["reason"]
    assert upstream(mis, f"/batch/jobs/{pb['id']}")["status"] == "TIMEOUT_EXCEEDED"
    if fallback is None:
        errors = read_jsonl(sdk, batch.error_file_id)
        assert sorted(e["custom_id"] for e in errors) == ["t0", "t1", "t2"]
        assert {e["error"]["code"] for e in errors} == {"batch_expired"}
        assert all("TIMEOUT_EXCEEDED" in e["error"]["message"] for e in errors)
        assert not [e for e in sim_log(mis) if e["path"] == "/v1/chat/completions"]
    else:
        out = read_jsonl(sdk, batch.output_file_id)
        assert sorted(o["custom_id"] for o in out) == ["t0", "t1", "t2"]
        assert all(o["response"]["request_id"].startswith("job_") for o in out)
        assert len([e for e in sim_log(mis) if e["path"] == "/v1/chat/completions"]) == 3


def test_mixed_openai_and_mistral_each_through_its_batch_api(sdk, mis, oai):
    """OpenAI and Mistral lines sharing an image: one OpenAI batch (the image uploaded once to OpenAI's Files API)
    and one Mistral job (the image inline in each line), no synchronous call to either; results in one file."""
    n = 3
    image = image_content("shared", fresh_image_uri("JPEG"))[1]
    jsonl = "".join(line(f"o{i}", "openai/gpt-4o-mini", [{"type": "text", "text": f"o {i}"}, image], max_tokens=10)
                    + "\n" for i in range(n))
    jsonl += "".join(line(f"m{i}", "mistral/pixtral-large-latest", [{"type": "text", "text": f"m {i}"}, image],
                          max_tokens=10) + "\n" for i in range(n))
    batch = wait(sdk, create(sdk, jsonl, {"mode": "native"}).id)
    assert batch.status == "completed" and batch.request_counts.completed == 2 * n, batch
    pbs = {p["provider"]: p for p in batch.model_extra["ferry"]["provider_batches"]}
    assert sorted(pbs) == ["mistral", "openai"]
    assert pbs["mistral"]["lines"] == n and pbs["openai"]["lines"] == n
    assert pbs["mistral"]["status"] == pbs["openai"]["status"] == "completed"
    out = {o["custom_id"]: o for o in read_jsonl(sdk, batch.output_file_id)}
    assert sorted(out) == sorted([f"o{i}" for i in range(n)] + [f"m{i}" for i in range(n)])
    for i in range(n):
        body = out[f"m{i}"]["response"]["body"]
        assert body["object"] == "chat.completion" and body["model"] == "mistral/pixtral-large-latest"
        assert "sim:mistral" in body["choices"][0]["message"]["content"]
        assert body["cost"]["priced"] and body["cost"]["usd"] == pytest.approx(body["cost"]["sync_usd"] / 2)
    assert not [e for e in sim_log(mis) if e["path"] == "/v1/chat/completions"]
    assert not [e for e in sim_log(oai) if e["path"].endswith("/chat/completions")]
    assert len([e for e in sim_log(oai) if e["method"] == "POST" and e["path"] == "/v1/files"]) == 2  # image, input
    assert len([e for e in sim_log(mis) if e["method"] == "POST" and e["path"] == "/v1/files"]) == 1  # input only
    assert len([e for e in sim_log(mis) if e["method"] == "POST" and e["path"] == "/v1/batch/jobs"]) == 1


# -- the client against the simulator: what Ferry itself never sends, and idempotent creation ------------------

def _conn(sims: dict[str, Any]) -> dict[str, Any]:
    return {"base_url": sims["mistral"].url, "api_key": "sim-key", "timeout": 30}


def _until_ended(batch_id: str, conn: dict[str, Any]) -> client.State:
    deadline = time.monotonic() + 30
    while not (state := client.retrieve(batch_id, **conn)).ended:
        assert time.monotonic() < deadline, f"Mistral job {batch_id} still {state.status}"
        time.sleep(0.1)
    return state


def test_bad_jsonl_fails_the_job_naming_the_lines(sims, mis, tmp_path: Path):
    good = json.dumps({"custom_id": "a", "body": {"messages": [{"role": "user", "content": "hi"}]}})
    path = tmp_path / "bad.jsonl"
    path.write_text(good + "\n{not json\n" + json.dumps({"custom_id": "c", "messages": []}) + "\n" + good + "\n")
    state = _until_ended(client.submit(path, f"bad-{time.time_ns()}", "mistral-small-latest", **_conn(sims)).id,
                         _conn(sims))
    assert state.status == "failed" and state.refs["mistral_status"] == "FAILED"
    assert "line 2: not valid JSON" in state.reason and "line 3: expected an object with a 'body'" in state.reason
    assert "duplicate custom_id 'a'" in state.reason
    assert list(client.results(state, **_conn(sims))) == []


def test_submit_twice_with_one_tag_makes_one_job_and_one_file(sims, mis, tmp_path: Path):
    """A retry after a crash: the job is found by its metadata tag, the input file by name and size."""
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"custom_id": f"ferry-{i}", "body": {
        "model": "mistral-small-latest", "messages": [{"role": "user", "content": f"line {i}"}]}}) + "\n"
        for i in range(2)))
    tag = f"ferry-idem-{time.time_ns()}"
    first = client.submit(path, tag, "mistral-small-latest", **_conn(sims))
    again = client.submit(path, tag, "mistral-small-latest", **_conn(sims))
    assert again.id == first.id
    jobs = [j for j in upstream(mis, "/batch/jobs", page_size=1000)["data"] if (j["metadata"] or {}).get(
        "ferry_tag") == tag]
    assert len(jobs) == 1
    assert len([f for f in upstream(mis, "/files", purpose="batch", search=tag)["data"]]) == 1
    done = _until_ended(first.id, _conn(sims))
    results = sorted(client.results(done, **_conn(sims)), key=lambda r: r.custom_id)
    assert [(r.custom_id, r.status_code) for r in results] == [("ferry-0", 200), ("ferry-1", 200)]
    assert all(r.body and r.body["object"] == "chat.completion" for r in results)
