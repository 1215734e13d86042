"""The UI in a real headless Chromium (Debian's ``chromium``, driven by Playwright): sign-in, submitting
through the form, watching a job finish and a batch progress without a reload, a failed job, generated
media, tenant isolation, keyboard use and labelled controls (from the accessibility tree).

Jobs that must still be running while the page watches them fetch an image from a host the test holds
(:class:`tests.ui_browser_kit.Gate`), so nothing depends on how fast this machine is. Every page is
screenshotted into ``tests/artifacts/ui/`` (git-ignored); README's "Browser UI" lists what each shows.
"""
from __future__ import annotations

import io
import json
import re
import wave
from pathlib import Path

from tests.helpers import data_uri, image_part, job_body
from tests.test_ui import finish
from tests.ui_browser_kit import (BEARER_A, HOPPER, KEY_A, KEY_B, WAIT_MS, assert_accessible, assert_not_reloaded,
                                  browser, focus_by_tab, gate, mark_no_reload, needs_chromium, new_page, server, shot,
                                  sign_in, ui_app, wait_status, waited)

__all__ = ["browser", "gate", "server", "ui_app"]  # fixtures used by name
pytestmark = needs_chromium
JOB_URL = re.compile(r".*/ui/jobs/job_[0-9a-f]+$")


def _landed_on_a_job(page) -> str:  # type: ignore[no-untyped-def]
    waited("the form to land on the new job's page", lambda: page.wait_for_url(JOB_URL, timeout=WAIT_MS))
    return page.url.rsplit("/", 1)[1]


def test_sign_in_and_a_dry_run_through_the_form(browser, server):
    page = new_page(browser)
    page.goto(f"{server}/ui/login")
    assert_accessible(page)
    shot(page, "01-login")
    page.get_by_label("API key").fill("wrong-key")
    page.get_by_role("button", name="Sign in").click()
    assert "not valid" in page.get_by_role("alert").inner_text()
    shot(page, "02-login-refused")
    page = sign_in(browser, server, KEY_A)
    assert page.get_by_text("tenant alpha").count() == 1
    cookie = next(c for c in page.context.cookies() if c["name"] == "ferry_ui")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/ui"
    assert page.evaluate("document.cookie") == ""  # scripts cannot read the session
    page.get_by_role("link", name="Try it").click()
    page.get_by_label("Only models that accept").select_option("pdf")
    page.get_by_role("button", name="Filter models").click()
    waited("the model list filtered to PDF readers", lambda: page.wait_for_url(re.compile(r".*accepts=pdf"), timeout=WAIT_MS))
    offered = page.locator("#model option").evaluate_all("os => os.map(o => o.value)")
    api = page.request.get(f"{server}/v1/models?supported_parameters=pdf", headers=BEARER_A).json()["data"]
    assert set(offered) == {m["id"] for m in api if "text" in m["architecture"]["output_modalities"]}
    page.get_by_label("Model", exact=True).select_option("anthropic/claude-sonnet-4-5")
    page.get_by_label("Prompt", exact=True).fill("What is in this picture?")
    page.get_by_label("Files (images, PDFs, audio, video)").set_input_files(str(HOPPER))
    assert page.get_by_label(re.compile("^Dry run")).is_checked()
    assert_accessible(page)
    shot(page, "03-try-it")
    page.get_by_role("button", name="Submit job").click()
    _landed_on_a_job(page)
    wait_status(page, "succeeded")
    assert page.get_by_role("heading", name="Provider request").count() == 1
    assert "<sha256:" in page.locator("pre").first.inner_text()  # base64 shortened, as in the API
    assert page.locator("img.thumb").count() == 2  # the original and what was sent
    waited("both thumbnails to decode", lambda: page.wait_for_function(
        "() => [...document.images].every(i => i.complete && i.naturalWidth > 0)", timeout=WAIT_MS))
    assert "a dry run calls no provider" in page.locator("main").inner_text()  # cost: none, and it says why
    assert_accessible(page)
    shot(page, "04-job-dry-run")


