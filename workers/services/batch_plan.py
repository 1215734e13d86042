"""Which provider batches a native batch's prepared lines make: pure planning, no I/O.

Lines are grouped per (provider, model) in index order and split at the provider's limits
(workers/providers/batch_catalog.toml): lines and bytes per provider batch, bytes per line. A group split
at ``max_lines`` is split evenly (50,050 lines at 50,000 → 25,025 + 25,025, not 50,000 + 50), so no part
falls below a provider's ``min_lines`` (Bedrock) only because of where the cut fell. A line over its
provider's per-line limit is not put in any group: the driver answers it alone (``line_too_large``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from workers.providers import batch_catalog


@dataclass
class TooLarge:
    index: int
    info: dict[str, Any]
    limit: int
    what: str


def split(sizes: list[tuple[int, int]], max_lines: int, max_bytes: int) -> list[list[int]]:
    """``(index, bytes)`` pairs in order → chunks of indexes, each within ``max_lines`` and ``max_bytes``,
    with the line count spread evenly over as few chunks as the line limit needs."""
    if not sizes:
        return []
    per_chunk = math.ceil(len(sizes) / math.ceil(len(sizes) / max_lines))
    chunks: list[list[int]] = []
    chunk: list[int] = []
    total = 0
    for index, size in sizes:
        if chunk and (len(chunk) >= per_chunk or total + size > max_bytes):
            chunks.append(chunk)
            chunk, total = [], 0
        chunk.append(index)
        total += size
    chunks.append(chunk)
    return chunks


def plan(batch_id: str, prepared: dict[int, dict[str, Any]],
         done: set[int]) -> tuple[dict[int, dict[str, Any]], list[TooLarge]]:
    """The groups (numbered from 0, each with its deterministic tag) and the lines too large for any."""
    by_key: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = {}
    for index, info in sorted(prepared.items()):
        if index not in done:
            by_key.setdefault((info["provider"], info["model"]), []).append((index, info))
    groups: dict[int, dict[str, Any]] = {}
    too_large: list[TooLarge] = []
    for (provider, model), lines in sorted(by_key.items()):
        lim = batch_catalog.limits(provider)
        assert lim is not None, f"{provider} lines were prepared for a batch API it does not have"
        cap, what = batch_catalog.line_cap(lim)
        fits = []
        for index, info in lines:
            if int(info["bytes"]) > cap:
                too_large.append(TooLarge(index, info, cap, what))
            else:
                fits.append((index, int(info["bytes"])))
        for chunk in split(fits, lim.max_lines, lim.max_bytes):
            k = len(groups)
            groups[k] = {"provider": provider, "model": model, "lines": chunk, "state": "planned", "id": None,
                         "status": "planned", "tag": f"ferry-{batch_id}-{k}"}
    return groups, too_large
