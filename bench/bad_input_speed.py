"""Bad input is refused cheaply: each refusal timed against a valid operation of the same kind, same run.

The speed claims the tests no longer make (tests check behaviour; tests/test_bad_input.py,
tests/test_fetch.py and tests/media/ check what is refused and how):

- a decompression bomb GIF refused at inspect   vs inspecting a small valid GIF;
- audio over its duration cap, decoding stopped vs transcoding the same audio whole;
- a 60 MB / 97 MB body over FERRY_MAX_REQUEST_BYTES answered 413 (Flask test client, as the tests do)
                                                vs submitting a one-message dry run;
- 10,000 / 200,000-message ``messages`` arrays answered
                                                vs ``json.loads`` of the same body;
- a download over FERRY_MAX_DOWNLOAD_BYTES, declared and undeclared (loopback server)
                                                vs downloading a 1 KiB file;
- a slow drip (1 KiB every 0.1 s) cut by FERRY_FETCH_MAX_SECONDS=1
                                                vs a 4 s drip fetched whole.

Each time is the median of ``--repeat`` runs (the drips: one run each). Runs on this machine only: a
temporary FERRY_DATA_DIR with the embedded Redis (the dry runs are stored, no worker runs them).

    python bench/bad_input_speed.py [--repeat 5]

Ratios below 1 mean the bad input costs less than its baseline. The last line is the headline: the
worst ratio among the refusals measured against a valid request of their kind (bombs, oversized
bodies, oversized downloads); the caps and the messages arrays are measured against the work they
cut short or must at least do, and are in the table only.
"""
from __future__ import annotations

import argparse
import http.server
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
sys.path.insert(0, str(ROOT))

AUTH = {"Authorization": "Bearer ferry-local-key", "Content-Type": "application/json"}
MODEL = "openai/gpt-4o"
DRIP_CHUNK, DRIP_PAUSE, DRIP_BASELINE_CHUNKS = 1024, 0.1, 40


