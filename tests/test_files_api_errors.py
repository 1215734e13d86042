"""Files API errors keep the provider's status like chat-call errors do (workers/providers/base.py
``upstream_error``): a 4xx Ferry passes on (``PASSED_UPSTREAM``) stays that status, a 5xx is 502.

First each Files API client against its simulator (a real upload over a socket, the simulator's own
refusal of a wrong key and its fault switch for the rest), then end to end: a job whose upload is refused
fails at ``deliver`` with the provider's status, on the job and as the HTTP status of
``POST /v1/chat/completions``; a persistent 5xx is retried and ends as 502.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AUTH, wait_job
from tests.delivery_fixtures import fresh_png
from tests.helpers import image_part, job_body
from workers.core.errors import PASSED_UPSTREAM, UpstreamError, http_status
from workers.pipeline.steps import MAX_RETRIES
from workers.providers import files_api
from workers.core.settings import Settings

UPLOAD_PATH = {"openai": "/v1/files", "anthropic": "/v1/files", "gemini": "/upload/v1beta/files", "azure": "/openai/files"}
ANTHROPIC = "anthropic/claude-sonnet-4-5"


@pytest.fixture(autouse=True)
def _clean_faults(sims):  # type: ignore[no-untyped-def]
    for s in sims.values():
        s.state.clear_faults()
    yield
    for s in sims.values():
        s.state.clear_faults()


@pytest.fixture
def png(tmp_path: Path) -> Path:
    path = tmp_path / "upload.png"
    path.write_bytes(fresh_png())
    return path


def _upload(provider: str, path: Path, api_key: str | None = None) -> files_api.Uploaded:
    settings = Settings()
    client = files_api.client_for(provider)
    assert client is not None
    return client.upload(path, "image/png", path.name, base_url=settings.provider_base_url(provider) or "",
                         api_key=api_key or settings.provider_key(provider) or "", timeout=30)


def _uploads(sim: Any, provider: str, since: int) -> list[dict[str, Any]]:
    return [e for e in sim.state.log()[since:] if e["method"] == "POST" and e["path"] == UPLOAD_PATH[provider]]


@pytest.mark.parametrize("provider", files_api.PROVIDERS)
def test_a_wrong_key_keeps_the_providers_status(sims, provider, png):
    """The simulator's own refusal (OpenAI and Anthropic say 401, Gemini 400 "API key not valid")."""
    sim = sims[provider]
    since = len(sim.state.log())
    with pytest.raises(UpstreamError) as info:
        _upload(provider, png, api_key="not-the-simulators-key")
    err = info.value
    [answered] = [e["status"] for e in _uploads(sim, provider, since)]
    assert answered in (400, 401), answered
    assert err.upstream_status == answered and err.status == answered, err.to_dict()
    assert err.stage == "deliver" and not err.retryable
    assert f"{provider} Files API answered {answered} to POST {UPLOAD_PATH[provider]}" in err.message


@pytest.mark.parametrize("provider", files_api.PROVIDERS)
@pytest.mark.parametrize("status", [400, 403, 404, 413, 422, 429, 500, 502, 503])
def test_upload_error_status_follows_the_chat_rule(sims, provider, status, png):
    sim = sims[provider]
    since = len(sim.state.log())
    sim.state.add_fault(status=status, count=1, path_contains=UPLOAD_PATH[provider],
                        message=f"simulated: upload refused ({status})")
    with pytest.raises(UpstreamError) as info:
        _upload(provider, png)
    err = info.value
    assert [e["status"] for e in _uploads(sim, provider, since)] == [status]
    assert err.upstream_status == status and err.stage == "deliver"
    assert err.status == (status if status in PASSED_UPSTREAM else 502), err.to_dict()
    assert err.retryable is (status == 429 or status >= 500)
    assert f"simulated: upload refused ({status})" in err.message
    assert http_status(err.to_dict()) == err.status  # the stored error answers with the exception's status


def _chat(client: Any, status_fault: dict[str, Any], sims: Any) -> tuple[Any, list[dict[str, Any]]]:
    """POST /v1/chat/completions with one fresh image sent through the Anthropic Files API."""
    sim = sims["anthropic"]
    since = len(sim.state.log())
    sim.state.add_fault(path_contains=UPLOAD_PATH["anthropic"], **status_fault)
    body = job_body(ANTHROPIC, image_part(_data_uri(fresh_png())))["request"]
    body["ferry"] = {"delivery": {"prefer": "file"}}
    resp = client.post("/v1/chat/completions", json=body, headers=AUTH)
    return resp, _uploads(sim, "anthropic", since)


def _data_uri(data: bytes) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(data).decode()


@pytest.mark.parametrize("status", [400, 401, 413])
def test_a_refused_upload_fails_the_job_with_the_providers_status(client, sims, status):
    resp, uploads = _chat(client, {"status": status, "count": 1, "message": f"simulated: no ({status})"}, sims)
    assert resp.status_code == status, resp.json
    err = resp.json["error"]
    assert err["type"] == "upstream_error" and err["stage"] == "deliver" and err["upstream_status"] == status
    assert f"anthropic Files API answered {status}" in err["message"] and f"simulated: no ({status})" in err["message"]
    assert resp.headers["x-should-retry"] == "false"
    assert [u["status"] for u in uploads] == [status]  # a 4xx is not retried
    job = wait_job(client, resp.headers["x-request-id"], timeout=120)
    assert job["status"] == "failed" and job["error"]["upstream_status"] == status


def test_a_persistent_5xx_is_retried_and_ends_as_502(client, sims):
    resp, uploads = _chat(client, {"status": 503, "count": MAX_RETRIES + 5, "message": "simulated: overloaded"},
                          sims)
    assert resp.status_code == 502, resp.json
    err = resp.json["error"]
    assert err["type"] == "upstream_error" and err["stage"] == "deliver" and err["upstream_status"] == 503
    assert "simulated: overloaded" in err["message"]
    assert [u["status"] for u in uploads] == [503] * (MAX_RETRIES + 1)
    job = wait_job(client, resp.headers["x-request-id"], timeout=120)
    assert job["status"] == "failed" and job["error"]["upstream_status"] == 503
