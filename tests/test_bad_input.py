"""Bad input, systematically (issue 7.6): every malformed request is a 4xx or a failed job with a clear
error — never a 5xx, a hang or a dead worker.

Property-based (hypothesis) over the request parser and over the API (Flask test client, every POST
route found in the url_map), plus the named cases: truncated base64, lying data-URI MIME types, a
60 MB body, 10,000 levels of nesting, unknown part types, huge ``messages`` arrays and every file in
``../shared/corpus/bad/`` under several labels. A summary line reports how many inputs were tried.
"""
from __future__ import annotations

import base64
import io
import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.conftest import AUTH, CORPUS, wait_job
from tests.helpers import image_part, job_body
from workers.services.chat_request import MEDIA_PART_TYPES, parse_chat_request
from workers.context import Context
from workers.core.errors import FerryError
from workers.core.settings import Settings

TRIED: Counter[str] = Counter()
MODEL = "openai/gpt-4o"
BAD = sorted((CORPUS / "bad").iterdir())
HOPPER = (CORPUS / "images" / "hopper.jpg").read_bytes()


@pytest.fixture(scope="module", autouse=True)
def _summary(request):  # type: ignore[no-untyped-def]
    yield
    line = (f"\n[bad input] {sum(TRIED.values())} bad inputs tried, none answered 5xx or killed the worker: "
            + ", ".join(f"{k}={v}" for k, v in sorted(TRIED.items())))
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(line)


def _ok_status(code: int) -> bool:
    return code in (200, 202) or 400 <= code < 500


# -- strategies -----------------------------------------------------------------------------------

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
any_json = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=20)

b64_hopper = base64.b64encode(HOPPER).decode()
payloads = st.one_of(
    st.just(b64_hopper),
    st.integers(1, len(b64_hopper) - 1).map(lambda n: b64_hopper[:n]),  # truncated base64
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=@!-_ ", max_size=40),
    st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode()),
)
mimes = st.sampled_from(["image/png", "image/jpeg", "application/pdf", "audio/wav", "text/plain", "video/mp4",
                         "application/x-evil", "", "image/", "not a mime"])
urls = st.one_of(
    st.builds(lambda m, p: f"data:{m};base64,{p}", mimes, payloads),
    st.builds(lambda m, p: f"data:{m},{p}", mimes, payloads),  # missing ;base64
    st.sampled_from(["ftp://x/y.png", "file:///etc/passwd", "javascript:alert(1)", "", "s3://", "gs://b/k",
                     "file-doesnotexist", "data:", "data:;base64,"]),
    any_json,
)
part_types = st.sampled_from([*MEDIA_PART_TYPES, "text", "hologram", "", "IMAGE_URL", "image"])


@st.composite
def parts(draw: Any) -> Any:
    t = draw(part_types)
    shape = draw(st.integers(0, 5))
    if shape == 0:
        return {"type": t, t: {"url": draw(urls), "detail": draw(st.sampled_from(["auto", "low", "ultra", None]))}}
    if shape == 1:
        return {"type": t, t: {"data": draw(payloads), "format": draw(st.sampled_from(["wav", "mp3", 7, None]))}}
    if shape == 2:
        return {"type": t, t: {"file_data": draw(urls), "filename": draw(st.one_of(st.text(max_size=10), any_json))}}
    if shape == 3:
        return {"type": t, "text": draw(any_json)}
    if shape == 4:
        return {"type": t, t: draw(any_json)}
    return draw(any_json)


messages = st.lists(st.fixed_dictionaries({
    "role": st.sampled_from(["user", "system", "assistant", "tool", "robot", None]),
    "content": st.one_of(st.text(max_size=20), st.lists(parts(), max_size=4), any_json),
}), max_size=4)
requests_ = st.one_of(
    st.fixed_dictionaries({"model": st.sampled_from([MODEL, "gemini/gemini-2.5-flash", "", "nosuch/x", 5]),
                           "messages": messages}),
    any_json,
)
bodies = st.one_of(
    st.fixed_dictionaries({"request": requests_, "dry_run": st.just(True)},
                          optional={"metadata": any_json, "delivery": any_json, "options": any_json,
                                    "webhook": any_json}),
    any_json,
)


# -- the parser -----------------------------------------------------------------------------------

@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests_)
def test_parser_raises_only_client_errors(body):
    TRIED["parser"] += 1
    try:
        parse_chat_request(body, max_bytes=1 << 20, max_resources=8)
    except FerryError as exc:
        assert 400 <= exc.status < 500, exc
        assert exc.message and exc.param


