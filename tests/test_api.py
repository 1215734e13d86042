"""The /v1/jobs contract: status codes, error shapes, auth and tenancy."""
from __future__ import annotations

import pytest

from tests.conftest import AUTH, CORPUS, wait_job
from tests.helpers import data_uri, image_part, job_body
from workers.context import Context
from workers.core.settings import Settings

HOPPER = CORPUS / "images" / "hopper.jpg"


def test_submit_answers_202_with_location_and_queued(client):
    resp = client.post("/v1/jobs", json=job_body("openai/gpt-4o", image_part(data_uri(HOPPER, "image/jpeg")),
                                                  dry_run=True), headers=AUTH)
    assert resp.status_code == 202
    job = resp.json
    assert job["id"].startswith("job_") and job["status"] == "queued"
    assert resp.headers["Location"] == f"/v1/jobs/{job['id']}"
    assert wait_job(client, job["id"])["status"] == "succeeded"


def test_malformed_json_is_400(client):
    resp = client.post("/v1/jobs", data=b"{not json", headers={**AUTH, "Content-Type": "application/json"})
    assert resp.status_code == 400
    assert resp.json["error"]["type"] == "invalid_request_error"
    assert resp.json["error"]["param"] == "body"


@pytest.mark.parametrize("model", ["nosuch/model", "gpt-4o", "openai/"])
def test_unknown_provider_or_malformed_model_is_422_naming_it(client, model):
    """An unknown *name* of a known provider is accepted (tests/test_model_resolution.py); these are not."""
    resp = client.post("/v1/jobs", json=job_body(model), headers=AUTH)
    assert resp.status_code == 422
    assert model in resp.json["error"]["message"]
    assert resp.json["error"]["param"] == "request.model"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}])
def test_missing_or_bad_key_is_401(client, headers):
    resp = client.post("/v1/jobs", json=job_body("openai/gpt-4o"), headers=headers)
    assert resp.status_code == 401
    assert resp.json["error"]["type"] == "authentication_error"
    assert client.get("/v1/jobs/job_x", headers=headers).status_code == 401


@pytest.mark.parametrize(
    "part, param",
    [
        ({"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}, "messages[0].content[1].image_url.url"),
        ({"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}, "messages[0].content[1].image_url.url"),
        ({"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "ultra"}},
         "messages[0].content[1].image_url.detail"),
        ({"type": "hologram", "hologram": {}}, "messages[0].content[1].type"),
        ({"type": "file", "file": {}}, "messages[0].content[1].file"),
    ],
)
def test_bad_parts_are_400_naming_the_part(client, part, param):
    resp = client.post("/v1/jobs", json=job_body("openai/gpt-4o", part), headers=AUTH)
    assert resp.status_code == 400, resp.json
    assert resp.json["error"]["param"] == param


def test_missing_messages_and_unknown_fields_are_400(client):
    resp = client.post("/v1/jobs", json={"request": {"model": "openai/gpt-4o"}}, headers=AUTH)
    assert resp.status_code == 400 and resp.json["error"]["param"] == "request.messages"
    resp = client.post("/v1/jobs", json={**job_body("openai/gpt-4o"), "colour": "blue"}, headers=AUTH)
    assert resp.status_code == 400 and resp.json["error"]["param"] == "colour"


def test_unknown_job_is_404(client):
    resp = client.get("/v1/jobs/job_doesnotexist", headers=AUTH)
    assert resp.status_code == 404 and resp.json["error"]["type"] == "not_found_error"


def test_another_tenants_job_answers_404(worker):
    from app import create_app

    settings = Settings(FERRY_API_KEYS="key-a=alpha,key-b=beta")
    app = create_app(Context(settings))
    c = app.test_client()
    a, b = {"Authorization": "Bearer key-a"}, {"Authorization": "Bearer key-b"}
    job_id = c.post("/v1/jobs", json=job_body("openai/gpt-4o", dry_run=True), headers=a).json["id"]
    assert wait_job(c, job_id, headers=a)["status"] == "succeeded"
    assert c.get(f"/v1/jobs/{job_id}", headers=b).status_code == 404
    assert c.delete(f"/v1/jobs/{job_id}", headers=b).status_code == 404
    assert c.get(f"/v1/jobs/{job_id}", headers=a).json["status"] == "succeeded"
    # the local default key is not valid once FERRY_API_KEYS is set
    assert c.get(f"/v1/jobs/{job_id}", headers=AUTH).status_code == 401


def test_cancel_is_idempotent_and_final(client):
    body = job_body("openai/gpt-4o", image_part("http://127.0.0.1:9/never.png"), dry_run=True)
    job_id = client.post("/v1/jobs", json=body, headers=AUTH).json["id"]
    first = client.delete(f"/v1/jobs/{job_id}", headers=AUTH)
    assert first.status_code == 200
    status = first.json["status"]
    assert status in ("canceled", "failed")  # the fetch may have failed before the cancel landed
    second = client.delete(f"/v1/jobs/{job_id}", headers=AUTH)
    assert second.status_code == 200 and second.json["status"] == status
    assert wait_job(client, job_id)["status"] == status


def test_cancel_of_finished_job_keeps_its_state(client):
    job_id = client.post("/v1/jobs", json=job_body("gemini/gemini-2.5-flash", dry_run=True), headers=AUTH).json["id"]
    assert wait_job(client, job_id)["status"] == "succeeded"
    assert client.delete(f"/v1/jobs/{job_id}", headers=AUTH).json["status"] == "succeeded"


def test_healthz_checks_redis_and_storage(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json == {"status": "ok", "checks": {"redis": "ok", "storage": "ok"}}


def test_missing_provider_key_is_422_unless_dry_run(worker):
    from app import create_app

    settings = Settings(OPENAI_API_KEY=None)
    settings.openai_api_key = None
    c = create_app(Context(settings)).test_client()
    resp = c.post("/v1/jobs", json=job_body("openai/gpt-4o"), headers=AUTH)
    assert resp.status_code == 422 and "OPENAI_API_KEY" in resp.json["error"]["message"]
    assert c.post("/v1/jobs", json=job_body("openai/gpt-4o", dry_run=True), headers=AUTH).status_code == 202


def test_a_job_says_when_it_was_submitted_to_the_millisecond(client):
    """``created_at`` is whole seconds (OpenAI's shape); ``submitted_at`` is what the timeline is read against
    (the CLI's "stages: fetch:0 +3ms" used to count from the whole second, up to 999 ms too much)."""
    job = client.post("/v1/jobs", headers=AUTH, json=job_body("openai/gpt-4o", image_part(
        data_uri(CORPUS / "images" / "hopper.png", "image/png")), dry_run=True)).json
    done = wait_job(client, job["id"])
    assert done["status"] == "succeeded"
    assert done["created_at"] <= done["submitted_at"] < done["created_at"] + 1
    assert done["timeline"] and all(e["at"] >= done["submitted_at"] for e in done["timeline"])
