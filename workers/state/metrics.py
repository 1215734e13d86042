"""Prometheus metrics kept in Redis, so every process (web, any worker, any machine) adds to one set.

Workers are other processes (often other machines), so in-process prometheus counters
would each see a slice. Instead each event is an ``HINCRBY`` on one hash,
``ferry:metrics``, and ``/metrics`` turns the hash into metric families at scrape time
(:class:`RedisCollector`), plus gauges read live from Redis (queue lengths).

Fields are ``name|label|label…``; histograms keep per-bucket counts (made cumulative at
scrape), a sum and a count.
"""
from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from workers.core import keys

KEY = keys.METRICS
BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
QUEUES = ("io", "cpu", "llm")


def count(r: redis.Redis | redis.client.Pipeline, field: str, amount: int = 1) -> None:
    """Add to one counter; metrics never break the work they measure."""
    try:
        r.hincrby(KEY, field, amount)
    except redis.RedisError:
        pass


def job_submitted(r: redis.Redis | redis.client.Pipeline, provider: str) -> None:
    count(r, f"jobs_submitted|{provider}")


def observe_stage(r: redis.Redis | redis.client.Pipeline, stage: str, seconds: float) -> None:
    """One stage duration; on a pipeline ``r`` it is sent with the caller's other writes."""
    bucket = next((b for b in BUCKETS if seconds <= b), "+Inf")
    pipe = r if isinstance(r, redis.client.Pipeline) else r.pipeline(transaction=False)
    pipe.hincrby(KEY, f"stage_bucket|{stage}|{bucket}", 1)
    pipe.hincrbyfloat(KEY, f"stage_sum|{stage}", seconds)
    pipe.hincrby(KEY, f"stage_count|{stage}", 1)
    if pipe is not r:
        try:
            pipe.execute()
        except redis.RedisError:
            pass


@contextmanager
def stage_timer(r: redis.Redis, stage: str) -> Iterator[None]:
    """Observe how long the block took (whether it succeeded or raised)."""
    started = time.monotonic()
    try:
        yield
    finally:
        observe_stage(r, stage, time.monotonic() - started)


def job_ended(r: redis.Redis, view: dict[str, Any]) -> None:
    """Counters for a job that reached a final status: status, bytes, cache hits, upstream errors."""
    provider = str(view.get("model", "unknown")).partition("/")[0]
    fields: dict[str, int] = defaultdict(int)
    fields[f"jobs_finished|{view.get('status')}|{provider}"] += 1
    for res in view.get("resources") or []:
        fields["bytes_in"] += int((res.get("source") or {}).get("bytes") or 0)
        fields["bytes_out"] += sum(int(o.get("bytes") or 0) for o in res.get("outputs") or [])
        delivery = res.get("delivery") or {}
        for d in delivery.get("parts") or ([delivery] if delivery else []):
            fields[f"deliveries|{d.get('method')}"] += 1
            if d.get("cached"):
                fields[f"cache_hits|{d.get('method')}"] += 1
    error = view.get("error") or {}
    if error.get("type") == "upstream_error":
        fields[f"upstream_errors|{provider}|{error.get('upstream_status') or 'none'}"] += 1
    try:
        pipe = r.pipeline(transaction=False)
        for field, n in fields.items():
            if n:
                pipe.hincrby(KEY, field, n)
        pipe.execute()
    except redis.RedisError:
        pass


class RedisCollector(Collector):
    """Builds every Ferry metric family from Redis at scrape time."""

    def __init__(self, r: redis.Redis) -> None:
        self.r = r

    def collect(self) -> Iterator[Any]:
        raw = {k.decode(): v.decode() for k, v in self.r.hgetall(KEY).items()}
        by_name: dict[str, list[tuple[list[str], float]]] = defaultdict(list)
        for field, value in raw.items():
            name, *labels = field.split("|")
            by_name[name].append((labels, float(value)))

        def counter(name: str, doc: str, labels: list[str], source: str) -> CounterMetricFamily:
            fam = CounterMetricFamily(name, doc, labels=labels)
            if not labels:  # a plain counter shows 0 before its first event
                fam.add_metric([], sum(v for vals, v in by_name.get(source, []) if not vals))
                return fam
            for vals, v in by_name.get(source, []):
                if len(vals) == len(labels):
                    fam.add_metric(vals, v)
            return fam

        yield counter("ferry_jobs_submitted", "Jobs accepted, by provider.", ["provider"], "jobs_submitted")
        yield counter("ferry_jobs_finished", "Jobs that reached a final status.", ["status", "provider"],
                      "jobs_finished")
        submitted = sum(v for _, v in by_name.get("jobs_submitted", []))
        finished = sum(v for _, v in by_name.get("jobs_finished", []))
        inflight = GaugeMetricFamily("ferry_jobs_in_flight", "Jobs submitted and not yet finished (approximate).")
        inflight.add_metric([], max(0.0, submitted - finished))
        yield inflight
        yield counter("ferry_bytes_in", "Source bytes of finished jobs' media (downloaded or uploaded).", [],
                      "bytes_in")
        yield counter("ferry_bytes_out", "Bytes of transformed media delivered to providers.", [], "bytes_out")
        yield counter("ferry_deliveries", "Media outputs delivered, by method.", ["method"], "deliveries")
        yield counter("ferry_cache_hits", "Deliveries served from the provider-upload or URL cache.", ["method"],
                      "cache_hits")
        yield counter("ferry_upstream_errors", "Provider errors that failed a job.", ["provider", "upstream_status"],
                      "upstream_errors")
        yield counter("ferry_webhook_attempts", "Webhook attempts by outcome.", ["outcome"], "webhook_attempts")

        hist = HistogramMetricFamily("ferry_stage_duration_seconds", "Time spent in each pipeline stage.",
                                     labels=["stage"])
        buckets: dict[str, dict[str, float]] = defaultdict(dict)
        for (stage, le), v in ((tuple(lbl), v) for lbl, v in by_name.get("stage_bucket", []) if len(lbl) == 2):
            buckets[stage][le] = v
        sums = {lbl[0]: v for lbl, v in by_name.get("stage_sum", []) if lbl}
        for stage, per in sorted(buckets.items()):
            running, cumulative = 0.0, []
            for b in BUCKETS:
                running += per.get(str(b), 0.0)
                cumulative.append((str(b), running))
            running += per.get("+Inf", 0.0)
            cumulative.append(("+Inf", running))
            hist.add_metric([stage], cumulative, sums.get(stage, 0.0))
        yield hist

        queues = GaugeMetricFamily("ferry_queue_length", "Messages waiting in each Celery queue.", labels=["queue"])
        for q in QUEUES:
            queues.add_metric([q], float(self.r.llen(q)))
        yield queues


def render(r: redis.Redis) -> bytes:
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(RedisCollector(r))
    return generate_latest(registry)
