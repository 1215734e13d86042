"""Issue 12 item 3: Azure OpenAI as provider ``azure`` (``azure/<deployment>``), end to end.

Jobs run on the session's real Celery worker against the Azure simulator (app/simulators/azure_sim.py), which
checks what openai-python's AzureOpenAI sends: the deployment path, ``api-version``, the ``api-key`` header,
Azure's 10-image and 20 MB limits, its Files API, and answers with Azure's content filter.
"""
from __future__ import annotations

from typing import Any

import pytest

from app.simulators.azure_sim import BLOCK_COMPLETION, BLOCK_PROMPT
from app.simulators.server import SimServer
from tests.conftest import CORPUS, wait_job, AUTH
from tests.helpers import data_uri, image_part, job_body, pdf_part

IMAGES = CORPUS / "images"


def run(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    resp = client.post("/v1/jobs", json=body, headers=AUTH)
    assert resp.status_code == 202, resp.json
    return wait_job(client, resp.json["id"])


def chats(sim: SimServer) -> list[dict[str, Any]]:
    return [e for e in sim.state.log() if e["path"].endswith("/chat/completions")]


@pytest.fixture
def azure(sims: dict[str, SimServer]) -> SimServer:
    sims["azure"].state.reset()
    return sims["azure"]


def test_deployment_path_api_version_and_api_key(client, azure, file_server):
    job = run(client, job_body("azure/gpt-4o", image_part(f"{file_server}/images/hopper.webp"),
                               image_part(data_uri(IMAGES / "hopper_orientation_6.jpg", "image/jpeg"))))
    assert job["status"] == "succeeded", job.get("error")
    call = chats(azure)[-1]
    assert call["path"] == "/openai/deployments/gpt-4o/chat/completions" and call["status"] == 200
    assert call["query"] == "api-version=2024-10-21"  # Ferry's default OPENAI_API_VERSION
    assert "api-key" in call["headers"] and "authorization" not in call["headers"]
    assert [p["kind"] for p in call["parts"]] == ["text", "image", "image"]
    assert job["result"]["model"] == "azure/gpt-4o"
    assert job["model_resolution"]["uses"] == "openai/gpt-4o"  # named after an OpenAI model: its row
    assert "sim:azure model=gpt-4o" in job["result"]["choices"][0]["message"]["content"]


def test_a_gpt5_deployment_gets_max_completion_tokens(client, azure):
    job = run(client, {"request": {"model": "azure/gpt-5-mini", "max_tokens": 50,
                                   "messages": [{"role": "user", "content": "hi"}]}})
    assert job["status"] == "succeeded", job.get("error")  # the simulator refuses max_tokens for gpt-5 models
    assert job["model_resolution"]["uses"] == "family gpt-5"
    other = run(client, {"request": {"model": "azure/prod-vision", "max_tokens": 50,
                                     "messages": [{"role": "user", "content": "hi"}]}})
    assert other["status"] == "succeeded", other.get("error")
    assert other["model_resolution"]["uses"] == "azure defaults"


def test_pdf_through_azure_files_api(client, azure):
    job = run(client, job_body("azure/gpt-4o", pdf_part(), delivery={"prefer": "file"}))
    assert job["status"] == "succeeded", job.get("error")
    assert job["resources"][0]["delivery"]["method"] == "file"
    log = azure.state.log()
    upload = next(e for e in log if e["method"] == "POST" and e["path"] == "/openai/files")
    assert upload["status"] == 201 and upload["query"] == "api-version=2024-10-21"
    file_id = upload["parts"][0]["label"].split("file=")[1].split()[0]
    assert any(e["method"] == "GET" and e["path"] == f"/openai/files/{file_id}" for e in log)  # waited for processed
    assert chats(azure)[-1]["parts"][1]["source"] == "file"


def test_prompt_refused_by_the_content_filter(client, azure):
    job = run(client, job_body("azure/gpt-4o", text=f"say {BLOCK_PROMPT}"))
    assert job["status"] == "failed"
    err = job["error"]
    assert err["stage"] == "complete" and err["upstream_status"] == 400 and err["param"] == "request.messages"
    assert "azure content filter refused the prompt (ResponsibleAIPolicyViolation: violence (medium))" in err["message"]
    assert "content management policy" in err["message"]


def test_completion_stopped_by_the_content_filter(client, azure):
    job = run(client, job_body("azure/gpt-4o", text=f"say {BLOCK_COMPLETION}"))
    assert job["status"] == "failed"
    err = job["error"]
    assert err["stage"] == "complete" and err["upstream_status"] == 200
    assert "azure content filter stopped the completion of deployment 'gpt-4o': violence (medium)" in err["message"]


def test_unknown_deployment_is_azures_error(client, azure):
    job = run(client, job_body("azure/no-such-deployment"))
    assert job["status"] == "failed"
    assert job["error"]["stage"] == "complete" and job["error"]["upstream_status"] == 404
    assert "The API deployment for this resource does not exist" in job["error"]["message"]


def test_more_than_ten_images_is_refused_before_the_call(client, azure):
    png = data_uri(IMAGES / "hopper.png", "image/png")
    job = run(client, job_body("azure/gpt-4o", *[image_part(png)] * 11))
    assert job["status"] == "failed"
    assert "takes at most 10 per request" in job["error"]["message"]
    assert chats(azure) == []


def test_dry_run_shows_the_azure_request(client, azure):
    job = run(client, job_body("azure/gpt-4o", dry_run=True))
    req = job["provider_request"]
    assert req["url"] == f"{azure.url}/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
    assert req["headers"]["api-key"] == "<redacted>" and "Authorization" not in req["headers"]


def test_models_lists_azure_as_accepting_any_deployment(client):
    listed = client.get("/v1/models?provider=azure", headers=AUTH).json
    assert listed["data"] == []  # deployments are named by their owner
    other = listed["other_models"][0]
    assert other["provider"] == "azure" and other["accepted"] and "gpt-5" in [f["name"] for f in other["families"]]
    one = client.get("/v1/models/azure/gpt-4o-mini", headers=AUTH).json
    assert one["listed"] is False and one["model_resolution"]["uses"] == "openai/gpt-4o-mini"
    assert one["limits"]["image"]["max_per_request"] == 10 and one["delivery"]["document"] == ["inline", "file"]


def test_a_file_azure_no_longer_has_is_uploaded_again(client, azure):
    first = run(client, job_body("azure/gpt-4o", pdf_part(), delivery={"prefer": "file"}))
    assert first["status"] == "succeeded", first.get("error")
    azure.state.reset()  # Azure forgets every file: the cached id is stale now
    again = run(client, job_body("azure/gpt-4o", pdf_part(), delivery={"prefer": "file"}))
    assert again["status"] == "succeeded", again.get("error")
    log = azure.state.log()
    stale = [e for e in chats(azure) if e["status"] == 400]
    assert stale and "No such File object" in stale[0]["error"]
    assert [e["status"] for e in log if e["method"] == "POST" and e["path"] == "/openai/files"] == [201]
    assert "re-uploaded after azure said the file was gone" in again["resources"][0]["delivery"]["reason"]
