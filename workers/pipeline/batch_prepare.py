"""A native batch line's ``complete``: the job stops before calling the provider and keeps the request.

A line of a batch in native mode (issue 13) runs as an ordinary job through fetch, inspect, plan, transform and
deliver, so its media is converted and delivered exactly as a synchronous call's would be (Files-API ids, URLs,
inline). ``complete`` then builds the provider request as usual, but instead of sending it, shapes it as one
line of the provider's batch input (``workers/providers/batch_api/<client>.py`` ``line``) and stores that line
as a content-addressed blob, named by the job's ``batch_line``. The job is not over: it stays ``running`` at
stage ``batch`` (``status_detail``: what it waits for) until its provider batch answers, when the collector
(workers/services/batch_native.py) ends it, succeeded with the answer or failed with the provider's error.
The batch driver concatenates the lines of a provider batch from these blobs.
"""
from __future__ import annotations

import json
from typing import Any

from workers.context import Context
from workers.core.records import JobRecord
from workers.providers import batch_catalog
from workers.providers.base import NativeRequest
from workers.providers.batch_api import client
from workers.providers.catalog import ModelCaps
from workers.state import retention
from workers.storage.blobs import put_bytes


def custom_id(index: int) -> str:
    """The id a line carries upstream: the line's index (users' custom_ids need not fit the provider's rules)."""
    return f"ferry-{index}"


def is_native(record: JobRecord) -> bool:
    return bool((record.get("batch") or {}).get("native"))


def prepare(ctx: Context, job_id: str, record: JobRecord, caps: ModelCaps, native: NativeRequest,
            shown: dict[str, Any], estimate: dict[str, Any]) -> None:
    """Store this line's provider batch request; the job waits for its provider batch (nothing sent)."""
    name = batch_catalog.native_client(caps.provider)
    assert name is not None, f"{caps.provider} has no batch client"  # the batch start checked it
    index = int(record["batch"]["index"])
    data = (json.dumps(client(name).line(custom_id(index), native), separators=(",", ":")) + "\n").encode()
    sha = put_bytes(ctx.storage, data)
    retention.track(ctx, job_id, [sha])
    est = batch_catalog.cost(caps.id, {"prompt_tokens": estimate.get("prompt_tokens"),
                                       "completion_tokens": estimate.get("max_completion_tokens") or 0}, batch=True)
    ctx.store.await_batch(job_id, f"waiting for its {caps.provider} batch (not created yet)",
                          provider_request=shown, usage_estimate=estimate,
                          batch_line={"sha256": sha, "bytes": len(data), "provider": caps.provider, "model": caps.model,
                                      "custom_id": custom_id(index), "cost_estimate": est})
