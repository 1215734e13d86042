"""Gemini Batch Mode natively (issue 13), with the official openai SDK against Ferry's /v1/batches: lines go through
the job pipeline (media uploaded to the Gemini Files API), then one JSONL input file and one batchGenerateContent
per model (the simulator in app/simulators/gemini_batches.py); results come back from its responses file."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.stack import Stack
from tests.helpers import fresh_image_uri
from tests.batch_kit import create, kill_9_in, fast_batches, ferry_sdk, image_content, line, read_jsonl, sim_log, wait

GEMINI_KEY = {"x-goog-api-key": "sim-key"}
MODEL = "gemini/gemini-2.5-flash"


@pytest.fixture(scope="module")
def sdk(app) -> Iterator[openai.OpenAI]:  # type: ignore[no-untyped-def]
    yield from ferry_sdk(app)


@pytest.fixture
def gem(sims) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The Gemini simulator's URL, its log cleared and its batches ending after 0.5 s."""
    yield from fast_batches(sims, "gemini")


@pytest.fixture
def oai(sims) -> Iterator[str]:  # type: ignore[no-untyped-def]
    yield from fast_batches(sims, "openai")


def upstream(url: str, path: str, **params: Any) -> dict[str, Any]:
    return httpx.get(f"{url}/v1beta/{path}", headers=GEMINI_KEY, params=params).json()


def gemini_batches(url: str, batch_id: str) -> list[dict[str, Any]]:
    """The simulator's batches that Ferry made for ``batch_id`` (display name = tag ``ferry-<batch id>-<k>``)."""
    ops = upstream(url, "batches", pageSize=1000).get("operations") or []
    return [op for op in ops if op["metadata"]["displayName"].startswith(f"ferry-{batch_id}-")]


def wait_provider_id(sdk: openai.OpenAI, batch_id: str) -> str:
    deadline = time.monotonic() + 60
    while not ((b := sdk.batches.retrieve(batch_id)).model_extra["ferry"]["provider_batches"] or [{}])[0].get("id"):
        assert time.monotonic() < deadline, f"no provider batch created for {batch_id}: {b.model_extra}"
        time.sleep(0.1)
    return str(b.model_extra["ferry"]["provider_batches"][0]["id"])


def test_gemini_batch_with_an_image_shared_by_every_line(sdk, gem):
    """One Gemini batch; the image is uploaded once through the Gemini Files API and every line of the input file
    references it by file URI; no synchronous generateContent; answers as chat.completions at half price."""
    n = 4
    image = fresh_image_uri()
    jsonl = "".join(line(f"g{i}", MODEL, image_content(f"picture {i}", image), max_tokens=20) + "\n"
                    for i in range(n))
    created = create(sdk, jsonl, {"mode": "native"})
    batch = wait(sdk, created.id)
    assert batch.status == "completed", batch
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (n, n, 0)
    [pb] = batch.model_extra["ferry"]["provider_batches"]
    assert (pb["provider"], pb["model"], pb["lines"], pb["status"]) == ("gemini", "gemini-2.5-flash", n, "succeeded")
    assert pb["id"].startswith("batches/")

    log = sim_log(gem)
    assert not [e for e in log if e["path"].endswith(":generateContent")]  # nothing synchronous upstream
    finals = [e for e in log if e["path"] == "/upload/v1beta/files" and e["parts"]]
    images = [e["parts"][0] for e in finals if (e["parts"][0].get("mime") or "").startswith("image/")]
    assert len(images) == 1  # the image once, shared by all lines
    assert len(finals) == 2  # and the JSONL input file once
    [made] = [e for e in log if e["path"] == "/v1beta/models/gemini-2.5-flash:batchGenerateContent"]
    assert made["status"] == 200
    refs = {p["key"]: p["ref"] for p in made["parts"] if p["source"] == "file"}
    assert sorted(refs) == [f"ferry-{i}" for i in range(n)]  # every line references ...
    assert set(refs.values()) == {images[0]["ref"]}  # ... the one uploaded image, by its file URI

    out = {o["custom_id"]: o for o in read_jsonl(sdk, batch.output_file_id)}
    assert sorted(out) == [f"g{i}" for i in range(n)]
    for i in range(n):
        body = out[f"g{i}"]["response"]["body"]
        assert body["object"] == "chat.completion" and body["model"] == MODEL
        content = body["choices"][0]["message"]["content"]
        assert f"picture {i}" in content and f"file={images[0]['ref']}" in content
        assert body["cost"]["priced"] and body["cost"]["usd"] == pytest.approx(body["cost"]["sync_usd"] / 2)
        job = sdk.get(f"/jobs/{out[f'g{i}']['response']['request_id']}", cast_to=object)
        assert job["result"] == body
    upstream_batch = upstream(gem, pb["id"])
    assert upstream_batch["metadata"]["state"] == "BATCH_STATE_SUCCEEDED"
    assert upstream_batch["metadata"]["displayName"] == f"ferry-{created.id}-0"


