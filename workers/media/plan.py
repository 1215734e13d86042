"""Plan: (facts, model capabilities, options) -> transforms, each with its reason.

Pure: no I/O. Raises 415/422/413 saying what the model cannot take and why.
"""
from __future__ import annotations

from typing import Any

from workers.errors import TooLarge, UnsupportedMedia, Unprocessable
from workers.providers.catalog import ModelCaps

_MODALITY = {"image": "image", "document": "file", "audio": "audio", "video": "video"}


def plan_resource(facts: dict[str, Any], caps: ModelCaps, options: dict[str, Any]) -> list[dict[str, Any]]:
    kind = facts["kind"]
    mime = facts["mime"]
    kcaps = caps.caps_for(kind)
    if kcaps is None:
        raise Unprocessable(f"{caps.id} does not accept {kind} input ({mime})")
    steps: list[dict[str, Any]] = []
    if kind == "image":
        target = mime
        if facts.get("orientation", 1) not in (1, None):
            steps.append({"op": "exif_transpose", "reason": f"EXIF orientation {facts['orientation']}"})
        if mime not in kcaps.formats:
            target = "image/png" if "image/png" in kcaps.formats else kcaps.formats[0]
            steps.append({"op": "convert", "to": target, "reason": f"{caps.provider} does not take {mime}"})
        elif steps:
            steps.append({"op": "convert", "to": target, "reason": "re-encode after rotation"})
    elif mime not in kcaps.formats:
        raise UnsupportedMedia(f"{caps.id} does not accept {mime}; accepted: {', '.join(kcaps.formats)}")
    if kind == "document":
        max_pages = getattr(kcaps, "max_pages", None)
        if max_pages and facts.get("pages", 0) > max_pages:
            raise Unprocessable(f"PDF has {facts['pages']} pages; {caps.id} takes at most {max_pages}")
    if kcaps.max_bytes and not steps:
        size = facts["bytes"] * 4 // 3 if kcaps.counted_on_base64 else facts["bytes"]
        if size > kcaps.max_bytes:
            raise TooLarge(f"{kind} is {facts['bytes']} bytes; {caps.id} takes at most {kcaps.max_bytes}")
    return steps
