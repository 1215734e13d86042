"""More of the UI through Flask's test client: the cost column (recorded cost, else tokens and why),
the lists' live regions, provider batches on a native batch's page.

tests/test_ui.py has sign-in, tenancy, the job page and the form; tests/test_ui_browser.py drives Chromium.
"""
from __future__ import annotations

import io
import json
import re
import socket
import time
from typing import Any

import pytest

from app.ui import data as ui_data
from app.ui import format as fmt
from tests.helpers import image_part, job_body
from tests.test_ui import BEARER_A, KEY_A, finish, signed_in, ui_app

__all__ = ["ui_app"]  # the fixture, used by name


def test_cost_is_read_from_where_ferry_records_it_and_shown_in_dollars():
    assert ui_data.cost_of(None, {"usage": {"total_tokens": 10}}) is None  # no prices: no cost
    assert ui_data.cost_of({"cost": 0.0123}) == {"usd": 0.0123, "estimated": False}
    assert ui_data.cost_of(None, {"usage": {"cost": {"total_usd": 1.5}}}) == {"usd": 1.5, "estimated": False}
    assert ui_data.cost_of({"cost": {"estimated": 0.002}}) == {"usd": 0.002, "estimated": True}
    assert ui_data.cost_of({"cost": {"usd": 0.5, "estimated": True}}, {"cost": 9}) == {"usd": 0.5, "estimated": True}
    assert ui_data.cost_of({"cost": True}, {"cost": "free"}) is None  # not a number: not a cost
    assert fmt.usd({"usd": 0.000123456, "estimated": False}) == "$0.0001235"
    assert fmt.usd({"usd": 12.345, "estimated": True}) == "~$12.35"
    assert fmt.usd(None) == "–"


def test_jobs_list_says_why_it_shows_tokens_and_watches_for_new_jobs(ui_app):
    c = signed_in(ui_app, KEY_A)
    priced = finish(c, c.post("/v1/jobs", json=job_body("openai/gpt-4o"), headers=BEARER_A).json["id"])
    job = finish(c, c.post("/v1/jobs", json=job_body("mistral/pixtral-12b-2409"), headers=BEARER_A).json["id"])
    html = c.get("/ui/jobs").get_data(as_text=True)

    def row_of(job_id: str) -> str:
        row = html[html.index(f'<a href="/ui/jobs/{job_id}">'):]
        return row[:row.index("</tr>")]

    # a model the catalog prices: the job's recorded cost in dollars; one it does not: tokens, "not priced"
    assert priced["result"]["cost"]["usd"] > 0
    assert f'>{fmt.usd({"usd": priced["result"]["cost"]["usd"]})}</td>' in row_of(priced["id"])
    assert f'>{job["result"]["usage"]["total_tokens"]}</td>' in row_of(job["id"]) and "not priced" in row_of(job["id"])
    assert 'id="cost-note"' in html and "no price in Ferry's catalog" in html
    # nothing running: the first page still watches for new jobs, slowly, and does not refresh itself
    # without JavaScript (the filter form would be reset under the person typing in it)
    assert 's-running' not in html and 's-queued' not in html
    assert 'id="jobs-live" data-live="idle"' in html and 'http-equiv="refresh"' not in html
    older = c.get("/ui/jobs?cursor=" + f"{int(time.time()) + 10}:job_f").get_data(as_text=True)
    assert "data-live" not in older  # an older page stays still


def test_a_running_job_makes_the_list_live_and_refresh_without_javascript(ui_app):
    c = signed_in(ui_app, KEY_A)
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/held.jpg"
        job_id = c.post("/v1/jobs", json=job_body("openai/gpt-4o", image_part(url), dry_run=True),
                        headers=BEARER_A).json["id"]
        html = c.get("/ui/jobs").get_data(as_text=True)
        assert job_id in html and 'id="jobs-live" data-live>' in html and 'http-equiv="refresh"' in html
        fragment = c.get("/ui/jobs", headers={"X-Ferry-Live": "1"})
        assert fragment.status_code == 200 and job_id in fragment.get_data(as_text=True)
        page = c.get(f"/ui/jobs/{job_id}").get_data(as_text=True)
        assert "not fetched yet" in page  # the original, while the fetch is pending
        c.post(f"/ui/jobs/{job_id}/cancel", data={"csrf": re.search(r'name="csrf" value="([^"]+)"', page).group(1)})
        assert finish(c, job_id)["status"] == "canceled"
    finally:
        silent.close()


