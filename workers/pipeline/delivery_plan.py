"""Delivery planner (pure): inline base64 | presigned URL | provider file id | cloud URI.

Inputs are data only: the output's size and kind, the model's catalog entry (``delivery`` list,
``max_bytes``/``counted_on_base64``, ``request_max_bytes``, ``storage_scheme``), how many times the
bytes are used in the request, the request's ``delivery.prefer`` and what this deployment can do
(:class:`Available`). The rules, in order:

1. ``prefer`` wins when the model takes it and it is configured (inline only if it fits).
2. Inline when the item fits the per-item and whole-request caps (after base64 where the provider
   counts that), unless the same bytes are used several times and a Files API is there: upload once.
3. Otherwise storage (a ``gs://``/``s3://`` URI the provider reads itself, no extra copy), then the
   provider's Files API, then a presigned URL. Nothing left: 413 saying what would make it work.

Per-item thresholds cannot see the other parts of the request; ``complete`` re-checks the sum of
inline parts against ``request_max_bytes`` and moves the largest ones out (see
:func:`workers.pipeline.deliver.fit_request`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workers.core.records import Decision

from workers.core.errors import TooLarge, Unprocessable
from workers.providers.catalog import ModelCaps

#: Fallback order when inline does not fit (or the bytes are reused).
OUT_OF_LINE = ("storage", "file", "url")


@dataclass(frozen=True)
class Available:
    """What this deployment can do for one provider, beside inline."""

    files_api: bool = False
    """A Files API client exists for the provider and its key is configured."""
    staging: frozenset[str] = field(default_factory=frozenset)
    """Cloud schemes outputs can be staged to (``s3``, ``gs``)."""
    presign: bool = False
    """Staging can mint HTTPS URLs a provider can GET."""
    max_inline_bytes: int | None = None
    """Ferry's own cap on one inline payload (base64 bytes), to bound worker memory."""

    def has(self, method: str, scheme: str | None) -> bool:
        if method == "inline":
            return True
        if method == "file":
            return self.files_api
        if method == "storage":
            return scheme is not None and scheme in self.staging
        if method == "url":
            return self.presign
        return False


def b64_size(n: int) -> int:
    """Bytes of the base64 encoding of ``n`` bytes."""
    return 4 * ((n + 2) // 3)


def inline_cap(caps: ModelCaps, kind: str, available: Available) -> tuple[int | None, bool, str]:
    """(cap, counted on base64, where the cap comes from) for one inline item of ``kind``."""
    kcaps = caps.caps_for(kind)  # type: ignore[arg-type]
    limits: list[tuple[int, bool, str]] = []
    if kcaps is not None and kcaps.max_bytes:
        limits.append((kcaps.max_bytes, kcaps.counted_on_base64, f"{caps.provider} {kind} max_bytes"))
    if caps.request_max_bytes:
        limits.append((caps.request_max_bytes, True, f"{caps.provider} request_max_bytes"))
    if available.max_inline_bytes:
        limits.append((available.max_inline_bytes, True, "FERRY_MAX_INLINE_BYTES"))
    if not limits:
        return None, False, ""
    # Compare on base64 size so raw and base64 caps rank together.
    best = min(limits, key=lambda lim: lim[0] if lim[1] else b64_size(lim[0]))
    return best


def fits_inline(size: int, caps: ModelCaps, kind: str, available: Available) -> tuple[bool, str]:
    cap, on_b64, where = inline_cap(caps, kind, available)
    if cap is None:
        return True, "no inline cap"
    measured = b64_size(size) if on_b64 else size
    unit = "bytes after base64" if on_b64 else "bytes"
    if measured <= cap:
        return True, f"{measured} {unit} <= {cap} ({where})"
    return False, f"{measured} {unit} > {cap} ({where})"


def out_of_line_methods(caps: ModelCaps, kind: str, available: Available) -> list[str]:
    """Methods besides inline that could carry a ``kind`` item here: when non-empty, an item over the
    inline cap is still deliverable (the media planner need not shrink or refuse it for size)."""
    kcaps = caps.caps_for(kind)  # type: ignore[arg-type]
    if kcaps is None:
        return []
    scheme = getattr(kcaps, "storage_scheme", None)
    return [m for m in OUT_OF_LINE if m in kcaps.delivery and available.has(m, scheme)]


def decision(method: str, reason: str) -> Decision:
    return {"method": method, "reason": reason}


def plan_delivery(
    output: dict[str, Any],
    caps: ModelCaps,
    prefer: str | None,
    available: Available,
    uses: int = 1,
) -> dict[str, Any]:
    """``{"method", "reason"}`` for one output; raises 413/422 when no method can carry it."""
    kind = output["kind"]
    if kind == "text":
        return decision("text", "extracted text travels as a text part")
    kcaps = caps.caps_for(kind)
    if kcaps is None:
        raise Unprocessable(f"{caps.id} does not accept {kind} input")
    if output.get("passthrough"):  # a gs:// source the provider reads itself (workers/pipeline/sources.py)
        return decision("storage", f"{caps.provider} reads {output.get('url', '').split(':')[0]}:// itself: sent as "
                                   "the source's own URI, not downloaded")
    if output.get("youtube"):
        if "youtube" in kcaps.delivery:
            return decision("youtube", f"{caps.provider} reads YouTube URLs itself")
        raise Unprocessable(f"{caps.id} cannot take a YouTube URL; only Gemini models read them")
    scheme = getattr(kcaps, "storage_scheme", None)
    usable = [m for m in kcaps.delivery if m != "youtube" and available.has(m, scheme)]
    fits, why = fits_inline(int(output["bytes"]), caps, kind, available)

    notes = ""
    if prefer and prefer != "inline":
        if prefer in usable:
            return decision(prefer, f"delivery.prefer={prefer}")
        notes = f"delivery.prefer={prefer} unavailable ({_why_not(prefer, kcaps.delivery, scheme, caps.provider)}); "
    if fits and (uses < 2 or "file" not in usable):
        return decision("inline", f"{notes}inline base64: {why}")
    for method in OUT_OF_LINE:
        if method in usable:
            cause = f"used {uses} times in the request, uploaded once" if fits else f"too large inline: {why}"
            return decision(method, f"{notes}{cause}")
    if fits:
        return decision("inline", f"{notes}inline base64: {why}")
    missing = [m for m in kcaps.delivery if m not in ("inline", "youtube")]
    hint = "; ".join(_why_not(m, kcaps.delivery, scheme, caps.provider) for m in missing) or \
        f"{caps.provider} takes {kind} inline only"
    raise TooLarge(f"{kind} of {output['bytes']} bytes is too large to send inline to {caps.id} ({why}); {hint}")


def _why_not(method: str, accepted: list[str], scheme: str | None, provider: str) -> str:
    if method not in accepted:
        return f"{provider} does not take {method} delivery for this kind (it takes {', '.join(accepted)})"
    return {
        "file": f"the Files API needs {provider.upper()}_API_KEY",
        "storage": f"storage delivery needs FERRY_STORAGE or FERRY_STAGING set to a {scheme}:// bucket",
        "url": "URL delivery needs S3 or GCS staging that can presign",
    }.get(method, f"{method} is not available")
