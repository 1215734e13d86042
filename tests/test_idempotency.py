"""Idempotency-Key on POST /v1/jobs (issue 7.3): same key + body → same job; different body → 409."""
from __future__ import annotations

import threading
import time
import uuid

import pytest

from tests.conftest import wait_job
from tests.helpers import job_body
from workers.context import Context
from workers.core.settings import Settings

A = {"Authorization": "Bearer key-a"}
B = {"Authorization": "Bearer key-b"}


def _app(**env: str):  # type: ignore[no-untyped-def]
    from app import create_app

    return create_app(Context(Settings(FERRY_API_KEYS="key-a=alpha,key-b=beta", **env)))


@pytest.fixture(scope="module")
def c(worker):  # type: ignore[no-untyped-def]
    return _app().test_client()


def body(text: str = "hello") -> dict:
    return job_body("openai/gpt-4o", text=text, dry_run=True)


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"test-{uuid.uuid4()}"}


def test_same_key_and_body_is_the_same_job(c):
    k = key()
    first = c.post("/v1/jobs", json=body(), headers={**A, **k})
    assert first.status_code == 202, first.json
    again = c.post("/v1/jobs", json=body(), headers={**A, **k})
    assert again.status_code == 200, again.json
    assert again.json["id"] == first.json["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == f"/v1/jobs/{first.json['id']}"
    assert wait_job(c, first.json["id"], headers=A)["status"] == "succeeded"
    # after it finished, a replay still answers the same job, now with its current status
    late = c.post("/v1/jobs", json=body(), headers={**A, **k})
    assert late.status_code == 200 and late.json["id"] == first.json["id"]
    assert late.json["status"] == "succeeded"


def test_key_order_and_whitespace_do_not_matter(c):
    k = key()
    b1 = body()
    b2 = dict(reversed(list(body().items())))  # same content, other key order
    first = c.post("/v1/jobs", json=b1, headers={**A, **k})
    second = c.post("/v1/jobs", data=__import__("json").dumps(b2, indent=3), headers={
        **A, **k, "Content-Type": "application/json"})
    assert second.status_code == 200 and second.json["id"] == first.json["id"]


def test_same_key_different_body_is_409(c):
    k = key()
    first = c.post("/v1/jobs", json=body("one"), headers={**A, **k})
    assert first.status_code == 202
    other = c.post("/v1/jobs", json=body("two"), headers={**A, **k})
    assert other.status_code == 409, other.json
    assert other.json["error"]["type"] == "conflict_error"
    assert other.json["error"]["param"] == "Idempotency-Key"


def test_keys_are_per_tenant(c):
    k = key()
    a = c.post("/v1/jobs", json=body(), headers={**A, **k})
    b = c.post("/v1/jobs", json=body(), headers={**B, **k})
    assert a.status_code == 202 and b.status_code == 202
    assert a.json["id"] != b.json["id"]
    assert c.get(f"/v1/jobs/{a.json['id']}", headers=B).status_code == 404
    # and tenant B using A's key with a different body is not a conflict either
    assert c.post("/v1/jobs", json=body("other"), headers={**B, **key()}).status_code == 202


def test_without_key_every_submit_is_a_new_job(c):
    ids = {c.post("/v1/jobs", json=body(), headers=A).json["id"] for _ in range(3)}
    assert len(ids) == 3


def test_rejected_request_does_not_burn_the_key(c):
    k = key()
    bad = c.post("/v1/jobs", json={"request": {"model": "openai/gpt-4o"}}, headers={**A, **k})
    assert bad.status_code == 400
    ok = c.post("/v1/jobs", json=body(), headers={**A, **k})
    assert ok.status_code == 202


@pytest.mark.parametrize("value", ["", " ", "x" * 256, "tab\there"])
def test_malformed_key_is_400(c, value):
    resp = c.post("/v1/jobs", json=body(), headers={**A, "Idempotency-Key": value})
    assert resp.status_code == 400 and resp.json["error"]["param"] == "Idempotency-Key"


def test_concurrent_identical_submits_make_one_job(worker):
    app = _app()
    k = key()
    barrier = threading.Barrier(16)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def go() -> None:
        client = app.test_client()
        barrier.wait()
        resp = client.post("/v1/jobs", json=body("race"), headers={**A, **k})
        with lock:
            answers.append((resp.status_code, resp.json.get("id")))

    threads = [threading.Thread(target=go) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 16
    assert {a[1] for a in answers} != {None}
    assert len({a[1] for a in answers}) == 1, answers
    assert sorted(a[0] for a in answers) == [200] * 15 + [202]


def test_keys_expire(worker):
    c = _app(FERRY_IDEMPOTENCY_TTL="1").test_client()
    k = key()
    first = c.post("/v1/jobs", json=body(), headers={**A, **k})
    time.sleep(2.1)
    second = c.post("/v1/jobs", json=body(), headers={**A, **k})
    assert second.status_code == 202 and second.json["id"] != first.json["id"]


def test_keys_are_stored_hashed(c):
    secret = f"secret-key-{uuid.uuid4()}"
    c.post("/v1/jobs", json=body(), headers={**A, "Idempotency-Key": secret})
    r = Context(Settings()).redis
    assert not [k for k in r.scan_iter(match="ferry:idem:*") if secret.encode() in k]
    assert not [k for k in r.scan_iter(match=f"*{secret}*")]