# -- the API --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def api(worker):  # type: ignore[no-untyped-def]
    from app import create_app

    return create_app()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_jobs_api_never_answers_5xx(api, body):
    TRIED["api-jobs"] += 1
    resp = api.test_client().post("/v1/jobs", json=body, headers=AUTH)
    assert _ok_status(resp.status_code), (resp.status_code, resp.json)
    if resp.status_code >= 400:
        err = resp.json["error"]
        assert err["type"] and err["message"]


def _post_routes(app) -> list[str]:  # type: ignore[no-untyped-def]
    """Every POST route in the url_map (found at test time, so new endpoints are covered too)."""
    out = []
    for rule in app.url_map.iter_rules():
        if "POST" in (rule.methods or ()) and not rule.rule.startswith("/static"):
            out.append(rule.rule.replace("<", "").replace(">", "").replace("string:", "").replace("path:", ""))
    return sorted(out)


JUNK = [b"", b"{", b"[]", b"null", b"\xff\xfe\x00", b'{"a":' * 50, b"9" * 10_000, b'"just a string"',
        json.dumps({"request": None}).encode(), json.dumps({"model": 5, "messages": "x"}).encode()]


def test_every_post_route_survives_junk_and_deep_nesting(api):
    c = api.test_client()
    routes = _post_routes(api)
    assert "/v1/jobs" in routes
    deep = b"[" * 10_000 + b"]" * 10_000
    deep_obj = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
    failures = []
    for route in routes:
        for body in [*JUNK, deep, deep_obj]:
            for ctype in ("application/json", "text/plain"):
                TRIED["api-routes"] += 1
                resp = c.post(route, data=body, headers={**AUTH, "Content-Type": ctype})
                if not _ok_status(resp.status_code):
                    failures.append((route, body[:20], ctype, resp.status_code, (resp.get_data() or b"")[:200]))
    assert not failures, failures


