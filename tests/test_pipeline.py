"""End to end: API → Redis → Celery worker process → provider simulator → poll."""
from __future__ import annotations

import hashlib

import pytest

from tests.conftest import AUTH, CORPUS, wait_job
from tests.helpers import b64, data_uri, image_part, job_body, pdf_part

PROVIDERS = {
    "openai": "openai/gpt-4o",
    "anthropic": "anthropic/claude-sonnet-4-5",
    "gemini": "gemini/gemini-2.5-flash",
}
IMAGES = CORPUS / "images"
PDF = CORPUS / "pdf" / "pdflatex-4-pages.pdf"


def sha(path) -> str:  # type: ignore[no-untyped-def]
    return hashlib.sha256(path.read_bytes()).hexdigest()


def last_call(sim) -> dict:  # type: ignore[no-untyped-def]
    calls = [e for e in sim.state.log() if not e["path"].startswith("/_sim")]
    return calls[-1]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_completion_through_every_stage(client, sims, file_server, provider):
    """URL image + mislabelled data-URI image + PDF reach the provider in order, typed from their bytes."""
    body = job_body(
        PROVIDERS[provider],
        image_part(f"{file_server}/images/hopper.png"),
        image_part(data_uri(IMAGES / "hopper.jpg", "image/png")),  # label lies: the bytes are JPEG
        pdf_part(PDF),
        metadata={"case": provider},
    )
    resp = client.post("/v1/jobs", json=body, headers=AUTH)
    assert resp.status_code == 202, resp.json
    job = wait_job(client, resp.json["id"])
    assert job["status"] == "succeeded", job.get("error")
    assert job["stage"] == "done" and job["progress"] == 1.0
    assert job["metadata"] == {"case": provider}
    steps = [t["step"] for t in job["timeline"]]
    for i in range(3):  # every resource went through every stage, in order, then the completion
        mine = [s.split(":")[0] for s in steps if s.endswith(f":{i}")]
        assert mine == ["fetch", "inspect", "plan", "transform", "deliver"]
    assert steps[-1] == "complete"

    result = job["result"]
    assert result["object"] == "chat.completion"
    assert result["model"] == PROVIDERS[provider]
    usage = result["usage"]
    assert usage["prompt_tokens"] > 0 and usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    answer = result["choices"][0]["message"]["content"]
    assert answer.startswith(f"sim:{provider}")
    # Ferry's image-token estimate: the sum of the per-image estimates recorded on the resources
    per_image = sum(o.get("est_tokens", 0) for r in job["resources"] for o in r["outputs"] if o["kind"] == "image")
    assert per_image > 0
    assert usage["prompt_tokens_details"]["image_tokens_estimate"] == per_image
    assert job["usage_estimate"]["prompt_tokens_details"]["image"] == per_image

    # each resource carries its facts and how it was delivered
    res = job["resources"]
    assert [r["part"] for r in res] == ["messages[0].content[1]", "messages[0].content[2]", "messages[0].content[3]"]
    assert [r["source"]["kind"] for r in res] == ["url", "data", "data"]
    assert [r["source"]["mime"] for r in res] == ["image/png", "image/jpeg", "application/pdf"]
    assert [r["source"]["sha256"] for r in res] == [sha(IMAGES / "hopper.png"), sha(IMAGES / "hopper.jpg"), sha(PDF)]
    assert res[2]["facts"]["pages"] == 4
    assert all(r["delivery"]["method"] == "inline" for r in res)
    assert any("bytes are image/jpeg" in n for n in res[1]["notes"])

    # what the provider received, in order: the prompt, then the media as delivered
    call = last_call(sims[provider])
    assert call["status"] == 200
    media = [p for p in call["parts"] if p["kind"] != "text"]
    assert [p["mime"] for p in media] == ["image/png", "image/jpeg", "application/pdf"]
    delivered = [r["outputs"][0]["sha256"] for r in res]
    assert [p["sha256"] for p in media] == delivered
    assert call["parts"][0]["kind"] == "text"


@pytest.mark.parametrize("provider, path, header", [
    ("openai", "/v1/chat/completions", "Authorization"),
    ("anthropic", "/v1/messages", "x-api-key"),
    ("gemini", "/v1beta/models/gemini-2.5-flash:generateContent", "x-goog-api-key"),
])
def test_dry_run_returns_native_request_without_calling_the_provider(client, sims, provider, path, header):
    before = len(sims[provider].state.log())
    body = job_body(PROVIDERS[provider], image_part(data_uri(IMAGES / "hopper.webp", "image/webp")), pdf_part(PDF),
                    dry_run=True)
    job = wait_job(client, client.post("/v1/jobs", json=body, headers=AUTH).json["id"])
    assert job["status"] == "succeeded", job.get("error")
    assert "result" not in job
    native = job["provider_request"]
    assert native["url"].endswith(path)
    assert native["headers"][header] == "<redacted>"
    text = str(native["body"])
    assert b64(PDF)[:100] not in text  # payloads are shortened...
    assert f"<sha256:{sha(PDF)}, {PDF.stat().st_size} bytes>" in text  # ...to their hash and size
    assert len(sims[provider].state.log()) == before


