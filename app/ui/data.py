"""What the UI pages read: job summaries for the list, a job's timeline bars, a batch's lines.

Single jobs and batches come from the same services the API answers with (workers/services/jobs.py,
batches.py: a foreign id is a 404 there); this module only adds list reads over the tenant's own
indexes (``ferry:tenant:<t>:jobs``), each a pipelined round trip per chunk, and pure shaping.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

from workers.context import Context
from workers.core import keys
from workers.state.jobs import STAGES, TERMINAL

#: Most index entries one list page looks at while filtering (bounds a page's cost; the page says so).
SCAN_LIMIT = 2000
CHUNK = 100
WINDOWS = {"15m": 900, "1h": 3600, "24h": 86400, "7d": 7 * 86400}
STATUSES = ("queued", "running", "succeeded", "failed", "canceled")


@dataclass
class JobPage:
    rows: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None
    scanned_out: bool = False  # SCAN_LIMIT reached before the page filled: narrow the filters


def _tokens(result: Any, estimate: Any) -> tuple[int | None, bool]:
    """(tokens, estimated): the result's usage, else the dry run's estimate."""
    usage = result.get("usage") if isinstance(result, dict) else None
    if isinstance(usage, dict) and usage.get("total_tokens") is not None:
        return int(usage["total_tokens"]), False
    if isinstance(estimate, dict) and estimate.get("prompt_tokens") is not None:
        return int(estimate["prompt_tokens"]), True
    return None, False


def _loads(raw: Any) -> Any:
    """A JSON hash field another part of Ferry may add (None when absent or not JSON)."""
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def cost_of(*holders: Any) -> dict[str, Any] | None:
    """A job's or batch's cost when Ferry recorded one (``cost`` on the job, its result or the result's usage;
    a number of USD or ``{"usd"|"total_usd"|"total"|"amount", "estimated"?}``), as ``{"usd", "estimated"}``;
    None while the catalog carries no prices (then the UI shows tokens and says so)."""
    for holder in holders:
        if not isinstance(holder, dict):
            continue
        usage = holder.get("usage")
        for raw in (holder.get("cost"), usage.get("cost") if isinstance(usage, dict) else None):
            if isinstance(raw, (int, float)) and not isinstance(raw, bool):
                return {"usd": float(raw), "estimated": False}
            if isinstance(raw, dict):
                for name in ("usd", "total_usd", "total", "amount", "actual", "estimated", "estimate_usd"):
                    value = raw.get(name)
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        return {"usd": float(value),
                                "estimated": bool(raw.get("estimated")) or name in ("estimated", "estimate_usd")}
    return None


def _summary(job_id: str, raw: list[Any], done: int, last_step: Any, now: float) -> dict[str, Any] | None:
    status, stage, created, updated, record, result, estimate, error, cost = raw
    if status is None or record is None:
        return None
    rec = json.loads(record)
    status_s = status.decode()
    created_i, updated_i = int(created or 0), int(updated or 0)
    total = rec.get("total_steps") or 1
    result_d = json.loads(result) if result else None
    tokens, estimated = _tokens(result_d, json.loads(estimate) if estimate else None)
    end: float = now
    if status_s in TERMINAL:  # the last step's end (to the ms) when there is one; updated_at is whole seconds
        end = max(float(json.loads(last_step).get("at", 0)) if last_step else 0.0, float(updated_i))
    return {"id": job_id, "tenant": rec.get("tenant"), "model": rec.get("model"), "status": status_s,
            "stage": stage.decode() if stage else None, "dry_run": bool(rec.get("dry_run")),
            "progress": 1.0 if status_s == "succeeded" else round(min(done / total, 1.0), 3),
            "created_at": created_i, "duration": max(0.0, end - float(rec.get("submitted_at") or created_i)),
            "tokens": tokens, "tokens_estimated": estimated, "batch": (rec.get("batch") or {}).get("id"),
            "custom_id": (rec.get("batch") or {}).get("custom_id"),
            "cost": cost_of({"cost": _loads(cost)}, result_d),
            "error": json.loads(error) if error else None}


def summaries(ctx: Context, job_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The list columns of each job, in one round trip (jobs that expired are left out)."""
    pipe = ctx.redis.pipeline(transaction=False)
    for job_id in job_ids:
        pipe.hmget(keys.job(job_id), "status", "stage", "created_at", "updated_at", "record", "result",
                   "usage_estimate", "error", "cost")
        pipe.scard(keys.job_steps(job_id))
        pipe.lindex(keys.job_timeline(job_id), -1)
    got = pipe.execute()
    now = time.time()
    out = {}
    for i, job_id in enumerate(job_ids):
        summary = _summary(job_id, got[3 * i], int(got[3 * i + 1]), got[3 * i + 2], now)
        if summary is not None:
            out[job_id] = summary
    return out


