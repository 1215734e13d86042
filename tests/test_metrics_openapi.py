"""/metrics (Prometheus, from Redis at scrape time) and /openapi.json (every route, fuzzed)."""
from __future__ import annotations

import re
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from prometheus_client.parser import text_string_to_metric_families
from schemathesis.checks import not_a_server_error

from tests.conftest import AUTH, CORPUS, wait_job
from tests.helpers import data_uri, image_part, job_body

@pytest.fixture(scope="module")
def api_schema(app):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_count_jobs_stages_bytes_and_upstream_errors(client, sims):
    before = samples(client.get("/metrics").get_data(as_text=True))
    image = image_part(data_uri(CORPUS / "images" / "hopper.jpg", "image/jpeg"))
    ok = client.post("/v1/jobs", headers=AUTH, json=job_body("gemini/gemini-2.5-flash", image)).json["id"]
    assert wait_job(client, ok)["status"] == "succeeded"
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    after = samples(resp.get_data(as_text=True))
    grew = [("ferry_jobs_finished_total", (("provider", "gemini"), ("status", "succeeded"))),
            ("ferry_jobs_submitted_total", (("provider", "gemini"),)),
            ("ferry_bytes_in_total", ()),
            ("ferry_stage_duration_seconds_count", (("stage", "fetch"),)),
            ("ferry_stage_duration_seconds_bucket", (("le", "+Inf"), ("stage", "complete")))]
    deadline = time.monotonic() + 60
    # notify (which counts) runs just after the status change, and each worker process adds its
    # buffered counts to Redis every second (workers/state/metrics.py)
    while lagging := [k for k in grew if after.get(k, 0) <= before.get(k, 0)]:
        assert time.monotonic() < deadline, f"{lagging} did not grow within 60 s"
        time.sleep(0.1)
        after = samples(client.get("/metrics").get_data(as_text=True))
    assert ("ferry_queue_length", (("queue", "llm"),)) in after
    assert ("ferry_jobs_in_flight", ()) in after


def test_metrics_count_upstream_errors(client, sims):
    key = ("ferry_upstream_errors_total", (("provider", "xai"), ("upstream_status", "400")))
    before = samples(client.get("/metrics").get_data(as_text=True)).get(key, 0)
    sims["xai"].state.add_fault(status=400, count=1, path_contains="/chat/completions")
    job = wait_job(client, client.post("/v1/jobs", headers=AUTH, json=job_body("xai/grok-4")).json["id"])
    assert job["status"] == "failed" and job["error"]["upstream_status"] == 400
    deadline = time.monotonic() + 60
    while samples(client.get("/metrics").get_data(as_text=True)).get(key, 0) <= before:
        assert time.monotonic() < deadline, f"{key} not above {before} after 60 s"
        time.sleep(0.1)


def _route_to_path(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def test_openapi_describes_every_route(client, app):
    spec = client.get("/openapi.json").json
    assert spec["openapi"].startswith("3.")
    described = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    served = {(_route_to_path(r.rule), m) for r in app.url_map.iter_rules() if r.endpoint != "static"
              for m in r.methods - {"HEAD", "OPTIONS"}}
    assert served - described == set(), "routes missing from /openapi.json"
    assert described - served == set(), "/openapi.json describes routes that do not exist"


def test_no_endpoint_answers_5xx(api_schema):
    """Schemathesis-generated requests (valid and not) to every operation; none may answer 5xx."""
    failures: list[str] = []
    calls: list[int] = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=6, deadline=None, phases=[Phase.explicit, Phase.generate], database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):  # type: ignore[no-untyped-def]
            calls.append(case.call_and_validate(headers=AUTH, checks=[not_a_server_error]).status_code)

        try:
            check()
        except Exception as exc:  # collect them all, report together
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
    assert len(calls) > 3 * len(list(api_schema.get_all_operations()))  # it really generated requests
    print(f"\nschemathesis: {len(calls)} requests, statuses {sorted(set(calls))}")
