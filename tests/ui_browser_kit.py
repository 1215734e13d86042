"""What the browser tests share: the UI app on a real port, headless Chromium, an image host the test
opens and closes (so a job is *known* to be running while the page watches it), waits that say what
they waited for, screenshots, and the accessibility-tree checks.

Chromium is Debian's ``chromium`` (``./dev test`` and so ``.ci/run`` install it when missing); the tests
skip, saying so, only when no Chromium binary exists. Playwright itself is a dev dependency: a missing
package is an error, not a skip.
"""
from __future__ import annotations

import http.server
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from app.simulators.server import SimServer
from tests.conftest import CORPUS, ROOT
from tests.test_ui import BEARER_A, KEY_A, KEY_B
from workers.context import Context
from workers.core.settings import Settings

ARTIFACTS = ROOT / "tests" / "artifacts" / "ui"
HOPPER = CORPUS / "images" / "hopper.jpg"
#: Generous: 2 cores shared by several suites. A wait that runs out names what it waited for.
WAIT_MS = 90_000


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium binary (chromium, chromium-browser or "
                                    "/usr/bin/chromium): ./dev test installs Debian's chromium with apt-get when "
                                    "it may (root or sudo); or run `apt-get install chromium`")


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
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


class Gate:
    """An image host on loopback: ``/open/<name>.jpg`` answers at once, ``/hold/<name>.jpg`` finishes its
    body only after :meth:`release` (so the job fetching it stays in ``fetch`` until the test says, however
    slow the machine), anything else 404."""

    def __init__(self) -> None:
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        gate = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                m = re.fullmatch(r"/(open|hold)/([a-z0-9-]+)\.jpg", self.path)
                if not m:
                    self.send_error(404, "no such image")
                    return
                body = HOPPER.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                sent = 0
                if m.group(1) == "hold":  # a byte every 2 s keeps the fetch's read timeout from firing
                    event = gate.event(m.group(2))
                    while not event.wait(2) and sent < min(len(body) - 1, 120):
                        self.wfile.write(body[sent:sent + 1])
                        self.wfile.flush()
                        sent += 1
                    event.wait(120)
                self.wfile.write(body[sent:])

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def event(self, name: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault(name, threading.Event())

    def release(self, name: str) -> None:
        self.event(name).set()

    def close(self) -> None:
        for event in list(self._events.values()):
            event.set()
        self._server.shutdown()


@pytest.fixture(scope="module")
def gate() -> Iterator[Gate]:
    g = Gate()
    yield g
    g.close()


def waited(what: str, wait: Callable[[], Any], timeout_ms: int = WAIT_MS) -> Any:
    """Run a Playwright wait; if it runs out, fail saying what was awaited and for how long."""
    try:
        return wait()
    except PlaywrightTimeout as exc:
        raise AssertionError(f"waited {timeout_ms / 1000:.0f} s for {what}; it did not happen ({exc})") from None


def until(what: str, check: Callable[[], Any], timeout_s: float = WAIT_MS / 1000) -> Any:
    """Poll ``check`` (outside the browser) until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while not (got := check()):
        assert time.monotonic() < deadline, f"waited {timeout_s:.0f} s for {what}; it did not happen"
        time.sleep(0.1)
    return got


def wait_status(page: Any, text: str) -> None:
    """The page's status badge (role=status) shows ``text`` (live updates swap it in; no reload)."""
    waited(f"the status badge on {page.url} to read {text!r}",
           lambda: page.get_by_role("status").filter(has_text=re.compile(rf"^\s*{text}\s*$")).wait_for(timeout=WAIT_MS))


def mark_no_reload(page: Any) -> None:
    """A marker on ``window`` that a reload or navigation would wipe out."""
    page.evaluate("window.__ferryTestMarker = 'same document'")


def assert_not_reloaded(page: Any) -> None:
    assert page.evaluate("window.__ferryTestMarker") == "same document", "the page was reloaded, not updated live"
    assert page.evaluate("document.documentElement.getAttribute('data-live-updated')"), "live.js never swapped"


def shot(page: Any, name: str) -> Path:
    """A full-page screenshot in tests/artifacts/ui/ (the list in the README says what each shows)."""
    waited(f"every image on {page.url} to load",
           lambda: page.wait_for_function("() => [...document.images].every(i => i.complete)", timeout=WAIT_MS))
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    return path


def new_page(browser: Any, **options: Any) -> Any:
    """A page in a fresh context (no cookies) whose every action and navigation may take WAIT_MS."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    return context.new_page()


def sign_in(browser: Any, server: str, key: str, start: str = "/ui/jobs") -> Any:
    page = new_page(browser)
    page.goto(f"{server}{start}")
    assert page.url.startswith(f"{server}/ui/login"), page.url  # redirected to sign in
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    waited(f"sign-in to land on {start}", lambda: page.wait_for_url(f"{server}{start}", timeout=WAIT_MS))
    return page


_CONTROL = r"(textbox|combobox|checkbox|radio|button|link|spinbutton|progressbar|slider|img)"


def unlabelled(snapshot: str) -> list[str]:
    """Controls in an aria snapshot without an accessible name (``- textbox`` instead of ``- textbox "Name"``)."""
    return [line for line in snapshot.splitlines() if re.match(rf"\s*- {_CONTROL}\s*(\[.*\])?:?\s*$", line)]


def assert_accessible(page: Any) -> str:
    """Every control of the page has an accessible name (aria snapshot), every form field a <label>, and
    every image alt text; returns the snapshot."""
    snapshot = page.locator("body").aria_snapshot()
    assert unlabelled(snapshot) == [], (page.url, unlabelled(snapshot), snapshot[:3000])
    nameless = page.evaluate("""[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter(e => !e.labels || e.labels.length === 0).map(e => e.name || e.id || e.outerHTML)""")
    assert nameless == [], (page.url, nameless)
    assert page.evaluate("[...document.images].filter(i => !i.alt).length") == 0, page.url
    media = page.evaluate("[...document.querySelectorAll('audio, video')].filter(m => !m.getAttribute('aria-label')).length")
    assert media == 0, page.url
    return snapshot


def focus_by_tab(page: Any, target: str, what: str, limit: int = 60) -> list[str]:
    """Press Tab until the element matching the CSS ``target`` has focus; the focus path it took."""
    path = []
    for _ in range(limit):
        if page.evaluate(f"document.activeElement && document.activeElement.matches({target!r})"):
            return path
        page.keyboard.press("Tab")
        path.append(page.evaluate("(e => e.id || e.getAttribute('name') || e.textContent.trim().slice(0, 30))"
                                  "(document.activeElement)"))
    raise AssertionError(f"Tab never reached {what} ({target}) in {limit} presses; focus went {path}")


__all__ = ["ARTIFACTS", "BEARER_A", "CHROMIUM", "Gate", "HOPPER", "KEY_A", "KEY_B", "PlaywrightError", "WAIT_MS",
           "assert_accessible", "assert_not_reloaded", "browser", "focus_by_tab", "gate", "mark_no_reload",
           "needs_chromium", "new_page", "server", "shot", "sign_in", "ui_app", "unlabelled", "until", "wait_status", "waited"]
