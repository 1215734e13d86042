"""Estimated image tokens per provider, from the catalog's token formula.

The estimate goes on every image output so usage can be predicted (and summed
into ``usage`` by the pipeline) before the provider answers. Formulas and their
sources live in the catalog (``token_formula``, ``tokens_*``, ``tokens_source``).
"""
from __future__ import annotations

import math

from workers.media.sizing import OPENAI_HIGH_BOX, OPENAI_SHORT_SIDE, effective_detail
from workers.providers.catalog import ImageCaps


def _tiles(width: int, height: int, tile: int) -> int:
    return math.ceil(width / tile) * math.ceil(height / tile)


def estimate_image_tokens(width: int, height: int, caps: ImageCaps, detail: str | None = "auto") -> int:
    """Tokens the provider will bill for one ``width x height`` image (as sent)."""
    formula = caps.token_formula
    if formula == "openai_tiles":
        if effective_detail(width, height, caps, detail) == "low":
            return caps.tokens_base
        s = min(1.0, OPENAI_HIGH_BOX / max(width, height))
        s *= min(1.0, OPENAI_SHORT_SIDE / (min(width, height) * s))
        w, h = max(1, int(width * s + 0.5)), max(1, int(height * s + 0.5))
        return caps.tokens_base + caps.tokens_per_tile * _tiles(w, h, caps.tile_size)
    if formula == "anthropic_pixels":
        return math.ceil(width * height / 750)
    if formula == "gemini_tiles":
        if width <= 384 and height <= 384:
            return caps.tokens_base
        return caps.tokens_per_tile * _tiles(width, height, caps.tile_size)
    if formula == "patches":
        rows = math.ceil(height / caps.patch_size)
        return math.ceil(width / caps.patch_size) * rows + rows
    if formula == "tiles":
        n = _tiles(width, height, caps.tile_size)
        if caps.max_tiles:
            n = min(n, caps.max_tiles)
        return caps.tokens_base + caps.tokens_per_tile * n
    return 0
