"""Upstream faults (issue 7.5): 429/5xx retried with backoff + jitter honouring Retry-After (capped);
timeouts and connection resets retried; 4xx not retried; the final error keeps the provider's status.

End to end through the session worker and the simulators' fault switches, plus unit tests of
``send`` (timeouts, resets) and of the backoff arithmetic.
"""
from __future__ import annotations

import socket
import struct
import threading
import time
import uuid
from email.utils import formatdate

import pytest

from tests.conftest import AUTH, wait_job
from tests.helpers import job_body
from workers.core.errors import UpstreamError
from workers.pipeline.steps import MAX_RETRIES, retry_delay
from workers.providers.transport import retry_after_seconds, send

MODELS = {"openai": "openai/gpt-4o", "anthropic": "anthropic/claude-sonnet-4-5", "gemini": "gemini/gemini-2.5-flash"}
CALL_PATHS = ("/chat/completions", "/v1/messages", ":generateContent")


@pytest.fixture(autouse=True)
def _clean_faults(sims):  # type: ignore[no-untyped-def]
    for s in sims.values():
        s.state.clear_faults()
    yield
    for s in sims.values():
        s.state.clear_faults()


def _calls(sim, since: int) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e for e in sim.state.log()[since:] if any(p in e["path"] for p in CALL_PATHS)]


def _run_job(client, sims, provider: str, **fault) -> tuple[dict, list[dict]]:  # type: ignore[no-untyped-def]
    sim = sims[provider]
    since = len(sim.state.log())
    marker = f"fault-{uuid.uuid4().hex}"  # the fault hits only this job's requests, not other tests' late ones
    if fault:
        sim.state.add_fault(**fault, body_contains=marker)
    resp = client.post("/v1/jobs", json=job_body(MODELS[provider], text=f"fault {fault} {marker}"), headers=AUTH)
    assert resp.status_code == 202, resp.json
    job = wait_job(client, resp.json["id"], timeout=90)
    # this job's calls: the session's simulators also serve other tests' late jobs, which carry their own key
    return job, [c for c in _calls(sim, since) if c["headers"].get("idempotency-key") in (f"ferry-{job['id']}", None)]


@pytest.mark.parametrize("provider", MODELS)
def test_429_is_retried_until_it_succeeds(client, sims, provider):
    job, calls = _run_job(client, sims, provider, status=429, count=2)
    assert job["status"] == "succeeded", job.get("error")
    assert [c["status"] for c in calls] == [429, 429, 200]
    # every attempt carries the same per-job Idempotency-Key (OpenAI-style adapters; others may drop it)
    keys = {c["headers"].get("idempotency-key") for c in calls}
    assert keys == {f"ferry-{job['id']}"}


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retried(client, sims, status):
    job, calls = _run_job(client, sims, "openai", status=status, count=1)
    assert job["status"] == "succeeded", job.get("error")
    assert [c["status"] for c in calls] == [status, 200]


def test_retry_after_is_honoured(client, sims):
    job, calls = _run_job(client, sims, "anthropic", status=429, count=1, retry_after=3)
    assert job["status"] == "succeeded", job.get("error")
    assert [c["status"] for c in calls] == [429, 200]
    gap = calls[1]["time"] - calls[0]["time"]
    # a lower bound only: the behaviour is "not sooner than Retry-After"; how much later is load, not Ferry
    assert gap >= 2.9, f"retried after {gap:.2f} s despite Retry-After: 3"  # backoff alone: <= 1.5 s


def test_backoff_is_exponential_between_attempts(client, sims):
    job, calls = _run_job(client, sims, "openai", status=503, count=3)
    assert job["status"] == "succeeded", job.get("error")
    times = [c["time"] for c in calls]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(gaps) == 3
    # retry n waits 2**n s x [0.5, 1.5): at least 0.5, 1, 2 s. Lower bounds only (a loaded machine only
    # adds to a gap); the upper bounds are the arithmetic's, checked in test_retry_delay_bounds.
    for n, gap in enumerate(gaps):
        assert gap >= 2 ** n * 0.5 - 0.05, gaps