def test_a_line_gemini_refuses_and_an_unknown_model_are_per_line_errors(sdk, gem):
    """The strict simulator runs each request through generateContent's rules: a text model asked for images is
    that line's 400 in the error file, the rest of its batch answers. A model Gemini does not serve refuses its
    whole provider batch (404 on batchGenerateContent): its lines say why, the other batch goes on."""
    jsonl = "".join(line(f"ok{i}", MODEL, f"n {i}", max_tokens=5) + "\n" for i in range(2))
    jsonl += line("pic", MODEL, "draw a cat", modalities=["text", "image"]) + "\n"
    jsonl += line("nosuch", "gemini/gemini-2.5-flash-nosuch", "hi", max_tokens=5) + "\n"
    batch = wait(sdk, create(sdk, jsonl, {"mode": "native"}).id)
    assert batch.status == "completed", batch
    assert (batch.request_counts.completed, batch.request_counts.failed) == (2, 2)
    pbs = {p["model"]: p for p in batch.model_extra["ferry"]["provider_batches"]}
    assert pbs["gemini-2.5-flash"]["status"] == "succeeded" and pbs["gemini-2.5-flash"]["lines"] == 3
    assert pbs["gemini-2.5-flash-nosuch"]["status"] == "refused" and pbs["gemini-2.5-flash-nosuch"]["id"] is None
    assert sorted(o["custom_id"] for o in read_jsonl(sdk, batch.output_file_id)) == ["ok0", "ok1"]
    errors = {e["custom_id"]: e for e in read_jsonl(sdk, batch.error_file_id)}
    assert sorted(errors) == ["nosuch", "pic"]
    pic = errors["pic"]["response"]
    assert pic["status_code"] == 400 and pic["body"]["error"]["provider"] == "gemini"
    assert "does not support the requested response modalities" in pic["body"]["error"]["message"]
    assert errors["nosuch"]["error"]["code"] == "provider_refused_batch"
    assert "gemini Batch API answered 404" in errors["nosuch"]["error"]["message"]
    assert "gemini-2.5-flash-nosuch is not found" in errors["nosuch"]["error"]["message"]


def test_cancel_cancels_the_gemini_batch(sdk, gem):
    httpx.post(f"{gem}/_sim/batches", json={"delay": 30})
    jsonl = "".join(line(f"c{i}", MODEL, f"n {i}", max_tokens=5) + "\n" for i in range(3))
    created = create(sdk, jsonl, {"mode": "native"})
    provider_id = wait_provider_id(sdk, created.id)
    assert sdk.batches.cancel(created.id).status in ("cancelling", "cancelled")
    batch = wait(sdk, created.id, timeout=60)
    assert batch.status == "cancelled"
    lines = read_jsonl(sdk, batch.error_file_id)
    assert sorted(x["custom_id"] for x in lines) == ["c0", "c1", "c2"]
    assert {x["error"]["code"] for x in lines} == {"batch_cancelled"}
    assert upstream(gem, provider_id)["metadata"]["state"] == "BATCH_STATE_CANCELLED"
    assert [e["path"] for e in sim_log(gem) if e["path"].endswith(":cancel")] == [f"/v1beta/{provider_id}:cancel"]
    assert batch.model_extra["ferry"]["provider_batches"][0]["status"] == "cancelled"


def test_an_expired_gemini_batch_reports_its_lines_with_the_reason(sdk, gem):
    httpx.post(f"{gem}/_sim/batches", json={"delay": 0.2, "expire": True})
    jsonl = "".join(line(f"e{i}", MODEL, f"n {i}", max_tokens=5) + "\n" for i in range(2))
    batch = wait(sdk, create(sdk, jsonl, {"mode": "native"}).id)
    assert batch.status == "completed"
    [pb] = batch.model_extra["ferry"]["provider_batches"]
    assert pb["status"] == "expired" and "48 h" in pb["reason"]
    assert upstream(gem, pb["id"])["metadata"]["state"] == "BATCH_STATE_EXPIRED"
    errors = read_jsonl(sdk, batch.error_file_id)
    assert sorted(e["custom_id"] for e in errors) == ["e0", "e1"]
    assert {e["error"]["code"] for e in errors} == {"batch_expired"}
    assert all(pb["id"] in e["error"]["message"] and "48 h" in e["error"]["message"] for e in errors)


