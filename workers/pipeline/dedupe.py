"""Content addressing across jobs: the same URL is downloaded once, the same (bytes, recipe) is
transformed once, however many jobs ask at the same moment (claims in :mod:`workers.state.claims`).

Downloads are keyed by URL (the bytes are unknown until fetched) and remembered for
``FERRY_URL_CACHE_SECONDS`` only, since a URL's content may change; transforms are keyed by the source
sha256 and the recipe, and remembered as long as jobs are. A remembered result is used only while its
blobs are still in storage.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workers.storage.blobs import blob_key
from workers.context import Context
from workers.core.records import Output, Resource
from workers.state.claims import digest, once


def _blobs_present(ctx: Context, shas: list[str]) -> bool:
    return all(ctx.storage.exists(blob_key(s)) for s in shas)


def fetch_once(ctx: Context, tenant: str, url: str, download: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``download()`` returns the source fields (bytes, sha256, ...) after storing the blob.

    Per tenant: one tenant's recent download never answers (or times) another's."""
    value, _ = once(ctx.redis, f"download:{digest([tenant, url])}", download, ttl=ctx.settings.url_cache_seconds,
                    valid=lambda v: _blobs_present(ctx, [v["sha256"]]),
                    claim_seconds=int(ctx.settings.fetch_timeout * 4) + 60)
    return value


def transform_once(ctx: Context, res: Resource, run: Callable[[], list[Output]]) -> list[Output]:
    """``run()`` returns the outputs (blobs stored); the same source + recipe reuses them."""
    recipe = [{k: v for k, v in step.items() if k != "reason"} for step in res.get("transforms", [])]
    key = f"transform:{res['source']['sha256']}:{digest(recipe)}"
    value, _ = once(ctx.redis, key, run, ttl=ctx.settings.job_ttl_seconds,
                    valid=lambda outs: _blobs_present(ctx, [o["sha256"] for o in outs if o.get("sha256")]))
    return value
