"""generateContent with the official google-genai SDK, unchanged, over a real socket (issue 14 item 2).

The SDK (3.x) calls ``/v1/models/{model}:generateContent`` with ``x-goog-api-key``, sends bytes as
URL-safe base64 and does not encode the slash of ``anthropic/claude-sonnet-4-5``. Jobs run on the
session's real Celery worker against the provider simulators.
"""
from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from google import genai
from google.genai import errors, types

from app.simulators.server import SimServer
from tests.conftest import CORPUS, wait_job

HOPPER = CORPUS / "images" / "hopper.jpg"
PDF = CORPUS / "pdf" / "pdflatex-4-pages.pdf"


@pytest.fixture(scope="module")
def ferry_url(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with SimServer(app) as server:
        yield server.url


def make_client(url: str, api_key: str = "ferry-local-key", api_version: str | None = None) -> genai.Client:
    return genai.Client(api_key=api_key, http_options=types.HttpOptions(base_url=url, api_version=api_version))


@pytest.fixture(scope="module")
def sdk(ferry_url: str) -> genai.Client:
    return make_client(ferry_url)


def image_and_pdf() -> list:
    return [types.Part.from_bytes(data=HOPPER.read_bytes(), mime_type="image/jpeg"),
            types.Part.from_bytes(data=PDF.read_bytes(), mime_type="application/pdf"),
            "Describe both"]


@pytest.mark.parametrize("model, provider", [("gemini-2.5-flash", "gemini"),
                                             ("anthropic/claude-sonnet-4-5", "anthropic"),
                                             ("openai/gpt-4o", "openai")])
def test_generate_content_with_image_and_pdf_reaches_each_provider(sdk, client, model, provider):
    response = sdk.models.generate_content(model=model, contents=image_and_pdf(), config=types.GenerateContentConfig(
        system_instruction="Be brief.", max_output_tokens=100, temperature=0.2, stop_sequences=["END"]))
    assert response.text.startswith(f"sim:{provider}")
    assert "image/jpeg" in response.text and "application/pdf 4p" in response.text
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    usage = response.usage_metadata
    assert usage.prompt_token_count > 0 and usage.total_token_count == usage.prompt_token_count + \
        usage.candidates_token_count
    job = wait_job(client, response.response_id)  # an ordinary job: the response id is the job id
    assert job["status"] == "succeeded" and [r["source"]["kind"] for r in job["resources"]] == ["data", "data"]


def test_v1beta_and_query_key_auth(ferry_url):
    beta = make_client(ferry_url, api_version="v1beta")
    assert beta.models.generate_content(model="gemini-2.5-flash", contents="hi").text.startswith("sim:gemini")
    resp = httpx.post(f"{ferry_url}/v1beta/models/gemini-2.5-flash:generateContent?key=ferry-local-key",
                      json={"contents": [{"parts": [{"inline_data": {
                          "mime_type": "image/jpeg", "data": base64.b64encode(HOPPER.read_bytes()).decode()}}]}]},
                      timeout=60)
    assert resp.status_code == 200, resp.text
    assert "image/jpeg" in resp.json()["candidates"][0]["content"]["parts"][0]["text"]


def test_stream_generate_content_adds_up(sdk):
    whole = sdk.models.generate_content(model="anthropic/claude-sonnet-4-5", contents=image_and_pdf())
    chunks = list(sdk.models.generate_content_stream(model="anthropic/claude-sonnet-4-5", contents=image_and_pdf()))
    assert len(chunks) > 1
    assert "".join(c.text or "" for c in chunks) == whole.text
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.total_token_count == whole.usage_metadata.total_token_count


def test_file_uri_by_url_and_count_tokens(sdk, file_server):
    response = sdk.models.generate_content(model="openai/gpt-4o", contents=[
        types.Part.from_uri(file_uri=f"{file_server}/images/hopper.png", mime_type="image/png"), "What is it?"])
    assert "image/png" in response.text
    small = sdk.models.count_tokens(model="gemini-2.5-flash", contents="hi")
    counted = sdk.models.count_tokens(model="gemini-2.5-flash", contents=image_and_pdf())
    assert 0 < small.total_tokens < counted.total_tokens


def test_errors_in_googles_shape(sdk, ferry_url):
    wrong = make_client(ferry_url, api_key="nope")  # kept: a client garbage-collected mid-call closes its transport
    with pytest.raises(errors.ClientError) as auth:
        wrong.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert auth.value.code == 401 and auth.value.status == "UNAUTHENTICATED"
    with pytest.raises(errors.ClientError) as bad:
        sdk.models.generate_content(model="gemini-2.5-flash", contents=[types.Part.from_uri(
            file_uri="https://generativelanguage.googleapis.com/v1beta/files/abc", mime_type="application/pdf")])
    assert bad.value.code == 400 and bad.value.status == "INVALID_ARGUMENT" and "Ferry cannot read" in bad.value.message
    with pytest.raises(errors.ClientError) as unknown:
        sdk.models.generate_content(model="nosuch/model", contents="hi")
    assert unknown.value.code == 400 and unknown.value.details["error"]["details"][0]["reason"] == "UNPROCESSABLE_ERROR"


def test_dry_run_through_the_ferry_field(sdk, client):
    response = sdk.models.generate_content(model="anthropic/claude-sonnet-4-5", contents=image_and_pdf(),
                                           config=types.GenerateContentConfig(http_options=types.HttpOptions(
                                               extra_body={"ferry": {"dry_run": True}})))
    assert "provider_request" in response.text
    job = wait_job(client, response.response_id)
    assert job["dry_run"] is True and job["provider_request"]["url"].endswith("/v1/messages")
