"""Scale-out, shown: two worker hosts share one Redis and one S3 store; one of them dies whole.

A private stack (tests/stack.py: its own embedded Redis and gunicorn) and a moto S3 server. Each
"host" is the Procfile's process set — ``io`` (16 threads), ``cpu`` (2 prefork children), ``llm``
(16 threads) — with its own ``FERRY_HOSTNAME`` (the name in its step leases), its own Celery node names
(``io@host-a``…) and its own data dir; the hosts share only Redis and ``FERRY_STORAGE=s3://…`` on moto, as
separate machines would. Every process of host A (main processes and pool children) gets SIGKILL; host B
must finish all of A's jobs within 60 s, each job's timeline listing every step once, each ``notify`` run.

``test_sigkill_one_host_the_other_finishes_its_jobs``: production recovery settings (``FERRY_LEASE_SECONDS``
15, ``FERRY_QUEUE_DEADLINE`` 300; only ``FERRY_REAPER_INTERVAL`` is 1 instead of 10 s, so the time measured
is the lease TTL's, not the polling period's). A holds 12 transforms open (``FERRY_TEST_STAGE_DELAY``) —
10 light jobs running whole in one llm task, 2 heavy ones on its cpu children — while B finishes the rest;
then A is killed. A lease of another host is trusted until its TTL runs out, so B's reaper re-sends
exactly those 12 steps 10–15 s later and B redoes them from the blobs A stored in S3.

``test_a_step_taken_but_not_begun_is_resent_within_a_lease_ttl``: a step whose message the dead host had
taken from the broker but not yet begun has no lease; the reservation its heartbeat kept on the step's
deadline (workers/state/leases.py ``Reservation``) lapses with the host, so it too is re-sent within a TTL.

``pytest -s`` prints the measured recovery times.
"""
from __future__ import annotations

import base64
import datetime
import io
import json
import os
import random
import re
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest
from PIL import Image

from tests.helpers import image_part, job_body
from tests.services import Service, moto_s3_server
from tests.stack import Stack
from workers.core.keys import RUNNING

N_LIGHT, N_HEAVY = 10, 6  # light: small inline images, one llm task per job; heavy: > FERRY_LIGHT_BYTES
CPU = 2  # prefork children of each host's cpu worker
BUDGET = 60.0  # seconds from the SIGKILL until the last job has succeeded
STEPS = ["fetch:0", "inspect:0", "plan:0", "transform:0", "deliver:0", "complete"]
HOST_A, HOST_B = "host-a", "host-b"
COMPLETION = "/chat/completions"


@pytest.fixture(scope="module")
def moto() -> Iterator[Service]:
    with moto_s3_server() as service:
        yield service


@pytest.fixture
def s3(moto: Service) -> Any:
    return boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"ferry-scale-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def make_stack(sims: dict[str, Any], moto: Service, bucket: str, tmp_path: Path) -> Iterator[Any]:
    """``make_stack(**env)``: the private stack, its web and hosts on the moto bucket and the simulators."""
    made: list[Stack] = []

    def make(**extra: str) -> Stack:
        env = {**moto.env, "AWS_REGION": "us-east-1",
               # only moto's variables count: no developer ~/.aws profile
               "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
               "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
               "FERRY_STORAGE": f"s3://{bucket}/media",
               # the one speed-up: reaper passes every ~1 s instead of ~10 s
               "FERRY_REAPER_INTERVAL": "1", **extra}
        s = Stack(env, prefix="ferry-scale-")
        s.sims = sims  # type: ignore[attr-defined]
        made.append(s)
        return s

    for name in ("FERRY_LEASE_SECONDS", "FERRY_QUEUE_DEADLINE", "FERRY_HOSTNAME", "FERRY_REAPER_MAX_REQUEUES"):
        assert name not in os.environ, f"{name} is set in the test environment; the tests need its default"
    yield make
    for s in made:
        s.close()


