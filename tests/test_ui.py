"""The browser UI at /ui/ through Flask's test client (tests/test_ui_browser.py drives real Chromium).

Sign-in and its cookie, tenant isolation on every /ui route (walked from the url_map, like
tests/test_tenancy.py), CSRF, the jobs list's filters and pages, a job's page against what the job
API answers (thumbnails are the stored bytes themselves), the Try-it form, batches.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import socket
import time
from typing import Any

import pytest
from markupsafe import escape

from tests.conftest import CORPUS, TERMINAL
from tests.helpers import data_uri, image_part, job_body, pdf_part
from workers.context import Context
from workers.core.settings import Settings

KEY_A, KEY_B = "ui-key-alpha-5be1", "ui-key-beta-0c77"
BEARER_A = {"Authorization": f"Bearer {KEY_A}"}
HOPPER = CORPUS / "images" / "hopper.jpg"
_ARG = re.compile(r"<(?:[a-z_]+:)?([a-z_0-9]+)>")


@pytest.fixture(scope="module")
def ui_app(worker):  # type: ignore[no-untyped-def]
    from app import create_app

    return create_app(Context(Settings(FERRY_API_KEYS=f"{KEY_A}=alpha,{KEY_B}=beta")))


def signed_in(app: Any, key: str) -> Any:
    c = app.test_client()
    resp = c.post("/ui/login", data={"key": key, "next": "/ui/jobs"})
    assert resp.status_code == 303 and resp.headers["Location"] == "/ui/jobs", resp.get_data(as_text=True)[:500]
    return c


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def finish(c: Any, job_id: str, headers: dict[str, str] = BEARER_A, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = c.get(f"/v1/jobs/{job_id}", headers=headers).json
        if job["status"] in TERMINAL:
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']} after {timeout} s"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def a_job(ui_app) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Tenant A's finished real completion (simulator) with an image and a PDF, and a webhook."""
    c = ui_app.test_client()
    body = job_body("anthropic/claude-sonnet-4-5", image_part(data_uri(HOPPER, "image/jpeg")), pdf_part(),
                    text="Describe the picture", webhook={"url": "http://127.0.0.1:9/unreachable"})
    resp = c.post("/v1/jobs", json=body, headers=BEARER_A)
    assert resp.status_code == 202, resp.json
    return finish(c, resp.json["id"])


def test_sign_in_sets_a_signed_httponly_samesite_cookie_and_sign_out_ends_it(ui_app):
    c = ui_app.test_client()
    first = c.get("/ui/jobs")
    assert first.status_code == 303 and first.headers["Location"] == "/ui/login?next=/ui/jobs"
    bad = c.post("/ui/login", data={"key": "not-a-key"})
    assert bad.status_code == 401 and "not valid" in bad.get_data(as_text=True) and "Set-Cookie" not in bad.headers
    resp = c.post("/ui/login", data={"key": KEY_A, "next": "https://evil.example/"})
    cookie = resp.headers["Set-Cookie"]
    assert resp.headers["Location"] == "/ui/jobs"  # never redirected off-site
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/ui" in cookie
    assert KEY_A not in cookie  # the key's digest is signed into it, never the key
    page = c.get("/ui/jobs")
    assert page.status_code == 200 and "tenant <strong>alpha</strong>" in page.get_data(as_text=True)
    token = c.get_cookie("ferry_ui", path="/ui").value
    forged = ui_app.test_client()
    forged.set_cookie("ferry_ui", token[:-3] + ("abc" if not token.endswith("abc") else "xyz"), path="/ui")
    assert forged.get("/ui/jobs").status_code == 303  # a tampered signature is no session
    live = ui_app.test_client().get("/ui/jobs", headers={"X-Ferry-Live": "1"})
    assert live.status_code == 401  # the live script stops instead of swapping in the login page
    out = c.post("/ui/logout", data={"csrf": csrf_of(page.get_data(as_text=True))})
    assert out.status_code == 303 and "ferry_ui=;" in out.headers["Set-Cookie"]
    assert c.get("/ui/jobs").status_code == 303


def test_forms_need_the_sessions_csrf_token(ui_app, a_job):
    c = signed_in(ui_app, KEY_A)
    for url in (f"/ui/jobs/{a_job['id']}/cancel", "/ui/try", "/ui/logout"):
        resp = c.post(url, data={"csrf": "forged"})
        assert resp.status_code == 403, (url, resp.status_code)
    assert c.get("/ui/jobs").status_code == 200  # still signed in


def _ui_routes(app: Any) -> list[tuple[str, str, list[str]]]:
    out = []
    for rule in app.url_map.iter_rules():
        args = _ARG.findall(rule.rule)
        if rule.rule.startswith("/ui/") and args and rule.endpoint != "ui.static":
            out += [(m, rule.rule, args) for m in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})]
    return out


