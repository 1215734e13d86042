"""Provider batch APIs and model prices, as data (``batch_catalog.toml`` beside this module).

:func:`limits` answers what one provider batch may hold (lines, bytes, one model) and which client in
``workers/providers/batch_api/`` drives it; :func:`cost` prices a usage block, synchronously or at the
batch discount, so a batch can show what it saved.
"""
from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict


class BatchLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client: str | None = None
    min_lines: int = 1
    """The fewest lines one provider batch takes (Bedrock's per-job minimum record count)."""
    max_lines: int
    max_bytes: int
    max_line_bytes: int | None = None
    """One request (line) at most, where the provider documents a per-request limit; else ``max_bytes``."""
    window_seconds: int = 86_400
    ref_seconds: int | None = None
    """How long file ids and URLs inside lines must live, when not the whole window (see the toml)."""
    one_model: bool = True
    source: str


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: float
    output: float
    cached_input: float | None = None
    batch_discount: float = 0.5
    source: str


class BatchCatalog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch: dict[str, BatchLimits]
    prices: dict[str, Price]


@lru_cache(maxsize=1)
def get() -> BatchCatalog:
    with Path(__file__).with_name("batch_catalog.toml").open("rb") as fh:
        return BatchCatalog.model_validate(tomllib.load(fh))


def limits(provider: str) -> BatchLimits | None:
    return get().batch.get(provider)


def line_cap(lim: BatchLimits) -> tuple[int, str]:
    """(bytes, what the limit is) for one line of ``lim``'s provider batch: a line over it is refused alone."""
    if lim.max_line_bytes is not None and lim.max_line_bytes <= lim.max_bytes:
        return lim.max_line_bytes, "per request (max_line_bytes)"
    return lim.max_bytes, "per batch (max_bytes)"


def native_client(provider: str) -> str | None:
    """The batch_api module that drives ``provider``'s batch API, or None (none, or not driven yet)."""
    lim = limits(provider)
    return lim.client if lim else None


#: Bedrock cross-region inference profile prefixes: a profile bills as the model it routes to.
_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "jp.", "au.", "ca.", "us-gov.", "global.")


def price(model_id: str) -> Price | None:
    """The price of ``provider/model``; a dated snapshot (``gpt-4o-2024-08-06``) gets its listed stem's, and a
    Bedrock inference profile (``bedrock/us.anthropic…``) its model's."""
    provider, _, model = model_id.partition("/")
    if provider == "bedrock" and model.startswith(_PROFILE_PREFIXES):
        model_id = f"{provider}/{model.split('.', 1)[1]}"
    prices = get().prices
    if model_id in prices:
        return prices[model_id]
    stems = [k for k in prices if model_id.startswith(k + "-")]
    return prices[max(stems, key=len)] if stems else None


def cost(model_id: str, usage: dict[str, Any] | None, *, batch: bool) -> dict[str, Any]:
    """USD for one usage block (chat.completion names): ``usd`` as billed (batch discount when ``batch``),
    ``sync_usd`` what the same tokens cost synchronously; ``priced`` False when the catalog has no price."""
    p = price(model_id)
    usage = usage or {}
    prompt = int(usage.get("prompt_tokens") or 0)
    cached = int(((usage.get("prompt_tokens_details") or {}).get("cached_tokens")) or 0)
    completion = int(usage.get("completion_tokens") or 0)
    if p is None:
        return {"usd": None, "sync_usd": None, "priced": False, "model": model_id}
    cached_rate = p.cached_input if p.cached_input is not None else p.input
    sync = ((prompt - cached) * p.input + cached * cached_rate + completion * p.output) / 1_000_000
    factor = p.batch_discount if batch else 1.0
    return {"usd": round(sync * factor, 12), "sync_usd": round(sync, 12), "priced": True, "model": model_id,
            "rates_per_1m": {"input": p.input * factor, "output": p.output * factor,
                             "cached_input": cached_rate * factor}, "source": p.source}


def job_cost(model_id: str, usage: dict[str, Any] | None, estimate: dict[str, Any] | None = None) -> dict[str, Any]:
    """A synchronous job's ``cost``: actual (from the provider's usage) and estimated before the call
    (Ferry's token estimate, with max_tokens as the output bound when set)."""
    actual = cost(model_id, usage, batch=False)
    est = estimate or {}
    guess = cost(model_id, {"prompt_tokens": est.get("prompt_tokens"),
                            "completion_tokens": est.get("max_completion_tokens") or 0}, batch=False)
    return {"usd": actual["usd"], "estimate_usd": guess["usd"], "priced": actual["priced"],
            **({"source": actual["source"]} if actual.get("source") else {})}