def _png(i: int, heavy: bool = False) -> str:
    """A PNG of its own per job (so each job has its own blob in S3): 96x64 and flat ("light": its job runs
    in one llm task), or ``heavy`` 640x640 noise, over FERRY_LIGHT_BYTES (1 MiB): io -> cpu -> io -> llm."""
    if heavy:
        img = Image.frombytes("RGB", (640, 640), random.Random(i).randbytes(640 * 640 * 3))
    else:
        img = Image.new("RGB", (96, 64), ((37 * i) % 256, (91 * i) % 256, (53 * i + 128) % 256))
        img.putpixel((i % 96, i % 64), (255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _leases(stack: Stack) -> dict[str, str]:
    """Every step lease now held: ``<job id>|<step>`` -> ``host:pid:token``."""
    out: dict[str, str] = {}
    for key in stack.r.scan_iter("ferry:job:*:lease:*", count=1000):
        value = stack.r.get(key)
        if value is None:
            continue
        job_id, _, step = key.decode().removeprefix("ferry:job:").partition(":lease:")
        out[f"{job_id}|{step}"] = value.decode()
    return out


def _held_by(stack: Stack, host: str, step_prefix: str = "") -> dict[str, str]:
    return {m: v for m, v in _leases(stack).items()
            if v.startswith(f"{host}:") and m.partition("|")[2].startswith(step_prefix)}


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _processes_of(host: str, data_dir: Path) -> list[int]:
    """Live processes (anywhere on this machine) started as this host: FERRY_HOSTNAME and its data dir."""
    found = []
    for p in psutil.process_iter(["pid"]):
        try:
            env = p.environ()
            if env.get("FERRY_HOSTNAME") == host and env.get("FERRY_DATA_DIR") == str(data_dir) and _alive(p.pid):
                found.append(p.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _kill_host(procs: list[Any]) -> list[int]:
    """SIGKILL every process of a host: each worker's process group (main process and pool children),
    then any straggler by pid. Returns the pids that were alive."""
    pids: list[int] = []
    for proc in procs:
        pids.append(proc.pid)
        try:
            pids += [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in pids:  # anything that left its group
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for proc in procs:
        proc.wait(10)
    return pids


def _broker_unacked(stack: Stack) -> list[str]:
    """Messages a worker took from the broker and has not acknowledged (kombu's ``unacked`` hash)."""
    out = []
    for tag, raw in stack.r.hgetall("unacked").items():
        try:
            msg = json.loads(raw)[0]
            headers = msg.get("headers", {})
            out.append(f"{headers.get('task')}{headers.get('argsrepr')} (tag {tag.decode()[:8]}, "
                       f"node {headers.get('origin')}, queue {msg.get('properties', {}).get('delivery_info', {}).get('routing_key')})")
        except (ValueError, KeyError, IndexError, AttributeError):
            out.append(repr(raw[:200]))
    return out


def _diagnose(stack: Stack, pending: list[str]) -> str:
    """Why jobs are not done: what the reaper expects, who holds leases, what the broker holds."""
    now = time.time()
    lines = [f"pending jobs: {len(pending)}"]
    for job_id in pending:
        job = stack.http.get(f"/v1/jobs/{job_id}").json()
        lines.append(f"  {job_id}: {job['status']} at {job.get('stage')}, done {[t['step'] for t in job['timeline']]}")
    lines.append("ferry:running (member: deadline in s):")
    for m, score in stack.r.zrange(RUNNING, 0, -1, withscores=True):
        lines.append(f"  {m.decode()}: {score - now:+.1f}")
    lines.append(f"ferry:running:requeues: {stack.r.hgetall('ferry:running:requeues')}")
    lines.append("leases: " + ", ".join(f"{m}={v} (ttl {stack.r.pttl('ferry:job:' + m.replace('|', ':lease:'))} ms)"
                                         for m, v in _leases(stack).items()))
    lines.append("broker unacked: " + "; ".join(_broker_unacked(stack)))
    lines.append("queues: " + ", ".join(f"{q}={stack.r.llen(q)}" for q in ("io", "cpu", "llm")))
    for name in stack.workers:
        log = (stack.dir / f"{name}.log").read_text(errors="replace")
        hits = [ln for ln in log.splitlines() if any(w in ln for w in ("overdue", "reaper", "took over", "ERROR",
                                                                      "Traceback", "CRITICAL"))]
        lines.append(f"{name}.log ({len(hits)} reaper/error lines):")
        lines += [f"  {ln}" for ln in hits[-25:]]
    return "\n".join(lines)


def _wait(stack: Stack, what: str, cond: Any, timeout: float) -> None:
    """Like Stack.wait_for, but a timeout says what the stack was doing."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n" + _diagnose(stack, []))
        time.sleep(0.05)


def _status(stack: Stack, job_id: str) -> str:
    return str(stack.http.get(f"/v1/jobs/{job_id}").json()["status"])


def _sigkill_host(stack: Stack, host: str, procs: list[Any], others: list[Any]) -> tuple[float, dict[str, str]]:
    """SIGKILL every process of ``host``, check none survived; returns (kill time, the leases it held)."""
    t_kill = time.time()
    pids = _kill_host(procs)
    held = _held_by(stack, host)  # a dead host releases nothing: its leases are what it was running
    stack.wait_for(f"every process of {host} ({len(pids)}) to be gone", lambda: not any(_alive(p) for p in pids), 30)
    assert not _processes_of(host, stack.dir / host), f"a {host} process survived SIGKILL"
    assert all(p.poll() is None for p in others), "the other host died"
    return t_kill, held


def _wait_all_done(stack: Stack, jobs: list[str], t_kill: float) -> None:
    """Every job ended and its ``notify`` ran (metrics, webhook, batch line) within BUDGET of the kill."""
    def notified(j: str) -> bool:
        return bool(stack.r.exists(f"ferry:job:{j}:done:notify"))

    pending = list(jobs)
    while pending:
        pending = [j for j in pending if _status(stack, j) not in ("succeeded", "failed", "canceled") or not notified(j)]
        if pending and time.time() > t_kill + BUDGET:
            raise AssertionError(f"{len(pending)} jobs not done (or not notified) {BUDGET:.0f} s after the "
                                 f"SIGKILL\n" + _diagnose(stack, pending))
        time.sleep(0.1)


def _check_jobs(stack: Stack, jobs: list[str], calls_at_most: int = 1) -> dict[str, dict[str, Any]]:
    """Each job succeeded with the simulator's answer, its timeline lists every step once, and the provider
    saw the job's Idempotency-Key at least once and at most ``calls_at_most`` times."""
    views: dict[str, dict[str, Any]] = {}
    log = stack.sims["openai"].state.log()  # type: ignore[attr-defined]
    for job_id in jobs:
        job = stack.http.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] == "succeeded", (job_id, job.get("error"))
        assert sorted(t["step"] for t in job["timeline"]) == sorted(STEPS), (job_id, job["timeline"])
        assert job["result"]["choices"][0]["message"]["content"].startswith("sim:openai")
        calls = [e for e in log if COMPLETION in e["path"] and e["headers"].get("idempotency-key") == f"ferry-{job_id}"]
        assert 1 <= len(calls) <= calls_at_most and all(c["status"] == 200 for c in calls), (job_id, calls)
        views[job_id] = job
    return views


def _check_storage(stack: Stack, s3: Any, bucket: str, views: dict[str, dict[str, Any]]) -> None:
    """Media lives in the shared bucket only: every job's source blob is there, nothing on a host's disk."""
    names = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="media/")
             for o in page.get("Contents", [])}
    for job in views.values():
        sha = job["resources"][0]["source"]["sha256"]
        assert any(k.endswith(sha) for k in names), (sha, sorted(names)[:10])
    for host in (HOST_A, HOST_B):
        assert not [p for p in (stack.dir / host / "storage").rglob("*") if p.is_file()], f"{host} stored media locally"


_OVERDUE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): WARNING/MainProcess\] "
                      r"job (\S+): (\S+) is overdue \(status (\w+)\); requeue (\d+)")