@pytest.fixture(scope="module")
def a_objects(ui_app, a_job) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Tenant A's job, one of its media hashes, a batch file and a batch."""
    c = ui_app.test_client()
    line = {"custom_id": "ui-1", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}
    f = c.post("/v1/files", data={"purpose": "batch", "file": (io.BytesIO(json.dumps(line).encode() + b"\n"), "a.jsonl")},
               headers=BEARER_A, content_type="multipart/form-data")
    assert f.status_code == 200, f.json
    b = c.post("/v1/batches", json={"input_file_id": f.json["id"], "endpoint": "/v1/chat/completions",
                                    "completion_window": "24h"}, headers=BEARER_A)
    assert b.status_code == 200, b.json
    return {"job_id": a_job["id"], "sha256": a_job["resources"][0]["source"]["sha256"], "file_id": f.json["id"],
            "batch_id": b.json["id"]}


def test_tenant_b_gets_404_on_every_ui_route_for_tenant_as_objects(ui_app, a_objects):
    own = signed_in(ui_app, KEY_A)
    other = signed_in(ui_app, KEY_B)
    csrf_b = csrf_of(other.get("/ui/jobs").get_data(as_text=True))
    routes = _ui_routes(ui_app)
    assert {r for _, r, _ in routes} >= {"/ui/jobs/<job_id>", "/ui/jobs/<job_id>/media/<sha256>",
                                         "/ui/batches/<batch_id>", "/ui/files/<file_id>/content"}
    checked, leaks = 0, []
    for method, rule, args in routes:
        url = rule
        for arg in args:
            url = re.sub(rf"<(?:[a-z_]+:)?{arg}>", a_objects.get(arg, "x"), url)
        assert own.open(url, method=method, data={"csrf": "x"}).status_code != 404 or method == "POST", url
        resp = other.open(url, method=method, data={"csrf": csrf_b})
        checked += 1
        if resp.status_code != 404:
            leaks.append((method, url, resp.status_code))
        else:
            assert "Not found" in resp.get_data(as_text=True)
    assert checked == 7 and not leaks, leaks  # 5 GET routes, 2 POST (cancel a job, a batch)
    fake = "job_" + "0" * 24  # a foreign job's page reads exactly like a missing one's
    foreign = other.get(f"/ui/jobs/{a_objects['job_id']}").get_data(as_text=True)
    assert foreign.replace(a_objects["job_id"], fake) == other.get(f"/ui/jobs/{fake}").get_data(as_text=True)
    assert a_objects["job_id"] not in other.get("/ui/jobs").get_data(as_text=True)
    assert a_objects["batch_id"] not in other.get("/ui/batches").get_data(as_text=True)
    assert own.get(f"/ui/jobs/{a_objects['job_id']}").status_code == 200  # B's cancel changed nothing
    assert finish(own, a_objects["job_id"])["status"] == "succeeded"
    # the same routes with B's bearer key (scripts), exactly as on the API
    resp = ui_app.test_client().get(f"/ui/jobs/{a_objects['job_id']}",
                                    headers={"Authorization": f"Bearer {KEY_B}"})
    assert resp.status_code == 404


def test_job_page_shows_what_ferry_did(ui_app, a_job):
    c = signed_in(ui_app, KEY_A)
    html = c.get(f"/ui/jobs/{a_job['id']}").get_data(as_text=True)
    assert "succeeded" in html and "Describe the picture" in html
    answer = a_job["result"]["choices"][0]["message"]["content"]
    assert escape(answer) in html
    for res in a_job["resources"]:
        assert escape(res["part"]) in html and escape(res["delivery"]["reason"]) in html
        for t in res["transforms"]:
            assert escape(t["reason"]) in html
    assert "x-api-key" in html and "&lt;redacted&gt;" in html  # the provider request, redacted
    assert "ConnectError" in html  # the webhook's failed attempt
    # the original and what was sent are the stored bytes, served with their type and size attributes
    src = a_job["resources"][0]["source"]
    img = re.search(rf'<img class="thumb" src="(/ui/jobs/{a_job["id"]}/media/{src["sha256"]})"[^>]*'
                    r'width="(\d+)" height="(\d+)"', html)
    assert img and (img.group(2), img.group(3)) == ("128", "128")
    media = c.get(img.group(1))
    assert media.status_code == 200 and media.mimetype == "image/jpeg"
    assert hashlib.sha256(media.get_data()).hexdigest() == src["sha256"] == hashlib.sha256(HOPPER.read_bytes()).hexdigest()
    assert html.count(f"/ui/jobs/{a_job['id']}/media/") >= 4  # original + sent, for the image and the PDF
    # a PDF original shows its first page, drawn by the worker at inspect (the web tier decodes no PDF)
    pdf = next(r for r in a_job["resources"] if r["facts"]["mime"] == "application/pdf")
    preview = pdf["preview"]
    assert re.search(rf'<img class="thumb" src="/ui/jobs/{a_job["id"]}/media/{preview["sha256"]}"[^>]*'
                     rf'width="{preview["width"]}" height="{preview["height"]}"', html)
    assert [o["sha256"] for o in pdf["outputs"]] == [pdf["source"]["sha256"]]  # Claude takes the PDF as it is,
    assert html.count(f'/media/{preview["sha256"]}"') == 2  # so "sent" shows the same first page
    thumb = c.get(f"/ui/jobs/{a_job['id']}/media/{preview['sha256']}")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    from PIL import Image

    with Image.open(io.BytesIO(thumb.get_data())) as page_one:
        assert page_one.format == "JPEG" and page_one.size == (preview["width"], preview["height"])
        assert max(page_one.size) == 240
    # the timeline: one bar per finished step, and the table saying how long each took
    steps = {e["step"] for e in a_job["timeline"]}
    assert html.count('<rect class="bar') == len([s for s in steps if s.split(":")[0] != "notify"]) + ("notify" in steps)
    assert "complete" in html and "fetch #0" in html
    # download: the job as GET /v1/jobs/{id} answers it
    dl = c.get(f"/ui/jobs/{a_job['id']}/result.json")
    assert dl.headers["Content-Disposition"].startswith("attachment")
    assert json.loads(dl.get_data())["result"] == a_job["result"]
    assert "Cancel job" not in html  # nothing to cancel once it ended
    assert c.get(f"/ui/jobs/{a_job['id']}/media/{'0' * 64}").status_code == 404  # only this job's blobs