def test_persistent_5xx_fails_with_the_providers_status_and_message(client, sims):
    job, calls = _run_job(client, sims, "openai", status=503, count=MAX_RETRIES + 5,
                          message="simulated: overloaded, go away")
    assert job["status"] == "failed"
    assert len(calls) == MAX_RETRIES + 1, [c["status"] for c in calls]
    err = job["error"]
    assert err["type"] == "upstream_error" and err["stage"] == "complete"
    assert err["upstream_status"] == 503
    assert "overloaded, go away" in err["message"]


@pytest.mark.parametrize("provider", MODELS)
@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_4xx_is_not_retried(client, sims, provider, status):
    job, calls = _run_job(client, sims, provider, status=status, count=1, message=f"simulated: no ({status})")
    assert job["status"] == "failed"
    assert len(calls) == 1
    assert job["error"]["upstream_status"] == status
    assert f"simulated: no ({status})" in job["error"]["message"]


# -- transport failures: timeouts and resets, at the wire -------------------------------------

class _Adapter:
    def parse_error(self, status, body):  # type: ignore[no-untyped-def]
        from workers.providers.base import upstream_error

        return upstream_error("test", status, body)


def _native(url: str):  # type: ignore[no-untyped-def]
    from workers.providers.base import NativeRequest

    return NativeRequest(method="POST", url=url, headers={"Authorization": "Bearer sim-key"},
                         json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})


def test_timeout_is_retryable(sims):
    sim = sims["openai"]
    sim.state.add_fault(delay=2, count=1)
    with pytest.raises(UpstreamError) as info:
        send(_native(sim.url + "/v1/chat/completions"), _Adapter(), timeout=0.5)
    assert info.value.retryable and "timed out" in info.value.message


@pytest.fixture
def resetting_server():  # type: ignore[no-untyped-def]
    """Accepts a connection, reads the request, then resets it (RST via SO_LINGER 0)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            conn.recv(65536)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    t.join(2)
    srv.close()


def test_connection_reset_is_retryable(resetting_server):
    with pytest.raises(UpstreamError) as info:
        send(_native(resetting_server + "/v1/chat/completions"), _Adapter(), timeout=5)
    assert info.value.retryable


def test_connection_refused_is_retryable():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(UpstreamError) as info:
        send(_native(f"http://127.0.0.1:{port}/v1/chat/completions"), _Adapter(), timeout=5)
    assert info.value.retryable


def test_retry_after_header_reaches_the_error(sims):
    sim = sims["openai"]
    sim.state.add_fault(status=429, count=1, retry_after=7)
    with pytest.raises(UpstreamError) as info:
        send(_native(sim.url + "/v1/chat/completions"), _Adapter(), timeout=5)
    assert info.value.retryable and info.value.upstream_status == 429
    assert info.value.retry_after == 7


# -- the arithmetic -------------------------------------------------------------------------------

def test_retry_after_parsing():
    assert retry_after_seconds("3") == 3
    assert retry_after_seconds("1.5") == 1.5
    assert retry_after_seconds("-4") == 0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    later = retry_after_seconds(formatdate(time.time() + 30, usegmt=True))
    assert later is not None and 25 <= later <= 31


def test_retry_delay_bounds():
    for n in range(8):
        for _ in range(50):
            d = retry_delay(n, None, 60)
            assert min(60, 2 ** n) * 0.5 <= d < min(60, 2 ** n) * 1.5
    assert len({round(retry_delay(2, None, 60), 6) for _ in range(20)}) > 10  # jitter
    assert 10 <= retry_delay(0, 10, 60) <= 11  # Retry-After wins over a shorter backoff
    assert 60 <= retry_delay(0, 3600, 60) <= 66  # ...but is capped
    assert retry_delay(6, 1, 60) >= 30  # a short Retry-After does not shorten the backoff
