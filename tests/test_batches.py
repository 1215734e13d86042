"""OpenAI Batch API with the official SDK: files.create → batches.create → poll → files.content."""
from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator

import openai
import pytest

from tests.conftest import AUTH, CORPUS
from tests.helpers import data_uri
from app.simulators.server import SimServer
from workers.context import Context
from workers.core.settings import Settings

HOPPER = CORPUS / "images" / "hopper.jpg"


@pytest.fixture(scope="module")
def sdk(app) -> Iterator[openai.OpenAI]:  # type: ignore[no-untyped-def]
    with SimServer(app) as server:
        yield openai.OpenAI(base_url=server.url + "/v1", api_key="ferry-local-key", max_retries=0, timeout=60)


def line(custom_id: str, model: str, text: str = "Say hi", **body: object) -> str:
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
                       "body": {"model": model, "messages": [{"role": "user", "content": text}], **body}})


def run_batch(sdk: openai.OpenAI, jsonl: str, timeout: float = 60.0, **create: object):  # type: ignore[no-untyped-def]
    f = sdk.files.create(file=("in.jsonl", jsonl.encode()), purpose="batch")
    batch = sdk.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h",
                               **create)  # type: ignore[arg-type]
    assert batch.status == "validating" and batch.input_file_id == f.id
    deadline = time.monotonic() + timeout
    while batch.status not in ("completed", "failed", "cancelled", "expired"):
        assert time.monotonic() < deadline, f"batch still {batch.status}: {batch.request_counts}"
        time.sleep(0.2)
        batch = sdk.batches.retrieve(batch.id)
    return batch


def read_jsonl(sdk: openai.OpenAI, file_id: str | None) -> list[dict]:
    if file_id is None:
        return []
    return [json.loads(x) for x in sdk.files.content(file_id).text.splitlines()]


def test_sdk_batch_across_providers_with_per_line_errors(sdk):
    image_body = [{"type": "text", "text": "What is it?"},
                  {"type": "image_url", "image_url": {"url": data_uri(HOPPER, "image/jpeg")}}]
    jsonl = "\n".join([
        line("a", "openai/gpt-4o"),
        json.dumps({"custom_id": "b", "method": "POST", "url": "/v1/chat/completions",
                    "body": {"model": "anthropic/claude-sonnet-4-5", "max_tokens": 20,
                             "messages": [{"role": "user", "content": image_body}]}}),
        line("c", "gemini/gemini-2.5-flash"),
        line("d", "nosuch/gpt-nonexistent"),  # unknown provider, refused by the job API: 422 in the error file
        "{not json",  # malformed line: reported on its own
        line("e", "openai/gpt-4o").replace("/v1/chat/completions", "/v1/embeddings"),
        line("a", "openai/gpt-4o"),  # duplicate custom_id
    ]) + "\n"
    batch = run_batch(sdk, jsonl, metadata={"run": "t1"})
    assert batch.status == "completed", batch
    assert batch.metadata == {"run": "t1"}
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (7, 3, 4)
    assert batch.completed_at and batch.in_progress_at and batch.finalizing_at
    assert batch.usage.input_tokens > 0 and batch.usage.total_tokens > batch.usage.input_tokens

    out = read_jsonl(sdk, batch.output_file_id)
    assert [o["custom_id"] for o in out] == ["a", "b", "c"]
    for o in out:
        assert o["error"] is None and o["id"].startswith("batch_req_")
        assert o["response"]["status_code"] == 200 and o["response"]["request_id"].startswith("job_")
        assert o["response"]["body"]["object"] == "chat.completion"
    assert "image/jpeg" in out[1]["response"]["body"]["choices"][0]["message"]["content"]

    errors = read_jsonl(sdk, batch.error_file_id)
    by_id = {e["custom_id"]: e for e in errors}
    assert len(errors) == 4
    assert by_id["d"]["response"]["status_code"] == 422
    assert "gpt-nonexistent" in by_id["d"]["response"]["body"]["error"]["message"]
    assert by_id[None]["error"]["code"] == "invalid_json_line" and by_id[None]["error"]["line"] == 5
    assert by_id["e"]["error"]["code"] == "invalid_url"
    assert by_id["a"]["error"]["code"] == "duplicate_custom_id" and by_id["a"]["error"]["line"] == 7
    assert sdk.files.retrieve(batch.output_file_id).purpose == "batch_output"

    # cancelling a finished batch changes nothing and answers its state
    again = sdk.batches.cancel(batch.id)
    assert again.status == "completed" and again.request_counts == batch.request_counts


def test_a_thousand_lines_all_accounted_for(sdk):
    n = 1000
    jsonl = "".join(line(f"req-{i}", "openai/gpt-4o-mini", f"line {i}", max_tokens=5) + "\n" for i in range(n))
    started = time.monotonic()
    batch = run_batch(sdk, jsonl, timeout=120)
    took = time.monotonic() - started
    print(f"\n1000-line batch: {took:.1f} s")
    assert batch.status == "completed"
    assert batch.request_counts.total == n and batch.request_counts.completed == n and batch.request_counts.failed == 0
    out = read_jsonl(sdk, batch.output_file_id)
    assert sorted(o["custom_id"] for o in out) == sorted(f"req-{i}" for i in range(n))
    assert batch.error_file_id is None