def test_watching_a_job_finish_from_its_page_and_from_the_list(browser, server, gate):
    page = sign_in(browser, server, KEY_A)
    jobs_list = page.context.new_page()
    jobs_list.goto(f"{server}/ui/jobs")
    mark_no_reload(jobs_list)
    page.goto(f"{server}/ui/try")
    page.get_by_label("Model", exact=True).select_option("openai/gpt-4o")
    page.get_by_label("Prompt", exact=True).fill("Describe it")
    page.get_by_label("URLs, one per line").fill(f"{gate.url}/hold/watch.jpg")
    page.get_by_label(re.compile("^Dry run")).uncheck()
    page.get_by_role("button", name="Submit job").click()
    job_id = _landed_on_a_job(page)
    assert page.get_by_role("status").inner_text().strip() in ("queued", "running")  # held in fetch by the test
    assert page.get_by_role("button", name="Cancel job").count() == 1
    mark_no_reload(page)
    shot(page, "05-job-running")
    row = jobs_list.get_by_role("row").filter(has_text=job_id)
    waited(f"job {job_id} to appear in the open jobs list", lambda: row.wait_for(timeout=WAIT_MS))
    assert re.search(r"queued|running", row.inner_text()), row.inner_text()
    shot(jobs_list, "06-jobs-list-running")
    gate.release("watch")
    wait_status(page, "succeeded")
    assert_not_reloaded(page)
    answer = page.locator(".answer").inner_text()
    assert answer.startswith("sim:openai") and "image/jpeg" in answer
    assert page.get_by_role("button", name="Cancel job").count() == 0
    with page.expect_download(timeout=WAIT_MS) as download:
        page.get_by_role("link", name="Download result JSON").click()
    saved = json.loads(Path(download.value.path()).read_text())
    assert saved["id"] == job_id and saved["result"]["choices"][0]["message"]["content"] == answer
    shot(page, "07-job-succeeded")
    waited(f"the open jobs list to show {job_id} succeeded",
           lambda: row.filter(has_text="succeeded").wait_for(timeout=WAIT_MS))
    assert_not_reloaded(jobs_list)
    assert "openai/gpt-4o" in row.inner_text()
    tokens = saved["result"]["usage"]["total_tokens"]
    assert saved["result"]["cost"]["usd"] > 0  # gpt-4o is priced in the catalog: the row shows dollars
    assert str(tokens) in row.inner_text() and "$" in row.inner_text()
    shot(jobs_list, "08-jobs-list")
    jobs_list.get_by_label("Status").select_option("failed")
    jobs_list.get_by_role("button", name="Filter").click()
    waited("the failed-only filter", lambda: jobs_list.wait_for_url(re.compile(r".*status=failed"), timeout=WAIT_MS))
    assert jobs_list.get_by_role("row").filter(has_text=job_id).count() == 0


def test_a_failed_job_and_a_refused_form(browser, server, gate):
    page = sign_in(browser, server, KEY_A, start="/ui/try")
    page.get_by_label("Model", exact=True).select_option("openai/gpt-4o")
    page.get_by_role("button", name="Submit job").click()  # no prompt, no file: refused on the form
    alert = page.get_by_role("alert").inner_text()
    assert "write a prompt" in alert and "prompt" in alert
    assert_accessible(page)
    shot(page, "09-try-it-refused")
    page.get_by_label("Prompt", exact=True).fill("and this?")
    page.get_by_label("URLs, one per line").fill(f"{gate.url}/missing.jpg")
    page.get_by_role("button", name="Submit job").click()
    _landed_on_a_job(page)
    wait_status(page, "failed")
    error = page.get_by_role("region", name="Error").inner_text()
    assert "fetch_error" in error and "stage fetch" in error and "messages[0].content[1]" in error, error
    assert "404" in error
    shot(page, "10-job-failed")


