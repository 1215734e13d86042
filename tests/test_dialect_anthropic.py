"""POST /v1/messages with the official anthropic SDK, unchanged, over a real socket (issue 14 item 1).

Ferry's app runs in a werkzeug server thread; the SDK's base_url is that server; jobs run on the
session's real Celery worker against the provider simulators, so a reply names what reached the
provider (``sim:<provider> model=… parts=[…]``).
"""
from __future__ import annotations

import base64
from collections.abc import Iterator

import anthropic
import httpx
import pytest

from app.simulators.server import SimServer
from tests.conftest import AUTH, CORPUS, wait_job

HOPPER = CORPUS / "images" / "hopper.jpg"
PDF = CORPUS / "pdf" / "pdflatex-4-pages.pdf"


@pytest.fixture(scope="module")
def ferry_url(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with SimServer(app) as server:
        yield server.url


@pytest.fixture(scope="module")
def sdk(ferry_url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=ferry_url, api_key="ferry-local-key", max_retries=0, timeout=60)


def _b64(path) -> str:  # type: ignore[no-untyped-def]
    return base64.b64encode(path.read_bytes()).decode()


def image_and_pdf() -> list[dict]:
    return [{"role": "user", "content": [
        {"type": "text", "text": "Describe both"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": _b64(HOPPER)}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": _b64(PDF)},
         "title": PDF.name},
    ]}]


@pytest.mark.parametrize("model, provider", [("claude-sonnet-4-5", "anthropic"),
                                             ("openai/gpt-4o", "openai"),
                                             ("gemini/gemini-2.5-flash", "gemini")])
def test_messages_create_with_image_and_pdf_reaches_each_provider(sdk, client, model, provider):
    raw = sdk.messages.with_raw_response.create(model=model, max_tokens=100, messages=image_and_pdf(),
                                                system="Be brief.", metadata={"user_id": "u-1"})
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    text = message.content[0].text
    assert text.startswith(f"sim:{provider}")
    assert "image/jpeg" in text and "application/pdf 4p" in text  # both media parts arrived
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    job_id = raw.headers["request-id"]
    job = wait_job(client, job_id)  # an ordinary job: visible, with its resources and the dialect's metadata
    assert job["status"] == "succeeded" and len(job["resources"]) == 2
    assert job["metadata"] == {"user_id": "u-1"}
    assert message.id == "msg_" + job_id.removeprefix("job_")


def test_image_by_url_and_stop_sequences(sdk, file_server):
    message = sdk.messages.create(
        model="anthropic/claude-sonnet-4-5", max_tokens=50, stop_sequences=["\n\nHuman:"],
        messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "url", "url": f"{file_server}/images/hopper.png"}},
            {"type": "text", "text": "What is this?"}]}])
    assert "image/png" in message.content[0].text


def test_stream_gives_anthropic_events_that_add_up_to_the_message(sdk):
    whole = sdk.messages.create(model="openai/gpt-4o", max_tokens=50, messages=image_and_pdf())
    with sdk.messages.stream(model="openai/gpt-4o", max_tokens=50, messages=image_and_pdf()) as stream:
        events = list(stream)
        final = stream.get_final_message()
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert {"content_block_start", "content_block_delta", "content_block_stop", "message_delta"} <= set(kinds)
    deltas = [e for e in events if e.type == "content_block_delta"]
    assert len(deltas) > 1 and all(d.delta.type == "text_delta" for d in deltas)
    assert final.content[0].text == whole.content[0].text
    assert final.usage.output_tokens == whole.usage.output_tokens and final.stop_reason == "end_turn"


def test_raw_sse_wire_format(ferry_url):
    resp = httpx.post(f"{ferry_url}/v1/messages", headers={"x-api-key": "ferry-local-key",
                                                           "anthropic-version": "2023-06-01"},
                      json={"model": "claude-sonnet-4-5", "max_tokens": 20, "stream": True,
                            "messages": [{"role": "user", "content": "hi"}]}, timeout=60)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    events = [e for e in resp.text.split("\n\n") if e]
    assert events[0].startswith("event: message_start\ndata: {")
    assert events[-1].startswith("event: message_stop\ndata: ")


def test_count_tokens_is_taken_after_ferrys_transforms(sdk):
    small = sdk.messages.count_tokens(model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}])
    counted = sdk.messages.count_tokens(model="claude-sonnet-4-5", messages=image_and_pdf())
    assert 0 < small.input_tokens < counted.input_tokens


def test_auth_by_bearer_token_and_errors_in_anthropic_shape(sdk, ferry_url):
    bearer = anthropic.Anthropic(base_url=ferry_url, auth_token="ferry-local-key", max_retries=0)
    assert bearer.messages.create(model="claude-sonnet-4-5", max_tokens=10,
                                  messages=[{"role": "user", "content": "hi"}]).content[0].text
    wrong = anthropic.Anthropic(base_url=ferry_url, api_key="nope", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as auth:
        wrong.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert auth.value.body["type"] == "error" and auth.value.body["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.BadRequestError) as bad:
        sdk.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "url", "url": "ftp://example.com/x.png"}}]}])
    assert bad.value.body["error"]["type"] == "invalid_request_error"
    assert bad.value.body["error"]["param"] == "messages[0].content[0].image_url.url"
    with pytest.raises(anthropic.NotFoundError) as unknown:  # the provider's 404 for a model it does not have
        sdk.messages.create(model="claude-nonexistent", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert "claude-nonexistent" in unknown.value.body["error"]["message"]
    with pytest.raises(anthropic.BadRequestError) as provider:  # an unknown provider: Ferry's 422, Anthropic's 400
        sdk.messages.create(model="nosuch/model", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert provider.value.body["error"]["ferry_type"] == "unprocessable_error"
    with pytest.raises(anthropic.BadRequestError) as missing:
        sdk.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=[])
    assert missing.value.body["error"]["param"] == "messages"


def test_a_failed_job_answers_its_error_and_job_id(client, file_server):
    resp = client.post("/v1/messages", headers={"x-api-key": "ferry-local-key"}, json={
        "model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "url", "url": f"{file_server}/images/missing.png"}}]}]})
    assert resp.status_code == 400, resp.json
    err = resp.json["error"]
    assert resp.json["type"] == "error" and err["ferry_type"] == "fetch_error" and err["stage"] == "fetch"
    assert resp.headers["x-should-retry"] == "false" and err["job_id"] == resp.headers["request-id"]


def test_dry_run_through_the_ferry_field(sdk, client):
    raw = sdk.messages.with_raw_response.create(model="claude-sonnet-4-5", max_tokens=10, messages=image_and_pdf(),
                                                extra_body={"ferry": {"dry_run": True}})
    assert "provider_request" in raw.parse().content[0].text
    job = wait_job(client, raw.headers["request-id"], headers=AUTH)
    assert job["dry_run"] is True and job["provider_request"]["url"].endswith("/v1/messages")