def _requeues(stack: Stack, host: str) -> list[tuple[float, str, str]]:
    """The reaper's re-sends logged by ``host``'s workers: (unix time, job id, step)."""
    out = []
    for name in stack.workers:
        if name.startswith(host):
            for line in (stack.dir / f"{name}.log").read_text(errors="replace").splitlines():
                if m := _OVERDUE.match(line):
                    at = datetime.datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()  # local time
                    out.append((at, m[2], m[3]))
    return sorted(out)


def test_sigkill_one_host_the_other_finishes_its_jobs(make_stack, s3, bucket):
    """Host A dies holding steps in flight (and nothing else in hand): production recovery settings."""
    stack = make_stack()  # FERRY_LEASE_SECONDS=15, FERRY_QUEUE_DEADLINE=300: the defaults
    # Host A alone first, holding every transform it starts open (it never gets to finish them).
    a = stack.host(HOST_A, delay="transform:120")
    heavy = [stack.submit(job_body("openai/gpt-4o", image_part(_png(i, heavy=True)), text=f"scale-out heavy {i}"))
             for i in range(N_HEAVY)]
    light = [stack.submit(job_body("openai/gpt-4o", image_part(_png(i)), text=f"scale-out light {i}"))
             for i in range(N_LIGHT)]
    jobs = heavy + light

    def a_transforms(of: list[str]) -> int:
        return len([m for m in _held_by(stack, HOST_A, "transform") if m.partition("|")[0] in of])

    # Light jobs run whole in one llm task (all of them fit A's 16 llm threads); heavy ones hop
    # io -> cpu, where A's 2 prefork children take one each and the rest wait in the cpu queue.
    _wait(stack, f"host A to hold the transforms of all {N_LIGHT} light jobs and {CPU} heavy ones",
          lambda: a_transforms(light) == N_LIGHT and a_transforms(heavy) == CPU, timeout=60)

    # Host B joins and works the queue; A is mid-run: all it holds is in flight, everything else B finishes.
    b = stack.host(HOST_B)
    held = {m.partition("|")[0] for m in _held_by(stack, HOST_A)}
    _wait(stack, "host B to finish every job host A does not hold",
          lambda: all(_status(stack, j) == "succeeded" for j in jobs if j not in held), timeout=60)

    t_kill, in_flight = _sigkill_host(stack, HOST_A, a, b)
    of_a = sorted({m.partition("|")[0] for m in in_flight})
    assert of_a == sorted(held) and len(of_a) == N_LIGHT + CPU, (of_a, held)
    assert all(_status(stack, j) != "succeeded" for j in of_a)

    # the broker would give A's unacked messages back after 900 s: this is the reaper's doing
    _wait_all_done(stack, jobs, t_kill)
    time.sleep(0.3)
    views = _check_jobs(stack, jobs)  # A died before any provider call: one call per job

    # A's jobs were fetched (into S3) before the kill and transformed after it, i.e. on B from A's blobs
    done_at = {(j, t["step"]): t["at"] for j, v in views.items() for t in v["timeline"]}
    for m in in_flight:
        job_id, _, step = m.partition("|")
        assert done_at[(job_id, "fetch:0")] < t_kill < done_at[(job_id, step)], (m, t_kill)
    _check_storage(stack, s3, bucket, views)
    resent = {f"{j}|{st}" for _, j, st in _requeues(stack, HOST_B)}
    assert resent == set(in_flight), (sorted(resent ^ set(in_flight)))  # exactly what A held, nothing else

    recovery = max(done_at[(j, "complete")] for j in of_a) - t_kill
    print(f"\n[scale-out] {len(jobs)} jobs ({N_LIGHT} light, {N_HEAVY} heavy) on 2 hosts; host A SIGKILLed "
          f"holding {len(in_flight)} transforms; B's reaper re-sent them; A's last job done {recovery:.1f} s "
          f"after the kill (FERRY_LEASE_SECONDS=15, FERRY_QUEUE_DEADLINE=300, FERRY_REAPER_INTERVAL=1)")
    assert recovery < BUDGET


