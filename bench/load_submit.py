"""Load: 1,000 concurrent dry-run submits on loopback, every job accounted for.

    python bench/load_submit.py [--jobs 1000] [--concurrency 100]

Starts its own stack in a temporary FERRY_DATA_DIR — embedded Redis, the web API under gunicorn on
127.0.0.1 and one Celery worker — fires the submits from a thread pool over httpx, waits until every
job has ended, and stops everything. Baseline in the same run: GET /healthz at the same concurrency.
The last line is the ratio, e.g.
``submit p50 / healthz p50: 3.2x; 1000/1000 jobs, 0 lost, 0 5xx, 85 jobs/s``.
Only loopback traffic; exit status 1 if a job was lost or any answer was a 5xx.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workers.core.embedded_redis import start_embedded, stop_embedded  # noqa: E402

AUTH = {"Authorization": "Bearer ferry-local-key"}
TERMINAL = {b"succeeded", b"failed", b"canceled"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def timed(client: httpx.Client, method: str, url: str, **kw: object) -> tuple[float, int, str | None]:
    started = time.perf_counter()
    try:
        resp = client.request(method, url, **kw)  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        return time.perf_counter() - started, 599, f"{type(exc).__name__}"
    job_id = resp.json().get("id") if resp.status_code == 202 else None
    return time.perf_counter() - started, resp.status_code, job_id


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for all jobs to end")
    args = ap.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="ferry-load-"))
    url = f"unix://{start_embedded(data_dir)}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_TEST_")}
    env.update({"REDIS_URL": url, "FERRY_DATA_DIR": str(data_dir)})
    env.pop("FERRY_API_KEYS", None)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    procs = [
        spawn([sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "2", "--threads", "16",
               "app:create_app()"], env, data_dir / "web.log"),
        spawn([sys.executable, "-m", "celery", "-A", "workers.tasks.celery", "worker", "-Q", "io,cpu,llm",
               "-P", "threads", "-c", "16", "--without-gossip", "--without-mingle", "-n", f"load-{os.getpid()}@%h"],
              env, data_dir / "worker.log"),
    ]
    try:
        limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
        with httpx.Client(base_url=base, headers=AUTH, timeout=60, limits=limits) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    print((data_dir / "web.log").read_text()[-2000:])
                    return 1
                time.sleep(0.2)
            body = {"request": {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "load test"}]},
                    "dry_run": True}
            with ThreadPoolExecutor(args.concurrency) as pool:
                # baseline: the cheapest authenticated-free endpoint that still touches Redis and storage
                health = list(pool.map(lambda _: timed(client, "GET", "/healthz"), range(args.jobs)))
                started = time.perf_counter()
                subs = list(pool.map(lambda i: timed(client, "POST", "/v1/jobs", json={**body, "metadata": {"i": i}}),
                                     range(args.jobs)))
                submit_wall = time.perf_counter() - started
            ids = [s[2] for s in subs if s[1] == 202 and s[2]]
            five = sum(1 for s in subs + health if s[1] >= 500)
            r = redis.Redis.from_url(url)
            pending = set(ids)
            deadline = time.monotonic() + args.timeout
            while pending and time.monotonic() < deadline:
                pipe = r.pipeline()
                batch = list(pending)
                for job_id in batch:
                    pipe.hget(f"ferry:job:{job_id}", "status")
                for job_id, status in zip(batch, pipe.execute()):
                    if status in TERMINAL:
                        pending.discard(job_id)
                if pending:
                    time.sleep(0.2)
            total_wall = time.perf_counter() - started
            statuses: dict[str, int] = {}
            pipe = r.pipeline()
            for job_id in ids:
                pipe.hget(f"ferry:job:{job_id}", "status")
            for status in pipe.execute():
                key = (status or b"missing").decode()
                statuses[key] = statuses.get(key, 0) + 1
    finally:
        for p in procs:
            stop(p)
        stop_embedded(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)

    lat_s = [s[0] * 1000 for s in subs if s[1] == 202]
    lat_h = [h[0] * 1000 for h in health if h[1] == 200]
    lost = args.jobs - (len(ids) - len(pending))
    finished = len(ids) - len(pending)
    print(f"healthz  n={len(lat_h)} p50={statistics.median(lat_h):.1f} ms p99={pct(lat_h, 99):.1f} ms")
    print(f"submit   n={len(lat_s)} p50={statistics.median(lat_s):.1f} ms p99={pct(lat_s, 99):.1f} ms "
          f"({args.jobs / submit_wall:.0f} submits/s at concurrency {args.concurrency})")
    print(f"jobs     {statuses}; all ended {total_wall:.1f} s after the first submit")
    problems: dict[str, int] = {}
    for _, code, what in subs + health:
        if code >= 500 or code not in (200, 202):
            name = f"{code} {what or ''}".strip()
            problems[name] = problems.get(name, 0) + 1
    if problems:
        print(f"errors   {problems}")
    print(f"submit p50 / healthz p50: {statistics.median(lat_s) / statistics.median(lat_h):.1f}x; "
          f"{finished}/{args.jobs} jobs, {lost} lost, {five} 5xx, {finished / total_wall:.0f} jobs/s")
    return 0 if lost == 0 and five == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