def test_jobs_list_filters_newest_first_and_pages(ui_app, a_job):
    c = signed_in(ui_app, KEY_A)
    ids = []
    for model in ("openai/gpt-4o", "gemini/gemini-2.5-flash", "openai/gpt-4o"):
        resp = c.post("/v1/jobs", json=job_body(model, dry_run=True), headers=BEARER_A)
        ids.append(resp.json["id"])
        time.sleep(1.05)  # the tenant's index has whole seconds; within one second the order is by id
    for job_id in ids:
        finish(c, job_id)
    html = c.get("/ui/jobs?limit=10").get_data(as_text=True)
    positions = [html.index(i) for i in reversed(ids)]
    assert positions == sorted(positions)  # newest first
    gemini = c.get("/ui/jobs?model=gemini").get_data(as_text=True)
    assert ids[1] in gemini and ids[0] not in gemini and ids[2] not in gemini
    exact = c.get("/ui/jobs?model=openai/gpt-4o&status=succeeded&window=1h").get_data(as_text=True)
    assert ids[0] in exact and ids[2] in exact and ids[1] not in exact
    assert a_job["id"] not in c.get("/ui/jobs?status=failed").get_data(as_text=True)
    seen: list[str] = []
    url: str | None = "/ui/jobs?limit=10&model=openai/gpt-4o"
    for _ in range(20):  # walk every page: each job once, in order
        page = c.get(url).get_data(as_text=True)
        seen += re.findall(r'<a href="/ui/jobs/(job_[0-9a-f]+)">', page)
        nxt = re.search(r'rel="next" href="([^"]+)"', page)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
        if url is None:
            break
    assert len(seen) == len(set(seen)) and ids[2] in seen and ids[0] in seen
    assert seen.index(ids[2]) < seen.index(ids[0])