def _matches(row: dict[str, Any], status: str | None, model: str | None) -> bool:
    if status and row["status"] != status:
        return False
    if model:
        name = row["model"] or ""
        return name == model if "/" in model else name.split("/", 1)[0] == model
    return True


def list_jobs(ctx: Context, tenant: str, *, status: str | None = None, model: str | None = None,
              window: str | None = None, cursor: str | None = None, limit: int = 25) -> JobPage:
    """The tenant's jobs, newest first, filtered; ``cursor`` ("<created>:<job id>", the last row of the
    previous page) keeps pages stable while new jobs arrive at the top."""
    index = keys.tenant_jobs(tenant)
    low: float | str = time.time() - WINDOWS[window] if window in WINDOWS else "-inf"
    high: float | str = "+inf"
    after: tuple[float, str] | None = None
    if cursor:
        score, _, last = cursor.partition(":")
        try:
            after = (float(score), last)
        except ValueError:
            after = None
        if after is not None and math.isfinite(after[0]):
            high = after[0]
        else:
            after = None  # a cursor this page did not write: start from the newest
    page, offset, scanned = JobPage(), 0, 0
    while scanned < SCAN_LIMIT:
        entries = ctx.redis.zrevrangebyscore(index, high, low, start=offset, num=CHUNK, withscores=True)
        if not entries:
            return page
        offset += len(entries)
        scanned += len(entries)
        fresh = [(m.decode(), s) for m, s in entries
                 if after is None or s < after[0] or (s == after[0] and m.decode() < after[1])]
        rows = summaries(ctx, [m for m, _ in fresh])
        for job_id, score in fresh:
            row = rows.get(job_id)
            if row is None or row["tenant"] != tenant or not _matches(row, status, model):
                continue
            if len(page.rows) == limit:
                page.next_cursor = f"{page.rows[-1]['created_at']}:{page.rows[-1]['id']}"
                return page
            page.rows.append(row)
        if len(entries) < CHUNK:
            return page
    page.scanned_out = True
    if page.rows:
        page.next_cursor = f"{page.rows[-1]['created_at']}:{page.rows[-1]['id']}"
    return page


def timeline(view: dict[str, Any], submitted_at: float | None) -> dict[str, Any]:
    """Bars for the stage timeline: each step runs from the previous step of its resource (or the
    submit) to its recorded end; ``complete`` from the last delivery, ``notify`` from ``complete``."""
    entries = {e["step"]: float(e["at"]) for e in view.get("timeline") or [] if "step" in e and "at" in e}
    t0 = float(submitted_at or view["created_at"])
    bars: list[dict[str, Any]] = []
    last_deliver = t0
    for i in range(len(view.get("resources") or [])):
        start = t0
        for stage in STAGES:
            end = entries.get(f"{stage}:{i}")
            if end is None:
                continue
            bars.append({"label": f"{stage} #{i}", "stage": stage, "start": start, "end": end})
            start = end
            if stage == "deliver":
                last_deliver = max(last_deliver, end)
    start = last_deliver
    for step in ("complete", "notify"):
        if step in entries:
            bars.append({"label": step, "stage": step, "start": start, "end": entries[step]})
            start = entries[step]
    span = max([b["end"] for b in bars] + [t0]) - t0
    scale = span if span > 0 else 1.0
    for row, bar in enumerate(bars):
        bar["row"] = row
        bar["x"] = round(100 * (bar["start"] - t0) / scale, 2)
        bar["w"] = max(round(100 * (bar["end"] - bar["start"]) / scale, 2), 0.4)
        bar["ms"] = round(1000 * (bar["end"] - bar["start"]), 1)
        bar["at_ms"] = round(1000 * (bar["end"] - t0), 1)
    return {"bars": bars, "span_ms": round(1000 * span, 1)}


