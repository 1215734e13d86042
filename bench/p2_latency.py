"""P2: latency Ferry adds to one synchronous chat completion, vs the same request sent straight upstream.

    python bench/p2_latency.py [--n 200] [--root PATH]

Deploys a private stack as the Procfile runs it (``bench/deploy.py``: embedded Redis, gunicorn
``-w 2 --threads 8``, Celery io/cpu/llm workers, the provider simulators). One sequential client sends
``POST /v1/chat/completions`` for ``openai/gpt-4o`` through Ferry, and the same body (model ``gpt-4o``,
the simulator's key) with httpx straight to the OpenAI simulator's ``/chat/completions``. Two cases: text
only ("Say hi"), and text plus one 128x128 noise PNG inline as a data URI ``image_url`` part. Each case:
20 warm-up requests per side, then ``--n`` measured requests per side, alternating Ferry and direct (the
order flips every pair) so both see the same noise. Every answer must be a 200 ``chat.completion``;
errors are counted and left out of the timings. ``--root`` runs the stack from another checkout (the
simulators always come from this one). Goals: text added <= +10 ms p50 / +40 ms p99, png <= +20 / +40 ms.
The last line is the headline, e.g.
``P2 added p50/p99: text +8/+30 ms, png +15/+35 ms (ferry/direct p50 text 3.1x, png 2.4x)``.
"""
from __future__ import annotations

import argparse
import base64
import io
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from deploy import AUTH, ROOT, Stack, start_stack

MODEL = "gpt-4o"  # openai model in workers/providers/catalog.toml with image input
WARMUP = 20
#: case → (added p50 goal ms, added p99 goal ms)
GOALS = {"text": (10.0, 40.0), "png": (20.0, 40.0)}


def noise_png(side: int = 128, seed: int = 2) -> bytes:
    img = Image.frombytes("RGB", (side, side), random.Random(seed).randbytes(side * side * 3))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def messages(case: str) -> list[dict[str, Any]]:
    if case == "text":
        return [{"role": "user", "content": "Say hi"}]
    uri = "data:image/png;base64," + base64.b64encode(noise_png()).decode("ascii")
    return [{"role": "user", "content": [{"type": "text", "text": "Say hi"},
                                         {"type": "image_url", "image_url": {"url": uri}}]}]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


@dataclass
class Side:
    """One way of sending the request: a keep-alive client, a URL and a body."""
    client: httpx.Client
    url: str
    body: dict[str, Any]
    ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def once(self, record: bool) -> None:
        started = time.perf_counter()
        try:
            resp = self.client.post(self.url, json=self.body)
            elapsed = (time.perf_counter() - started) * 1000
            problem = None if resp.status_code == 200 and _is_completion(resp) else \
                f"{resp.status_code} {resp.text[:120]}"
        except httpx.HTTPError as exc:
            elapsed, problem = 0.0, type(exc).__name__
        if problem:
            self.errors[problem] += 1
        elif record:
            self.ms.append(elapsed)


def _is_completion(resp: httpx.Response) -> bool:
    try:
        body = resp.json()
    except ValueError:
        return False
    return body.get("object") == "chat.completion" and bool(body.get("choices"))


def run_case(stack: Stack, case: str, n: int) -> tuple[Side, Side]:
    msgs = messages(case)
    sim_headers = {"Authorization": f"Bearer {stack.sim_env['OPENAI_API_KEY']}"}
    with httpx.Client(base_url=stack.base_url, headers=AUTH, timeout=60) as fc, \
            httpx.Client(base_url=stack.sim_env["OPENAI_BASE_URL"], headers=sim_headers, timeout=60) as dc:
        ferry = Side(fc, "/v1/chat/completions", {"model": f"openai/{MODEL}", "messages": msgs})
        direct = Side(dc, "/chat/completions", {"model": MODEL, "messages": msgs})
        for _ in range(WARMUP):
            ferry.once(record=False)
            direct.once(record=False)
        for i in range(n):
            pair = (ferry, direct) if i % 2 == 0 else (direct, ferry)
            for side in pair:
                side.once(record=True)
    return ferry, direct


def summarize(case: str, ferry: Side, direct: Side) -> dict[str, float]:
    if not ferry.ms or not direct.ms:
        return {}
    d50, d99 = statistics.median(direct.ms), pct(direct.ms, 99)
    f50, f99 = statistics.median(ferry.ms), pct(ferry.ms, 99)
    return {"d50": d50, "d99": d99, "f50": f50, "f99": f99, "a50": f50 - d50, "a99": f99 - d99,
            "ratio": f50 / d50}


def print_table(rows: dict[str, dict[str, float]], sides: dict[str, tuple[Side, Side]]) -> None:
    print(f"{'case':<5} {'direct p50':>10} {'p99':>7} {'ferry p50':>10} {'p99':>7} {'added p50':>10} "
          f"{'p99':>7} {'ferry/direct':>12}  goal (added p50/p99)")
    for case, r in rows.items():
        g50, g99 = GOALS[case]
        if not r:
            print(f"{case:<5} no successful answers")
            continue
        ok = "ok" if r["a50"] <= g50 and r["a99"] <= g99 else "MISSED"
        print(f"{case:<5} {r['d50']:>8.1f}ms {r['d99']:>5.1f}ms {r['f50']:>8.1f}ms {r['f99']:>5.1f}ms "
              f"{r['a50']:>+8.1f}ms {r['a99']:>+5.1f}ms {r['ratio']:>11.1f}x  <= +{g50:.0f}/+{g99:.0f} ms {ok}")
    for case, (ferry, direct) in sides.items():
        print(f"{case:<5} measured ferry {len(ferry.ms)}, direct {len(direct.ms)}; "
              f"errors ferry {_errors(ferry)}, direct {_errors(direct)}")


def _errors(side: Side) -> str:
    total = sum(side.errors.values())
    return f"{total} {dict(side.errors)}" if total else "0"


def headline(rows: dict[str, dict[str, float]]) -> str:
    def part(case: str, what: str) -> str:
        r = rows.get(case) or {}
        if not r:
            return f"{case} n/a"
        return f"{case} {r['a50']:+.0f}/{r['a99']:+.0f} ms" if what == "added" else f"{case} {r['ratio']:.1f}x"
    return (f"P2 added p50/p99: {part('text', 'added')}, {part('png', 'added')} "
            f"(ferry/direct p50 {part('text', 'ratio')}, {part('png', 'ratio')})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="measured requests per side and case")
    ap.add_argument("--root", type=Path, default=ROOT, help="checkout to deploy (default: this one)")
    args = ap.parse_args()
    sides: dict[str, tuple[Side, Side]] = {}
    with start_stack(args.root, {}) as stack:
        print(f"root {stack.root}: {args.n} measured + {WARMUP} warm-up requests per side and case", flush=True)
        for case in GOALS:
            sides[case] = run_case(stack, case, args.n)
        issues = stack.log_issues()
    rows = {case: summarize(case, *pair) for case, pair in sides.items()}
    print_table(rows, sides)
    for name, lines in issues.items():
        print(f"log {name}: {len(lines)} error-looking lines, last: {lines[-1][:160]}")
    print(headline(rows))
    errors = sum(sum(s.errors.values()) for pair in sides.values() for s in pair)
    return 1 if errors or not all(rows.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
