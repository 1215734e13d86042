"""P4: staging a big file to S3 keeps memory bounded and costs no throughput.

Starts a moto server, writes one random file, then uploads it twice in the same run,
each in a fresh child process: Ferry's ``S3Storage.put_file`` and raw boto3
``upload_file`` with its default TransferConfig (the baseline). Each child reports its
upload time; its peak RSS comes from ``os.wait4`` (that child's own ru_maxrss, so
one run cannot inflate the other's).

    python bench/p4_stage_s3.py                 # 1 GB
    python bench/p4_stage_s3.py --size-mb 200

It also runs the fetch stage's own path once (guarded download from a loopback HTTP server,
sha256 while streaming, staging to S3) and prints that child's peak RSS (goal < 150 MB).

The last line is ``P4 throughput ratio ferry/boto3: X.XXx (ferry peak RSS N MB)``.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MiB = 1024 * 1024
BUCKET = "ferry-bench"


def child(mode: str, path: str, key: str) -> None:
    """Upload ``path`` one way; print JSON with the time taken and RSS before the upload."""
    import boto3

    from workers.core.settings import Settings
    from workers.storage.s3 import S3Storage

    if mode == "pipeline":  # the fetch stage's path: guarded download + sha256 while streaming, then stage
        from workers.storage.blobs import put_blob
        from workers.net.download import download

        settings = Settings(FERRY_STORAGE=f"s3://{BUCKET}/bench", FERRY_ALLOW_PRIVATE_URLS=True,
                            FERRY_MAX_DOWNLOAD_BYTES=1 << 40, FERRY_FETCH_TIMEOUT=600)
        store = S3Storage.from_uri(settings.storage, settings)

        def upload() -> None:
            with tempfile.TemporaryDirectory(prefix="ferry-fetch-") as tmp:
                got = download(path, Path(tmp) / "download", settings)  # ``path`` is a URL here
                put_blob(store, got.path, got.sha256)
    elif mode == "ferry":
        store = S3Storage.from_uri(f"s3://{BUCKET}/bench", Settings(FERRY_STORAGE=f"s3://{BUCKET}/bench"))
        upload = lambda: store.put_file(key, Path(path))  # noqa: E731
    else:
        client = boto3.client("s3")
        upload = lambda: client.upload_file(path, BUCKET, f"bench/{key}")  # noqa: E731
    ready_rss = _vm_rss_mb()
    start = time.perf_counter()
    upload()
    print(json.dumps({"seconds": time.perf_counter() - start, "ready_rss_mb": ready_rss}))


def _vm_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_child(mode: str, path: Path, key: str, env: dict[str, str]) -> dict[str, float]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", mode, "--path", str(path), "--key", key],
        env=env,
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} child failed with {proc.returncode}")
    result = json.loads(out)
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux: KiB
    return result


def write_random(path: Path, size: int) -> None:
    block = 8 * MiB
    with path.open("wb") as out:
        left = size
        while left:
            n = min(left, block)
            out.write(os.urandom(n))
            left -= n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2, help="rounds, alternating which goes first")
    parser.add_argument("--child", choices=["ferry", "boto3", "pipeline"], help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.path, args.key)
        return

    import boto3

    from tests.services import moto_s3_server

    size = args.size_mb * MiB
    with tempfile.TemporaryDirectory(prefix="ferry-p4-") as tmp, moto_s3_server() as s3:
        path = Path(tmp) / "payload.bin"
        write_random(path, size)
        env = {**os.environ, **s3.env}
        env.pop("AWS_PROFILE", None)
        client = boto3.client("s3", endpoint_url=s3.url, **_creds(s3.env))
        client.create_bucket(Bucket=BUCKET)
        # Untimed warm-up: moto's first big upload is slow (it grows its own memory).
        client.upload_file(str(path), BUCKET, "warmup.bin")
        client.delete_object(Bucket=BUCKET, Key="warmup.bin")

        runs: dict[str, list[dict[str, float]]] = {"boto3": [], "ferry": []}
        for round_ in range(args.rounds):
            order = ("boto3", "ferry") if round_ % 2 == 0 else ("ferry", "boto3")
            for mode in order:
                key = f"{mode}-{round_}.bin"
                runs[mode].append(run_child(mode, path, key, env))
                head = client.head_object(Bucket=BUCKET, Key=f"bench/{key}")
                assert head["ContentLength"] == size, head
                client.delete_object(Bucket=BUCKET, Key=f"bench/{key}")  # free moto's memory
        with _serve(Path(tmp)) as base_url:
            pipeline = run_child("pipeline", f"{base_url}/payload.bin", "pipeline.bin", env)

    print(f"fetch + sha256 + stage to S3 through Ferry's fetch stage code: {pipeline['seconds']:.1f} s, "
          f"{args.size_mb / pipeline['seconds']:.0f} MB/s, peak RSS {pipeline['peak_rss_mb']:.0f} MB (goal < 150 MB)")
    print(f"{'upload':<8} {'round':>5} {'size MB':>8} {'seconds':>8} {'MB/s':>8} {'RSS ready':>10} {'peak RSS':>9}")
    for mode, rs in runs.items():
        for round_, r in enumerate(rs):
            print(
                f"{mode:<8} {round_:>5} {args.size_mb:>8} {r['seconds']:>8.2f} {args.size_mb / r['seconds']:>8.1f} "
                f"{r['ready_rss_mb']:>9.0f}M {r['peak_rss_mb']:>8.0f}M"
            )
    # Throughput from total time over all rounds; RSS as the worst round.
    mbps = {mode: args.size_mb * len(rs) / sum(r["seconds"] for r in rs) for mode, rs in runs.items()}
    peak = {mode: max(r["peak_rss_mb"] for r in rs) for mode, rs in runs.items()}
    print(f"boto3 peak RSS {peak['boto3']:.0f} MB, {mbps['boto3']:.1f} MB/s; ferry {mbps['ferry']:.1f} MB/s")
    print(f"P4 throughput ratio ferry/boto3: {mbps['ferry'] / mbps['boto3']:.2f}x (ferry peak RSS {peak['ferry']:.0f} MB)")


@contextmanager
def _serve(folder: Path) -> Iterator[str]:
    """The payload over HTTP on loopback, as a user's file host."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def _creds(env: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "region_name": env["AWS_DEFAULT_REGION"],
    }


if __name__ == "__main__":
    main()
