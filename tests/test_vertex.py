"""Issue 12 item 4: Vertex AI as provider ``vertex`` (Gemini and Claude models), end to end.

Jobs run on the session's real Celery worker against the Vertex simulator (app/simulators/vertex_sim.py),
which checks the project/location path, the bearer token, Vertex's Gemini body (no Files API, fileData needs a
mimeType) and Claude's rawPredict body (anthropic_version vertex-2023-10-16, no model, no URL sources).
"""
from __future__ import annotations

from typing import Any

import pytest

from app.simulators.server import VERTEX_PROJECT, SimServer
from tests.conftest import AUTH, CORPUS, wait_job
from tests.helpers import data_uri, image_part, job_body, pdf_part
from workers.core.settings import Settings

IMAGES = CORPUS / "images"
BASE = f"/v1/projects/{VERTEX_PROJECT}/locations/us-central1/publishers"


def run(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    resp = client.post("/v1/jobs", json=body, headers=AUTH)
    assert resp.status_code == 202, resp.json
    return wait_job(client, resp.json["id"])


@pytest.fixture
def vertex(sims: dict[str, SimServer]) -> SimServer:
    sims["vertex"].state.reset()
    return sims["vertex"]


def test_gemini_on_vertex(client, vertex, file_server):
    job = run(client, job_body("vertex/gemini-2.5-flash", image_part(f"{file_server}/images/hopper.webp"), pdf_part()))
    assert job["status"] == "succeeded", job.get("error")
    call = vertex.state.log()[-1]
    assert call["path"] == f"{BASE}/google/models/gemini-2.5-flash:generateContent" and call["status"] == 200
    assert call["headers"]["authorization"].startswith("Bearer ")
    assert [p["kind"] for p in call["parts"]] == ["text", "image", "document"]
    assert job["result"]["model"] == "vertex/gemini-2.5-flash"
    assert "model_resolution" not in job  # listed in the catalog, sent as given
    dry = run(client, job_body("vertex/gemini-2.5-flash", image_part(data_uri(IMAGES / "hopper.png", "image/png")),
                               dry_run=True))
    part = dry["provider_request"]["body"]["contents"][0]["parts"][1]
    assert set(part) == {"inlineData"} and part["inlineData"]["mimeType"] == "image/png"
    assert dry["provider_request"]["headers"]["Authorization"] == "<redacted>"


def test_claude_on_vertex_by_raw_predict(client, vertex, file_server):
    job = run(client, job_body("vertex/claude-sonnet-4-5@20250929", image_part(f"{file_server}/images/hopper.jpg"),
                               pdf_part()))
    assert job["status"] == "succeeded", job.get("error")
    call = vertex.state.log()[-1]
    assert call["path"] == f"{BASE}/anthropic/models/claude-sonnet-4-5@20250929:rawPredict"
    assert [(p["kind"], p["source"]) for p in call["parts"]] == [("text", "inline"), ("image", "inline"),
                                                                   ("document", "inline")]  # URL fetched by Ferry
    assert job["result"]["model"] == "vertex/claude-sonnet-4-5@20250929"
    assert all(r["delivery"]["method"] == "inline" for r in job["resources"])
    dry = run(client, job_body("vertex/claude-sonnet-4-5@20250929", dry_run=True))
    body = dry["provider_request"]["body"]
    assert body["anthropic_version"] == "vertex-2023-10-16" and "model" not in body


def test_names_outside_the_catalog(client, vertex):
    opus = run(client, job_body("vertex/claude-opus-4-5@20251101"))
    assert opus["status"] == "succeeded", opus.get("error")
    assert opus["model_resolution"]["uses"] == "anthropic family claude (Claude on Vertex AI)"
    gemini3 = run(client, job_body("vertex/gemini-3-pro-preview"))
    assert gemini3["status"] == "succeeded", gemini3.get("error")
    assert gemini3["model_resolution"]["uses"] == "family gemini"
    unknown = run(client, job_body("vertex/gemini-9-ultra"))
    assert unknown["status"] == "failed"
    err = unknown["error"]
    assert err["stage"] == "complete" and err["upstream_status"] == 404
    assert "Publisher Model `projects/ferry-sim/locations/us-central1/publishers/google/models/gemini-9-ultra` was " \
           "not found" in err["message"]


def test_vertex_locations_and_credentials(monkeypatch):
    for name in ("VERTEX_BASE_URL", "VERTEX_LOCATION", "GOOGLE_CLOUD_PROJECT", "VERTEX_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)  # the session's simulators set them
    assert Settings(GOOGLE_CLOUD_PROJECT="p", VERTEX_ACCESS_TOKEN="t").vertex_resource_url() == \
        "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1"
    assert Settings(GOOGLE_CLOUD_PROJECT="p", VERTEX_LOCATION="global", VERTEX_ACCESS_TOKEN="t"
                    ).vertex_resource_url() == "https://aiplatform.googleapis.com/v1/projects/p/locations/global"
    assert Settings(GOOGLE_CLOUD_PROJECT="p", VERTEX_LOCATION="eu", VERTEX_ACCESS_TOKEN="t"
                    ).vertex_resource_url() == "https://aiplatform.eu.rep.googleapis.com/v1/projects/p/locations/eu"
    assert Settings(GOOGLE_CLOUD_PROJECT="p", VERTEX_BASE_URL="http://127.0.0.1:9/", VERTEX_ACCESS_TOKEN="t"
                    ).provider_base_url("vertex") == "http://127.0.0.1:9/v1/projects/p/locations/us-central1"
    assert Settings(VERTEX_ACCESS_TOKEN="t").provider_key("vertex") is None  # no project: no Vertex
    assert Settings(GOOGLE_CLOUD_PROJECT="p", VERTEX_ACCESS_TOKEN="t").provider_key("vertex") == "t"


def test_a_submit_without_vertex_credentials_names_what_to_set():
    settings = Settings(VERTEX_ACCESS_TOKEN="t")
    assert "GOOGLE_CLOUD_PROJECT and Application Default Credentials" in settings.credential_hint("vertex")
    assert settings.credential_hint("azure") == "AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY"
