"""P3: jobs/s through Ferry with 32 concurrent clients, and CPU per job, vs the provider called directly.

    python bench/p3_throughput.py [--jobs 600] [--clients 32] [--root PATH]

Deploys a private stack as the Procfile runs it (``bench/deploy.py``: embedded Redis, gunicorn
``-w 2 --threads 8``, Celery io/cpu/llm workers, the provider simulators). Each job is
``POST /v1/jobs`` for ``openai/gpt-4o`` with a user message of text plus one 64x64 noise PNG as a data
URI (a different image for every job, so no cache answers for another job), then the client polls
``GET /v1/jobs/{id}?wait=10`` until the job ends (a non-terminal answer: sleep 0.02 s and poll again, as
older checkouts ignore ``wait``). ``--clients`` threads, one keep-alive httpx client each. Phases in one run:

- direct: the same threads send the equivalent chat request straight to the OpenAI simulator (req/s);
- dry: Ferry jobs with ``dry_run: true`` (jobs/s);
- real: Ferry jobs with ``dry_run: false``, completed by the simulator (jobs/s, and the ratio to direct).

Each phase starts with ``--clients`` warm-up jobs. For the Ferry phases, CPU ms per job is the growth of
the stack's user+system CPU (gunicorn master and workers, Celery main processes and pool children; not
Redis, the simulators or this client) over the phase divided by the jobs; the table splits it by process
class (web, io, cpu, llm), and a line per phase gives what Redis, the simulators and this client spent per
job on the same cores. Every job must end ``succeeded``; failures are printed with their error.
``--root`` runs the stack from another checkout (the simulators always come from this one).
Goals: dry >= 200 jobs/s, real >= 0.5x direct, CPU <= 10 ms/job. The last line is the headline, e.g.
``P3: dry 210 jobs/s, real 150 jobs/s (0.52x direct 290 req/s), CPU 8.1 ms/job dry, 9.5 ms/job real``.
"""
from __future__ import annotations

import argparse
import base64
import io
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from deploy import AUTH, FERRY_CLASSES, ROOT, Stack, start_stack

MODEL = "gpt-4o"
TERMINAL = {"succeeded", "failed", "canceled"}
GOAL_DRY_JOBS_S = 200.0
GOAL_REAL_RATIO = 0.5
GOAL_CPU_MS = 10.0
JOB_DEADLINE_S = 120.0
#: first image seed per phase, so no phase reuses another's images
SEEDS = {"direct": 0, "dry": 1_000_000, "real": 2_000_000}


def noise_png_uri(seed: int, side: int = 64) -> str:
    img = Image.frombytes("RGB", (side, side), random.Random(seed).randbytes(side * side * 3))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def messages(seed: int) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "text", "text": f"job {seed}: what is in this picture?"},
                                         {"type": "image_url", "image_url": {"url": noise_png_uri(seed)}}]}]