def test_pdf_as_image_url_becomes_document_block_and_inline_data(client):
    part = image_part(data_uri(PDF, "application/pdf"))
    anthropic = wait_job(client, client.post("/v1/jobs", json=job_body(PROVIDERS["anthropic"], part, dry_run=True),
                                             headers=AUTH).json["id"])
    blocks = anthropic["provider_request"]["body"]["messages"][0]["content"]
    assert blocks[1]["type"] == "document"
    assert blocks[1]["source"]["type"] == "base64" and blocks[1]["source"]["media_type"] == "application/pdf"
    gemini = wait_job(client, client.post("/v1/jobs", json=job_body(PROVIDERS["gemini"], part, dry_run=True),
                                          headers=AUTH).json["id"])
    parts = gemini["provider_request"]["body"]["contents"][0]["parts"]
    assert parts[1]["inline_data"]["mime_type"] == "application/pdf"
    openai = wait_job(client, client.post("/v1/jobs", json=job_body(PROVIDERS["openai"], part, dry_run=True),
                                          headers=AUTH).json["id"])
    content = openai["provider_request"]["body"]["messages"][0]["content"]
    assert content[1]["type"] == "file" and content[1]["file"]["file_data"].startswith("data:application/pdf;base64,")


def test_several_images_keep_their_order(client, sims):
    names = ["hopper.png", "hopper.webp", "hopper.jpg", "hopper.gif"]
    parts = [image_part(data_uri(IMAGES / n, "image/png")) for n in names]
    job = wait_job(client, client.post("/v1/jobs", json=job_body(PROVIDERS["openai"], *parts), headers=AUTH).json["id"])
    assert job["status"] == "succeeded", job.get("error")
    media = [p["mime"] for p in last_call(sims["openai"])["parts"] if p["kind"] != "text"]
    assert media == ["image/png", "image/webp", "image/jpeg", "image/gif"]


def test_system_message_and_params_are_translated(client, sims):
    body = {"request": {"model": PROVIDERS["anthropic"], "max_tokens": 77, "temperature": 0.2, "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello"},
    ]}, "dry_run": True}
    job = wait_job(client, client.post("/v1/jobs", json=body, headers=AUTH).json["id"])
    native = job["provider_request"]["body"]
    assert native["system"] == "Be brief." and native["max_tokens"] == 77 and native["temperature"] == 0.2
    assert native["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}]


def test_unreachable_url_fails_at_fetch(client):
    job = wait_job(client, client.post("/v1/jobs", json=job_body(PROVIDERS["openai"], image_part(
        "http://127.0.0.1:9/x.png")), headers=AUTH).json["id"])
    assert job["status"] == "failed"
    assert job["error"]["stage"] == "fetch" and job["error"]["type"] == "fetch_error"
    assert "127.0.0.1:9" in job["error"]["message"]
    assert job["error"]["param"] == "messages[0].content[1]"


def test_non_2xx_url_fails_at_fetch_with_the_status(client, file_server):
    job = wait_job(client, client.post("/v1/jobs", json=job_body(PROVIDERS["anthropic"], image_part(
        f"{file_server}/images/missing.png")), headers=AUTH).json["id"])
    assert job["status"] == "failed"
    assert job["error"]["stage"] == "fetch" and "404" in job["error"]["message"]


#: Pillow and the provider decode this one completely despite the truncated APP14 marker.
RECOVERABLE = {"truncated_app14.jpg"}


@pytest.mark.parametrize("name", sorted(p.name for p in (CORPUS / "bad").iterdir() if p.name not in RECOVERABLE))
def test_corrupt_files_fail_clearly(client, name):
    path = CORPUS / "bad" / name
    job = wait_job(client, client.post("/v1/jobs", json=job_body(PROVIDERS["openai"], image_part(
        data_uri(path, "image/png"))), headers=AUTH).json["id"])
    assert job["status"] == "failed", f"{name} was accepted"
    err = job["error"]
    assert err["stage"] in ("inspect", "plan", "transform")
    assert err["type"] in ("unsupported_media_error", "too_large_error", "unprocessable_error")
    assert err["param"] == "messages[0].content[1]"
    assert len(err["message"]) > 10


def test_provider_error_is_reported_with_its_status(client, sims):
    """An input the provider rejects fails the job with the provider's status and message."""
    sims["anthropic"].state.add_fault(status=400, count=1, message="simulated: image too dull")
    job = wait_job(client, client.post("/v1/jobs", json=job_body(PROVIDERS["anthropic"]), headers=AUTH).json["id"])
    assert job["status"] == "failed"
    assert job["error"]["stage"] == "complete" and job["error"]["upstream_status"] == 400
    assert "image too dull" in job["error"]["message"]


def test_recoverable_damage_is_delivered_as_decodable_image(client, sims):
    from PIL import Image

    path = CORPUS / "bad" / "truncated_app14.jpg"
    job = wait_job(client, client.post("/v1/jobs", json=job_body(PROVIDERS["openai"], image_part(
        data_uri(path, "image/jpeg"))), headers=AUTH).json["id"])
    assert job["status"] == "succeeded", job.get("error")
    with Image.open(path) as img:
        img.load()
        size = img.size
    media = [p for p in last_call(sims["openai"])["parts"] if p["kind"] != "text"]
    assert media[0]["mime"] == "image/jpeg" and (media[0]["width"], media[0]["height"]) == size


def test_more_images_than_the_model_takes_fails_clearly(client, sims):
    """Mistral takes at most 8 images per request (catalog); the ninth is refused before the call."""
    before = len(sims["mistral"].state.log())
    parts = [image_part(data_uri(IMAGES / "hopper.jpg", "image/jpeg")) for _ in range(9)]
    job = wait_job(client, client.post("/v1/jobs", json=job_body("mistral/pixtral-large-latest", *parts),
                                       headers=AUTH).json["id"])
    assert job["status"] == "failed"
    assert job["error"]["stage"] == "complete" and job["error"]["type"] == "unprocessable_error"
    assert "9 image parts" in job["error"]["message"] and "at most 8" in job["error"]["message"]
    assert len(sims["mistral"].state.log()) == before
