"""CPU per broker message: kombu's Redis transport as shipped vs with Ferry's shared channel client.

    python bench/broker_message.py [--n 2000]

Kombu builds a new ``redis.Redis`` for every publish, ack and unacked-index update
(workers/tasks/broker.py). Each side, in its own subprocess on a private embedded Redis, publishes one
small message, gets it and acks it (ack emulation on, as Celery runs it), ``--n`` times after a warm-up,
five rounds, best round kept; the figure is process CPU (user+system) per message, not wall time. The
last line is the headline: ``broker message CPU: shared 310 us vs stock 690 us (0.45x)``.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def measure(url: str, shared: bool, n: int) -> float:
    """CPU microseconds per publish+get+ack (best of five rounds of ``n``)."""
    from kombu import Connection, Queue

    if shared:
        from workers.tasks.broker import install

        install()
    queue = Queue("bench-broker", routing_key="bench-broker")
    with Connection(url, transport_options={"visibility_timeout": 900}) as conn:
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
    ap.add_argument("--side", choices=("stock", "shared"), help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:  # one side, in its own process (install() changes kombu for the whole process)
        print(f"{measure(args.url, args.side == 'shared', args.n):.1f}")
        return 0
    from workers.core.embedded_redis import celery_url, start_embedded, stop_embedded

    with tempfile.TemporaryDirectory() as data:
        url = celery_url(f"unix://{start_embedded(Path(data))}")
        try:
            us = {side: float(subprocess.run(
                [sys.executable, __file__, "--side", side, "--url", url, "--n", str(args.n)],
                check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
                for side in ("stock", "shared", "stock", "shared")}
        finally:
            stop_embedded(Path(data))
    print(f"broker message CPU: shared {us['shared']:.0f} us vs stock {us['stock']:.0f} us "
          f"({us['shared'] / us['stock']:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
