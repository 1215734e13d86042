"""Delivery through S3 and GCS staging (moto server, GCS emulator), and s3:// / gs:// sources.

These run the real Celery canvas eagerly in this process, against a Context whose settings add
FERRY_STAGING (the shared session worker was started without storage), so each test can point at
its own bucket: the stages, the pipeline's error handling and the simulators are the real ones.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest

from tests.conftest import CORPUS, DATA_DIR
from tests.helpers import data_uri, image_part, job_body
from tests.services import Service, gcs_emulator, moto_s3_server
from tests.storage.helpers import isolate_aws

IMAGE = CORPUS / "images" / "hopper.jpg"
BEDROCK = "bedrock/amazon.nova-pro-v1:0"


@pytest.fixture(scope="module")
def moto() -> Iterator[Service]:
    with moto_s3_server() as service:
        yield service


@pytest.fixture(scope="module")
def moto_auth() -> Iterator[Service]:
    with moto_s3_server(auth=True) as service:
        yield service


@pytest.fixture(scope="module")
def gcs() -> Iterator[Service]:
    with gcs_emulator() as service:
        yield service


@pytest.fixture
def run_job(monkeypatch, tmp_path, sims):  # type: ignore[no-untyped-def]
    """``run_job(body, **settings)`` -> the job view, after running its canvas eagerly in-process."""
    from workers import jobs, pipeline
    from workers.celery_app import app
    from workers.context import Context
    from workers.delivery import staging
    from workers.settings import Settings

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    staging._open.cache_clear()

    def run(body: dict, **env: str) -> dict:
        ctx = Context(Settings(FERRY_DATA_DIR=str(DATA_DIR), **env))
        monkeypatch.setattr(pipeline, "get_context", lambda: ctx)
        monkeypatch.setattr(pipeline.random, "random", lambda: 0.0)  # retries without long waits
        job_id = jobs.submit(ctx, "local", body)["id"]
        return ctx.store.view(job_id)

    yield run
    app.conf.task_always_eager = eager
    staging._open.cache_clear()


@pytest.fixture
def s3(monkeypatch, tmp_path, moto):  # type: ignore[no-untyped-def]
    isolate_aws(monkeypatch, tmp_path, moto)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = f"ferry-{uuid.uuid4().hex[:10]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return bucket


def bedrock_calls(sims) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e for e in sims["bedrock"].state.log() if e["path"].endswith("/converse")]


def test_bedrock_reads_media_staged_to_s3(run_job, sims, s3):
    job = run_job(job_body(BEDROCK, image_part(data_uri(IMAGE, "image/jpeg")), delivery={"prefer": "storage"}),
                  FERRY_STAGING=f"s3://{s3}/stage")
    assert job["status"] == "succeeded", job.get("error")
    d = job["resources"][0]["delivery"]
    sha = job["resources"][0]["outputs"][0]["sha256"]
    assert d["method"] == "storage" and d["ref"] == f"s3://{s3}/stage/blobs/{sha[:2]}/{sha}"
    assert boto3.client("s3").head_object(Bucket=s3, Key=f"stage/blobs/{sha[:2]}/{sha}")["ContentLength"] > 0
    media = [p for p in bedrock_calls(sims)[-1]["parts"] if p["kind"] == "image"]
    assert media[0]["source"] == "url" and media[0]["ref"] == d["ref"]


def test_gemini_reads_media_staged_to_gcs(run_job, sims, gcs, monkeypatch):
    from google.cloud import storage as gcs_lib

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)
    bucket = f"ferry-{uuid.uuid4().hex[:10]}"
    gcs_lib.Client().create_bucket(bucket)
    job = run_job(job_body("gemini/gemini-2.5-flash", image_part(data_uri(IMAGE, "image/jpeg")),
                           delivery={"prefer": "storage"}), FERRY_STAGING=f"gs://{bucket}")
    assert job["status"] == "succeeded", job.get("error")
    d = job["resources"][0]["delivery"]
    assert d["method"] == "storage" and d["ref"].startswith(f"gs://{bucket}/blobs/")
    call = [e for e in sims["gemini"].state.log() if ":generateContent" in e["path"]][-1]
    assert [p.get("ref") for p in call["parts"] if p["kind"] != "text"] == [d["ref"]]


def test_s3_source_is_fetched_streamed_and_hashed(run_job, sims, s3):
    import hashlib

    boto3.client("s3").upload_file(str(IMAGE), s3, "in/photo.jpg")
    job = run_job(job_body("openai/gpt-4o", image_part(f"s3://{s3}/in/photo.jpg")))
    assert job["status"] == "succeeded", job.get("error")
    src = job["resources"][0]["source"]
    assert src["kind"] == "s3" and src["sha256"] == hashlib.sha256(IMAGE.read_bytes()).hexdigest()
    missing = run_job(job_body("openai/gpt-4o", image_part(f"s3://{s3}/in/nope.jpg")))
    assert missing["status"] == "failed" and missing["error"]["stage"] == "fetch"
    assert "nope.jpg" in missing["error"]["message"]


def test_missing_staging_bucket_fails_at_deliver(run_job, s3):
    job = run_job(job_body(BEDROCK, image_part(data_uri(IMAGE, "image/jpeg")), delivery={"prefer": "storage"}),
                  FERRY_STAGING="s3://ferry-no-such-bucket/x")
    assert job["status"] == "failed"
    err = job["error"]
    assert err["stage"] == "deliver" and err["type"] == "storage_error"
    assert "ferry-no-such-bucket" in err["message"] and "does not exist" in err["message"]


def test_refused_credentials_fail_at_deliver(run_job, monkeypatch, tmp_path, moto_auth):
    isolate_aws(monkeypatch, tmp_path, moto_auth)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    job = run_job(job_body(BEDROCK, image_part(data_uri(IMAGE, "image/jpeg")), delivery={"prefer": "storage"}),
                  FERRY_STAGING="s3://ferry-auth-bucket/x")
    assert job["status"] == "failed"
    err = job["error"]
    assert err["stage"] == "deliver" and err["type"] == "storage_error"
    assert "credentials refused" in err["message"] or "InvalidAccessKeyId" in err["message"]


def test_presigned_url_delivery_from_s3_staging(run_job, sims, s3):
    job = run_job(job_body("openai/gpt-4o", image_part(data_uri(IMAGE, "image/jpeg")), delivery={"prefer": "url"}),
                  FERRY_STAGING=f"s3://{s3}/stage")
    assert job["status"] == "succeeded", job.get("error")
    d = job["resources"][0]["delivery"]
    assert d["method"] == "url" and d["ref"].startswith("http") and "X-Amz-Signature=" in d["ref"]
    call = [e for e in sims["openai"].state.log() if e["path"] == "/v1/chat/completions"][-1]
    assert [p.get("ref") for p in call["parts"] if p["kind"] == "image"] == [d["ref"]]
