"""Pure geometry: the largest size worth sending to a model, from its catalog entry and ``detail``.

Sending pixels a provider throws away costs upload bytes and latency and buys nothing, so every
image is fitted to what the model will actually look at (OpenAI's detail rules, Anthropic's
1568 px / 1.15 MP, a recommended long edge elsewhere) and to its hard limits.
"""
from __future__ import annotations

import math

from workers.providers.catalog import ImageCaps

#: OpenAI high detail: fit within this square, then shrink the short side to OPENAI_SHORT_SIDE.
OPENAI_HIGH_BOX = 2048
OPENAI_SHORT_SIDE = 768


def effective_detail(width: int, height: int, caps: ImageCaps, detail: str | None) -> str:
    """``auto`` resolves to ``low`` for images that already fit the low box, else ``high``."""
    detail = (detail or "auto").lower()
    if detail not in ("low", "high", "auto"):
        detail = "auto"
    if detail == "auto":
        side = caps.low_detail_side
        return "low" if width <= side and height <= side else "high"
    return detail


def _scale_to(width: int, height: int, scale: float) -> tuple[int, int]:
    if scale >= 1:
        return width, height
    return max(1, int(width * scale + 0.5)), max(1, int(height * scale + 0.5))


def _under_pixels(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    scale = math.sqrt(max_pixels / (width * height))
    w, h = _scale_to(width, height, scale)
    while w * h > max_pixels:  # rounding can overshoot by a row
        scale *= 0.999
        w, h = _scale_to(width, height, scale)
    return w, h


def fit_box(width: int, height: int, box: int) -> tuple[int, int]:
    """Shrink (never enlarge) so both sides are <= box."""
    return _scale_to(width, height, min(1.0, box / max(width, height)))


def target_size(width: int, height: int, caps: ImageCaps, detail: str | None = "auto") -> tuple[tuple[int, int], list[str]]:
    """The size to send an upright ``width x height`` image at, and why it shrank (empty: unchanged)."""
    w, h = width, height
    why: list[str] = []
    eff = effective_detail(w, h, caps, detail)
    if caps.detail_mode == "openai":
        if eff == "low":
            w, h = fit_box(w, h, caps.low_detail_side)
            if (w, h) != (width, height):
                why.append(f"detail=low: fit {caps.low_detail_side}x{caps.low_detail_side}")
        else:
            s = min(1.0, OPENAI_HIGH_BOX / max(w, h))
            s = s * min(1.0, OPENAI_SHORT_SIDE / (min(w, h) * s))
            nw, nh = _scale_to(w, h, s)
            if (nw, nh) != (w, h):
                why.append(f"detail={eff}: fit {OPENAI_HIGH_BOX}x{OPENAI_HIGH_BOX}, short side <= {OPENAI_SHORT_SIDE}")
            w, h = nw, nh
    else:
        if eff == "low" and (detail or "auto").lower() == "low":
            nw, nh = fit_box(w, h, caps.low_detail_side)
            if (nw, nh) != (w, h):
                why.append(f"detail=low: fit {caps.low_detail_side}x{caps.low_detail_side}")
            w, h = nw, nh
        if caps.recommended_long_edge and max(w, h) > caps.recommended_long_edge:
            w, h = fit_box(w, h, caps.recommended_long_edge)
            why.append(f"the model scales the long edge down to {caps.recommended_long_edge} px itself")
        if caps.recommended_max_pixels and w * h > caps.recommended_max_pixels:
            w, h = _under_pixels(w, h, caps.recommended_max_pixels)
            why.append(f"the model uses at most {caps.recommended_max_pixels / 1e6:.2f} MP")
    if caps.max_side and max(w, h) > caps.max_side:
        w, h = fit_box(w, h, caps.max_side)
        why.append(f"hard limit {caps.max_side} px per side")
    if caps.max_pixels and w * h > caps.max_pixels:
        w, h = _under_pixels(w, h, caps.max_pixels)
        why.append(f"hard limit {caps.max_pixels} pixels")
    return (w, h), why
