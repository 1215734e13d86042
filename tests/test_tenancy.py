"""Tenancy (issue 7.2): tenant B gets 404 for every one of tenant A's objects, on every endpoint.

The routes come from the Flask url_map at test time, so endpoints added later are covered
automatically: any route with an id parameter must answer 404 to B for each of A's ids (job, file,
batch — and every id for parameters we do not know), whatever the method. Lists never show A's
objects to B, B's attempts change nothing of A's, and API keys never reach Redis.
"""
from __future__ import annotations

import io
import json
import re

import pytest

from tests.conftest import wait_job
from tests.helpers import job_body
from workers.context import Context
from workers.core.settings import Settings

KEY_A, KEY_B = "tenancy-secret-key-alpha-7f3c", "tenancy-secret-key-beta-91d2"
A = {"Authorization": f"Bearer {KEY_A}"}
B = {"Authorization": f"Bearer {KEY_B}"}
PARAM_KIND = {"job_id": "job", "file_id": "file", "batch_id": "batch"}
GLOBAL_PARAMS = {"model_id"}  # the catalog is the same for everyone
_ARG = re.compile(r"<(?:[a-z_]+:)?([a-z_]+)>")


@pytest.fixture(scope="module")
def app(worker):  # type: ignore[no-untyped-def]
    from app import create_app

    return create_app(Context(Settings(FERRY_API_KEYS=f"{KEY_A}=alpha,{KEY_B}=beta")))


@pytest.fixture(scope="module")
def objects(app) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Tenant A's job, file and batch."""
    c = app.test_client()
    out: dict[str, str] = {}
    job = c.post("/v1/jobs", json=job_body("openai/gpt-4o", dry_run=True), headers=A)
    assert job.status_code == 202, job.json
    out["job"] = job.json["id"]
    wait_job(c, out["job"], headers=A)
    rules = {r.rule for r in app.url_map.iter_rules()}
    if "/v1/files" in rules:
        line = {"custom_id": "a-1", "method": "POST", "url": "/v1/chat/completions",
                "body": {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}
        f = c.post("/v1/files", data={"purpose": "batch", "file": (io.BytesIO(json.dumps(line).encode() + b"\n"),
                                                                   "a.jsonl")},
                   headers=A, content_type="multipart/form-data")
        assert f.status_code == 200, f.json
        out["file"] = f.json["id"]
        if "/v1/batches" in rules:
            b = c.post("/v1/batches", json={"input_file_id": out["file"], "endpoint": "/v1/chat/completions",
                                            "completion_window": "24h"}, headers=A)
            assert b.status_code == 200, b.json
            out["batch"] = b.json["id"]
    return out


def _routes(app) -> list[tuple[str, str, list[str]]]:  # type: ignore[no-untyped-def]
    out = []
    for rule in app.url_map.iter_rules():
        args = _ARG.findall(rule.rule)
        if not args or rule.rule.startswith("/static"):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((method, rule.rule, args))
    return out


def _url(rule: str, value: str) -> str:
    return _ARG.sub(value, rule)


def test_every_id_route_answers_404_to_another_tenant(app, objects):
    c = app.test_client()
    checked, leaks = 0, []
    routes = _routes(app)
    assert any(r[1] == "/v1/jobs/<job_id>" for r in routes)
    for method, rule, args in routes:
        if set(args) <= GLOBAL_PARAMS:
            continue
        kinds = {PARAM_KIND.get(a) for a in args}
        candidates = [objects[k] for k in kinds if k in objects] if None not in kinds else list(objects.values())
        for value in candidates:
            resp = c.open(_url(rule, value), method=method, headers=B, json={} if method in ("POST", "PUT", "PATCH")
                          else None)
            checked += 1
            if resp.status_code != 404:
                leaks.append((method, rule, value, resp.status_code, resp.get_data()[:200]))
            elif resp.is_json:
                assert resp.json["error"]["type"] in ("not_found_error", "invalid_request_error")
    print(f"\n[tenancy] {checked} (route, method, foreign id) combinations checked, {len(leaks)} leaks")
    assert not leaks, leaks


def test_a_still_sees_its_objects_untouched(app, objects):
    c = app.test_client()
    job = c.get(f"/v1/jobs/{objects['job']}", headers=A)
    assert job.status_code == 200 and job.json["status"] == "succeeded"  # B's DELETE did not cancel it
    if "file" in objects:
        f = c.get(f"/v1/files/{objects['file']}", headers=A)
        assert f.status_code == 200  # B's DELETE did not delete it
        content = c.get(f"/v1/files/{objects['file']}/content", headers=A)
        assert content.status_code == 200 and b"a-1" in content.get_data()
    if "batch" in objects:
        b = c.get(f"/v1/batches/{objects['batch']}", headers=A)
        assert b.status_code == 200 and b.json["status"] not in ("cancelling", "cancelled")


def test_lists_do_not_show_another_tenants_objects(app, objects):
    c = app.test_client()
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or _ARG.search(rule.rule) or not rule.rule.startswith("/v1/"):
            continue
        resp = c.get(rule.rule, headers=B)
        text = resp.get_data(as_text=True)
        for value in objects.values():
            assert value not in text, (rule.rule, value)


def test_a_foreign_id_looks_exactly_like_a_missing_one(app, objects):
    c = app.test_client()
    foreign = c.get(f"/v1/jobs/{objects['job']}", headers=B)
    missing = c.get("/v1/jobs/job_000000000000000000000000", headers=B)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json["error"]["type"] == missing.json["error"]["type"]


def test_api_keys_are_never_stored_in_redis(app, objects):
    r = app.config["FERRY_CONTEXT"].redis
    seen = 0
    for key in r.scan_iter(count=1000):
        seen += 1
        assert KEY_A.encode() not in key and KEY_B.encode() not in key
        if r.type(key) == b"string" and seen < 5000:
            value = r.get(key) or b""
            assert KEY_A.encode() not in value and KEY_B.encode() not in value
        elif r.type(key) == b"hash" and seen < 5000:
            blob = b"".join(k + v for k, v in r.hgetall(key).items())
            assert KEY_A.encode() not in blob and KEY_B.encode() not in blob
    assert seen


def test_keys_are_compared_as_digests():
    from app.auth import _key_digests

    digests = _key_digests(f"{KEY_A}=alpha")
    assert all(isinstance(d, bytes) and len(d) == 32 and KEY_A.encode() not in d for d, _ in digests)
