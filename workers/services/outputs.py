"""Generated media in results, as answered: URLs (presigned where storage signs) or base64 on request.

The ``complete`` stage stored each output as a Ferry file and left a reference in the result
(workers/pipeline/outputs.py); these functions answer those references as the client asked.
"""
from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

from workers.context import Context
from workers.core import keys
from workers.core.errors import NotFound
from workers.pipeline.outputs import has_outputs, slots
from workers.state import files as ferry_files


def delete_outputs(ctx: Context, tenant: str, job_id: str) -> int:
    """Delete the files a job's generated media went to (``DELETE /v1/jobs/{id}?purge=true``)."""
    deleted = 0
    for raw in ctx.redis.smembers(keys.job_outputs(job_id)):
        try:
            ferry_files.delete(ctx, tenant, raw.decode())
            deleted += 1
        except NotFound:
            pass  # already deleted through /v1/files
    ctx.redis.delete(keys.job_outputs(job_id))
    return deleted


def _public_url(ctx: Context, tenant: str, file_id: str, base_url: str | None) -> str:
    signed = ctx.storage.presigned_url(ferry_files.storage_key(tenant, file_id), ctx.settings.presign_seconds)
    if signed:
        return signed
    path = f"/v1/files/{file_id}/content"
    return base_url.rstrip("/") + path if base_url else path


def present(ctx: Context, tenant: str, result: Any, *, inline: bool, base_url: str | None = None) -> Any:
    """The stored result as answered: output references as URLs (presigned, or absolute Ferry URLs
    when ``base_url`` is given), or with ``inline`` the base64 back where the provider sent it."""
    if not inline:
        return linked(result, lambda file_id: _public_url(ctx, tenant, file_id, base_url))
    if not has_outputs(result):
        return result
    result = copy.deepcopy(result)
    for kind, _where, holder in slots(result):
        file_id = holder.get("file_id")
        if not isinstance(file_id, str):
            continue
        try:
            data = ferry_files.read_bytes(ctx, tenant, file_id)
        except NotFound:  # the client deleted the file: keep the reference
            continue
        b64 = base64.b64encode(data).decode("ascii")
        if kind == "audio":
            holder["data"] = b64
        else:
            holder["image_url"]["url"] = f"data:{holder.get('mime') or 'image/png'};base64,{b64}"
    return result


def linked(result: Any, url_of: Callable[[str], str]) -> Any:
    """A copy of ``result`` whose generated images and audio point at ``url_of(file_id)`` (no base64)."""
    if not has_outputs(result):
        return result
    result = copy.deepcopy(result)
    for kind, _where, holder in slots(result):
        file_id = holder.get("file_id")
        if not isinstance(file_id, str):
            continue
        if kind == "audio":
            holder["url"] = url_of(file_id)
            holder.pop("data", None)
        else:
            holder["image_url"]["url"] = url_of(file_id)
    return result


def wants_inline(options: Any, include: str | None) -> bool:
    """``?include=b64`` on the request, or the job's ``options.outputs == "inline"``."""
    if include and "b64" in {p.strip() for p in include.split(",")}:
        return True
    return isinstance(options, dict) and options.get("outputs") == "inline"


def present_view(ctx: Context, tenant: str, view: dict[str, Any], *, base_url: str | None,
                 include: str | None = None) -> dict[str, Any]:
    """``GET /v1/jobs/{id}``: the job view with its result's outputs presented."""
    if not has_outputs(view.get("result")):
        return view
    inline = wants_inline(None, include) or wants_inline(ctx.store.record(view["id"]).get("options"), None)
    return {**view, "result": present(ctx, tenant, view["result"], inline=inline, base_url=base_url)}
