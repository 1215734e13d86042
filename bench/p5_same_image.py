"""P5: the same image in 20 jobs is downloaded, transformed and uploaded once.

Starts everything on this machine in a temp folder: the embedded Redis, the provider simulators, a
slow counting image host, and one Celery worker (prefork, 4 processes). It then submits N jobs at once
that all name the same image URL (a fresh random BMP, so Anthropic needs it converted) with
``delivery.prefer = file``, waits for them, and counts real work: GETs seen by the image host,
transforms and uploads produced (Redis counters kept by the claims) and uploads in the simulator's
Files API log. A naive pipeline does each once per job.

    python bench/p5_same_image.py            # 20 jobs
    python bench/p5_same_image.py --jobs 50

The last line is ``P5 uploads per N jobs: U (ratio U/N vs naive N)``.
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def random_bmp(side: int = 256) -> bytes:
    from PIL import Image

    img = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buf = io.BytesIO()
    img.save(buf, "BMP")
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="ferry-p5-"))
    os.environ.update(FERRY_DATA_DIR=str(data_dir), FERRY_ALLOW_PRIVATE_URLS="1")
    os.environ.pop("REDIS_URL", None)
    from tests.delivery_fixtures import CountingServer, serve_counting
    from app.simulators.server import env_for, run_all, stop_all

    sims = run_all()
    os.environ.update(env_for(sims))
    host = CountingServer(delay=0.2)
    http = serve_counting(host)
    url = host.add(random_bmp(), ".bmp")

    from workers.context import Context
    from workers.state.claims import produced_count
    from workers.core.embedded_redis import stop_embedded
    from workers.services.jobs import submit
    import workers.tasks.celery  # noqa: F401  (installs the task sender services enqueue through)
    from workers.core.settings import Settings

    ctx = Context(Settings())
    ctx.redis.ping()  # starts the embedded Redis before the worker joins it
    log_path = data_dir / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.tasks.celery", "worker", "-Q", "io,cpu,llm", "-P", "prefork",
         "-c", str(args.concurrency), "--loglevel", "INFO", "--without-gossip", "--without-mingle", "-n", f"p5-{os.getpid()}@%h"],
        cwd=ROOT, env=dict(os.environ), stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while b" ready." not in log_path.read_bytes():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"worker did not start:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        body = {"request": {"model": "anthropic/claude-sonnet-4-5", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "Describe."}, {"type": "image_url", "image_url": {"url": url}}]}]},
            "delivery": {"prefer": "file"}}
        start = time.perf_counter()
        ids = [submit(ctx, "local", body)["id"] for _ in range(args.jobs)]
        statuses = [wait(ctx, job_id) for job_id in ids]
        seconds = time.perf_counter() - start
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        http.shutdown()
        stop_all(sims)

    uploads = sum(1 for e in sims["anthropic"].state.log()
                  if e["path"] == "/v1/files" and e["status"] == 200)
    counts = {
        "downloads": host.count(url),
        "transforms": produced_count(ctx.redis, "transform"),
        "uploads": uploads,
    }
    stop_embedded(data_dir)
    shutil.rmtree(data_dir, ignore_errors=True)
    ok = statuses.count("succeeded")
    print(f"P5 jobs: {args.jobs} ({ok} succeeded) in {seconds:.2f} s")
    for name, value in counts.items():
        print(f"P5 {name} per {args.jobs} jobs: {value} (naive {args.jobs})")
    if ok != args.jobs:
        raise SystemExit(f"only {ok} of {args.jobs} jobs succeeded")
    print(f"P5 uploads per {args.jobs} jobs: {uploads} (ratio {uploads / args.jobs:.2f} vs naive {args.jobs})")


def wait(ctx, job_id: str, timeout: float = 120.0) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while (status := ctx.store.status(job_id)) not in ("succeeded", "failed", "canceled"):
        if time.monotonic() > deadline:
            return f"timeout ({status})"
        time.sleep(0.05)
    return status or "missing"


if __name__ == "__main__":
    main()