def test_openai_and_gemini_lines_each_through_its_batch_api(sdk, gem, oai):
    """Mixed input: one OpenAI Batch and one Gemini batch, the shared image uploaded once to each provider, no
    synchronous call to either; every answer back in one output file."""
    n = 3
    image = fresh_image_uri()
    jsonl = "".join(line(f"o{i}", "openai/gpt-4o-mini", image_content(f"o {i}", image), max_tokens=10) + "\n"
                    for i in range(n))
    jsonl += "".join(line(f"g{i}", MODEL, image_content(f"g {i}", image), max_tokens=10) + "\n" for i in range(n))
    batch = wait(sdk, create(sdk, jsonl).id)  # mode auto: both providers have a batch client
    assert batch.status == "completed" and batch.request_counts.completed == 2 * n, batch
    pbs = {p["provider"]: p for p in batch.model_extra["ferry"]["provider_batches"]}
    assert sorted(pbs) == ["gemini", "openai"]
    assert pbs["gemini"]["lines"] == n and pbs["gemini"]["status"] == "succeeded"
    assert pbs["openai"]["lines"] == n and pbs["openai"]["status"] == "completed"
    out = {o["custom_id"]: o["response"]["body"] for o in read_jsonl(sdk, batch.output_file_id)}
    assert sorted(out) == sorted([f"o{i}" for i in range(n)] + [f"g{i}" for i in range(n)])
    assert all(out[f"g{i}"]["model"] == MODEL and "sim:gemini" in out[f"g{i}"]["choices"][0]["message"]["content"]
               for i in range(n))
    assert all(out[f"o{i}"]["model"] == "openai/gpt-4o-mini" for i in range(n))
    glog, olog = sim_log(gem), sim_log(oai)
    assert not [e for e in glog if e["path"].endswith(":generateContent")]
    assert not [e for e in olog if e["path"].endswith("/chat/completions")]
    assert len([e for e in glog if e["path"].endswith(":batchGenerateContent")]) == 1
    assert len([e for e in olog if e["method"] == "POST" and e["path"] == "/v1/batches"]) == 1
    # the shared image went up once to each provider's Files API (plus each one's JSONL input file)
    assert len([e for e in olog if e["method"] == "POST" and e["path"] == "/v1/files"]) == 2
    assert len([e for e in glog if e["path"] == "/upload/v1beta/files" and e["parts"]]) == 2
    assert batch.model_extra["ferry"]["cost"]["saved_usd"] > 0


def test_the_batch_simulator_refuses_what_gemini_refuses(tmp_path):
    """Strict simulator, without Ferry: bad JSONL, a missing display name, an unknown model and an unknown file
    are Google-shaped errors; an uploaded file cannot be downloaded, only the batch's responses file can; inline
    requests answer inlinedResponses."""
    from app.simulators import gemini_sim
    from app.simulators.server import SimServer
    from workers.providers.files_api import gemini as gfiles

    with SimServer(gemini_sim.create_app(api_key="sim-key")) as server:
        base, key = server.url, GEMINI_KEY
        httpx.post(f"{base}/_sim/batches", json={"delay": 0.1})
        bad = tmp_path / "bad.jsonl"
        bad.write_text('{"key": "a", "request": {"contents": [{"parts": [{"text": "hi"}]}]}}\n{not json\n')
        name = gfiles.upload_file(bad, "jsonl", "bad.jsonl", base_url=base, api_key="sim-key", timeout=10)["name"]

        def make(model: str, batch: dict[str, Any]) -> httpx.Response:
            return httpx.post(f"{base}/v1beta/models/{model}:batchGenerateContent", headers=key, json={"batch": batch})

        for resp, status, word, text in (
                (make("gemini-2.5-flash", {"displayName": "t", "inputConfig": {"fileName": name}}), 400,
                 "INVALID_ARGUMENT", "line 2"),
                (make("gemini-2.5-flash", {"inputConfig": {"fileName": name}}), 400, "INVALID_ARGUMENT",
                 "display_name is required"),
                (make("gemini-9-nosuch", {"displayName": "t", "inputConfig": {"fileName": name}}), 404, "NOT_FOUND",
                 "models/gemini-9-nosuch is not found"),
                (make("gemini-2.5-flash", {"displayName": "t", "inputConfig": {"fileName": "files/nope"}}), 403,
                 "PERMISSION_DENIED", "or it may not exist"),
                (httpx.get(f"{base}/download/v1beta/{name}:download", headers=key, params={"alt": "media"}), 400,
                 "INVALID_ARGUMENT", "only generated files")):
            assert resp.status_code == status, resp.text
            err = resp.json()["error"]
            assert err["code"] == status and err["status"] == word and text in err["message"], err

        inline = make("gemini-2.5-flash", {"displayName": "inline", "inputConfig": {"requests": {"requests": [
            {"request": {"contents": [{"parts": [{"text": "one"}]}]}, "metadata": {"key": "m1"}}]}}})
        assert inline.status_code == 200 and inline.json()["metadata"]["state"] in (
            "BATCH_STATE_PENDING", "BATCH_STATE_RUNNING")
        deadline = time.monotonic() + 30
        while not (op := upstream(base, inline.json()["name"])).get("done"):
            assert time.monotonic() < deadline, f"inline batch still {op['metadata']['state']}"
            time.sleep(0.05)
        [answer] = op["response"]["inlinedResponses"]["inlinedResponses"]
        assert answer["metadata"] == {"key": "m1"} and "one" in json.dumps(answer["response"])
        assert op["metadata"]["batchStats"]["successfulRequestCount"] == "1"


