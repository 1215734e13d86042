"""CPU per broker message: kombu's Redis transport as shipped vs as Ferry's workers run it.

    python bench/broker_message.py [--n 2000]

Sides: ``stock`` (kombu as shipped, ack emulation on), ``shared`` (Ferry's one client per channel,
workers/tasks/broker.py, ack emulation on: the io workers) and ``tracked`` (shared client, ack emulation off:
workers consuming only the cpu/llm queues, whose steps Ferry's reaper recovers; workers/tasks/celery.py).
Each side, in its own subprocess on a private embedded Redis, publishes one small message, gets it and acks
it, ``--n`` times after a warm-up, five rounds, best round kept; each side runs twice, interleaved, and the
better run counts. The figure is process CPU (user+system) per message, not wall time. The last line is the
headline: ``broker message CPU: tracked 190 us (0.29x), shared 400 us (0.61x) vs stock 650 us``.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIDES = ("stock", "shared", "tracked")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def measure(url: str, side: str, n: int) -> float:
    """CPU microseconds per publish+get+ack (best of five rounds of ``n``)."""
    from kombu import Connection, Queue

    if side != "stock":
        from workers.tasks.broker import install

        install()
    options: dict[str, object] = {"visibility_timeout": 900, **({"ack_emulation": False} if side == "tracked" else {})}
    queue = Queue("bench-broker", routing_key="bench-broker")
    with Connection(url, transport_options=options) as conn:
        producer, bound = conn.Producer(), queue(conn.default_channel)
        bound.declare()
        bound.purge()

        def one() -> None:
            producer.publish({"job": "x"}, routing_key="bench-broker", declare=[queue])
            message = bound.get(no_ack=False)
            assert message is not None, "the message just published did not come back"
            message.ack()

        for _ in range(min(n, 300)):
            one()
        best = float("inf")
        for _ in range(5):
            start = time.process_time()
            for _ in range(n):
                one()
            best = min(best, (time.process_time() - start) / n * 1e6)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="messages per round")
    ap.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:  # one side, in its own process (install() changes kombu for the whole process)
        print(f"{measure(args.url, args.side, args.n):.1f}")
        return 0
    from workers.core.embedded_redis import celery_url, start_embedded, stop_embedded

    with tempfile.TemporaryDirectory() as data:
        url = celery_url(f"unix://{start_embedded(Path(data))}")
        try:
            us: dict[str, float] = {}
            for side in SIDES * 2:
                got = float(subprocess.run(
                    [sys.executable, __file__, "--side", side, "--url", url, "--n", str(args.n)],
                    check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
                us[side] = min(got, us.get(side, got))
        finally:
            stop_embedded(Path(data))
    for side in SIDES:
        print(f"{side:8s} {us[side]:6.0f} us per publish+get+ack")
    stock = us["stock"]
    print(f"broker message CPU: tracked {us['tracked']:.0f} us ({us['tracked'] / stock:.2f}x), "
          f"shared {us['shared']:.0f} us ({us['shared'] / stock:.2f}x) vs stock {stock:.0f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