def test_a_batchs_progress(browser, server, ui_app, gate):
    c = ui_app.test_client()
    line = {"method": "POST", "url": "/v1/chat/completions"}
    lines = [{**line, "custom_id": f"line-{i}", "body": {"model": "openai/gpt-4o",
                                                         "messages": [{"role": "user", "content": f"hi {i}"}]}}
             for i in range(2)]
    lines.append({**line, "custom_id": "held", "body": {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "and this"}, {"type": "image_url", "image_url": {"url": f"{gate.url}/hold/batch.jpg"}}]}]}})
    raw = "".join(json.dumps(x) + "\n" for x in lines) + "not json\n"
    f = c.post("/v1/files", data={"purpose": "batch", "file": (io.BytesIO(raw.encode()), "b.jsonl")},
               headers=BEARER_A, content_type="multipart/form-data")
    batch = c.post("/v1/batches", json={"input_file_id": f.json["id"], "endpoint": "/v1/chat/completions",
                                        "completion_window": "24h", "metadata": {"run": "ui"},
                                        "ferry": {"mode": "jobs"}},  # a job per line: one can be held
                   headers=BEARER_A).json
    page = sign_in(browser, server, KEY_A, start="/ui/batches")
    page.get_by_role("link", name=batch["id"]).click()
    main = page.locator("main")
    waited("the batch page to show 3 of 4 lines finished (one held)",
           lambda: main.get_by_text("3 of 4 lines finished").wait_for(timeout=WAIT_MS))
    assert page.get_by_role("status").inner_text().strip() == "in_progress"
    assert page.get_by_role("progressbar", name="lines finished").get_attribute("value") == "3"
    mark_no_reload(page)
    assert_accessible(page)
    shot(page, "11-batch-in-progress")
    gate.release("batch")
    wait_status(page, "completed")
    assert_not_reloaded(page)
    text = main.inner_text()
    assert "4 of 4 lines finished: 3 completed, 1 failed" in text and "invalid_json_line" in text
    assert "each line runs as its own job" in text  # not a native batch: no provider batches to show
    assert page.get_by_role("link", name=re.compile(r"^job_")).count() == 3
    for label in ("Output file", "Error file"):
        href = page.locator(f"dt:text-is('{label}') + dd a").get_attribute("href")
        got = page.request.get(f"{server}{href}")
        assert got.status == 200 and [json.loads(x) for x in got.text().splitlines()], label
    shot(page, "12-batch-completed")
    page.get_by_role("link", name=re.compile(r"^job_")).first.click()
    waited("a line's job page", lambda: page.wait_for_url(JOB_URL, timeout=WAIT_MS))
    assert page.get_by_role("link", name=batch["id"]).count() == 1  # the job links back to its batch
    page.goto(f"{server}/ui/batches")
    assert "completed" in page.get_by_role("row").filter(has_text=batch["id"]).inner_text()
    assert_accessible(page)
    shot(page, "13-batches-list")


def test_generated_image_and_audio_are_shown_and_playable(browser, server, ui_app):
    c = ui_app.test_client()
    image_job = c.post("/v1/jobs", json={"request": {"model": "gemini/gemini-2.5-flash-image", "modalities": ["text", "image"],
                                                     "messages": [{"role": "user", "content": "draw a boat"}]}},
                       headers=BEARER_A).json["id"]
    audio_job = c.post("/v1/jobs", json={"request": {"model": "openai/gpt-4o-audio-preview", "modalities": ["text", "audio"],
                                                     "audio": {"voice": "alloy", "format": "wav"},
                                                     "messages": [{"role": "user", "content": "Say hello"}]}},
                       headers=BEARER_A).json["id"]
    page = sign_in(browser, server, KEY_A, start=f"/ui/jobs/{image_job}")
    wait_status(page, "succeeded")
    img = page.get_by_role("img", name=re.compile("^generated image 1"))
    waited("the generated image to decode", lambda: page.wait_for_function(
        "() => [...document.querySelectorAll('img')].filter(i => i.alt.startsWith('generated')).every(i => i.naturalWidth > 0)",
        timeout=WAIT_MS))
    assert img.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [1024, 1024]
    shot(page, "14-job-generated-image")
    page.goto(f"{server}/ui/jobs/{audio_job}")
    wait_status(page, "succeeded")
    audio = page.locator("audio[aria-label^='generated audio']")
    src = audio.get_attribute("src")
    got = page.request.get(f"{server}{src}")
    assert got.status == 200 and got.headers["content-type"] == "audio/wav" and got.body()[:4] == b"RIFF"
    audio.evaluate("a => { a.preload = 'metadata'; a.load(); }")
    waited("the browser to read the audio's duration", lambda: page.wait_for_function(
        "() => document.querySelector(\"audio[aria-label^='generated audio']\").duration > 0", timeout=WAIT_MS))
    with wave.open(io.BytesIO(got.body())) as w:
        stored = w.getnframes() / w.getframerate()
    assert abs(audio.evaluate("a => a.duration") - stored) < 0.01  # the browser decoded the stored WAV
    shot(page, "15-job-generated-audio")