def test_a_retry_after_the_upload_reuses_the_input_file_and_finds_the_batch(tmp_path):
    """A worker killed after uploading the input file, before creating: the retry lists the Files API and reuses
    the file of that display name and size; a retry after creating finds the batch by its display name."""
    from app.simulators import gemini_sim
    from app.simulators.server import SimServer
    from workers.providers.batch_api import gemini as client
    from workers.providers.files_api import gemini as gfiles

    with SimServer(gemini_sim.create_app(api_key="sim-key")) as server:
        conn = {"base_url": server.url, "api_key": "sim-key", "timeout": 10}
        path = tmp_path / "input.jsonl"
        path.write_text("".join(json.dumps({"key": f"ferry-{i}", "request": {"contents": [
            {"role": "user", "parts": [{"text": f"n {i}"}]}]}}) + "\n" for i in range(2)))
        tag = "ferry-batch_test-0"
        first = gfiles.upload_file(path, client.MIME, f"{tag}.jsonl", **conn)  # the killed attempt's upload
        server.state.clear_log()
        made = client.submit(path, tag, "gemini-2.5-flash", **conn)
        again = client.submit(path, tag, "gemini-2.5-flash", **conn)
        log = server.state.log()
        assert not [e for e in log if e["path"].startswith("/upload/")]  # reused, not uploaded again
        assert len([e for e in log if e["path"].endswith(":batchGenerateContent")]) == 1  # found, not made twice
        assert again.id == made.id
        assert upstream(server.url, made.id)["metadata"]["inputConfig"] == {"fileName": first["name"]}


# -- crash safety (in the style of tests/test_batch_crash.py) ------------------------------------------

@pytest.fixture
def stack(sims) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    s = Stack({"FERRY_LEASE_SECONDS": "2", "FERRY_REAPER_INTERVAL": "0.5", "FERRY_QUEUE_DEADLINE": "4",
               "FERRY_BATCH_POLL_SECONDS": "0.3"}, prefix="ferry-batch-gemini-crash-")
    httpx.post(f"{sims['gemini'].url}/_sim/batches", json={"delay": 0.5, "expire": False})
    yield s
    s.close()


def test_kill_9_between_creating_and_recording_makes_one_gemini_batch(stack, sims):
    """The worker dies after batchGenerateContent answered and before Ferry recorded the batch: the retry finds
    the batch by its display name (the tag) instead of making a second, and reuses the uploaded input file."""
    url = sims["gemini"].url
    n = 3
    done, _ = kill_9_in(stack, "batch_created", MODEL, n, lambda batch_id: bool(gemini_batches(url, batch_id)))
    made = gemini_batches(url, done.id)
    assert len(made) == 1 and made[0]["metadata"]["state"] == "BATCH_STATE_SUCCEEDED"  # no duplicate, no orphan
    inputs = [x for x in upstream(url, "files").get("files") or []
              if (x.get("displayName") or "").startswith(f"ferry-{done.id}-")]
    assert len(inputs) == 1  # the JSONL uploaded once
    [pb] = done.model_extra["ferry"]["provider_batches"]
    assert pb["id"] == made[0]["name"] and pb["lines"] == n
