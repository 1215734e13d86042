"""Retention (issue 7.8): stored media lives as long as the last live job (or owner) referencing it;
``DELETE /v1/jobs/{id}?purge=true`` cancels and removes media no other live job references."""
from __future__ import annotations

import base64
import hashlib
import io
import os
import time

import pytest
from PIL import Image

from tests.conftest import AUTH, wait_job
from tests.helpers import image_part, job_body
from workers.state import retention
from workers.storage.blobs import blob_key, put_bytes


def unique_png() -> bytes:
    img = Image.frombytes("RGB", (16, 16), os.urandom(16 * 16 * 3))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def submit(client, data: bytes) -> dict:  # type: ignore[no-untyped-def]
    uri = "data:image/png;base64," + base64.b64encode(data).decode()
    resp = client.post("/v1/jobs", json=job_body("openai/gpt-4o", image_part(uri), dry_run=True), headers=AUTH)
    assert resp.status_code == 202, resp.json
    return wait_job(client, resp.json["id"])


@pytest.fixture
def ctx(app):  # type: ignore[no-untyped-def]
    return app.config["FERRY_CONTEXT"]


def test_job_media_is_tracked_and_purged(client, ctx):
    data = unique_png()
    sha = hashlib.sha256(data).hexdigest()
    job = submit(client, data)
    assert job["status"] == "succeeded", job.get("error")
    shas = {sha} | {o["sha256"] for o in job["resources"][0]["outputs"] if o.get("sha256")}
    for s in shas:
        assert ctx.storage.exists(blob_key(s))
        assert ctx.redis.zscore(f"ferry:blobref:{s}", job["id"]) > time.time() + ctx.settings.job_ttl_seconds - 60
    resp = client.delete(f"/v1/jobs/{job['id']}?purge=true", headers=AUTH)
    assert resp.status_code == 200 and resp.json["status"] == "succeeded"  # an ended job keeps its status
    assert resp.json["purged_blobs"] == len(shas)
    assert not any(ctx.storage.exists(blob_key(s)) for s in shas)


def test_shared_media_survives_until_its_last_job_is_purged(client, ctx):
    data = unique_png()
    sha = hashlib.sha256(data).hexdigest()
    one, two = submit(client, data), submit(client, data)
    assert client.delete(f"/v1/jobs/{one['id']}?purge=true", headers=AUTH).json["purged_blobs"] == 0
    assert ctx.storage.exists(blob_key(sha))  # job two still needs it
    assert client.delete(f"/v1/jobs/{two['id']}?purge=true", headers=AUTH).json["purged_blobs"] >= 1
    assert not ctx.storage.exists(blob_key(sha))


def test_plain_cancel_keeps_media(client, ctx):
    data = unique_png()
    job = submit(client, data)
    assert client.delete(f"/v1/jobs/{job['id']}", headers=AUTH).status_code == 200
    assert ctx.storage.exists(blob_key(hashlib.sha256(data).hexdigest()))


def test_sweep_deletes_expired_and_orphaned_blobs_only(client, ctx):
    # an owner whose reference expires
    data = unique_png()
    sha = put_bytes(ctx.storage, data)
    retention.track(ctx, "test-owner-expiring", [sha], ttl=1)
    # a blob whose only job has gone (record expired)
    orphan_job = submit(client, unique_png())
    orphan = orphan_job["resources"][0]["source"]["sha256"]
    ctx.redis.delete(f"ferry:job:{orphan_job['id']}")
    ctx.redis.zadd(retention.BLOBS, {orphan: 0})  # due for a check now
    # a blob a live job still references
    live = submit(client, unique_png())["resources"][0]["source"]["sha256"]
    ctx.redis.zadd(retention.BLOBS, {live: 0})
    time.sleep(1.1)
    retention.sweep(ctx)
    assert not ctx.storage.exists(blob_key(sha))
    assert not ctx.storage.exists(blob_key(orphan))
    assert ctx.storage.exists(blob_key(live))
    assert ctx.redis.zscore(retention.BLOBS, live) > time.time() + 60  # rescheduled to its owner's expiry


def test_purge_for_other_owners(ctx):
    """What the Files API calls when a file is deleted: media derived from it goes unless a job uses it."""
    sha = put_bytes(ctx.storage, unique_png())
    retention.track(ctx, "file-test-123", [sha], ttl=3600)
    assert retention.purge(ctx, "file-test-123") == [sha]
    assert not ctx.storage.exists(blob_key(sha))