def median_time(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def expect(exc_type: type[BaseException], fn: Callable[[], Any], match: str) -> Callable[[], None]:
    """``fn`` must raise ``exc_type`` with ``match`` in its message (a bench of the wrong outcome is void)."""
    def run() -> None:
        try:
            fn()
        except exc_type as exc:
            if match not in str(exc):
                raise SystemExit(f"expected {exc_type.__name__} mentioning {match!r}, got: {exc}") from exc
            return
        raise SystemExit(f"expected {exc_type.__name__} ({match}), nothing was raised")
    return run


def post(app: Any, data: bytes, status: int | tuple[int, ...]) -> Callable[[], None]:
    wanted = (status,) if isinstance(status, int) else status

    def run() -> None:
        resp = app.test_client().post("/v1/jobs", input_stream=io.BytesIO(data), content_length=len(data),
                                      headers=AUTH)
        if resp.status_code not in wanted:
            raise SystemExit(f"POST /v1/jobs answered {resp.status_code}, expected {wanted}: {resp.get_data()[:300]!r}")
    return run


def job(*parts: dict[str, Any], messages: list[dict[str, Any]] | None = None, dry_run: bool = True) -> bytes:
    msgs = messages or [{"role": "user", "content": [{"type": "text", "text": "What is this?"}, *parts]}]
    return json.dumps({"request": {"model": MODEL, "messages": msgs}, "dry_run": dry_run}).encode()


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/drip/"):  # /drip/<chunks>: 1 KiB every 0.1 s
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(int(self.path.rsplit("/", 1)[1])):
                    self.wfile.write(b"x" * DRIP_CHUNK)
                    self.wfile.flush()
                    time.sleep(DRIP_PAUSE)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client cut it: that is the point
            return
        sizes = {"/small": 1024, "/big-undeclared": 4 << 20, "/big-declared": 10 << 20}
        size = sizes.get(self.path)
        if size is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        if self.path != "/big-undeclared":
            self.send_header("Content-Length", str(size))
        self.end_headers()
        if self.path == "/big-declared":
            return  # the client must not wait for a body it refuses by its header
        try:
            for _ in range(0, size, 65536):
                self.wfile.write(b"y" * min(65536, size))
        except (BrokenPipeError, ConnectionResetError):
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="ferry-bad-input-"))
    os.environ.update(FERRY_DATA_DIR=str(data_dir), FERRY_ALLOW_PRIVATE_URLS="1")
    for name in ("REDIS_URL", "FERRY_API_KEYS", "FERRY_TEST_STAGE_DELAY"):
        os.environ.pop(name, None)

    from app import create_app
    from tests.media.conftest import make_audio
    from workers.context import Context
    from workers.core.embedded_redis import stop_embedded
    from workers.core.errors import FetchError, TooLarge
    from workers.net.download import download
    from workers.media import audio
    from workers.media.inspect import inspect_file
    from workers.core.settings import Settings

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    host = f"http://127.0.0.1:{srv.server_address[1]}"
    rows: list[tuple[str, float, str, float, bool]] = []  # case, seconds, baseline, seconds, in the headline
    try:
        ctx = Context(Settings())
        ctx.redis.ping()  # the embedded Redis, before the first submit is timed
        app = create_app(ctx)
        small_app = create_app(Context(Settings(FERRY_MAX_REQUEST_BYTES=str(32 << 20))))
        r = args.repeat

        # -- inspect: a bomb vs a small valid GIF
        valid_gif = median_time(lambda: inspect_file(CORPUS / "images" / "hopper.gif"), r)
        for name in ("decompression_bomb.gif", "decompression_bomb_extents.gif"):
            bomb = median_time(expect(TooLarge, lambda n=name: inspect_file(CORPUS / "bad" / n), "decode safely"), r)
            rows.append((f"inspect {name}", bomb, "inspect hopper.gif", valid_gif, True))

        # -- audio: decoding stops at the cap vs the whole transcode
        tone = make_audio(data_dir / "tone.flac", "flac", "flac", seconds=30.0)
        whole = median_time(lambda: audio.transcode(tone, "audio/wav", data_dir / "whole", max_seconds=None), r)
        capped = median_time(expect(TooLarge, lambda: audio.transcode(tone, "audio/wav", data_dir / "cut",
                                                                        max_seconds=0.25), "stopped decoding"), r)
        rows.append(("transcode 30 s flac, cap 0.25 s", capped, "transcode it whole", whole, False))

        # -- the API: huge bodies and huge messages arrays vs a one-message dry run
        one = job()
        submit = median_time(post(app, one, 202), r)
        payload = "A" * (60 << 20)
        sixty = job({"type": "image_url", "image_url": {"url": f"data:image/png;base64,{payload}"}}, dry_run=False)
        ninety_seven = sixty + b" " * ((97 << 20) - len(sixty))
        rows.append(("60 MB body, 32 MB cap: 413", median_time(post(small_app, sixty, 413), r),
                     "1-message dry run: 202", submit, True))
        rows.append(("97 MB body, 96 MB default: 413", median_time(post(app, ninety_seven, 413), r),
                     "1-message dry run: 202", submit, True))
        del payload, sixty, ninety_seven
        for n in (10_000, 200_000):
            many = job(messages=[{"role": "user", "content": "hi"}] * n)
            rows.append((f"{n}-message array answered", median_time(post(app, many, (202, 400, 413)), r),
                         f"json.loads of that body ({len(many) >> 10} KiB)", median_time(lambda b=many: json.loads(b), r),
                         False))

        # -- downloads: over the byte cap vs a 1 KiB download
        fetch_settings = Settings(FERRY_ALLOW_PRIVATE_URLS=True, FERRY_MAX_DOWNLOAD_BYTES=1_000_000)
        dest = data_dir / "download"
        small = median_time(lambda: download(f"{host}/small", dest, fetch_settings), r)
        for path, match in (("/big-declared", "10485760 bytes"), ("/big-undeclared", "FERRY_MAX_DOWNLOAD_BYTES")):
            over = median_time(expect(TooLarge, lambda p=path: download(f"{host}{p}", dest, fetch_settings), match), r)
            rows.append((f"download {path[1:]} over 1 MB", over, "download 1 KiB", small, True))

        # -- a slow drip: cut by the wall-clock cap vs the same drip fetched whole
        drip = Settings(FERRY_ALLOW_PRIVATE_URLS=True, FERRY_FETCH_TIMEOUT=5, FERRY_FETCH_MAX_SECONDS=1)
        uncapped = Settings(FERRY_ALLOW_PRIVATE_URLS=True, FERRY_FETCH_TIMEOUT=5)
        whole_drip = median_time(lambda: download(f"{host}/drip/{DRIP_BASELINE_CHUNKS}", dest, uncapped), 1)
        cut = median_time(expect(FetchError, lambda: download(f"{host}/drip/600", dest, drip),
                                 "FERRY_FETCH_MAX_SECONDS"), 1)
        rows.append(("slow drip, FERRY_FETCH_MAX_SECONDS=1", cut,
                     f"{DRIP_BASELINE_CHUNKS}-chunk drip fetched whole", whole_drip, False))
    finally:
        srv.shutdown()
        stop_embedded(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)

    print(f"bad input speed, median of {args.repeat} runs (drips: 1 run); ratio = bad input / its baseline")
    print(f"{'bad input':40} {'ms':>9}  {'baseline':34} {'ms':>9} {'ratio':>8}")
    for case, secs, base, base_secs, _ in rows:
        print(f"{case:40} {secs * 1e3:9.2f}  {base:34} {base_secs * 1e3:9.2f} {secs / base_secs:7.2f}x")
    worst = max((secs / base_secs, case, base) for case, secs, base, base_secs, headline in rows if headline)
    print(f"bad input speed: slowest refusal = {worst[0]:.2f}x its valid baseline ({worst[1]} vs {worst[2]})")


if __name__ == "__main__":
    main()