def test_try_it_submits_a_dry_run_and_shows_refusals_on_the_form(ui_app):
    c = signed_in(ui_app, KEY_A)
    form = c.get("/ui/try?accepts=pdf").get_data(as_text=True)
    models = re.findall(r'<option value="([a-z]+/[^"]+)"', form)
    api = c.get("/v1/models?supported_parameters=pdf", headers=BEARER_A).json["data"]
    assert set(models) == {m["id"] for m in api if "text" in m["architecture"]["output_modalities"]}
    assert "anthropic/claude-sonnet-4-5" in models
    assert len(models) < len(re.findall(r'<option value="([a-z]+/[^"]+)"', c.get("/ui/try").get_data(as_text=True)))
    csrf = csrf_of(form)
    resp = c.post("/ui/try", data={"csrf": csrf, "model": "anthropic/claude-sonnet-4-5", "prompt": "What is it?",
                                   "detail": "low", "dry_run": "on",
                                   "files": [(io.BytesIO(HOPPER.read_bytes()), "photo.bin")]},
                  content_type="multipart/form-data")
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/ui/jobs/job_")
    job_id = resp.headers["Location"].rsplit("/", 1)[1]
    job = finish(c, job_id)
    assert job["dry_run"] and job["status"] == "succeeded", job.get("error")
    assert job["resources"][0]["source"]["sha256"] == hashlib.sha256(HOPPER.read_bytes()).hexdigest()
    assert job["resources"][0]["detail"] == "low"
    bad = c.post("/ui/try", data={"csrf": csrf, "model": "nosuch/model", "prompt": "hi"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "request.model" in text and 'role="alert"' in text
    empty = c.post("/ui/try", data={"csrf": csrf, "model": "openai/gpt-4o"})
    assert empty.status_code == 400 and "prompt" in empty.get_data(as_text=True)


def test_a_job_with_twenty_resources_renders_every_one(ui_app):
    c = signed_in(ui_app, KEY_A)
    parts = [image_part(data_uri(HOPPER, "image/jpeg"), detail="low") for _ in range(20)]
    resp = c.post("/v1/jobs", json=job_body("openai/gpt-4o", *parts, dry_run=True), headers=BEARER_A)
    job = finish(c, resp.json["id"], timeout=120)
    assert job["status"] == "succeeded" and len(job["resources"]) == 20
    html = c.get(f"/ui/jobs/{job['id']}").get_data(as_text=True)
    assert html.count('<article class="resource"') == 20 and html.count('<img class="thumb"') == 40
    assert html.count('<rect class="bar') >= 20 * 5 + 1


def test_batch_list_and_page_with_lines_linking_their_jobs(ui_app, a_objects):
    c = signed_in(ui_app, KEY_A)
    batch_id = a_objects["batch_id"]
    deadline = time.monotonic() + 60
    while (b := c.get(f"/v1/batches/{batch_id}", headers=BEARER_A).json)["status"] != "completed":
        assert time.monotonic() < deadline, f"batch still {b['status']}"
        time.sleep(0.2)
    assert batch_id in c.get("/ui/batches").get_data(as_text=True)
    html = c.get(f"/ui/batches/{batch_id}").get_data(as_text=True)
    assert "ui-1" in html and "1</strong> of <strong>1</strong> lines finished" in html
    job_id = re.search(r'href="/ui/jobs/(job_[0-9a-f]+)"', html).group(1)
    assert c.get(f"/ui/jobs/{job_id}").status_code == 200
    out = c.get(f"/ui/files/{b['output_file_id']}/content")
    assert out.status_code == 200 and json.loads(out.get_data().splitlines()[0])["custom_id"] == "ui-1"


def test_cancel_button_cancels_a_running_job(ui_app):
    """A job held in fetch (a host that accepts the connection and never answers) is canceled by the button."""
    c = signed_in(ui_app, KEY_A)
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/slow.jpg"
        job_id = c.post("/v1/jobs", json=job_body("openai/gpt-4o", image_part(url), dry_run=True),
                        headers=BEARER_A).json["id"]
        page = c.get(f"/ui/jobs/{job_id}").get_data(as_text=True)
        assert "Cancel job" in page and "data-live" in page
        resp = c.post(f"/ui/jobs/{job_id}/cancel", data={"csrf": csrf_of(page)})
        assert resp.status_code == 303 and resp.headers["Location"] == f"/ui/jobs/{job_id}"
        after = c.get(f"/ui/jobs/{job_id}").get_data(as_text=True)
        assert finish(c, job_id)["status"] == "canceled"
        assert "Cancel job" not in after and "data-live" not in after
    finally:
        silent.close()  # the pending download is reset, so the worker moves on at once


def test_try_it_asks_for_generated_images_or_audio(ui_app):
    """'that answer with' lists the models of that output modality and puts the request fields in the job."""
    c = signed_in(ui_app, KEY_A)
    for answers, provider in (("image", "gemini/"), ("audio", "openai/")):
        form = c.get(f"/ui/try?answers={answers}").get_data(as_text=True)
        models = re.findall(r'<option value="([a-z]+/[^"]+)"', form)
        api = c.get(f"/v1/models?output_modalities={answers}", headers=BEARER_A).json["data"]
        assert models and set(models) == {m["id"] for m in api}
        model = next(m for m in models if m.startswith(provider))
        resp = c.post("/ui/try", data={"csrf": csrf_of(form), "model": model, "prompt": "a lighthouse",
                                       "answers": answers, "dry_run": "on"})
        assert resp.status_code == 303, resp.get_data(as_text=True)[:800]
        job = finish(c, resp.headers["Location"].rsplit("/", 1)[1])
        assert job["status"] == "succeeded", job.get("error")
        body = job["provider_request"]["body"]  # the dry run's native request asks for the output
        if answers == "image":
            assert "IMAGE" in [m.upper() for m in body["generationConfig"]["responseModalities"]], body
        else:
            assert body["modalities"] == ["text", "audio"] and body["audio"]["format"] == "wav", body
    bad = c.post("/ui/try", data={"csrf": csrf_of(form), "model": "openai/gpt-4o", "prompt": "hi", "answers": "smell"})
    assert bad.status_code == 400 and "answers" in bad.get_data(as_text=True)