def test_tenant_b_gets_404_for_tenant_as_job_batch_and_file(browser, server, ui_app):
    c = ui_app.test_client()
    body = job_body("openai/gpt-4o", image_part(data_uri(HOPPER, "image/jpeg")), text="tenant A only", dry_run=True)
    job = finish(c, c.post("/v1/jobs", json=body, headers=BEARER_A).json["id"])
    line = {"custom_id": "a-only", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "secret"}]}}
    f = c.post("/v1/files", data={"purpose": "batch", "file": (io.BytesIO(json.dumps(line).encode() + b"\n"), "a.jsonl")},
               headers=BEARER_A, content_type="multipart/form-data").json
    batch = c.post("/v1/batches", json={"input_file_id": f["id"], "endpoint": "/v1/chat/completions",
                                        "completion_window": "24h"}, headers=BEARER_A).json
    own = sign_in(browser, server, KEY_A)
    sha = job["resources"][0]["source"]["sha256"]
    urls = [f"/ui/jobs/{job['id']}", f"/ui/batches/{batch['id']}", f"/ui/files/{f['id']}/content",
            f"/ui/jobs/{job['id']}/media/{sha}", f"/ui/jobs/{job['id']}/result.json"]
    for url in urls:
        assert own.request.get(f"{server}{url}").status == 200, url  # A sees its own
    page = sign_in(browser, server, KEY_B)
    for url in urls:
        resp = page.goto(f"{server}{url}")
        assert resp is not None and resp.status == 404, (url, resp and resp.status)
        assert page.get_by_role("heading", name="Not found").count() == 1, url
        assert "tenant A only" not in page.content() and "secret" not in page.content()
    page.goto(f"{server}/ui/jobs/{job['id']}")
    assert_accessible(page)
    shot(page, "16-not-found-for-tenant-b")
    page.goto(f"{server}/ui/jobs")
    assert job["id"] not in page.content()
    page.goto(f"{server}/ui/batches")
    assert batch["id"] not in page.content()


def test_keyboard_only_sign_in_and_submit_and_every_control_labelled(browser, server, gate):
    page = new_page(browser)
    page.goto(f"{server}/ui/login")
    focus_by_tab(page, "#key", "the API key field")
    page.keyboard.type(KEY_A)
    page.keyboard.press("Enter")
    waited("keyboard sign-in to land on the jobs list", lambda: page.wait_for_url(f"{server}/ui/jobs", timeout=WAIT_MS))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
    order = focus_by_tab(page, "form.filters button[type=submit]", "the Filter button")
    assert order[:4] == ["f-status", "f-model", "f-window", "f-limit"], order
    page.goto(f"{server}/ui/jobs")
    focus_by_tab(page, "a[href='/ui/try']", "the Try it link")
    page.keyboard.press("Enter")
    waited("the Try it page", lambda: page.wait_for_url(f"{server}/ui/try", timeout=WAIT_MS))
    focus_by_tab(page, "#prompt", "the prompt field")
    page.keyboard.type("Keyboard only")
    focus_by_tab(page, "#urls", "the URLs field")
    page.keyboard.type(f"{gate.url}/open/keyboard.jpg")
    focus_by_tab(page, "#dry_run", "the dry-run checkbox")
    assert page.evaluate("document.activeElement.checked")
    focus_by_tab(page, "form[enctype] button[type=submit]", "the Submit job button")
    page.keyboard.press("Enter")
    _landed_on_a_job(page)
    wait_status(page, "succeeded")
    snapshot = assert_accessible(page)
    assert 'img "Stage timeline' in snapshot and 'button "Sign out"' in snapshot
    for path, expected in (("/ui/jobs", ['combobox "Status"', 'textbox "Model or provider"', 'button "Filter"']),
                           ("/ui/try", ['combobox "Model"', 'textbox "Prompt"', 'textbox "URLs, one per line"',
                                        'checkbox "Dry run', 'button "Submit job"', 'button "Sign out"']),
                           ("/ui/batches", ['link "Batches"', 'button "Sign out"'])):
        page.goto(f"{server}{path}")
        snapshot = assert_accessible(page)
        for item in expected:
            assert item in snapshot, (path, item, snapshot[:2000])


def test_usable_without_javascript(browser, server, gate):
    """Sign in, submit and watch a job end with scripts off: forms post, and a page with something running
    refreshes itself (``<noscript>`` meta refresh) until it ends."""
    page = new_page(browser, java_script_enabled=False)
    page.goto(f"{server}/ui/try")
    page.get_by_label("API key").fill(KEY_A)
    page.get_by_role("button", name="Sign in").click()
    waited("sign-in without scripts to land on Try it", lambda: page.wait_for_url(f"{server}/ui/try", timeout=WAIT_MS))
    page.get_by_label("Prompt", exact=True).fill("no scripts")
    page.get_by_label("URLs, one per line").fill(f"{gate.url}/hold/noscript.jpg")
    page.get_by_role("button", name="Submit job").click()
    job_id = _landed_on_a_job(page)
    assert page.get_by_role("status").inner_text().strip() in ("queued", "running")
    assert page.locator("noscript").count() >= 1 and 'http-equiv="refresh"' in page.content()
    gate.release("noscript")
    wait_status(page, "succeeded")  # reached by the page refreshing itself
    assert page.url.endswith(job_id) and 'http-equiv="refresh"' not in page.content()  # and then it stops
