"""Outputs (issue 6 item 5): generated images and audio are stored as Ferry files and answered as URLs.

End to end: API → Redis → the real Celery worker → provider simulators (OpenAI Images API and audio
chat, Gemini image output) → poll; and the official openai SDK (``images.generate``, audio chat) against
Ferry served on a real socket. Poll answers carry URLs, not base64; each URL serves the exact bytes to
its tenant and 404 to any other; ``?include=b64`` / ``options.outputs = "inline"`` give the base64 back.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import wave
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from tests.conftest import AUTH, wait_job
from app.simulators.server import SimServer
from workers.context import Context
from workers.core.settings import Settings

OTHER = {"Authorization": "Bearer outputs-other-tenant-key"}


@pytest.fixture(scope="module")
def app(worker):  # type: ignore[no-untyped-def]
    """Ferry with two tenants: the usual local key, and another."""
    from app import create_app

    return create_app(Context(Settings(FERRY_API_KEYS="ferry-local-key=local,outputs-other-tenant-key=other")))


@pytest.fixture(scope="module")
def ferry_url(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with SimServer(app) as server:
        yield server.url


@pytest.fixture(scope="module")
def sdk(ferry_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=ferry_url + "/v1", api_key="ferry-local-key", max_retries=0, timeout=60)


def run_job(client, request: dict[str, Any], **extra: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    resp = client.post("/v1/jobs", json={"request": request, **extra}, headers=AUTH)
    assert resp.status_code == 202, resp.json
    job = wait_job(client, resp.json["id"])
    assert job["status"] == "succeeded", job.get("error")
    return job


def path_of(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1] if "://" in url else url


def fetch_output(client, url: str, headers: dict[str, str] = AUTH):  # type: ignore[no-untyped-def]
    assert url.startswith("http://localhost/v1/files/file-") and url.endswith("/content"), url
    return client.get(path_of(url), headers=headers)


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG"
        im.load()
        return im.size


def assert_no_base64(job: dict[str, Any]) -> None:
    text = json.dumps(job["result"])
    assert "base64" not in text and len(text) < 8000, text[:500]


def test_openai_image_generation_job_stores_images_and_polls_urls(client, sims):
    job = run_job(client, {"model": "openai/gpt-image-1", "n": 2, "size": "1536x1024", "quality": "low",
                           "messages": [{"role": "user", "content": "a red lighthouse at dusk"}]})
    call = [e for e in sims["openai"].state.log() if e["path"] == "/v1/images/generations"][-1]
    assert call["status"] == 200 and call["model"] == "gpt-image-1"
    assert job["provider_request"]["body"] == {"model": "gpt-image-1", "prompt": "a red lighthouse at dusk", "n": 2,
                                               "size": "1536x1024", "quality": "low"}
    assert_no_base64(job)
    result = job["result"]
    assert result["object"] == "chat.completion" and result["model"] == "openai/gpt-image-1"
    images = result["choices"][0]["message"]["images"]
    assert len(images) == 2 and images[0]["file_id"] != images[1]["file_id"]
    for image in images:
        assert image["type"] == "image_url" and image["mime"] == "image/png"
        got = fetch_output(client, image["image_url"]["url"])
        assert got.status_code == 200 and got.mimetype == "image/png"
        assert hashlib.sha256(got.data).hexdigest() == image["sha256"] and len(got.data) == image["bytes"]
        assert png_size(got.data) == (1536, 1024)
        assert fetch_output(client, image["image_url"]["url"], OTHER).status_code == 404  # another tenant
        meta = client.get(f"/v1/files/{image['file_id']}", headers=AUTH).json
        assert meta["purpose"] == "output" and meta["bytes"] == image["bytes"]
    usage = result["usage"]
    assert usage["completion_tokens"] == 2 * 400 and usage["completion_tokens_details"]["image_tokens"] == 800
    assert usage["prompt_tokens_details"]["text_tokens"] == usage["prompt_tokens"] > 0
    assert usage["prompt_tokens_details"]["image_tokens"] == 0
    assert result["image_generation"] == {"background": "opaque", "output_format": "png", "quality": "low",
                                          "size": "1536x1024"}

    # the same job, inline on request: base64 exactly as stored
    inline = client.get(f"/v1/jobs/{job['id']}?include=b64", headers=AUTH).json["result"]
    url = inline["choices"][0]["message"]["images"][0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert hashlib.sha256(base64.b64decode(url.partition(",")[2])).hexdigest() == images[0]["sha256"]
    assert client.get(f"/v1/jobs/{job['id']}", headers=OTHER).status_code == 404


def test_gemini_image_output_in_chat_goes_to_message_images(client, sims):
    job = run_job(client, {"model": "gemini/gemini-2.5-flash-image", "modalities": ["text", "image"],
                           "messages": [{"role": "user", "content": "draw a boat"}]})
    native = job["provider_request"]["body"]
    assert native["generationConfig"] == {"responseModalities": ["TEXT", "IMAGE"]}
    assert_no_base64(job)
    message = job["result"]["choices"][0]["message"]
    assert message["content"].startswith("sim:gemini")
    [image] = message["images"]
    got = fetch_output(client, image["image_url"]["url"])
    assert hashlib.sha256(got.data).hexdigest() == image["sha256"] and png_size(got.data) == (1024, 1024)
    assert fetch_output(client, image["image_url"]["url"], OTHER).status_code == 404
    usage = job["result"]["usage"]
    assert usage["completion_tokens_details"]["image_tokens"] == 1290
    assert usage["completion_tokens"] == 1290 + usage["completion_tokens_details"]["text_tokens"]
    assert usage["prompt_tokens_details"]["text_tokens"] > 0


def test_audio_chat_job_stores_audio_and_keeps_openai_fields(client, sims):
    job = run_job(client, {"model": "openai/gpt-4o-audio-preview", "modalities": ["text", "audio"],
                           "audio": {"voice": "alloy", "format": "wav"},
                           "messages": [{"role": "user", "content": "Say hello"}]})
    assert_no_base64(job)
    audio = job["result"]["choices"][0]["message"]["audio"]
    assert "data" not in audio and audio["id"].startswith("audio_") and audio["expires_at"] > 0
    assert audio["transcript"].startswith("sim:openai") and audio["mime"] == "audio/wav"
    got = fetch_output(client, audio["url"])
    assert got.status_code == 200 and hashlib.sha256(got.data).hexdigest() == audio["sha256"]
    with wave.open(io.BytesIO(got.data)) as w:
        assert (w.getframerate(), w.getnframes()) == (24_000, 12_000)
    assert fetch_output(client, audio["url"], OTHER).status_code == 404
    assert job["result"]["usage"]["completion_tokens_details"]["audio_tokens"] > 0


def test_inline_option_answers_base64_as_the_provider_sent_it(client, sims):
    job = run_job(client, {"model": "openai/gpt-4o-audio-preview", "modalities": ["text", "audio"],
                           "audio": {"voice": "alloy", "format": "mp3"},
                           "messages": [{"role": "user", "content": "Say hello"}]}, options={"outputs": "inline"})
    audio = job["result"]["choices"][0]["message"]["audio"]
    data = base64.b64decode(audio["data"])
    assert data[:3] == b"ID3" and hashlib.sha256(data).hexdigest() == audio["sha256"]
    assert audio["mime"] == "audio/mpeg" and audio["file_id"].startswith("file-")


# --------------------------------------------------------------------------- the openai SDK

def test_sdk_images_generate_answers_ferry_urls(sdk, ferry_url):
    resp = sdk.images.generate(model="openai/gpt-image-1", prompt="a lighthouse", size="1024x1536")
    [item] = resp.data
    assert item.b64_json is None and item.url.startswith(ferry_url + "/v1/files/file-")
    got = httpx.get(item.url, headers=AUTH)
    assert got.status_code == 200 and png_size(got.content) == (1024, 1536)
    assert httpx.get(item.url, headers=OTHER).status_code == 404
    assert resp.usage.output_tokens == 1584 and resp.usage.input_tokens_details.image_tokens == 0
    assert resp.usage.input_tokens_details.text_tokens == resp.usage.input_tokens > 0
    assert resp.size == "1024x1536" and resp.output_format == "png"


def test_sdk_images_generate_b64_json(sdk):
    resp = sdk.images.generate(model="openai/gpt-image-1", prompt="a lighthouse", n=2, response_format="b64_json")
    assert len(resp.data) == 2 and all(d.url is None for d in resp.data)
    assert [png_size(base64.b64decode(d.b64_json)) for d in resp.data] == [(1024, 1024)] * 2


def test_sdk_images_generate_with_gemini(sdk):
    raw = sdk.images.with_raw_response.generate(model="gemini/gemini-2.5-flash-image", prompt="a boat",
                                                size="1536x1024")
    resp = raw.parse()
    got = httpx.get(resp.data[0].url, headers=AUTH)
    assert png_size(got.content) == (1248, 832)  # 1536x1024 -> aspect ratio 3:2
    assert resp.usage.output_tokens_details.image_tokens == 1290
    job = httpx.get(f"{sdk.base_url}jobs/{raw.headers['x-request-id']}", headers=AUTH).json()
    assert job["provider_request"]["body"]["generationConfig"] == {
        "responseModalities": ["TEXT", "IMAGE"], "imageConfig": {"aspectRatio": "3:2"}}


def test_sdk_audio_chat_answers_openai_audio_inline(sdk):
    raw = sdk.chat.completions.with_raw_response.create(
        model="openai/gpt-4o-audio-preview", modalities=["text", "audio"], audio={"voice": "alloy", "format": "wav"},
        messages=[{"role": "user", "content": "Say hello"}])
    completion = raw.parse()
    audio = completion.choices[0].message.audio
    data = base64.b64decode(audio.data)
    with wave.open(io.BytesIO(data)) as w:
        assert w.getnframes() == 12_000
    assert audio.transcript.startswith("sim:openai") and audio.id.startswith("audio_") and audio.expires_at > 0
    assert completion.usage.completion_tokens_details.audio_tokens > 0
    # the job behind it, polled: a URL to the same bytes, no base64
    job = httpx.get(f"{sdk.base_url}jobs/{raw.headers['x-request-id']}", headers=AUTH).json()
    stored = job["result"]["choices"][0]["message"]["audio"]
    assert "data" not in stored and stored["sha256"] == hashlib.sha256(data).hexdigest()
    assert httpx.get(stored["url"], headers=AUTH).content == data


def test_sdk_audio_chat_can_ask_for_urls(sdk, ferry_url):
    completion = sdk.chat.completions.create(
        model="openai/gpt-4o-audio-preview", modalities=["text", "audio"], audio={"voice": "alloy", "format": "wav"},
        messages=[{"role": "user", "content": "Say hello"}], extra_body={"ferry": {"options": {"outputs": "url"}}})
    audio = completion.choices[0].message.audio
    assert audio.model_extra["url"].startswith(ferry_url + "/v1/files/")


@pytest.mark.parametrize("kwargs, status, param", [
    ({"model": "openai/gpt-4o", "prompt": "x"}, 422, "model"),
    ({"model": "openai/gpt-image-1", "prompt": "x", "n": 0}, 400, "n"),
    ({"model": "openai/gpt-image-1", "prompt": ""}, 400, "prompt"),
    ({"model": "openai/gpt-image-1", "prompt": "x", "response_format": "png"}, 400, "response_format"),
    ({"model": "gemini/gemini-2.5-flash-image", "prompt": "x", "n": 2}, 422, "n"),
])
def test_images_endpoint_errors_are_openai_errors(client, kwargs, status, param):
    resp = client.post("/v1/images/generations", json=kwargs, headers=AUTH)
    assert resp.status_code == status, resp.json
    assert resp.json["error"]["param"] == param and resp.json["error"]["message"]


# --------------------------------------------------------------------------- presigned URLs, pure parts

def test_presigned_urls_where_the_storage_signs_them(worker, monkeypatch, tmp_path):
    """With S3 storage (moto's server), output URLs are presigned and serve the exact bytes."""
    import boto3

    from tests.services import moto_s3_server
    from tests.storage.helpers import isolate_aws
    from workers.pipeline.outputs import store_outputs
    from workers.services.outputs import present

    png = Image.new("RGB", (4, 4), (200, 10, 10))
    buf = io.BytesIO()
    png.save(buf, format="PNG")
    result = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "x", "images": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()}}]}}]}
    with moto_s3_server() as s3:
        isolate_aws(monkeypatch, tmp_path, s3)
        boto3.client("s3").create_bucket(Bucket="ferry-outputs")
        ctx = Context(Settings(FERRY_STORAGE="s3://ferry-outputs/x"))  # the session's Redis, S3 storage
        stored = store_outputs(ctx, {"tenant": "local"}, "job_presign_test", result)
        image = stored["choices"][0]["message"]["images"][0]
        assert image["image_url"]["url"] == f"/v1/files/{image['file_id']}/content"  # relative in the record
        assert result["choices"][0]["message"]["images"][0]["image_url"]["url"].startswith("data:")  # input untouched
        assert store_outputs(ctx, {"tenant": "local"}, "job_presign_test", result) == stored  # redelivery: same file
        shown = present(ctx, "local", stored, inline=False, base_url="http://ferry.example/")
        url = shown["choices"][0]["message"]["images"][0]["image_url"]["url"]
        assert url.startswith(s3.url) and "X-Amz-Signature=" in url
        assert f"X-Amz-Expires={ctx.settings.presign_seconds}" in url
        got = httpx.get(url)
        assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == image["sha256"]