def media_index(view: dict[str, Any]) -> dict[str, str]:
    """sha256 -> MIME of every original and sent blob of the job (what its media route may serve)."""
    out: dict[str, str] = {}
    for res in view.get("resources") or []:
        src = res.get("source") or {}
        if src.get("sha256"):
            out[src["sha256"]] = ((res.get("facts") or {}).get("mime") or src.get("mime") or src.get("sniffed_at_submit")
                                  or "application/octet-stream")  # sniffed from the bytes, never the label
        for o in res.get("outputs") or []:
            if o.get("sha256"):
                out[o["sha256"]] = o.get("mime") or "application/octet-stream"
        preview = res.get("preview") or {}
        if preview.get("sha256"):  # a PDF's first page, drawn by the worker
            out[preview["sha256"]] = "image/jpeg"
    return out


def prompt_text(record: dict[str, Any]) -> str:
    """The request's text parts, for the job page's heading."""
    texts = []
    for msg in (record.get("request") or {}).get("messages") or []:
        content = msg.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
    return "\n".join(t for t in texts if t)


def batch_lines(ctx: Context, batch_id: str, offset: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    """Per-line state of a batch the caller already checked is the tenant's: its job, status, custom_id
    and (once finished) its output or error line."""
    pipe = ctx.redis.pipeline(transaction=False)
    pipe.hgetall(keys.batch(batch_id, "jobs"))
    pipe.hgetall(keys.batch(batch_id, "lines"))
    job_map, line_map = pipe.execute()
    jobs = {int(k): v.decode() for k, v in job_map.items()}
    lines = {int(k): json.loads(v) for k, v in line_map.items()}
    indexes = sorted(set(jobs) | set(lines))[offset:offset + limit]
    rows = summaries(ctx, [jobs[i] for i in indexes if i in jobs])
    out = []
    for i in indexes:
        line = lines.get(i)
        job = rows.get(jobs.get(i, ""))
        response = (line or {}).get("response") or {}
        error = (line or {}).get("error") or ((response.get("body") or {}).get("error")
                                              if response.get("status_code") != 200 else None)
        out.append({"index": i, "line": i + 1, "job_id": jobs.get(i), "custom_id": (line or {}).get("custom_id") or (job or {}).get("custom_id"),
                    "status": job["status"] if job else ("failed" if line and error else "pending"),
                    "finished": line is not None, "status_code": response.get("status_code"), "error": error})
    return out


def provider_batches(ferry: dict[str, Any]) -> list[dict[str, Any]]:
    """``ferry.provider_batches`` of a batch (native mode: ``[{provider, model, id, status, lines}]``) as rows;
    empty when the batch ran as jobs. Unknown fields are kept for the page's details."""
    raw = ferry.get("provider_batches") or []
    if isinstance(raw, dict):  # tolerate {id: {...}}
        raw = [{"id": k, **v} for k, v in raw.items() if isinstance(v, dict)]
    rows = []
    for pb in raw if isinstance(raw, list) else []:
        if not isinstance(pb, dict):
            continue
        lines = pb.get("lines")
        rows.append({"provider": pb.get("provider"), "model": pb.get("model"), "id": pb.get("id"),
                     "status": pb.get("status") or "unknown",
                     "lines": len(lines) if isinstance(lines, list) else lines,
                     "counts": pb.get("request_counts") if isinstance(pb.get("request_counts"), dict) else None,
                     "extra": {k: v for k, v in pb.items()
                               if k not in ("provider", "model", "id", "status", "lines", "request_counts")}})
    return rows