class Clients:
    """One keep-alive httpx client per calling thread."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.local = threading.local()
        self.made: list[httpx.Client] = []
        self.lock = threading.Lock()

    def get(self) -> httpx.Client:
        client = getattr(self.local, "client", None)
        if client is None:
            client = self.local.client = httpx.Client(**self.options)
            with self.lock:
                self.made.append(client)
        return client

    def close(self) -> None:
        for client in self.made:
            client.close()


def ferry_job(client: httpx.Client, body: dict[str, Any]) -> str:
    """Submit one job and poll it to its end; answers "succeeded" or what went wrong."""
    try:
        resp = client.post("/v1/jobs", json=body)
        if resp.status_code != 202:
            return f"submit {resp.status_code}: {resp.text[:120]}"
        job_id = resp.json()["id"]
        deadline = time.monotonic() + JOB_DEADLINE_S
        while True:
            resp = client.get(f"/v1/jobs/{job_id}", params={"wait": 10})
            if resp.status_code != 200:
                return f"poll {resp.status_code}: {resp.text[:120]}"
            job = resp.json()
            if job["status"] in TERMINAL:
                break
            if time.monotonic() > deadline:
                return f"still {job['status']} at {job.get('stage')} after {JOB_DEADLINE_S:.0f} s"
            time.sleep(0.02)
    except httpx.HTTPError as exc:
        return f"http {type(exc).__name__}"
    if job["status"] == "succeeded":
        return "succeeded"
    error = job.get("error") or {}
    return f"{job['status']} at {job.get('stage')}: {error.get('type', '')} {str(error.get('message', ''))[:100]}"


def direct_call(client: httpx.Client, body: dict[str, Any]) -> str:
    try:
        resp = client.post("/chat/completions", json=body)
    except httpx.HTTPError as exc:
        return f"http {type(exc).__name__}"
    if resp.status_code == 200 and resp.json().get("object") == "chat.completion":
        return "succeeded"
    return f"direct {resp.status_code}: {resp.text[:120]}"


@dataclass
class Phase:
    name: str
    jobs: int
    wall: float
    outcomes: Counter[str]
    cpu: dict[str, float] = field(default_factory=dict)  # Ferry class → CPU seconds over the phase
    side: dict[str, float] = field(default_factory=dict)  # redis, sims, client → CPU seconds over the phase

    @property
    def ok(self) -> int:
        return self.outcomes["succeeded"]

    @property
    def rate(self) -> float:
        return self.jobs / self.wall

    @property
    def cpu_ms_per_job(self) -> float:
        return sum(self.cpu.values()) * 1000 / self.jobs


def side_cpu(stack: Stack) -> dict[str, float]:
    return {**stack.side_cpu(), "client": time.process_time()}


def run_phase(name: str, stack: Stack, clients: int, jobs: int, client_options: dict[str, Any],
              call: Callable[[httpx.Client, dict[str, Any]], str],
              bodies: Callable[[int], dict[str, Any]], ferry: bool = True) -> Phase:
    """Warm up with ``clients`` calls, then time ``jobs`` calls from ``clients`` threads; ``ferry``: the
    calls go through Ferry, so its CPU counts."""
    first = SEEDS[name]
    warm = [bodies(first + i) for i in range(clients)]
    measured = [bodies(first + clients + i) for i in range(jobs)]
    pool_clients = Clients(**client_options)
    try:
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(lambda b: call(pool_clients.get(), b), warm))
            before, side_before = stack.cpu_by_class() if ferry else {}, side_cpu(stack)
            started = time.perf_counter()
            outcomes = Counter(pool.map(lambda b: call(pool_clients.get(), b), measured))
            wall = time.perf_counter() - started
            after, side_after = stack.cpu_by_class() if ferry else {}, side_cpu(stack)
    finally:
        pool_clients.close()
    cpu = {k: after[k] - before[k] for k in after}
    side = {k: side_after[k] - side_before[k] for k in side_after}
    return Phase(name, jobs, wall, outcomes, cpu, side)


def idle_cpu_ms_per_s(stack: Stack, seconds: float = 2.0) -> float:
    before = stack.cpu_seconds()
    time.sleep(seconds)
    return (stack.cpu_seconds() - before) * 1000 / seconds


def job_body(dry: bool) -> Callable[[int], dict[str, Any]]:
    return lambda seed: {"request": {"model": f"openai/{MODEL}", "messages": messages(seed)}, "dry_run": dry}


def direct_body(seed: int) -> dict[str, Any]:
    return {"model": MODEL, "messages": messages(seed)}


def print_table(phases: dict[str, Phase]) -> None:
    direct = phases["direct"]
    classes = " ".join(f"{c:>6}" for c in FERRY_CLASSES)
    print(f"{'phase':<7} {'ok/jobs':>9} {'wall s':>7} {'rate/s':>8} {'x direct':>8} {'CPU ms/job':>10}  "
          f"{classes}  (CPU s)  goal")
    for p in phases.values():
        per_class = " ".join(f"{p.cpu.get(c, 0.0):>6.2f}" for c in FERRY_CLASSES) if p.cpu else \
            " ".join(f"{'-':>6}" for _ in FERRY_CLASSES)
        cpu = f"{p.cpu_ms_per_job:>10.1f}" if p.cpu else f"{'-':>10}"
        print(f"{p.name:<7} {p.ok:>4}/{p.jobs:<4} {p.wall:>7.1f} {p.rate:>8.1f} {p.rate / direct.rate:>7.2f}x "
              f"{cpu}  {per_class}           {goal(p, direct)}")


def goal(p: Phase, direct: Phase) -> str:
    if p.name == "direct":
        return "(baseline)"
    cpu_ok = p.cpu_ms_per_job <= GOAL_CPU_MS
    if p.name == "dry":
        ok = p.rate >= GOAL_DRY_JOBS_S and cpu_ok
        return f">= {GOAL_DRY_JOBS_S:.0f} jobs/s, <= {GOAL_CPU_MS:.0f} ms/job {'ok' if ok else 'MISSED'}"
    ok = p.rate / direct.rate >= GOAL_REAL_RATIO and cpu_ok
    return f">= {GOAL_REAL_RATIO}x direct, <= {GOAL_CPU_MS:.0f} ms/job {'ok' if ok else 'MISSED'}"


def print_side(phases: dict[str, Phase]) -> None:
    """CPU the rest of the machine spent per job (it shares the cores with Ferry)."""
    for p in phases.values():
        parts = ", ".join(f"{k} {v * 1000 / p.jobs:.1f}" for k, v in p.side.items())
        print(f"{p.name:<7} outside Ferry, CPU ms/job: {parts}")


def print_failures(phases: dict[str, Phase]) -> None:
    for p in phases.values():
        bad = {k: v for k, v in p.outcomes.items() if k != "succeeded"}
        for what, count in sorted(bad.items(), key=lambda kv: -kv[1])[:10]:
            print(f"{p.name:<7} {count} x {what}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=600, help="measured jobs per phase")
    ap.add_argument("--clients", type=int, default=32, help="concurrent client threads")
    ap.add_argument("--root", type=Path, default=ROOT, help="checkout to deploy (default: this one)")
    args = ap.parse_args()
    phases: dict[str, Phase] = {}
    with start_stack(args.root, {}) as stack:
        print(f"root {stack.root}: {args.jobs} jobs per phase, {args.clients} clients", flush=True)
        idle = idle_cpu_ms_per_s(stack)
        sim = {"base_url": stack.sim_env["OPENAI_BASE_URL"], "timeout": 60,
               "headers": {"Authorization": f"Bearer {stack.sim_env['OPENAI_API_KEY']}"}}
        ferry = {"base_url": stack.base_url, "headers": AUTH, "timeout": 60}
        phases["direct"] = run_phase("direct", stack, args.clients, args.jobs, sim, direct_call, direct_body,
                                     ferry=False)
        print(f"direct  {phases['direct'].rate:.0f} req/s", flush=True)
        for name, dry in (("dry", True), ("real", False)):
            phases[name] = run_phase(name, stack, args.clients, args.jobs, ferry, ferry_job, job_body(dry))
            print(f"{name:<7} {phases[name].rate:.0f} jobs/s", flush=True)
        issues = stack.log_issues()
    print(f"idle stack CPU before the phases: {idle:.1f} ms/s")
    print_table(phases)
    print_side(phases)
    print_failures(phases)
    for name, lines in issues.items():
        print(f"log {name}: {len(lines)} error-looking lines, last: {lines[-1][:160]}")
    dry, real, direct = phases["dry"], phases["real"], phases["direct"]
    print(f"P3: dry {dry.rate:.0f} jobs/s, real {real.rate:.0f} jobs/s ({real.rate / direct.rate:.2f}x direct "
          f"{direct.rate:.0f} req/s), CPU {dry.cpu_ms_per_job:.1f} ms/job dry, {real.cpu_ms_per_job:.1f} ms/job real")
    return 0 if all(p.ok == p.jobs for p in phases.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
