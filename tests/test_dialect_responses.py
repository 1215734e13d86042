"""POST /v1/responses with the official openai SDK, unchanged, over a real socket (issue 14 item 3).

Jobs run on the session's real Celery worker against the provider simulators, whose replies name
what reached the provider (``sim:<provider> model=… parts=[…]``).
"""
from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from app.simulators.server import SimServer
from tests.conftest import CORPUS, wait_job
from tests.helpers import b64, data_uri

HOPPER = CORPUS / "images" / "hopper.jpg"
PDF = CORPUS / "pdf" / "pdflatex-4-pages.pdf"


@pytest.fixture(scope="module")
def ferry_url(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with SimServer(app) as server:
        yield server.url


@pytest.fixture(scope="module")
def sdk(ferry_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=ferry_url + "/v1", api_key="ferry-local-key", max_retries=0, timeout=60)


def image_and_pdf(image_url: str | None = None) -> list[dict]:
    return [{"role": "user", "content": [
        {"type": "input_text", "text": "Describe both"},
        {"type": "input_image", "image_url": image_url or data_uri(HOPPER, "image/jpeg"), "detail": "low"},
        {"type": "input_file", "filename": PDF.name, "file_data": data_uri(PDF, "application/pdf")},
    ]}]


@pytest.mark.parametrize("model, provider", [("gpt-4o", "openai"), ("anthropic/claude-sonnet-4-5", "anthropic"),
                                             ("gemini/gemini-2.5-flash", "gemini")])
def test_responses_create_with_image_and_file_reaches_each_provider(sdk, client, model, provider):
    raw = sdk.responses.with_raw_response.create(model=model, input=image_and_pdf(), instructions="Be brief.",
                                                 max_output_tokens=100, metadata={"ticket": "R-1"})
    response = raw.parse()
    assert response.object == "response" and response.status == "completed"
    assert response.output_text.startswith(f"sim:{provider}")
    assert "image/jpeg" in response.output_text and "application/pdf 4p" in response.output_text
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.metadata == {"ticket": "R-1"}
    job = wait_job(client, raw.headers["x-request-id"])
    assert response.id == "resp_" + job["id"].removeprefix("job_") and len(job["resources"]) == 2


def test_string_input_file_id_and_file_url(sdk, file_server):
    uploaded = sdk.files.create(file=("hopper.jpg", HOPPER.read_bytes()), purpose="vision")
    response = sdk.responses.create(model="openai/gpt-4o", input=[{"role": "user", "content": [
        {"type": "input_image", "file_id": uploaded.id, "detail": "auto"},
        {"type": "input_file", "file_url": f"{file_server}/pdf/{PDF.name}"},
        {"type": "input_file", "filename": "raw.pdf", "file_data": b64(PDF)},  # bare base64 works too
    ]}])
    assert response.output_text.count("application/pdf 4p") == 2 and "image/jpeg" in response.output_text
    assert sdk.responses.create(model="anthropic/claude-sonnet-4-5", input="Hello").output_text.startswith(
        "sim:anthropic")


def test_background_returns_queued_then_polls_to_completed(sdk, client):
    created = sdk.responses.create(model="gemini/gemini-2.5-flash", input=image_and_pdf(), background=True)
    assert created.status == "queued" and created.output == []
    deadline = time.monotonic() + 60
    polled = sdk.responses.retrieve(created.id)
    while polled.status in ("queued", "in_progress"):
        assert time.monotonic() < deadline, f"response {created.id} still {polled.status}"
        time.sleep(0.1)
        polled = sdk.responses.retrieve(created.id)
    assert polled.status == "completed" and polled.output_text.startswith("sim:gemini")
    assert wait_job(client, "job_" + created.id.removeprefix("resp_"))["status"] == "succeeded"


def test_cancel_a_background_response(sdk, sims):
    httpx.post(sims["anthropic"].url + "/_sim/faults",  # the provider answers after 3 s: time to cancel
               json={"delay": 3.0, "count": 1, "path_contains": "/v1/messages"}).raise_for_status()
    created = sdk.responses.create(model="anthropic/claude-sonnet-4-5", input="slow", background=True)
    cancelled = sdk.responses.cancel(created.id)
    assert cancelled.id == created.id and cancelled.status == "cancelled"
    assert sdk.responses.retrieve(created.id).status == "cancelled"
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve("resp_nosuchthing")


def test_stream_gives_response_events_that_add_up(sdk):
    whole = sdk.responses.create(model="openai/gpt-4o", input=image_and_pdf())
    events = list(sdk.responses.create(model="openai/gpt-4o", input=image_and_pdf(), stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) > 1 and "".join(deltas) == whole.output_text
    assert [e.sequence_number for e in events] == list(range(len(events)))
    with sdk.responses.stream(model="anthropic/claude-sonnet-4-5", input=image_and_pdf()) as stream:
        final = stream.get_final_response()
    assert final.output_text.startswith("sim:anthropic") and final.usage.total_tokens > 0


def test_errors_are_openai_errors(sdk, ferry_url):
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.responses.create(model="gpt-4o", input=[{"role": "user", "content": [
            {"type": "input_image", "image_url": "ftp://example.com/x.png", "detail": "auto"}]}])
    assert bad.value.body["param"] == "messages[0].content[0].image_url.url"
    with pytest.raises(openai.BadRequestError) as prev:
        sdk.responses.create(model="gpt-4o", input="hi", previous_response_id="resp_abc")
    assert prev.value.body["param"] == "previous_response_id"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=ferry_url + "/v1", api_key="nope", max_retries=0).responses.create(
            model="gpt-4o", input="hi")
