"""What the per-kind planners share: sizes in words, what a model takes, image encoding targets, and
encoding a decoded picture (a rendered page, a video frame) to fit a provider."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, ImageChops

from workers.media import images
from workers.media.sizing import target_size
from workers.media.tokens import estimate_image_tokens
from workers.providers.catalog import ImageCaps, ModelCaps, get_catalog

_TOKEN_FIELDS = {"token_formula", "tokens_base", "tokens_per_tile", "tile_size", "patch_size", "max_tiles",
                 "detail_mode", "low_detail_side"}


def mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


def kinds_taken(caps: ModelCaps) -> str:
    return ", ".join(k for k in ("image", "document", "audio", "video") if caps.caps_for(k)) or "text only"


def models_taking(kind: str) -> str:
    catalog = get_catalog()
    ids = [m for m in catalog.model_ids() if catalog.resolve(m).caps_for(kind)]  # type: ignore[arg-type]
    return ", ".join(ids[:6]) + (", ..." if len(ids) > 6 else "")


def image_target_mime(facts: dict[str, Any], icaps: ImageCaps) -> str:
    """PNG for real transparency or line art (few colours) where accepted; JPEG for photos."""
    formats = icaps.formats
    transparent = facts.get("alpha") == "transparent" and icaps.alpha
    few_colours = facts.get("colors") is not None
    if (transparent or few_colours) and "image/png" in formats:
        return "image/png"
    if "image/jpeg" in formats:
        return "image/jpeg"
    return "image/png" if "image/png" in formats else formats[0]


def encode_args(icaps: ImageCaps, caps: ModelCaps, mime: str, detail: str) -> dict[str, Any]:
    """What the encoder needs: format, byte cap, and the token formula for ``est_tokens``."""
    return {"mime": mime, "quality": 85, "max_bytes": caps.raw_byte_cap("image"), "detail": detail,
            "tokens": icaps.model_dump(include=_TOKEN_FIELDS)}


def encode_picture(img: Image.Image, spec: dict[str, Any], name: str, workdir: Path, mime: str | None = None) -> dict[str, Any]:
    """Fit an already-decoded image (a page, a frame) to the provider: size, format, bytes, tokens."""
    icaps = ImageCaps(**spec["caps"])
    detail = spec.get("detail") or "auto"
    (w, h), _ = target_size(img.width, img.height, icaps, detail)
    if (w, h) != img.size:
        img = img.resize((w, h), Image.Resampling.LANCZOS)
    if mime is None:
        few_colours = img.getcolors(256) is not None
        if few_colours and img.mode == "RGB" and is_gray(img):
            img = img.convert("L")  # rendered text pages: a third of the PNG bytes
        mime = "image/png" if few_colours and "image/png" in icaps.formats else (
            "image/jpeg" if "image/jpeg" in icaps.formats else icaps.formats[0])
    dest, img, extra = images.encode(img, mime, workdir / name, spec.get("max_bytes"))
    return {"path": dest, "kind": "image", "mime": mime, "width": img.width, "height": img.height,
            "est_tokens": estimate_image_tokens(img.width, img.height, icaps, detail), **extra}


def is_gray(img: Image.Image) -> bool:
    r, g, b = img.split()
    return ImageChops.difference(r, g).getbbox() is None and ImageChops.difference(g, b).getbbox() is None


