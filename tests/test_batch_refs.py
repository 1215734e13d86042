"""Refs outlive the batch window (issue 13): a native batch line's provider may read it a whole batch window after
Ferry delivered its media, so its Files-API ids and presigned URLs must live that long (plus
FERRY_BATCH_REF_MARGIN_SECONDS); a synchronous job, which sends its request now, keeps reusing shorter-lived ids.

The OpenAI simulator's ``expires_after`` knob (``POST /_sim/files``) makes its uploads expire after 2 h, as the
real API's ``expires_after`` does, so Ferry's cache holds an id that is good for a job and too short for a batch.
Presigned URLs: no native provider picks a URL in batch lines today (OpenAI and Anthropic lines prefer their
Files API), so ``staging.presigned`` is tested with the batch window against the real moto S3 server.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import httpx
import openai
import pytest

from tests.conftest import AUTH, wait_job
from tests.helpers import fresh_image_uri, image_part, job_body
from tests.services import Service, moto_s3_server
from tests.batch_kit import create, ferry_sdk, line, read_jsonl, sim_log, wait

MODEL = "openai/gpt-4o-mini"
TWO_HOURS = 7200


@pytest.fixture(scope="module")
def sdk(app) -> Iterator[openai.OpenAI]:  # type: ignore[no-untyped-def]
    yield from ferry_sdk(app)


@pytest.fixture
def files_expire(sims) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """Set how long the OpenAI simulator keeps uploads (None: until deleted); the log cleared, batches fast."""
    url = sims["openai"].url
    httpx.post(f"{url}/_sim/batches", json={"delay": 0.5, "expire": False})
    httpx.delete(f"{url}/_sim/log")

    def set_expiry(seconds: float | None) -> None:
        assert httpx.post(f"{url}/_sim/files", json={"expires_after": seconds}).status_code == 200

    yield set_expiry
    set_expiry(None)
    httpx.post(f"{url}/_sim/batches", json={"delay": 1.0, "expire": False})


def image_uploads(url: str) -> list[dict[str, Any]]:
    """POST /v1/files that carried an image (a batch's JSONL input is an upload too)."""
    return [e for e in sim_log(url) if e["method"] == "POST" and e["path"] == "/v1/files"
            and any((p.get("mime") or "").startswith("image/") for p in e["parts"])]


def sync_delivery(client: Any, image: str) -> dict[str, Any]:
    resp = client.post("/v1/jobs", headers=AUTH, json=job_body(MODEL, image_part(image), delivery={"prefer": "file"}))
    assert resp.status_code == 202, resp.json
    job = wait_job(client, resp.json["id"])
    assert job["status"] == "succeeded", job.get("error")
    return dict(job["resources"][0]["delivery"])


def image_line(custom_id: str, image: str) -> str:
    return line(custom_id, MODEL, [{"type": "text", "text": "what is this?"},
                                   {"type": "image_url", "image_url": {"url": image}}], max_tokens=10) + "\n"


def test_a_short_lived_cached_id_serves_jobs_but_a_native_line_uploads_again(client, sdk, sims, files_expire):
    """An id the provider keeps 2 h: a second job reuses it; a native line (24 h window + 1 h margin) does not,
    it uploads again (files now kept) and that longer-lived id is what the cache holds after."""
    oai = sims["openai"].url
    image = fresh_image_uri(size=(48, 48))
    files_expire(TWO_HOURS)
    first = sync_delivery(client, image)
    assert first["method"] == "file" and first["cached"] is False
    again = sync_delivery(client, image)
    assert again["ref"] == first["ref"] and again["cached"] is True  # 2 h left > the cache's 1 h margin: reused
    assert len(image_uploads(oai)) == 1

    files_expire(None)
    batch = wait(sdk, create(sdk, image_line("a", image) + image_line("b", image), {"mode": "native"}).id)
    assert batch.status == "completed" and batch.request_counts.completed == 2, batch
    out = {o["custom_id"]: o for o in read_jsonl(sdk, batch.output_file_id)}
    refs = set()
    for cid in ("a", "b"):
        job = sdk.get(f"/jobs/{out[cid]['response']['request_id']}", cast_to=object)
        refs.add(job["resources"][0]["delivery"]["ref"])
    assert len(refs) == 1 and first["ref"] not in refs  # one fresh upload, shared by both lines
    assert len(image_uploads(oai)) == 2  # the second upload, seen upstream
    [batch_ref] = refs
    later = sync_delivery(client, image)
    assert later["ref"] == batch_ref and later["cached"] is True


def test_an_upload_that_dies_inside_the_batch_window_is_the_lines_error(client, sdk, sims, files_expire):
    """Every upload kept 2 h: a native image line cannot be shipped (its file could be gone when OpenAI reads it);
    it is answered in the error file saying why, and the text line beside it goes on."""
    oai = sims["openai"].url
    image = fresh_image_uri(size=(48, 48))
    files_expire(TWO_HOURS)
    assert sync_delivery(client, image)["cached"] is False
    jsonl = image_line("img", image) + line("txt", MODEL, "Say hi", max_tokens=5) + "\n"
    batch = wait(sdk, create(sdk, jsonl, {"mode": "native"}).id)
    assert batch.status == "completed", batch
    assert (batch.request_counts.completed, batch.request_counts.failed) == (1, 1)
    assert [o["custom_id"] for o in read_jsonl(sdk, batch.output_file_id)] == ["txt"]
    [err] = read_jsonl(sdk, batch.error_file_id)
    assert err["custom_id"] == "img" and err["response"]["status_code"] == 422
    error = err["response"]["body"]["error"]
    assert error["stage"] == "deliver"
    assert "2.0 h" in error["message"] and "25.0 h" in error["message"] and "batch window" in error["message"]
    assert len(image_uploads(oai)) == 2  # the job's id (2 h) was not reused; the fresh one was refused


# -- presigned URLs, against the real moto S3 server --------------------------------------------------------------

@pytest.fixture(scope="module")
def moto() -> Iterator[Service]:
    with moto_s3_server() as service:
        yield service


@pytest.fixture
def staging_ctx(moto: Service, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A worker context whose staging is a moto bucket (settings are read from the environment)."""
    from workers.context import get_context
    from workers.core.settings import get_settings

    bucket = f"ferry-refs-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket=bucket)
    for k, v in {**moto.env, "AWS_REGION": "us-east-1", "FERRY_STAGING": f"s3://{bucket}/stage"}.items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    get_context.cache_clear()
    yield get_context()
    monkeypatch.undo()
    get_settings.cache_clear()
    get_context.cache_clear()


def _put_blob(ctx: Any) -> str:
    from workers.storage.blobs import put_bytes

    return str(put_bytes(ctx.storage, uuid.uuid4().bytes * 64))


def _expires(url: str) -> int:
    return int(parse_qs(urlparse(url).query)["X-Amz-Expires"][0])


def test_a_native_lines_presigned_url_outlives_the_batch_window(staging_ctx):
    from workers.core.errors import FerryError
    from workers.pipeline import staging
    from workers.pipeline.deliver import ref_lifetime
    from workers.providers import batch_catalog

    ctx = staging_ctx
    sha = _put_blob(ctx)
    caps = ctx.catalog.resolve("openai/gpt-4o")
    line_record = {"batch": {"id": "batch_x", "index": 0, "native": True}}
    lifetime = ref_lifetime(ctx, line_record, caps)  # type: ignore[arg-type]
    window = batch_catalog.limits("openai").window_seconds  # type: ignore[union-attr]
    assert lifetime == window + ctx.settings.batch_ref_margin_seconds
    assert ref_lifetime(ctx, {"batch": {"native": False}}, caps) is None  # type: ignore[arg-type]

    job_url, _ = staging.presigned(ctx, sha, "application/octet-stream")
    assert _expires(job_url) == ctx.settings.presign_seconds  # a job's URL: FERRY_PRESIGN_SECONDS
    url, _ = staging.presigned(ctx, sha, "application/octet-stream", lifetime)
    assert _expires(url) >= window and _expires(url) == lifetime
    assert httpx.get(url).status_code == 200  # moto serves it: a real, working signature

    week = 7 * 24 * 3600
    with pytest.raises(FerryError) as refused:  # no SigV4 URL lives 8 days: the line is refused, not shipped
        staging.presigned(ctx, sha, "application/octet-stream", week + 86_400)
    assert refused.value.stage == "deliver" and str(week) in refused.value.message
    assert "batch window" in refused.value.message
