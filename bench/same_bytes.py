"""Same bytes, many writers: rounds of 12 concurrent jobs carrying one ~8 MB PNG as a data URI (issue 10).

    python bench/same_bytes.py [--rounds 3] [--jobs 12] [--root PATH]

Starts a private stack as the Procfile deploys it (embedded Redis, gunicorn ``-w 2 --threads 8``, one
Celery worker on all queues) in a temporary FERRY_DATA_DIR, fires each round's submits at once (dry runs
to ``openai/gpt-4.1``, different prompts), waits for every job to end, and counts the outcomes.
``--root`` runs the stack from another checkout (e.g. an older commit, for a before/after). The last line
is the share of jobs that succeeded, e.g. ``same bytes: 36/36 jobs succeeded (1.00), 0 submit 5xx``.
"""
from __future__ import annotations

import argparse
import base64
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from load_submit import free_port, stop  # noqa: E402  (bench/ is this script's first sys.path entry)
from workers.core.embedded_redis import start_embedded, stop_embedded  # noqa: E402

AUTH = {"Authorization": "Bearer ferry-local-key"}


def noise_png() -> bytes:
    img = Image.frombytes("RGB", (1650, 1650), random.Random(7).randbytes(1650 * 1650 * 3))
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=12)
    ap.add_argument("--root", type=Path, default=ROOT)
    args = ap.parse_args()
    root = args.root.resolve()
    celery_app = "workers.tasks.celery" if (root / "workers/tasks/celery.py").exists() else "workers.celery_app"
    data = Path(tempfile.mkdtemp(prefix="ferry-same-bytes-"))
    env = {**os.environ, "REDIS_URL": f"unix://{start_embedded(data)}", "FERRY_DATA_DIR": str(data),
           "PYTHONPATH": str(root)}
    port = free_port()
    procs = [subprocess.Popen(argv, cwd=root, env=env, stdout=(data / f"{name}.log").open("wb"),
                              stderr=subprocess.STDOUT, start_new_session=True) for name, argv in (
        ("web", [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "2", "--threads", "8",
                 "app:create_app()"]),
        ("worker", [sys.executable, "-m", "celery", "-A", celery_app, "worker", "-Q", "io,cpu,llm", "-P",
                    "prefork", "-c", "2", "--without-gossip", "--without-mingle"]))]
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=AUTH, timeout=120)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if http.get("/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the web process did not start: " + (data / "web.log").read_text()[-2000:])
            time.sleep(0.2)
        uri = "data:image/png;base64," + base64.b64encode(noise_png()).decode("ascii")
        outcomes: Counter[str] = Counter()
        submit_5xx = 0
        for rnd in range(args.rounds):
            def submit(i: int) -> httpx.Response:
                body = {"request": {"model": "openai/gpt-4.1", "messages": [{"role": "user", "content": [
                    {"type": "text", "text": f"round {rnd} prompt {i}"},
                    {"type": "image_url", "image_url": {"url": uri}}]}]}, "dry_run": True}
                return http.post("/v1/jobs", json=body)

            with ThreadPoolExecutor(args.jobs) as pool:
                answers = list(pool.map(submit, range(args.jobs)))
            ids = []
            for resp in answers:
                if resp.status_code == 202:
                    ids.append(resp.json()["id"])
                else:
                    submit_5xx += resp.status_code >= 500
                    outcomes[f"submit {resp.status_code}"] += 1
            for job_id in ids:
                until = time.monotonic() + 300
                while (job := http.get(f"/v1/jobs/{job_id}").json())["status"] not in ("succeeded", "failed",
                                                                                        "canceled"):
                    if time.monotonic() > until:
                        break
                    time.sleep(0.1)
                key = job["status"] if job["status"] == "succeeded" else \
                    f"{job['status']} at {job.get('stage')}: {(job.get('error') or {}).get('message', '')[:70]}"
                outcomes[key] += 1
            print(f"round {rnd + 1}: {dict(outcomes)}", flush=True)
        total = args.rounds * args.jobs
        ok = outcomes["succeeded"]
        print(f"same bytes: {ok}/{total} jobs succeeded ({ok / total:.2f}), {submit_5xx} submit 5xx")
    finally:
        for proc in procs:
            stop(proc)
        stop_embedded(data)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