def test_cancel_reports_every_line(sdk, file_server):
    # Lines that wait on a download, so the cancel lands while most are still running.
    body = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": f"{file_server}/images/hopper.png"}}]}]}
    jsonl = "".join(json.dumps({"custom_id": f"c{i}", "method": "POST", "url": "/v1/chat/completions",
                                "body": body}) + "\n" for i in range(300))
    f = sdk.files.create(file=("in.jsonl", jsonl.encode()), purpose="batch")
    batch = sdk.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    cancelled = sdk.batches.cancel(batch.id)
    assert cancelled.status in ("cancelling", "cancelled") and cancelled.cancelling_at
    deadline = time.monotonic() + 60
    while cancelled.status != "cancelled":
        assert time.monotonic() < deadline, cancelled
        time.sleep(0.2)
        cancelled = sdk.batches.retrieve(batch.id)
    counts = cancelled.request_counts
    assert counts.total == 300 and counts.completed + counts.failed == 300
    lines = read_jsonl(sdk, cancelled.output_file_id) + read_jsonl(sdk, cancelled.error_file_id)
    assert sorted(x["custom_id"] for x in lines) == sorted(f"c{i}" for i in range(300))
    assert any((x.get("error") or {}).get("code") == "batch_cancelled" for x in lines)
    assert sdk.batches.cancel(batch.id).status == "cancelled"  # no-op now


def test_list_batches_pages_newest_first(sdk):
    ids = [run_batch(sdk, line("x", "openai/gpt-4o") + "\n").id for _ in range(2)]
    page = sdk.batches.list(limit=1)
    assert [b.id for b in page.data] == [ids[-1]] and page.has_more
    nxt = sdk.batches.list(limit=1, after=ids[-1])
    assert [b.id for b in nxt.data] == [ids[0]]


@pytest.mark.parametrize("create, status, param", [
    ({"input_file_id": "file-doesnotexist"}, 404, "input_file_id"),
    ({"endpoint": "/v1/embeddings"}, 400, "endpoint"),
    ({"completion_window": "1h"}, 400, "completion_window"),
    ({"metadata": {"k": 1}}, 400, "metadata"),
    ({"webhook": {"url": "ftp://x"}}, 400, "webhook.url"),
])
def test_bad_batch_requests_are_openai_errors(client, create, status, param):
    fid = client.post("/v1/files", headers=AUTH, data={
        "purpose": "batch", "file": (io.BytesIO((line("a", "openai/gpt-4o") + "\n").encode()), "in.jsonl")}).json["id"]
    body = {"input_file_id": fid, "endpoint": "/v1/chat/completions", "completion_window": "24h", **create}
    resp = client.post("/v1/batches", headers=AUTH, json=body)
    assert resp.status_code == status, resp.json
    err = resp.json["error"]
    assert err["param"] == param and set(err) >= {"type", "message", "param", "code"}


def test_bad_files_are_refused_with_the_right_status(client, worker):
    def upload(c, purpose: str, data: bytes):  # type: ignore[no-untyped-def]
        return c.post("/v1/files", headers=AUTH, data={"purpose": purpose, "file": (io.BytesIO(data), "f.jsonl")})

    wrong = upload(client, "fine-tune", b"{}\n")
    assert wrong.status_code == 400 and wrong.json["error"]["param"] == "purpose"
    malformed = upload(client, "batch", b"this is not json\n{}\n").json["id"]
    resp = client.post("/v1/batches", headers=AUTH, json={"input_file_id": malformed, "completion_window": "24h",
                                                          "endpoint": "/v1/chat/completions"})
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_jsonl"
    user_data = upload(client, "user_data", b"{}\n").json["id"]
    resp = client.post("/v1/batches", headers=AUTH, json={"input_file_id": user_data, "completion_window": "24h",
                                                          "endpoint": "/v1/chat/completions"})
    assert resp.status_code == 400 and "purpose" in resp.json["error"]["message"]

    from app import create_app

    small = create_app(Context(Settings(FERRY_MAX_FILE_BYTES=1000))).test_client()
    big = upload(small, "batch", b"x" * 100_000)
    assert big.status_code == 413 and big.json["error"]["type"] == "too_large_error"


def test_batches_and_files_are_tenant_scoped(worker):
    from app import create_app

    c = create_app(Context(Settings(FERRY_API_KEYS="key-a=alpha,key-b=beta"))).test_client()
    a, b = {"Authorization": "Bearer key-a"}, {"Authorization": "Bearer key-b"}
    fid = c.post("/v1/files", headers=a, data={
        "purpose": "batch", "file": (io.BytesIO((line("a", "openai/gpt-4o") + "\n").encode()), "in.jsonl")}).json["id"]
    assert c.post("/v1/batches", headers=b, json={"input_file_id": fid, "endpoint": "/v1/chat/completions",
                                                  "completion_window": "24h"}).status_code == 404
    bid = c.post("/v1/batches", headers=a, json={"input_file_id": fid, "endpoint": "/v1/chat/completions",
                                                 "completion_window": "24h"}).json["id"]
    assert c.get(f"/v1/batches/{bid}", headers=b).status_code == 404
    assert c.post(f"/v1/batches/{bid}/cancel", headers=b).status_code == 404
    assert bid not in [x["id"] for x in c.get("/v1/batches", headers=b).json["data"]]
    assert c.get(f"/v1/batches/{bid}", headers=a).status_code == 200
