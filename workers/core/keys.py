"""Every Redis key Ferry uses, named in one place.

Everything lives under ``ferry:``. Per job (all expiring with the job, ``FERRY_JOB_TTL_SECONDS``):
``job:<id>`` (hash: record, status, stage, one ``res:<i>`` per resource, result, error, webhook…),
``…:steps`` (finished stage steps), ``…:ready`` (delivered resources), ``…:timeline``,
``…:attempts:<step>``, ``…:lease:<step>``, ``…:done:<step>``, ``…:outputs``, ``…:ended``.
Shared: ``running`` (the reaper's pending steps), batches, files, caches, claims, metrics, blob references.
"""
from __future__ import annotations

PREFIX = "ferry:"

#: Sorted set ``<job id>|<step>`` -> deadline: every step a job still expects (workers/state/leases.py).
RUNNING = "ferry:running"
#: Hash ``<job id>|<step>`` -> how often the reaper re-sent it.
REQUEUES = "ferry:running:requeues"
#: The one reaper pass running anywhere (workers/tasks/reaper.py).
REAPER_LOCK = "ferry:reaper:lock"
#: Sorted set batch id -> when its next driver step is due (native batches, workers/services/batch_native.py):
#: the reaper re-sends a step that is overdue, so a worker killed mid-step loses no batch.
BATCH_TICKS = "ferry:batches:ticking"
#: Hash of Prometheus counters (workers/state/metrics.py).
METRICS = "ferry:metrics"
#: Sorted set sha256 -> latest expiry among the blob's owners (workers/state/retention.py).
BLOBS = "ferry:blobs"
#: Sorted set file id -> expires_at, for Ferry files that expire (generated outputs).
FILES_EXPIRING = "ferry:files:expiring"


def job(job_id: str) -> str:
    return f"ferry:job:{job_id}"


def job_part(job_id: str, part: str) -> str:
    """``steps``, ``ready``, ``timeline``, ``outputs``, ``attempts:<step>``…"""
    return f"ferry:job:{job_id}:{part}"


def job_steps(job_id: str) -> str:
    return job_part(job_id, "steps")


def job_timeline(job_id: str) -> str:
    return job_part(job_id, "timeline")


def job_ready(job_id: str) -> str:
    return job_part(job_id, "ready")


def job_attempts(job_id: str, step: str) -> str:
    return job_part(job_id, f"attempts:{step}")


def lease(job_id: str, step: str) -> str:
    return job_part(job_id, f"lease:{step}")


def step_done(job_id: str, step: str) -> str:
    """Done marker of steps outside the job's ``steps`` set (``notify``)."""
    return job_part(job_id, f"done:{step}")


def job_outputs(job_id: str) -> str:
    """Set of the Ferry file ids a job's generated media went to."""
    return job_part(job_id, "outputs")


def job_ended(job_id: str) -> str:
    """List a waiter blocks on: one item is pushed when the job ends (workers/state/jobs.py)."""
    return job_part(job_id, "ended")


def running_member(job_id: str, step: str) -> str:
    return f"{job_id}|{step}"


def tenant_jobs(tenant: str) -> str:
    return f"ferry:tenant:{tenant}:jobs"


def tenant_batches(tenant: str) -> str:
    return f"ferry:tenant:{tenant}:batches"


def tenant_files(tenant: str) -> str:
    return f"ferry:tenant:{tenant}:files"


def batch(batch_id: str, part: str = "") -> str:
    """The batch hash, or one of its parts: ``done``, ``lines``, ``jobs``; for native mode (issue 13)
    ``prepared`` (index → the line's stored provider request), ``groups`` (k → one provider batch) and
    ``tick`` (the lock of the one driver step running for it), ``tick_again`` (a step came while it ran),
    ``fallback`` (index → the job a line fell back to)."""
    return f"ferry:batch:{batch_id}" + (f":{part}" if part else "")


def file(file_id: str) -> str:
    return f"ferry:file:{file_id}"


def idempotency(tenant: str, key_digest: str) -> str:
    return f"ferry:idem:{tenant}:{key_digest}"


def file_id_cache(provider: str, account: str, sha256: str) -> str:
    return f"ferry:fileid:{provider}:{account[:32]}:{sha256}"


def file_id_cache_pattern(provider: str) -> str:
    return f"ferry:fileid:{provider}:*"


def inspected(sha256: str, hints: str) -> str:
    """Facts of bytes already inspected (workers/state/factcache.py); ``hints`` digests what else inspect read."""
    return f"ferry:inspected:{sha256}:{hints}"


def once_result(key: str) -> str:
    return f"ferry:once:{key}"


def once_claim(key: str) -> str:
    return f"ferry:claim:{key}"


def produced(kind: str) -> str:
    """Counter of work really done per kind (download, transform, upload): how tests count dedupe."""
    return f"ferry:stats:produced:{kind}"


def blob_refs(sha256: str) -> str:
    return f"ferry:blobref:{sha256}"


def owner_blobs(owner: str) -> str:
    return f"ferry:owner:{owner}:blobs"