def test_deeply_nested_json_is_400_not_recursion_error(client):
    TRIED["named"] += 2
    for raw in (b"[" * 10_000 + b"]" * 10_000, json.dumps(job_body(MODEL, metadata={}))[:-1].encode()
                + b', "x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"):
        resp = client.post("/v1/jobs", data=raw, headers={**AUTH, "Content-Type": "application/json"})
        assert resp.status_code == 400, resp.json
        assert resp.json["error"]["type"] == "invalid_request_error"
    # 200 levels parse fine but are still refused, before any code walks them recursively
    body = job_body(MODEL, dry_run=True)
    nested: Any = 1
    for _ in range(200):
        nested = {"n": nested}
    body["metadata"] = {"deep": nested}
    TRIED["named"] += 1
    resp = client.post("/v1/jobs", json=body, headers=AUTH)
    assert resp.status_code == 400 and "nested" in resp.json["error"]["message"]


class _CountingInput(io.BytesIO):
    """The request body as the WSGI server hands it over, counting what the app reads of it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk

    def readline(self, size: int | None = -1) -> bytes:
        line = super().readline(size)
        self.bytes_read += len(line)
        return line

    def readinto(self, buffer: Any) -> int:
        n = super().readinto(buffer)
        self.bytes_read += n
        return n


def test_huge_body_is_413_before_it_is_read(worker):
    """60 MB of base64 against a 32 MB FERRY_MAX_REQUEST_BYTES, and 97 MB against the 96 MB default: 413
    from the Content-Length, before the body is read or decoded (not one byte of it is read)."""
    from app import create_app

    payload = "A" * (60 * 1024 * 1024)
    for app, size in ((create_app(Context(Settings(FERRY_MAX_REQUEST_BYTES=str(32 << 20)))), 60),
                      (create_app(), 97)):
        data = json.dumps(job_body(MODEL, image_part(f"data:image/png;base64,{payload}"))).encode()
        if size == 97:
            data += b" " * ((97 << 20) - len(data))
        TRIED["named"] += 1
        body = _CountingInput(data)
        resp = app.test_client().post("/v1/jobs", input_stream=body, content_length=len(data),
                                      headers={**AUTH, "Content-Type": "application/json"})
        assert resp.status_code == 413, resp.json
        assert resp.json["error"]["type"] == "too_large_error"
        assert body.bytes_read == 0, f"read {body.bytes_read} of {len(data)} bytes before answering 413"
    # the same counting input on a small valid body: the app does read what it accepts
    small = json.dumps(job_body(MODEL, dry_run=True)).encode()
    body = _CountingInput(small)
    resp = create_app().test_client().post("/v1/jobs", input_stream=body, content_length=len(small),
                                           headers={**AUTH, "Content-Type": "application/json"})
    assert resp.status_code == 202, resp.json
    assert body.bytes_read == len(small)


def test_inline_data_over_the_download_limit_is_413(worker):
    from app import create_app

    app = create_app(Context(Settings(FERRY_MAX_DOWNLOAD_BYTES=str(1 << 20))))
    TRIED["named"] += 1
    payload = base64.b64encode(b"\0" * (2 << 20)).decode()
    resp = app.test_client().post("/v1/jobs", json=job_body(MODEL, image_part(f"data:image/png;base64,{payload}")),
                                  headers=AUTH)
    assert resp.status_code == 413 and resp.json["error"]["param"] == "messages[0].content[1].image_url.url"


@pytest.mark.parametrize("n", [10_000, 200_000])
def test_huge_messages_arrays_answer_without_a_5xx(client, n):
    """How fast this answers is measured in bench/bad_input_speed.py; pytest-timeout bounds a hang."""
    body = {"request": {"model": MODEL, "messages": [{"role": "user", "content": "hi"}] * n}, "dry_run": True}
    TRIED["named"] += 1
    resp = client.post("/v1/jobs", json=body, headers=AUTH)
    assert _ok_status(resp.status_code), resp.json
    if resp.status_code == 202:
        job = wait_job(client, resp.json["id"], timeout=120)
        assert job["status"] in ("succeeded", "failed")


@pytest.mark.parametrize("part", [
    {"type": "hologram", "hologram": {}},
    {"type": "image_url", "image_url": {"url": "data:image/png;base64," + b64_hopper[:1001]}},  # truncated
    {"type": "image_url", "image_url": {"url": "data:image/png;base64," + b64_hopper[:-3]}},
    {"type": "input_audio", "input_audio": {"data": "abc", "format": "wav"}},
    {"type": "file", "file": {"file_data": "data:application/pdf;base64,@@@@"}},
    {"type": "image_url", "image_url": {"url": {"nested": True}}},
    {"type": "image_url", "image_url": None},
    {"type": None},
    "just a string",
])
def test_named_bad_parts_are_400(client, part):
    TRIED["named"] += 1
    resp = client.post("/v1/jobs", json=job_body(MODEL, part), headers=AUTH)
    assert resp.status_code == 400, resp.json
    assert resp.json["error"]["param"].startswith("messages[0].content[1]")


def _labelled(data: bytes, how: str) -> dict[str, Any]:
    b64 = base64.b64encode(data).decode()
    if how == "image/png":
        return image_part(f"data:image/png;base64,{b64}")
    if how == "application/pdf":
        return {"type": "file", "file": {"filename": "x.pdf", "file_data": f"data:application/pdf;base64,{b64}"}}
    if how == "audio/wav":
        return {"type": "input_audio", "input_audio": {"data": b64, "format": "wav"}}
    return image_part(f"data:video/mp4;base64,{b64}")


@pytest.mark.parametrize("label", ["image/png", "application/pdf", "audio/wav", "video/mp4"])
@pytest.mark.parametrize("path", BAD + [CORPUS / "images" / "hopper.jpg"], ids=lambda p: p.name)
def test_corpus_bad_files_under_any_label_fail_clearly(client, worker, path, label):
    """A wrong data-URI MIME never decides the type (the bytes do); corrupt bytes fail the job clearly."""
    TRIED["corpus"] += 1
    models = {"audio/wav": "gemini/gemini-2.5-flash", "video/mp4": "gemini/gemini-2.5-flash"}
    resp = client.post("/v1/jobs", json=job_body(models.get(label, MODEL), _labelled(path.read_bytes(), label),
                                                 dry_run=True), headers=AUTH)
    assert _ok_status(resp.status_code), resp.json
    if resp.status_code == 202:
        job = wait_job(client, resp.json["id"], timeout=60)
        assert job["status"] in ("succeeded", "failed")
        if job["status"] == "failed":
            err = job["error"]
            assert err["type"] != "internal_error", err
            assert err.get("stage") and len(err["message"]) > 10
    assert worker.poll() is None, "the worker died"


def test_the_worker_survived(worker):
    assert worker.poll() is None
