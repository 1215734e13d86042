"""Bedrock, Mistral, xAI and Cohere end to end: API → worker → the provider's simulator."""
from __future__ import annotations

import pytest

from tests.conftest import AUTH, CORPUS, wait_job
from tests.helpers import data_uri, image_part, job_body

MODELS = {
    "bedrock": "bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0",
    "mistral": "mistral/pixtral-large-latest",
    "xai": "xai/grok-4",
    "cohere": "cohere/command-a-vision-07-2025",
}
IMAGES = CORPUS / "images"
PDF = CORPUS / "pdf" / "pdflatex-4-pages.pdf"


def calls(sim) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e for e in sim.state.log() if not e["path"].startswith("/_sim")]


def submit(client, body) -> dict:  # type: ignore[no-untyped-def]
    resp = client.post("/v1/jobs", json=body, headers=AUTH)
    assert resp.status_code == 202, resp.json
    return wait_job(client, resp.json["id"])


@pytest.mark.parametrize("provider", MODELS)
def test_image_completion(client, sims, file_server, provider):
    """A URL image and a WEBP data URI (converted where the provider does not take WEBP) reach the provider."""
    body = job_body(MODELS[provider], image_part(f"{file_server}/images/hopper.jpg"),
                    image_part(data_uri(IMAGES / "hopper.webp", "image/webp")))
    body["request"].update(max_tokens=50, temperature=0.1)
    job = submit(client, body)
    assert job["status"] == "succeeded", job.get("error")
    result = job["result"]
    assert result["object"] == "chat.completion" and result["model"] == MODELS[provider]
    assert result["choices"][0]["message"]["content"].startswith(f"sim:{provider}")
    assert result["usage"]["prompt_tokens"] > 0
    call = calls(sims[provider])[-1]
    assert call["status"] == 200
    media = [p for p in call["parts"] if p["kind"] != "text"]
    assert [p["sha256"] for p in media] == [r["outputs"][0]["sha256"] for r in job["resources"]]
    assert all(r["delivery"]["method"] == "inline" for r in job["resources"])


def test_bedrock_document_name_and_labels(client, sims):
    pdf = {"type": "file", "file": {"filename": "my_report.v2 (final).pdf", "file_data": data_uri(PDF, "application/pdf")}}
    job = submit(client, job_body(MODELS["bedrock"], pdf, image_part(data_uri(IMAGES / "hopper.png", "image/png")),
                                  dry_run=True))
    assert job["status"] == "succeeded", job.get("error")
    native = job["provider_request"]
    # AWS serves Claude 4.5 only through inference profiles: the bare id goes as the region's (us-east-1) profile
    assert native["url"].endswith("/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse")
    assert job["model_resolution"]["sent_as"] == "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    content = native["body"]["messages"][0]["content"]
    assert content[0] == {"text": "What is in these?"}
    assert content[1]["document"]["format"] == "pdf" and content[1]["document"]["name"] == "my report v2 (final)"
    assert content[2]["image"]["format"] == "png"
    assert content[2]["image"]["source"]["bytes"].startswith("<sha256:")
    # and the real call is accepted by the simulator (which enforces the name charset)
    job = submit(client, job_body(MODELS["bedrock"], pdf))
    assert job["status"] == "succeeded", job.get("error")
    assert [p["kind"] for p in calls(sims["bedrock"])[-1]["parts"]] == ["text", "document"]


def test_mistral_image_url_is_a_string_and_params_renamed(client):
    body = job_body(MODELS["mistral"], image_part(data_uri(IMAGES / "hopper.jpg", "image/jpeg")), dry_run=True,
                    )
    body["request"].update(seed=7, max_completion_tokens=20, logprobs=True)
    native = submit(client, body)["provider_request"]
    assert native["url"].endswith("/v1/chat/completions")
    part = native["body"]["messages"][0]["content"][1]
    assert part["type"] == "image_url" and isinstance(part["image_url"], str)
    assert part["image_url"].startswith("data:image/jpeg;base64,<sha256:")
    assert native["body"]["random_seed"] == 7 and native["body"]["max_tokens"] == 20
    assert "logprobs" not in native["body"] and "seed" not in native["body"]


def test_cohere_v2_shape(client):
    body = job_body(MODELS["cohere"], image_part(data_uri(IMAGES / "hopper.jpg", "image/jpeg"), detail="low"),
                    dry_run=True)
    body["request"].update(top_p=0.5, stop="END")
    native = submit(client, body)["provider_request"]
    assert native["url"].endswith("/v2/chat")
    assert native["body"]["p"] == 0.5 and native["body"]["stop_sequences"] == ["END"]
    part = native["body"]["messages"][0]["content"][1]
    assert part["type"] == "image_url" and part["image_url"]["detail"] == "low"


def test_xai_base_url_includes_v1(client):
    native = submit(client, job_body(MODELS["xai"], dry_run=True))["provider_request"]
    assert native["url"].endswith("/v1/chat/completions") and "/v1/v1/" not in native["url"]
    assert native["headers"]["Authorization"] == "<redacted>"


@pytest.mark.parametrize("provider, status", [("bedrock", 400), ("mistral", 400), ("xai", 400), ("cohere", 400)])
def test_provider_error_is_reported(client, sims, provider, status):
    sims[provider].state.add_fault(status=status, count=1, message=f"simulated {provider} refusal")
    job = submit(client, job_body(MODELS[provider]))
    assert job["status"] == "failed"
    err = job["error"]
    assert err["stage"] == "complete" and err["upstream_status"] == status
    assert f"simulated {provider} refusal" in err["message"] and err["message"].startswith(provider)


def test_bedrock_5xx_is_retried(client, sims):
    sims["bedrock"].state.add_fault(status=503, count=1)
    job = submit(client, job_body(MODELS["bedrock"]))
    assert job["status"] == "succeeded", job.get("error")