def test_a_step_taken_but_not_begun_is_resent_within_a_lease_ttl(make_stack, s3, bucket):
    """Host A takes each job's first message from the broker and dies before beginning the step (no lease
    exists yet): the reservation A's heartbeat kept on the step lapses with it, so B's reaper re-sends the
    step within a lease TTL — not after FERRY_QUEUE_DEADLINE (300 s), nor the broker's 900 s."""
    stack = make_stack()
    a = stack.host(HOST_A, delay="received:120")  # every stage task waits after receipt, before its begin
    jobs = [stack.submit(job_body("openai/gpt-4o", image_part(_png(100 + i)), text=f"taken {i}")) for i in range(4)]

    def reserved() -> list[float]:
        """How far ahead the jobs' first steps are due: a reservation keeps it within a lease TTL (15 s)."""
        due = [stack.r.zscore(RUNNING, f"{j}|fetch:0") for j in jobs]
        return [d - time.time() for d in due if d is not None]

    _wait(stack, "host A to take every job's message and reserve its step",
          lambda: stack.r.llen("llm") == 0 and len(reserved()) == len(jobs) and max(reserved()) <= 16, timeout=60)
    assert not _held_by(stack, HOST_A)  # nothing begun: no step holds a lease
    b = stack.host(HOST_B)
    t_kill, held = _sigkill_host(stack, HOST_A, a, b)
    assert held == {}
    _wait_all_done(stack, jobs, t_kill)
    views = _check_jobs(stack, jobs)
    resent = {f"{j}|{st}" for _, j, st in _requeues(stack, HOST_B)}
    assert resent == {f"{j}|fetch:0" for j in jobs}, sorted(resent)
    recovery = max(t["at"] for v in views.values() for t in v["timeline"] if t["step"] == "complete") - t_kill
    print(f"\n[scale-out] {len(jobs)} jobs taken by host A but not begun; A SIGKILLed; B finished them "
          f"{recovery:.1f} s later (FERRY_LEASE_SECONDS=15)")
    assert recovery < BUDGET
