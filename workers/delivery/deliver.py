"""Deliver a resource's outputs: decide the method per output, then carry it out.

Returns the resource's ``delivery`` entry: ``{"method", "ref", "cached", "reason"}``
for one output, or ``{"method", "parts": [...], "cached"}`` for several.
"""
from __future__ import annotations

from typing import Any

from workers.context import Context
from workers.delivery.plan import plan_delivery
from workers.providers.catalog import ModelCaps


def deliver_outputs(ctx: Context, record: dict[str, Any], res: dict[str, Any], caps: ModelCaps) -> dict[str, Any]:
    decisions = [plan_delivery(out, caps, record.get("delivery") or {}) for out in res["outputs"]]
    if len(decisions) == 1:
        return decisions[0]
    return {"method": decisions[0]["method"], "parts": decisions, "cached": all(d["cached"] for d in decisions)}
