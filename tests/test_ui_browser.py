"""The UI in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

Sign-in, submitting through the form (a dry run, and a real completion through the simulators that
the page watches finish without a reload), a batch's progress, tenant isolation, keyboard use and
labelled controls (from the accessibility tree). Every page is screenshotted into
``tests/artifacts/ui/`` (git-ignored). ``./dev test`` installs Chromium when it is missing.
"""
from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.simulators.server import SimServer
from tests.conftest import CORPUS, ROOT
from tests.test_ui import BEARER_A, KEY_A, KEY_B, finish
from workers.context import Context
from workers.core.settings import Settings

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH: ./dev test installs it "
                                                         "(apt-get install chromium), or install it yourself")
ARTIFACTS = ROOT / "tests" / "artifacts" / "ui"
HOPPER = CORPUS / "images" / "hopper.jpg"
WAIT_MS = 60_000  # generous: a shared 2-core machine; every wait says what it waited for


@pytest.fixture(scope="module")
def ui_app(worker):  # type: ignore[no-untyped-def]
    from app import create_app

    return create_app(Context(Settings(FERRY_API_KEYS=f"{KEY_A}=alpha,{KEY_B}=beta")))


@pytest.fixture(scope="module")
def server(ui_app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with SimServer(ui_app) as srv:
        yield srv.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


def shot(page: Any, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    return path


def sign_in(browser: Any, server: str, key: str) -> Any:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{server}/ui/jobs")
    assert page.url.startswith(f"{server}/ui/login"), page.url  # redirected to sign in
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server}/ui/jobs", timeout=WAIT_MS)
    return page


def unlabelled(snapshot: str) -> list[str]:
    """Controls in an aria snapshot without an accessible name (``- textbox`` instead of ``- textbox "Name"``)."""
    return [line for line in snapshot.splitlines()
            if re.match(r"\s*- (textbox|combobox|checkbox|button|link|spinbutton|progressbar)\s*(\[.*\])?:?\s*$", line)]


def test_sign_in_and_a_dry_run_through_the_form(browser, server):
    page = browser.new_context().new_page()
    page.goto(f"{server}/ui/login")
    shot(page, "01-login")
    page.get_by_label("API key").fill("wrong-key")
    page.get_by_role("button", name="Sign in").click()
    assert "not valid" in page.get_by_role("alert").inner_text()
    page = sign_in(browser, server, KEY_A)
    assert page.get_by_text("tenant alpha").count() == 1
    cookie = next(c for c in page.context.cookies() if c["name"] == "ferry_ui")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/ui"
    assert page.evaluate("document.cookie") == ""  # scripts cannot read the session
    page.get_by_role("link", name="Try it").click()
    page.get_by_label("Model", exact=True).select_option("anthropic/claude-sonnet-4-5")
    page.get_by_label("Prompt", exact=True).fill("What is in this picture?")
    page.get_by_label("Files (images, PDFs, audio, video)").set_input_files(str(HOPPER))
    assert page.get_by_label(re.compile("^Dry run")).is_checked()
    shot(page, "02-try-it")
    page.get_by_role("button", name="Submit job").click()
    page.wait_for_url(re.compile(r".*/ui/jobs/job_[0-9a-f]+$"), timeout=WAIT_MS)
    page.get_by_role("status").filter(has_text="succeeded").wait_for(timeout=WAIT_MS)  # live update, no reload
    assert page.get_by_role("heading", name="Provider request").count() == 1
    assert "<sha256:" in page.locator("pre").first.inner_text()  # base64 shortened, as in the API
    images = page.locator("img.thumb")
    assert images.count() == 2  # the original and what was sent
    page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)", timeout=WAIT_MS)
    shot(page, "03-job-dry-run")


def test_watching_a_real_completion_finish(browser, server, sims):
    sims["openai"].state.add_fault(delay=3, count=1, path_contains="/chat/completions")  # slow enough to watch
    page = sign_in(browser, server, KEY_A)
    page.goto(f"{server}/ui/try")
    page.get_by_label("Model", exact=True).select_option("openai/gpt-4o")
    page.get_by_label("Prompt", exact=True).fill("Describe it")
    page.get_by_label("Files (images, PDFs, audio, video)").set_input_files(str(HOPPER))
    page.get_by_label(re.compile("^Dry run")).uncheck()
    page.get_by_role("button", name="Submit job").click()
    page.wait_for_url(re.compile(r".*/ui/jobs/job_[0-9a-f]+$"), timeout=WAIT_MS)
    job_id = page.url.rsplit("/", 1)[1]
    landed = page.get_by_role("status").inner_text()
    shot(page, "04-job-running")
    page.get_by_role("status").filter(has_text="succeeded").wait_for(timeout=WAIT_MS)
    assert landed in ("queued", "running")  # it was still running when the page opened: the page updated itself
    answer = page.locator(".answer").inner_text()
    assert answer.startswith("sim:openai") and "image/jpeg" in answer
    assert page.get_by_role("button", name="Cancel job").count() == 0
    with page.expect_download() as download:
        page.get_by_role("link", name="Download result JSON").click()
    saved = json.loads(Path(download.value.path()).read_text())
    assert saved["id"] == job_id and saved["result"]["choices"][0]["message"]["content"] == answer
    shot(page, "05-job-succeeded")
    page.goto(f"{server}/ui/jobs")
    row = page.get_by_role("row").filter(has_text=job_id)
    assert "succeeded" in row.inner_text() and "openai/gpt-4o" in row.inner_text()
    shot(page, "06-jobs-list")