@pytest.fixture(scope="module")
def a_batch(ui_app) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    c = ui_app.test_client()
    line = {"custom_id": "n-1", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}
    f = c.post("/v1/files", data={"purpose": "batch", "file": (io.BytesIO(json.dumps(line).encode() + b"\n"), "n.jsonl")},
               headers=BEARER_A, content_type="multipart/form-data").json
    return c.post("/v1/batches", json={"input_file_id": f["id"], "endpoint": "/v1/chat/completions",
                                       "completion_window": "24h", "ferry": {"mode": "jobs"}}, headers=BEARER_A).json


def test_a_real_native_batch_page_shows_its_provider_batch_and_cost(ui_app):
    """An OpenAI line in an auto batch goes to the simulator's Batch API: the page shows that provider
    batch (its id and state as the batch object has them) and the batch's cost."""
    c = signed_in(ui_app, KEY_A)
    line = {"custom_id": "native-1", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}
    f = c.post("/v1/files", data={"purpose": "batch", "file": (io.BytesIO(json.dumps(line).encode() + b"\n"), "n.jsonl")},
               headers=BEARER_A, content_type="multipart/form-data").json
    batch = c.post("/v1/batches", json={"input_file_id": f["id"], "endpoint": "/v1/chat/completions",
                                        "completion_window": "24h"}, headers=BEARER_A).json
    deadline = time.monotonic() + 90
    while batch["status"] not in ("completed", "failed", "cancelled", "expired"):
        assert time.monotonic() < deadline, f"batch {batch['id']} still {batch['status']} after 90 s"
        time.sleep(0.2)
        batch = c.get(f"/v1/batches/{batch['id']}", headers=BEARER_A).json
    assert batch["status"] == "completed" and batch["ferry"]["mode"] == "auto"
    (pb,) = batch["ferry"]["provider_batches"]
    html = c.get(f"/ui/batches/{batch['id']}").get_data(as_text=True)
    assert "Provider batches (1)" in html and f"<code>{pb['id']}</code>" in html
    row = html[html.index(f"<code>{pb['id']}</code>"):]
    assert f'class="badge s-{pb["status"]}">{pb["status"]}<' in row[:row.index("</tr>")]
    assert batch["ferry"]["cost"]["usd"] > 0 and "$" in html


def test_a_native_batch_lists_its_provider_batches_and_their_states(ui_app, a_batch):
    """Native batches are issue 13's: their ``ferry`` object is rendered as its contract describes."""
    from app.auth import context
    from app.ui.views_batches import render_batch
    from workers.services import batches

    c = signed_in(ui_app, KEY_A)
    plain = c.get(f"/ui/batches/{a_batch['id']}").get_data(as_text=True)
    assert "each line runs as its own job" in plain and "Provider batches" not in plain
    with ui_app.test_request_context(f"/ui/batches/{a_batch['id']}", headers=BEARER_A):
        batch = batches.get(context(), "alpha", a_batch["id"])
        batch["ferry"] = {"mode": "native", "cost": {"usd": 0.0042, "estimated": True}, "provider_batches": [
            {"provider": "openai", "model": "gpt-4o", "id": "batch_abc123", "status": "in_progress", "lines": 700},
            {"provider": "anthropic", "model": "claude-sonnet-4-5", "id": "msgbatch_01X", "status": "ended",
             "lines": [0, 1, 2], "request_counts": {"completed": 2, "failed": 1}},
            {"provider": "gemini", "model": "gemini-2.5-flash", "id": None, "status": None, "lines": 3}]}
        html = render_batch(context(), batch, 0).get_data(as_text=True)
    assert "Provider batches (3)" in html and "native: lines sent in provider-native batches" in html
    for pb_id, state, lines in (("batch_abc123", "in_progress", "700"), ("msgbatch_01X", "ended", "3"),
                                ("not created yet", "unknown", "3")):
        row = html[html.index(f"<code>{pb_id}</code>"):]
        row = row[:row.index("</tr>")]
        assert f'class="badge s-{state}">{state}<' in row and f'<td class="num">{lines}' in row, row
    assert "2 completed, 1 failed" in html and "~$0.0042 (estimated)" in html
