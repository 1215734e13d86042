"""Issue 12 item 1: names the catalog does not list, end to end (API -> real worker -> provider simulator).

Each name gets a listed model's capabilities (a snapshot or alias of it), its family's defaults or the
provider's; the job records which (``model_resolution``); the provider is called with the name as given, and a
name the provider does not serve comes back as the provider's own error at stage ``complete``.
"""
from __future__ import annotations

import pytest

from tests.conftest import AUTH, CORPUS, wait_job
from tests.helpers import data_uri, image_part, job_body

JPEG = data_uri(CORPUS / "images" / "hopper.jpg", "image/jpeg")


def calls(sim) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e for e in sim.state.log() if not e["path"].startswith("/_sim")]


def run(client, body) -> dict:  # type: ignore[no-untyped-def]
    resp = client.post("/v1/jobs", json=body, headers=AUTH)
    assert resp.status_code == 202, resp.json
    return wait_job(client, resp.json["id"])


# (model as a user types it, what its capabilities come from)
SERVED = [
    ("openai/gpt-4o-2024-11-20", "openai/gpt-4o"),
    ("openai/gpt-5.1", "family gpt-5"),
    ("anthropic/claude-opus-4-5", "family claude"),
    ("anthropic/claude-sonnet-4-5-20250929", "anthropic/claude-sonnet-4-5"),
    ("gemini/gemini-3-pro-preview", "family gemini"),
    ("xai/grok-4-0709", "xai/grok-4"),
    ("mistral/pixtral-large-2411", "mistral/pixtral-large-latest"),
]


@pytest.mark.parametrize("model, uses", SERVED)
def test_unlisted_name_runs_with_family_defaults_and_the_users_name(client, sims, model, uses):
    provider, name = model.split("/", 1)
    job = run(client, job_body(model, image_part(JPEG)))
    assert job["status"] == "succeeded", job.get("error")
    res = job["model_resolution"]
    assert res["listed"] is False and res["uses"] == uses and res["sent_as"] == name
    assert f"{model} is not in Ferry's catalog" in res["notes"][0] and repr(name) in res["notes"][0]
    call = calls(sims[provider])[-1]
    assert call["status"] == 200 and call["model"] == name  # called with the user's name
    assert [p["kind"] for p in call["parts"]] == ["text", "image"]
    assert job["result"]["choices"][0]["message"]["content"].startswith(f"sim:{provider} model={name}")


@pytest.mark.parametrize("model, status, message", [
    ("openai/gpt-nonexistent", 404, "The model `gpt-nonexistent` does not exist"),
    ("mistral/pixtral-large", 400, "Invalid model: pixtral-large"),
    ("cohere/command-a-vision", 404, "model 'command-a-vision' not found"),
    ("anthropic/claude-nonexistent-9", 404, "model: claude-nonexistent-9"),
    ("gemini/gemini-9-ultra", 404, "models/gemini-9-ultra is not found"),
])
def test_a_name_the_provider_does_not_serve_is_the_providers_error(client, sims, model, status, message):
    job = run(client, job_body(model, image_part(JPEG)))
    assert job["status"] == "failed"
    err = job["error"]
    assert err["stage"] == "complete" and err["upstream_status"] == status, err
    assert message in err["message"] and err["message"].startswith(model.split("/")[0])
    assert job["model_resolution"]["listed"] is False


def test_reasoning_family_sends_max_completion_tokens(client, sims):
    """OpenAI gpt-5* / o-series refuse max_tokens (the simulator as the real API): the family renames it."""
    for model in ("openai/gpt-5.1", "openai/o4-mini", "openai/gpt-5"):
        body = job_body(model, max_tokens=40)
        body["request"]["max_tokens"] = body.pop("max_tokens")
        job = run(client, body)
        assert job["status"] == "succeeded", (model, job.get("error"))
        sent = job["provider_request"]["body"]
        assert sent["max_completion_tokens"] == 40 and "max_tokens" not in sent
    body = job_body("openai/gpt-4o-2024-11-20")
    body["request"]["max_tokens"] = 40
    assert run(client, body)["provider_request"]["body"]["max_tokens"] == 40  # other families keep max_tokens


def test_what_the_catalog_knows_a_family_cannot_take_is_refused_locally(client, sims):
    """Never refuse what the provider may accept, but a family known to be text-only takes no images."""
    before = len(calls(sims["cohere"]))
    resp = client.post("/v1/jobs", json=job_body("cohere/command-r-plus-04-2024", image_part(JPEG)), headers=AUTH)
    if resp.status_code == 202:
        job = wait_job(client, resp.json["id"])
        assert job["status"] == "failed" and job["error"]["stage"] != "complete", job.get("error")
        message = job["error"]["message"]
    else:
        assert resp.status_code == 422
        message = resp.json["error"]["message"]
    assert "command-r-plus-04-2024" in message
    assert len(calls(sims["cohere"])) == before  # never called


def test_listed_names_record_nothing(client):
    job = run(client, job_body("openai/gpt-4o", dry_run=True))
    assert job["status"] == "succeeded" and "model_resolution" not in job
