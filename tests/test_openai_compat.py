"""POST /v1/chat/completions with the official openai SDK, unchanged, over a real socket.

Ferry's app runs in a werkzeug server thread; the SDK's base_url is that server + "/v1";
jobs run on the session's real Celery worker against the provider simulators.
"""
from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.conftest import AUTH, CORPUS, wait_job
from tests.helpers import data_uri
from app.simulators.server import SimServer
from workers.context import Context
from workers.core.settings import Settings

HOPPER = CORPUS / "images" / "hopper.jpg"


@pytest.fixture(scope="module")
def ferry_url(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with SimServer(app) as server:  # any WSGI app in a thread on a loopback port
        yield server.url


@pytest.fixture(scope="module")
def sdk(ferry_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=ferry_url + "/v1", api_key="ferry-local-key", max_retries=0, timeout=60)


def image_message(text: str = "What is in this picture?", url: str | None = None) -> list[dict]:
    return [{"role": "user", "content": [
        {"type": "text", "text": text},
        {"type": "image_url", "image_url": {"url": url or data_uri(HOPPER, "image/jpeg"), "detail": "low"}},
    ]}]


@pytest.mark.parametrize("model, provider", [("openai/gpt-4o", "openai"),
                                             ("anthropic/claude-sonnet-4-5", "anthropic"),
                                             ("gemini/gemini-2.5-flash", "gemini")])
def test_sdk_chat_completion_runs_a_job_and_answers_the_completion(sdk, model, provider):
    raw = sdk.chat.completions.with_raw_response.create(model=model, messages=image_message(), max_tokens=50)
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.model == model
    assert completion.choices[0].message.content.startswith(f"sim:{provider}")
    assert "image/jpeg" in completion.choices[0].message.content  # the image reached the provider
    assert completion.usage.prompt_tokens > 0
    assert raw.headers["x-request-id"].startswith("job_")  # the job behind it, for GET /v1/jobs/{id}


def test_sdk_stream_gives_openai_chunks_that_add_up_to_the_completion(sdk):
    whole = sdk.chat.completions.create(model="openai/gpt-4o", messages=image_message())
    stream = sdk.chat.completions.create(model="openai/gpt-4o", messages=image_message(), stream=True,
                                         stream_options={"include_usage": True})
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1  # really in pieces
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == whole.usage.total_tokens


def test_sse_wire_format_ends_with_done(client):
    resp = client.post("/v1/chat/completions", headers=AUTH, json={
        "model": "openai/gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
    events = [e for e in resp.get_data(as_text=True).split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"


def test_sdk_errors_are_openai_errors(sdk, ferry_url):
    with pytest.raises(openai.UnprocessableEntityError) as exc:  # an unknown provider is Ferry's 422
        sdk.chat.completions.create(model="nosuch/gpt-nonexistent", messages=[{"role": "user", "content": "hi"}])
    assert "nosuch" in exc.value.message
    assert exc.value.body["param"] == "request.model" and "code" in exc.value.body
    with pytest.raises(openai.NotFoundError) as missing:  # an unknown name of a known provider: OpenAI's own 404
        sdk.chat.completions.create(model="openai/gpt-nonexistent", messages=[{"role": "user", "content": "hi"}])
    assert "The model `gpt-nonexistent` does not exist" in missing.value.message
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.chat.completions.create(model="openai/gpt-4o", messages=image_message(url="ftp://example.com/x.png"))
    assert bad.value.body["param"] == "messages[0].content[1].image_url.url"
    wrong_key = openai.OpenAI(base_url=ferry_url + "/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong_key.chat.completions.create(model="openai/gpt-4o", messages=[{"role": "user", "content": "hi"}])


def test_a_failed_job_answers_its_error_and_job_id(client, file_server):
    body = {"model": "openai/gpt-4o", "messages": image_message(url=f"{file_server}/images/no-such-file.png")}
    resp = client.post("/v1/chat/completions", headers=AUTH, json=body)
    assert resp.status_code == 422, resp.json
    err = resp.json["error"]
    assert err["type"] == "fetch_error" and err["stage"] == "fetch"
    assert err["job_id"].startswith("job_") and resp.headers["x-should-retry"] == "false"


def test_timeout_answers_504_with_the_job_id_to_poll(worker, client, sims):
    from app import create_app

    # The provider answers the next completion after 2 s; the chat endpoint waits 0.2 s.
    httpx.post(sims["openai"].url + "/_sim/faults",
               json={"delay": 2.0, "count": 1, "path_contains": "/chat/completions"}).raise_for_status()
    slow = create_app(Context(Settings(FERRY_CHAT_TIMEOUT=0.2))).test_client()
    resp = slow.post("/v1/chat/completions", headers=AUTH,
                     json={"model": "openai/gpt-4o", "messages": image_message()})
    assert resp.status_code == 504
    err = resp.json["error"]
    assert err["code"] == "job_timeout" and err["job_id"] in err["message"]
    assert resp.headers["x-should-retry"] == "false"  # the SDK must not resubmit: poll instead
    assert resp.headers["Location"] == f"/v1/jobs/{err['job_id']}"
    job = wait_job(client, err["job_id"])
    assert job["status"] == "succeeded" and job["result"]["object"] == "chat.completion"


def test_idempotency_key_rejoins_the_same_job(client):
    body = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "once"}]}
    headers = {**AUTH, "Idempotency-Key": "chat-retry-1"}
    first = client.post("/v1/chat/completions", headers=headers, json=body)
    again = client.post("/v1/chat/completions", headers=headers, json=body)
    assert first.status_code == again.status_code == 200
    assert first.headers["x-request-id"] == again.headers["x-request-id"]
    assert first.json == again.json


def test_uploaded_file_id_works_as_image_url_and_file_part(sdk):
    uploaded = sdk.files.create(file=("hopper.jpg", HOPPER.read_bytes()), purpose="vision")
    assert uploaded.id.startswith("file-") and uploaded.bytes == HOPPER.stat().st_size
    pdf = CORPUS / "pdf" / "pdflatex-4-pages.pdf"
    doc = sdk.files.create(file=(pdf.name, pdf.read_bytes()), purpose="user_data")
    raw = sdk.chat.completions.with_raw_response.create(model="anthropic/claude-sonnet-4-5", messages=[
        {"role": "user", "content": [
            {"type": "text", "text": "Compare"},
            {"type": "image_url", "image_url": {"url": uploaded.id}},
            {"type": "file", "file": {"file_id": doc.id}},
        ]}])
    answer = raw.parse().choices[0].message.content
    assert "image/jpeg" in answer and "application/pdf" in answer
    job = sdk.get(f"/jobs/{raw.headers['x-request-id']}", cast_to=object)
    sources = [r["source"] for r in job["resources"]]
    assert [s["kind"] for s in sources] == ["file_id", "file_id"]
    assert sources[0]["sha256"] == hashlib.sha256(HOPPER.read_bytes()).hexdigest()


def test_another_tenants_file_id_is_not_found(worker):
    from app import create_app

    c = create_app(Context(Settings(FERRY_API_KEYS="key-a=alpha,key-b=beta"))).test_client()
    a, b = {"Authorization": "Bearer key-a"}, {"Authorization": "Bearer key-b"}
    fid = c.post("/v1/files", headers=a, data={"purpose": "vision", "file": (HOPPER.open("rb"), "h.jpg")}).json["id"]
    assert c.get(f"/v1/files/{fid}", headers=b).status_code == 404
    assert c.get(f"/v1/files/{fid}/content", headers=b).status_code == 404
    resp = c.post("/v1/chat/completions", headers=b, json={
        "model": "openai/gpt-4o", "messages": image_message(url=fid)})
    assert resp.status_code == 404 and resp.json["error"]["param"] == "file_id"
    assert c.get(f"/v1/files/{fid}/content", headers=a).data == HOPPER.read_bytes()


def test_dry_run_through_chat_shows_plan_and_token_estimate(client):
    resp = client.post("/v1/chat/completions", headers=AUTH, json={
        "model": "openai/gpt-4o", "messages": image_message(), "ferry": {"dry_run": True}})
    assert resp.status_code == 200, resp.json
    job = wait_job(client, resp.headers["x-request-id"])
    assert job["provider_request"]["url"].endswith("/chat/completions")
    plan = job["delivery_plan"]
    assert plan[0]["part"] == "messages[0].content[1]" and plan[0]["method"] and plan[0]["reason"]
    estimate = job["usage_estimate"]
    assert estimate["prompt_tokens_details"]["image"] > 0
    assert estimate["prompt_tokens"] == sum(estimate["prompt_tokens_details"].values())
    assert "provider_request" in resp.json["choices"][0]["message"]["content"]


def test_file_content_roundtrip_and_delete(sdk):
    data = base64.b64decode(base64.b64encode(b"hello ferry\n"))
    f = sdk.files.create(file=("note.jsonl", data), purpose="batch")
    assert sdk.files.retrieve(f.id).filename == "note.jsonl"
    assert sdk.files.content(f.id).content == data
    assert f.id in [x.id for x in sdk.files.list(purpose="batch")]
    assert sdk.files.delete(f.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve(f.id)
