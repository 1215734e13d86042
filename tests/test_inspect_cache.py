"""Inspect once per content: a second job with the same bytes takes its facts from the first's (factcache)."""
from __future__ import annotations

from typing import Any

from tests.conftest import AUTH, CORPUS, wait_job
from tests.helpers import fresh_image_uri, image_part, job_body, pdf_part
from workers.context import get_context
from workers.state import factcache
from workers.state.claims import produced_count
from workers.storage.blobs import blob_key


def _run(app: Any, *parts: dict[str, Any]) -> dict[str, Any]:
    client = app.test_client()
    resp = client.post("/v1/jobs", headers=AUTH, json=job_body("openai/gpt-4o", *parts, dry_run=True))
    assert resp.status_code == 202, resp.json
    job = wait_job(client, resp.json["id"])
    assert job["status"] == "succeeded", job.get("error")
    return job


def test_the_same_image_is_inspected_once(app):  # type: ignore[no-untyped-def]
    r = get_context().redis
    uri = fresh_image_uri(size=(40, 30))
    before = produced_count(r, "inspect")
    first = _run(app, image_part(uri))
    assert produced_count(r, "inspect") == before + 1
    again = [_run(app, image_part(uri)) for _ in range(2)]
    assert produced_count(r, "inspect") == before + 1  # the two later jobs read the first one's facts
    facts = first["resources"][0]["facts"]
    assert facts["width"] == 40 and facts["height"] == 30 and facts["mime"] == "image/png"
    assert all(j["resources"][0]["facts"] == facts for j in again)


def test_a_cached_pdf_keeps_its_preview_and_a_lost_preview_is_made_again(app):  # type: ignore[no-untyped-def]
    ctx = get_context()
    part = pdf_part(CORPUS / "pdf" / "minimal-document.pdf")
    first = _run(app, part)
    preview = first["resources"][0]["preview"]
    before = produced_count(ctx.redis, "inspect")
    second = _run(app, part)
    assert second["resources"][0]["preview"] == preview
    assert second["resources"][0]["facts"] == first["resources"][0]["facts"]
    assert produced_count(ctx.redis, "inspect") == before
    ctx.storage.delete(blob_key(preview["sha256"]))  # e.g. purged with the jobs that used it
    third = _run(app, part)
    assert produced_count(ctx.redis, "inspect") == before + 1  # inspected again, preview drawn again
    assert third["resources"][0]["preview"]["sha256"] == preview["sha256"]
    assert ctx.storage.exists(blob_key(preview["sha256"]))


def test_hints_that_inspect_reads_are_part_of_the_key():
    assert factcache.hints_digest("text/csv", "a.csv") == factcache.hints_digest("text/csv", "b.CSV")
    assert factcache.hints_digest("text/csv", "a.csv") != factcache.hints_digest("text/plain", "a.csv")
    assert factcache.hints_digest(None, "notes.md") != factcache.hints_digest(None, "notes.txt")
    assert factcache.hints_digest(None, "https://x.test/dir.v2/file") == factcache.hints_digest(None, None)
