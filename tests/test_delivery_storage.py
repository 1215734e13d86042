"""Delivery through S3 and GCS staging (moto server, GCS emulator), and s3:// / gs:// sources.

A private stack (tests/stack.py: own Redis, web and real Celery workers) whose workers run with
FERRY_STAGING and the emulators' endpoints; the session worker was started without storage.
Settings are per process, so the misconfigured cases get a worker of their own in turn.
"""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage as gcs_lib

from tests.conftest import CORPUS
from tests.helpers import data_uri, image_part, job_body
from tests.services import Service, gcs_emulator, moto_s3_server
from tests.stack import Stack

IMAGE = CORPUS / "images" / "hopper.jpg"
BEDROCK = "bedrock/amazon.nova-pro-v1:0"
S3_BUCKET = f"ferry-stage-{uuid.uuid4().hex[:8]}"
GCS_BUCKET = f"ferry-stage-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def moto() -> Iterator[Service]:
    with moto_s3_server() as service:
        yield service


@pytest.fixture(scope="module")
def gcs() -> Iterator[Service]:
    with gcs_emulator() as service:
        yield service


@pytest.fixture(scope="module")
def s3_client(moto: Service) -> Any:
    client = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=S3_BUCKET)
    return client


@pytest.fixture(scope="module")
def stack(sims, moto: Service, gcs: Service, s3_client: Any) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    gcs_lib.Client(project="test", credentials=AnonymousCredentials(),
                   client_options={"api_endpoint": gcs.url}).create_bucket(GCS_BUCKET)
    env = {**moto.env, **gcs.env, "AWS_REGION": "us-east-1",
           "FERRY_STAGING": f"s3://{S3_BUCKET}/stage,gs://{GCS_BUCKET}", "FERRY_SOURCE_BUCKETS": f"s3://{S3_BUCKET}/in"}
    s = Stack(env, prefix="ferry-staging-")
    s.staged = s.worker()  # type: ignore[attr-defined]
    yield s
    s.close()


def bedrock_calls(sims) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e for e in sims["bedrock"].state.log() if e["path"].endswith("/converse")]


def test_bedrock_reads_media_staged_to_s3(stack, sims, s3_client):
    job = stack.run(job_body(BEDROCK, image_part(data_uri(IMAGE, "image/jpeg")), delivery={"prefer": "storage"}))
    assert job["status"] == "succeeded", job.get("error")
    d = job["resources"][0]["delivery"]
    sha = job["resources"][0]["outputs"][0]["sha256"]
    assert d["method"] == "storage" and d["ref"] == f"s3://{S3_BUCKET}/stage/blobs/{sha[:2]}/{sha}"
    assert s3_client.head_object(Bucket=S3_BUCKET, Key=f"stage/blobs/{sha[:2]}/{sha}")["ContentLength"] > 0
    media = [p for p in bedrock_calls(sims)[-1]["parts"] if p["kind"] == "image"]
    assert media[0]["source"] == "url" and media[0]["ref"] == d["ref"]


def test_gemini_reads_media_staged_to_gcs(stack, sims):
    job = stack.run(job_body("gemini/gemini-2.5-flash", image_part(data_uri(IMAGE, "image/jpeg")),
                             delivery={"prefer": "storage"}))
    assert job["status"] == "succeeded", job.get("error")
    d = job["resources"][0]["delivery"]
    assert d["method"] == "storage" and d["ref"].startswith(f"gs://{GCS_BUCKET}/blobs/")
    call = [e for e in sims["gemini"].state.log() if ":generateContent" in e["path"]][-1]
    assert [p.get("ref") for p in call["parts"] if p["kind"] != "text"] == [d["ref"]]


def test_s3_source_is_fetched_streamed_and_hashed(stack, s3_client):
    s3_client.upload_file(str(IMAGE), S3_BUCKET, "in/photo.jpg")
    job = stack.run(job_body("openai/gpt-4o", image_part(f"s3://{S3_BUCKET}/in/photo.jpg")))
    assert job["status"] == "succeeded", job.get("error")
    src = job["resources"][0]["source"]
    assert src["kind"] == "s3" and src["sha256"] == hashlib.sha256(IMAGE.read_bytes()).hexdigest()
    missing = stack.run(job_body("openai/gpt-4o", image_part(f"s3://{S3_BUCKET}/in/nope.jpg")))
    assert missing["status"] == "failed" and missing["error"]["stage"] == "fetch"
    assert "nope.jpg" in missing["error"]["message"]


def test_cloud_sources_outside_the_allowlist_are_refused(stack, s3_client):
    """The worker's credentials reach the staging prefix too; a tenant may not name it."""
    s3_client.upload_file(str(IMAGE), S3_BUCKET, "stage/secret.jpg")
    job = stack.run(job_body("openai/gpt-4o", image_part(f"s3://{S3_BUCKET}/stage/secret.jpg")))
    assert job["status"] == "failed" and job["error"]["stage"] == "fetch"
    assert "FERRY_SOURCE_BUCKETS" in job["error"]["message"]
    assert "source" not in job["resources"][0] or "sha256" not in job["resources"][0]["source"]


def test_presigned_url_delivery_from_s3_staging(stack, sims):
    job = stack.run(job_body("openai/gpt-4o", image_part(data_uri(IMAGE, "image/jpeg")), delivery={"prefer": "url"}))
    assert job["status"] == "succeeded", job.get("error")
    d = job["resources"][0]["delivery"]
    assert d["method"] == "url" and d["ref"].startswith("http") and "X-Amz-Signature=" in d["ref"]
    call = [e for e in sims["openai"].state.log() if e["path"] == "/v1/chat/completions"][-1]
    assert [p.get("ref") for p in call["parts"] if p["kind"] == "image"] == [d["ref"]]


def test_missing_staging_bucket_fails_at_deliver(stack):
    stack.stop(stack.staged)
    worker = stack.worker(FERRY_STAGING="s3://ferry-no-such-bucket/x")
    try:
        job = stack.run(job_body(BEDROCK, image_part(data_uri(IMAGE, "image/jpeg")), delivery={"prefer": "storage"}))
    finally:
        stack.stop(worker)
    assert job["status"] == "failed"
    err = job["error"]
    assert err["stage"] == "deliver" and err["type"] == "storage_error"
    assert "ferry-no-such-bucket" in err["message"] and "does not exist" in err["message"]


def test_refused_credentials_fail_at_deliver(stack):
    with moto_s3_server(auth=True) as strict:  # checks keys like real S3: "testing" is unknown
        worker = stack.worker(FERRY_STAGING="s3://ferry-auth-bucket/x", **strict.env)
        try:
            job = stack.run(job_body(BEDROCK, image_part(data_uri(IMAGE, "image/png")),
                                     delivery={"prefer": "storage"}))
        finally:
            stack.stop(worker)
    assert job["status"] == "failed"
    err = job["error"]
    assert err["stage"] == "deliver" and err["type"] == "storage_error"
    assert "credentials refused" in err["message"] or "InvalidAccessKeyId" in err["message"]
