"""Server time of the UI's job page for a job with 20 resources, against GET /v1/jobs/{id} of the same job.

The issue's target is < 200 ms server time per page. Both are measured in this process through Flask's
test client (no network, no browser: server time only), on a finished dry-run job with 20 image parts,
after warm-up, as the median of N rounds alternating the two. The other pages are timed in the same
rounds: the jobs list full (25 rows, over ``--list-jobs`` more jobs) and filtered, and the Try-it form.
Run from the repo root:

    python bench/ui_page.py [--rounds 40]

It starts an embedded Redis and one Celery worker in a temporary data dir, prints absolute times, and
its last line is the headline ratio (UI page / API read of the same job).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = Path(tempfile.mkdtemp(prefix="ferry-bench-ui-"))
os.environ["FERRY_DATA_DIR"] = str(DATA)
os.environ.pop("FERRY_API_KEYS", None)

from tests.conftest import AUTH, CORPUS  # noqa: E402
from tests.helpers import data_uri, image_part, job_body  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--resources", type=int, default=20)
    parser.add_argument("--list-jobs", type=int, default=40, help="more (text-only) jobs, to fill the list page")
    args = parser.parse_args()
    from app import create_app
    from workers.core.embedded_redis import stop_embedded

    log = (DATA / "worker.log").open("wb")
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "workers.tasks.celery", "worker", "-Q",
                               "io,cpu,llm", "-P", "prefork", "-c", "2", "--without-gossip", "--without-mingle"],
                              cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
    try:
        app = create_app()
        c = app.test_client()
        parts = [image_part(data_uri(CORPUS / "images" / "hopper.jpg", "image/jpeg")) for _ in range(args.resources)]
        job_id = c.post("/v1/jobs", json=job_body("openai/gpt-4o", *parts, dry_run=True), headers=AUTH).json["id"]
        deadline = time.monotonic() + 180
        while c.get(f"/v1/jobs/{job_id}", headers=AUTH).json["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline, "the bench job did not finish in 180 s (is the worker up?)"
            time.sleep(0.2)
        more = [c.post("/v1/jobs", json=job_body("openai/gpt-4o", text=f"list row {i}", dry_run=True),
                       headers=AUTH).json["id"] for i in range(args.list_jobs)]
        for other in more:
            while c.get(f"/v1/jobs/{other}", headers=AUTH).json["status"] not in ("succeeded", "failed"):
                assert time.monotonic() < deadline + 180, "the list's jobs did not finish"
                time.sleep(0.1)
        ui = app.test_client()
        assert ui.post("/ui/login", data={"key": "ferry-local-key"}).status_code == 303
        page, api = f"/ui/jobs/{job_id}", f"/v1/jobs/{job_id}"
        n_res = ui.get(page).get_data(as_text=True).count('<article class="resource"')
        assert n_res == args.resources, f"the page shows {n_res} resources"

        def timed(client, url: str, **kw) -> float:  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            resp = client.get(url, **kw)
            resp.get_data()
            assert resp.status_code == 200, resp.status_code
            return (time.perf_counter() - t0) * 1000

        for _ in range(5):  # warm-up: templates compiled, connections open
            timed(ui, page), timed(c, api, headers=AUTH)
        others = {"UI jobs list (25 rows)": "/ui/jobs", "UI jobs list filtered": "/ui/jobs?model=openai&status=succeeded&window=1h",
                  "UI try-it form": "/ui/try?accepts=image"}
        ui_ms, api_ms = [], []
        other_ms: dict[str, list[float]] = {name: [] for name in others}
        for _ in range(args.rounds):
            ui_ms.append(timed(ui, page))
            api_ms.append(timed(c, api, headers=AUTH))
            for name, url in others.items():
                other_ms[name].append(timed(ui, url))
        u, a = statistics.median(ui_ms), statistics.median(api_ms)

        def p90(xs: list[float]) -> float:
            return sorted(xs)[int(0.9 * len(xs))]

        print(f"job with {args.resources} resources, {args.rounds} rounds (median; p90 in brackets)")
        print(f"  UI job page  GET {page}: {u:.1f} ms [{p90(ui_ms):.1f}]  (target < 200 ms)")
        print(f"  API read     GET {api}: {a:.1f} ms [{p90(api_ms):.1f}]")
        for name, url in others.items():
            print(f"  {name:<22} GET {url}: {statistics.median(other_ms[name]):.1f} ms [{p90(other_ms[name]):.1f}]")
        slowest = max([p90(ui_ms)] + [p90(v) for v in other_ms.values()])
        print(f"ui_page/api_read = {u / a:.2f}x  ({u:.1f} ms vs {a:.1f} ms; every UI page's p90 "
              f"{'under' if slowest < 200 else 'OVER'} 200 ms, slowest {slowest:.1f} ms)")
    finally:
        worker.terminate()
        worker.wait(20)
        stop_embedded(DATA)


if __name__ == "__main__":
    main()
