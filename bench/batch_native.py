"""Native batches vs jobs (issue 13): bytes sent upstream and time from create to completed, one shared image.

Starts everything on this machine in a temp folder: the embedded Redis, the provider simulators, a local image
host and one Celery worker (threads). It creates the same N-line OpenAI batch twice through Ferry's
``/v1/batches`` service, every line naming the same image URL (a 1080x1920 PNG): once with ``ferry.mode =
"jobs"`` (each line a synchronous chat call; the simulator answers each in ``--answer`` seconds) and once with
``"native"`` (one OpenAI Batch; the simulated batch ends ``--answer`` seconds after it starts). Bytes upstream
are the request bodies the OpenAI simulator received (``Content-Length`` of every logged call: uploads, chat
calls, batch creation).

    python bench/batch_native.py              # 1,000 lines, simulators answering in 2 s
    python bench/batch_native.py --lines 200 --threads 32

The last line is ``batch native vs jobs, N lines sharing one image: bytes upstream ratio R, time ratio T``.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus"
IMAGE = "images/altai-1080x1920.png"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--answer", type=float, default=2.0, help="seconds each simulator takes to answer")
    parser.add_argument("--threads", type=int, default=64, help="worker threads (the jobs run's parallelism)")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="ferry-bench-batch-"))
    os.environ.update(FERRY_DATA_DIR=str(data_dir), FERRY_ALLOW_PRIVATE_URLS="1", FERRY_BATCH_POLL_SECONDS="0.5",
                      FERRY_MAX_BATCH_LINES=str(max(args.lines, 50_000)))
    os.environ.pop("REDIS_URL", None)
    from app.simulators.server import env_for, run_all, stop_all

    sims = run_all()
    os.environ.update(env_for(sims))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(CORPUS)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/{IMAGE}"

    import workers.tasks.celery  # noqa: F401  (installs the task sender services enqueue through)
    from workers.context import Context
    from workers.core.embedded_redis import stop_embedded
    from workers.core.settings import Settings
    from workers.services import batches
    from workers.state import batches as records
    from workers.state import files as ferry_files

    ctx = Context(Settings())
    ctx.redis.ping()
    log_path = data_dir / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.tasks.celery", "worker", "-Q", "io,cpu,llm", "-P", "threads",
         "-c", str(args.threads), "--loglevel", "INFO", "--without-gossip", "--without-mingle",
         "-n", f"bench-batch-{os.getpid()}@%h"], cwd=ROOT, env=dict(os.environ), stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT)
    oai = sims["openai"].state
    config = sims["openai"].app.extensions["sim_batches"]
    results: dict[str, tuple[int, float, dict[str, int]]] = {}
    try:
        deadline = time.monotonic() + 60
        while b" ready." not in log_path.read_bytes():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"worker did not start:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        time.sleep(1)
        for mode in ("jobs", "native"):
            oai.reset()
            config.delay = args.answer
            if mode == "jobs":
                oai.add_fault(None, count=args.lines, path_contains="/chat/completions", delay=args.answer)
            tenant = f"bench-{mode}"  # its own tenant: nothing fetched for one run is reused by the other
            jsonl = "".join(json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
                                        "body": {"model": "openai/gpt-4o-mini", "max_tokens": 10, "messages": [
                                            {"role": "user", "content": [
                                                {"type": "text", "text": f"Describe picture {i}."},
                                                {"type": "image_url", "image_url": {"url": url}}]}]}}) + "\n"
                            for i in range(args.lines)).encode()
            ferry_files.write_bytes(ctx, tenant, f"file-bench{mode}", "in.jsonl", "batch", jsonl)
            start = time.perf_counter()
            batch = batches.create(ctx, tenant, {"input_file_id": f"file-bench{mode}",
                                                 "endpoint": "/v1/chat/completions", "completion_window": "24h",
                                                 "ferry": {"mode": mode}})
            deadline = time.monotonic() + 1800
            while (h := records.load(ctx.redis, batch["id"]))["status"] not in records.FINAL:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{mode}: batch stuck at {h['status']}")
                time.sleep(0.1)
            seconds = time.perf_counter() - start
            log = oai.log()
            sent = sum(int(e["headers"].get("content-length") or 0) for e in log)
            calls = {"chat": sum(1 for e in log if e["path"].endswith("/chat/completions")),
                     "uploads": sum(1 for e in log if e["path"] == "/v1/files" and e["method"] == "POST"),
                     "batches": sum(1 for e in log if e["path"] == "/v1/batches" and e["method"] == "POST"),
                     "completed": int(h.get("completed", 0)), "failed": int(h.get("failed", 0))}
            results[mode] = (sent, seconds, calls)
            print(f"{mode:6}: {h['status']} in {seconds:6.1f} s, {sent / 1e6:9.2f} MB upstream, {calls}")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        server.shutdown()
        stop_all(sims)
        stop_embedded(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
    (jb, jt, _), (nb, nt, _) = results["jobs"], results["native"]
    print(f"batch native vs jobs, {args.lines} lines sharing one image: bytes upstream ratio {nb / jb:.4f} "
          f"({nb / 1e6:.2f} MB vs {jb / 1e6:.2f} MB), time ratio {nt / jt:.2f} ({nt:.1f} s vs {jt:.1f} s)")


if __name__ == "__main__":
    main()
