"""Delivery planner (pure): inline base64 | URL | provider file id | cloud URI.

Today every output goes inline; the catalog's ``delivery`` list and the
request's ``delivery.prefer`` are the inputs the richer planner reads.
"""
from __future__ import annotations

from typing import Any

from workers.providers.catalog import ModelCaps


def plan_delivery(output: dict[str, Any], caps: ModelCaps, prefs: dict[str, Any]) -> dict[str, Any]:
    if output["kind"] == "text":
        return {"method": "text", "ref": None, "cached": False, "reason": "extracted text travels as a text part"}
    return {
        "method": "inline",
        "ref": f"sha256:{output['sha256']}",
        "cached": False,
        "reason": "inline base64 (within the provider's inline limits)",
    }