def test_a_batchs_progress(browser, server, ui_app):
    c = ui_app.test_client()
    lines = "".join(json.dumps({"custom_id": f"line-{i}", "method": "POST", "url": "/v1/chat/completions",
                                "body": {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": f"hi {i}"}]}})
                    + "\n" for i in range(3))
    lines += "not json\n"
    f = c.post("/v1/files", data={"purpose": "batch", "file": (io.BytesIO(lines.encode()), "b.jsonl")},
               headers=BEARER_A, content_type="multipart/form-data")
    batch = c.post("/v1/batches", json={"input_file_id": f.json["id"], "endpoint": "/v1/chat/completions",
                                        "completion_window": "24h", "metadata": {"run": "ui"}}, headers=BEARER_A).json
    page = sign_in(browser, server, KEY_A)
    page.goto(f"{server}/ui/batches")
    page.get_by_role("link", name=batch["id"]).click()
    page.get_by_role("status").filter(has_text="completed").wait_for(timeout=WAIT_MS)  # updated live
    text = page.locator("main").inner_text()
    assert "4 of 4 lines finished: 3 completed, 1 failed" in text and "invalid_json_line" in text
    assert page.get_by_role("link", name=re.compile(r"^job_")).count() == 3
    shot(page, "07-batch")
    page.get_by_role("link", name=re.compile(r"^job_")).first.click()
    page.get_by_role("status").filter(has_text="succeeded").wait_for(timeout=WAIT_MS)
    page.goto(f"{server}/ui/batches")
    shot(page, "08-batches-list")


def test_another_tenant_cannot_see_the_job_page(browser, server, ui_app):
    c = ui_app.test_client()
    job_id = c.post("/v1/jobs", json={"request": {"model": "openai/gpt-4o", "messages": [
        {"role": "user", "content": "tenant A only"}]}, "dry_run": True}, headers=BEARER_A).json["id"]
    finish(c, job_id)
    page = sign_in(browser, server, KEY_B)
    resp = page.goto(f"{server}/ui/jobs/{job_id}")
    assert resp is not None and resp.status == 404
    assert page.get_by_role("heading", name="Not found").count() == 1 and "tenant A only" not in page.content()
    shot(page, "09-not-found-for-tenant-b")
    assert page.request.get(f"{server}/ui/jobs/{job_id}/result.json").status == 404
    page.goto(f"{server}/ui/jobs")
    assert job_id not in page.content()


def test_keyboard_only_and_every_control_labelled(browser, server, ui_app):
    c = ui_app.test_client()
    finish(c, c.post("/v1/jobs", json={"request": {"model": "openai/gpt-4o", "messages": [
        {"role": "user", "content": "keyboard"}]}, "dry_run": True}, headers=BEARER_A).json["id"])
    page = browser.new_context().new_page()
    page.goto(f"{server}/ui/login")
    for _ in range(10):  # Tab from the top until the key field has focus
        if page.evaluate("document.activeElement.id") == "key":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "key"
    page.keyboard.type(KEY_A)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/ui/jobs", timeout=WAIT_MS)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
    focused = []
    for _ in range(12):  # the filter controls are reachable in order
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.id || document.activeElement.textContent"))
    assert focused[:5] == ["f-status", "f-model", "f-window", "f-limit", "Filter"], focused
    for path, expected in (("/ui/jobs", ['combobox "Status"', 'textbox "Model or provider"', 'button "Filter"']),
                           ("/ui/try", ['combobox "Model"', 'textbox "Prompt"', 'textbox "URLs, one per line"',
                                        'checkbox "Dry run', 'button "Submit job"', 'button "Sign out"']),
                           ("/ui/batches", ['link "Batches"', 'button "Sign out"'])):
        page.goto(f"{server}{path}")
        snapshot = page.locator("body").aria_snapshot()
        for item in expected:
            assert item in snapshot, (path, item, snapshot[:2000])
        assert unlabelled(snapshot) == [], (path, unlabelled(snapshot))
        assert page.evaluate("""[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
            .filter(e => !e.labels || e.labels.length === 0).map(e => e.name)""") == [], path
    page.goto(f"{server}/ui/jobs")
    job_link = page.get_by_role("link", name=re.compile(r"^job_")).first
    job_link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/ui/jobs/job_[0-9a-f]+$"), timeout=WAIT_MS)
    snapshot = page.locator("body").aria_snapshot()
    assert unlabelled(snapshot) == [] and 'img "Stage timeline' in snapshot, snapshot[:3000]
