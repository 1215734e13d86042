"""Issue 12 item 6, end to end: a stale OpenAI file id is re-uploaded once and the call retried; a PDF over
Bedrock's page limit reaches it whole, as several document blocks."""
from __future__ import annotations

import httpx

from tests.conftest import AUTH, CORPUS, wait_job
from tests.helpers import job_body, pdf_part

BIG_PDF = CORPUS / "pdf" / "GeoTopo-komprimiert.pdf"  # 117 pages, 1.8 MB
BEDROCK = "bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0"


def run(client, body, timeout: float = 90) -> dict:  # type: ignore[no-untyped-def]
    resp = client.post("/v1/jobs", json=body, headers=AUTH)
    assert resp.status_code == 202, resp.json
    return wait_job(client, resp.json["id"], timeout)


def chat_calls(sim) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e for e in sim.state.log() if e["path"] == "/v1/chat/completions"]


def test_stale_openai_file_id_is_reuploaded_once_and_the_call_retried(client, sims):
    body = job_body("openai/gpt-4o", pdf_part(CORPUS / "pdf" / "multicolumn.pdf"), delivery={"prefer": "file"})
    first = run(client, body)
    assert first["status"] == "succeeded", first.get("error")
    old = first["resources"][0]["delivery"]["ref"]
    assert old.startswith("file-")
    sim = sims["openai"]
    assert httpx.delete(f"{sim.url}/v1/files/{old}", headers={"Authorization": "Bearer sim-key"}).status_code == 200
    job = run(client, body)
    assert job["status"] == "succeeded", job.get("error")
    d = job["resources"][0]["delivery"]
    assert d["ref"] != old and d["cached"] is False and "re-uploaded" in d["reason"]
    last = chat_calls(sim)[-2:]
    assert [c["status"] for c in last] == [400, 200]  # OpenAI's 400 "No such File object: file-…", then the retry
    assert f"No such File object: {old}" in last[0]["error"]


def test_every_page_of_a_117_page_pdf_reaches_bedrock(client, sims):
    job = run(client, job_body(BEDROCK, pdf_part(BIG_PDF)))
    assert job["status"] == "succeeded", job.get("error")
    res = job["resources"][0]
    assert res["transforms"][0]["op"] == "pdf_split" and "117 pages" in res["transforms"][0]["reason"]
    docs = [o for o in res["outputs"] if o["kind"] == "document"]
    ranges = [tuple(o["page_range"]) for o in docs]
    assert ranges[0][0] == 1 and ranges[-1][1] == 117  # consecutive, all pages
    assert all(b[0] == a[1] + 1 for a, b in zip(ranges, ranges[1:]))
    assert all(o["pages"] <= 100 and o["bytes"] <= 4_500_000 for o in docs)
    call = [e for e in sims["bedrock"].state.log() if e["path"].endswith("/converse")][-1]
    sent = [p for p in call["parts"] if p["kind"] == "document"]
    assert sum(p["pages"] for p in sent) == 117 and [p["sha256"] for p in sent] == [o["sha256"] for o in docs]
    native = run(client, job_body(BEDROCK, pdf_part(BIG_PDF), dry_run=True))["provider_request"]
    names = [b["document"]["name"] for b in native["body"]["messages"][0]["content"] if "document" in b]
    assert names == [f"GeoTopo-komprimiert pages {a}-{b}" for a, b in ranges]