@pytest.mark.parametrize("size, ratio", [("1024x1024", "1:1"), ("1536x1024", "3:2"), ("1792x1024", "16:9"),
                                         ("1024x1792", "9:16"), ("auto", None), (None, None)])
def test_openai_sizes_map_to_gemini_aspect_ratios(size, ratio):
    from workers.providers.gemini import _aspect_ratio

    assert _aspect_ratio(size) == ratio


def test_generated_outputs_expire_with_the_job_and_go_with_a_purge(client, sims):
    import time

    from workers.state import retention
    from workers.context import get_context

    ctx = get_context()
    body = {"model": "openai/gpt-image-1", "n": 1, "size": "1024x1024", "quality": "low",
            "messages": [{"role": "user", "content": "a blue kite"}]}
    first, second = run_job(client, body), run_job(client, body)
    ids = [j["result"]["choices"][0]["message"]["images"][0]["file_id"] for j in (first, second)]
    meta = client.get(f"/v1/files/{ids[0]}", headers=AUTH).json
    assert meta["expires_at"] >= first["created_at"] + ctx.settings.job_ttl_seconds - 5

    purged = client.delete(f"/v1/jobs/{first['id']}?purge=true", headers=AUTH).json
    assert purged["purged_outputs"] == 1
    assert client.get(f"/v1/files/{ids[0]}", headers=AUTH).status_code == 404
    assert client.get(f"/v1/files/{ids[1]}", headers=AUTH).status_code == 200

    assert retention.sweep(ctx, now=time.time() + ctx.settings.job_ttl_seconds + 60) >= 1  # past their expiry
    assert client.get(f"/v1/files/{ids[1]}", headers=AUTH).status_code == 404
