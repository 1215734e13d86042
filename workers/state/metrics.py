"""Prometheus metrics kept in Redis, so every process (web, any worker, any machine) adds to one set.

Workers are other processes (often other machines), so in-process prometheus counters
would each see a slice. Instead every process adds its counts to one hash, ``ferry:metrics``,
and ``/metrics`` turns the hash into metric families at scrape time (:class:`RedisCollector`),
plus gauges read live from Redis (queue lengths).

A process buffers its increments and adds them in one pipeline every :data:`FLUSH_SECONDS` (a
background thread; at exit; before it renders ``/metrics``): two dozen ``HINCRBY``s per job cost
more than the job's own bookkeeping. A process killed with SIGKILL loses at most that last second.

Fields are ``name|label|label…``; histograms keep per-bucket counts (made cumulative at
scrape), a sum and a count.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
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


FLUSH_SECONDS = 1.0
log = logging.getLogger("ferry.metrics")


class _Tally:
    """This process's not-yet-added increments for one Redis (by connection pool)."""

    def __init__(self, pool: redis.ConnectionPool) -> None:
        self.client = redis.Redis(connection_pool=pool)
        self.lock = threading.Lock()
        self.ints: dict[str, int] = defaultdict(int)
        self.floats: dict[str, float] = defaultdict(float)

    def flush(self) -> None:
        with self.lock:
            ints, floats = self.ints, self.floats
            self.ints, self.floats = defaultdict(int), defaultdict(float)
        if not ints and not floats:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            for field, n in ints.items():
                pipe.hincrby(KEY, field, n)
            for field, x in floats.items():
                pipe.hincrbyfloat(KEY, field, x)
            pipe.execute()
        except redis.RedisError:  # Redis away: keep the counts for the next flush
            with self.lock:
                for field, n in ints.items():
                    self.ints[field] += n
                for field, x in floats.items():
                    self.floats[field] += x


class _Tallies:
    """Every tally of this process, and the thread that flushes them (restarted in a forked child)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_pool: dict[int, _Tally] = {}
        self.pid = 0

    def get(self, r: redis.Redis | redis.client.Pipeline) -> _Tally:
        pool = r.connection_pool
        tally = self.by_pool.get(id(pool))
        if tally is None or self.pid != os.getpid():
            with self.lock:
                if self.pid != os.getpid():  # first use here, or a forked child: the parent's counts are its own
                    self.pid, self.by_pool = os.getpid(), {}
                    threading.Thread(target=self._run, name="metrics-flush", daemon=True).start()
                tally = self.by_pool.setdefault(id(pool), _Tally(pool))
        return tally

    def flush(self) -> None:
        if self.pid != os.getpid():
            return
        for tally in list(self.by_pool.values()):
            tally.flush()

    def _run(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            try:
                self.flush()
            except Exception:  # never let the flusher die
                log.warning("metrics: flush failed", exc_info=True)


_TALLIES = _Tallies()


def flush() -> None:
    """Add this process's buffered counts now (at exit, when a worker process shuts down, before /metrics)."""
    _TALLIES.flush()


def _forget_after_fork() -> None:
    _TALLIES.lock, _TALLIES.by_pool, _TALLIES.pid = threading.Lock(), {}, 0


atexit.register(flush)
os.register_at_fork(after_in_child=_forget_after_fork)


def count(r: redis.Redis | redis.client.Pipeline, field: str, amount: int = 1) -> None:
    """Add to one counter (buffered; see the module docstring); metrics never break the work they measure."""
    tally = _TALLIES.get(r)
    with tally.lock:
        tally.ints[field] += amount


def job_submitted(r: redis.Redis | redis.client.Pipeline, provider: str) -> None:
    count(r, f"jobs_submitted|{provider}")


def observe_stage(r: redis.Redis | redis.client.Pipeline, stage: str, seconds: float) -> None:
    """One stage duration."""
    bucket = next((b for b in BUCKETS if seconds <= b), "+Inf")
    tally = _TALLIES.get(r)
    with tally.lock:
        tally.ints[f"stage_bucket|{stage}|{bucket}"] += 1
        tally.floats[f"stage_sum|{stage}"] += seconds
        tally.ints[f"stage_count|{stage}"] += 1


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
    tally = _TALLIES.get(r)
    with tally.lock:
        for field, n in fields.items():
            if n:
                tally.ints[field] += n


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

    flush()  # this process's own counts are in the answer at once
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RedisCollector(r))
    return generate_latest(registry)
