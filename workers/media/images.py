"""Images: decode under limits, inspect, and render a plan's steps into one upright, right-sized file.

Decoding is the expensive part, so it is done once and as small as possible:
JPEGs use libjpeg's DCT scaling (``Image.draft``) then ``Image.reduce``; large
PNG/WebP go through libvips in sequential (streaming) mode with an integer
box shrink, which keeps peak memory to a few rows instead of the whole canvas.
The final resize is Lanczos on the already-reduced image. Pillow is only ever
asked for the formats listed in ``PIL_FORMATS`` and bomb warnings are errors.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from workers.core.errors import TooLarge, UnsupportedMedia
from workers.media.limits import MAX_FRAMES, MAX_IMAGE_PIXELS, bombs_are_errors
from workers.media.tokens import estimate_image_tokens
from workers.providers.catalog import ImageCaps

try:  # HEIC/HEIF (and AVIF on older Pillow) decoders register with Pillow
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover
    pass

PIL_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP", "HEIF", "AVIF")
PIL_SAVE = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP", "image/gif": "GIF"}
EXTENSION = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif"}
#: EXIF orientation -> the transpose that makes the pixels upright (as ImageOps.exif_transpose does).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
#: Above this many pixels, PNG and WebP decode through libvips (streaming) instead of Pillow.
VIPS_MIN_PIXELS = 4_000_000
#: Analysis (alpha, colour count) looks at a copy no larger than this per side.
ANALYSIS_SIDE = 1024
JPEG_QUALITIES = (85, 75, 65, 50, 40)
#: Alpha at or above this everywhere counts as opaque.
OPAQUE_ALPHA = 240


def open_image(path: Path) -> Image.Image:
    """Open with formats restricted and the bomb warning raised as an error (413)."""
    with bombs_are_errors():
        try:
            return Image.open(path, formats=PIL_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise TooLarge(f"image is too large to decode safely ({exc})") from exc
        except Exception as exc:
            raise UnsupportedMedia(f"image could not be decoded: {exc}") from exc


def _use_vips(facts: dict[str, Any]) -> bool:
    return (
        facts.get("format") in ("PNG", "WEBP")
        and facts.get("frames", 1) == 1
        and facts["width"] * facts["height"] >= VIPS_MIN_PIXELS
        and facts.get("mode") in ("RGB", "RGBA", "L", "LA")
    )


def _vips_to_pil(vimg: Any) -> Image.Image:
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[vimg.bands]
    return Image.frombuffer(mode, (vimg.width, vimg.height), vimg.write_to_memory(), "raw", mode, 0, 1)


def _decode_vips(path: Path, facts: dict[str, Any], size: tuple[int, int], drop_alpha: bool, sample: bool) -> Image.Image:
    """Stream-decode with libvips and shrink by an integer factor on the way (box filter, or point
    sampling when ``sample`` so that colour counts stay exact)."""
    import pyvips

    pyvips.cache_set_max(0)  # one-shot files: the operation cache only holds memory
    try:
        vimg = pyvips.Image.new_from_file(str(path), access="sequential", fail_on="truncated")
        if vimg.format != "uchar":
            vimg = vimg.cast("uchar")
        if drop_alpha and vimg.bands in (2, 4):
            vimg = vimg[0 : vimg.bands - 1]
        k = min(vimg.width // size[0], vimg.height // size[1])
        if k >= 2:
            vimg = vimg.resize(1 / k, kernel="nearest") if sample else vimg.shrink(k, k)
        return _vips_to_pil(vimg)
    except pyvips.Error as exc:
        raise UnsupportedMedia(f"image is corrupt or truncated: {str(exc).strip().splitlines()[0]}") from exc


def _normalise_mode(img: Image.Image) -> Image.Image:
    """Everything providers take: L, LA, RGB or RGBA at 8 bits (CMYK, 16-bit, palette, 1-bit converted)."""
    if img.mode in ("L", "LA", "RGB", "RGBA"):
        return img
    if img.mode == "P" or img.mode == "PA":
        return img.convert("RGBA" if "transparency" in img.info or img.mode == "PA" else "RGB")
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):
        return img.convert("I").point(lambda v: v / 256).convert("L")
    if img.mode == "1":
        return img.convert("L")
    return img.convert("RGBA" if "A" in img.getbands() else "RGB")


def decode(path: Path, facts: dict[str, Any], size: tuple[int, int], *, drop_alpha: bool = False,
           sample: bool = False) -> Image.Image:
    """Frame 0 of ``path``, decoded no larger than needed for ``size`` (stored orientation, >= size)
    and in a normal mode. Raises 415 on corrupt data, 413 on a bomb."""
    if _use_vips(facts):
        return _decode_vips(path, facts, size, drop_alpha, sample)
    img = open_image(path)
    try:
        with bombs_are_errors():
            img.seek(0)
            if img.format == "JPEG" and img.mode in ("RGB", "L", "CMYK"):
                img.draft(img.mode if img.mode != "CMYK" else None, size)
            img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooLarge(f"image is too large to decode safely ({exc})") from exc
    except Exception as exc:
        raise UnsupportedMedia(f"image is corrupt or truncated: {exc}") from exc
    if img.format == "GIF" or getattr(img, "n_frames", 1) > 1:
        img = img.copy()  # detach frame 0 from the animation
    img = _normalise_mode(img)
    if drop_alpha and img.mode in ("RGBA", "LA"):
        img = img.convert(img.mode[:-1])
    k = min(img.width // size[0], img.height // size[1])
    if k >= 2:
        img = img.resize((img.width // k, img.height // k), Image.Resampling.NEAREST) if sample else img.reduce(k)
    return img


def _count_frames(img: Image.Image) -> int:
    """Seek through the frames (up to MAX_FRAMES) so each frame's claimed size meets the bomb check:
    ``n_frames`` alone skips it, and a GIF can hide a gigapixel frame behind a 100x100 canvas."""
    if not getattr(img, "is_animated", False):
        return 1
    count = 0
    for i in range(min(int(img.n_frames), MAX_FRAMES)):
        img.seek(i)
        count += 1
    img.seek(0)
    return count


def inspect_image(path: Path) -> dict[str, Any]:
    """Header facts plus a verified decode of frame 0: alpha use and colour count for the planner."""
    img = open_image(path)
    with img:
        try:
            with bombs_are_errors():
                orientation = int(img.getexif().get(0x0112, 1) or 1)  # PNG reads to its end for eXIf
                frames = _count_frames(img)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise TooLarge(f"image is too large to decode safely ({exc})") from exc
        except Exception as exc:
            raise UnsupportedMedia(f"image is corrupt or truncated: {exc}") from exc
        facts: dict[str, Any] = {
            "width": img.width,
            "height": img.height,
            "mode": img.mode,
            "format": img.format,
            "frames": frames,
            "animated": frames > 1,
            "orientation": orientation if orientation in range(1, 9) else 1,
            "progressive": bool(img.info.get("progressive") or img.info.get("progression")),
            "has_alpha": img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info,
        }
    if facts["width"] * facts["height"] > MAX_IMAGE_PIXELS:
        raise TooLarge(f"image is {facts['width']}x{facts['height']} px; Ferry decodes at most {MAX_IMAGE_PIXELS} pixels")
    w, h = facts["width"], facts["height"]
    facts["display_width"], facts["display_height"] = (h, w) if facts["orientation"] in (5, 6, 7, 8) else (w, h)
    scale = max(1, max(w, h) // ANALYSIS_SIDE)
    sample = decode(path, facts, (max(1, w // scale), max(1, h // scale)), sample=True)
    facts["alpha"] = _alpha_use(sample) if facts["has_alpha"] or sample.mode in ("RGBA", "LA") else "none"
    colors = sample.convert("RGBA" if sample.mode in ("RGBA", "LA") else "RGB").getcolors(256)
    facts["colors"] = len(colors) if colors else None
    return facts


def _alpha_use(img: Image.Image) -> str:
    """``transparent`` when some pixel is visibly see-through; ``opaque`` when the channel is (nearly) all
    255 (a wallpaper whose alpha dips to 253 flattens invisibly, and JPEG is far smaller than PNG)."""
    if img.mode not in ("RGBA", "LA"):
        return "none"
    low, _ = img.getchannel("A").getextrema()
    return "transparent" if low < OPAQUE_ALPHA else "opaque"


# -- rendering ----------------------------------------------------------------------------------

def _flatten(img: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    if img.mode not in ("RGBA", "LA"):
        return img
    rgb = "RGB" if img.mode == "RGBA" else "L"
    base = Image.new(rgb, img.size, background if rgb == "RGB" else background[0])
    base.paste(img.convert(rgb), mask=img.getchannel("A"))
    return base


def encode(img: Image.Image, mime: str, dest_stem: Path, max_bytes: int | None, quality: int = 85) -> tuple[Path, Image.Image, dict[str, Any]]:
    """Save as ``mime`` within ``max_bytes``: JPEG quality steps first, then 3/4 the dimensions, repeat."""
    fmt = PIL_SAVE[mime]
    if fmt == "JPEG":
        img = _flatten(img)
    qualities = [q for q in JPEG_QUALITIES if q <= quality] or [quality]
    for _ in range(12):
        attempts = qualities if fmt == "JPEG" else [None]
        for q in attempts:
            buf = io.BytesIO()
            if fmt == "JPEG":
                img.save(buf, "JPEG", quality=q)
            elif fmt == "PNG":
                img.save(buf, "PNG", compress_level=6)
            else:
                img.save(buf, fmt)
            if max_bytes is None or buf.tell() <= max_bytes:
                dest = dest_stem.with_suffix(EXTENSION[mime])
                dest.write_bytes(buf.getbuffer())
                return dest, img, {"quality": q} if q else {}
        if fmt == "PNG" and img.mode in ("RGB", "L") and img.getcolors(256) is None:
            img = img.quantize(256)  # a smaller PNG before a smaller picture
            continue
        img = img.resize((max(1, img.width * 3 // 4), max(1, img.height * 3 // 4)), Image.Resampling.LANCZOS)
    raise TooLarge(f"could not encode the image as {mime} within {max_bytes} bytes")


def render(src: Path, facts: dict[str, Any], steps: list[dict[str, Any]], workdir: Path) -> dict[str, Any]:
    """Apply image steps (first_frame, exif_transpose, to_rgb, flatten_alpha, resize, encode) to ``src``."""
    ops = {s["op"]: s for s in steps}
    enc = ops["encode"]
    width, height = facts.get("display_width", facts["width"]), facts.get("display_height", facts["height"])
    if "resize" in ops:
        width, height = ops["resize"]["width"], ops["resize"]["height"]
    orientation = ops["exif_transpose"]["orientation"] if "exif_transpose" in ops else 1
    stored = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    drop_alpha = facts.get("alpha") == "opaque" or "flatten_alpha" in ops and facts.get("alpha") == "none"
    img = decode(src, facts, stored, drop_alpha=drop_alpha)
    if orientation in UPRIGHT:
        img = img.transpose(UPRIGHT[orientation])
    if img.size != (width, height):
        # After draft/reduce/shrink the remaining factor is < 2: bicubic (antialiased in Pillow) matches
        # Lanczos visibly there at two thirds of the cost.
        img = img.resize((width, height), Image.Resampling.BICUBIC)
    if "flatten_alpha" in ops:
        img = _flatten(img, tuple(ops["flatten_alpha"].get("background", (255, 255, 255))))
    dest, img, extra = encode(img, enc["mime"], workdir / enc.get("name", "image"), enc.get("max_bytes"),
                              enc.get("quality", 85))
    out: dict[str, Any] = {"path": dest, "kind": "image", "mime": enc["mime"], "width": img.width,
                           "height": img.height, "mode": img.mode, **extra}
    if enc.get("tokens"):
        out["est_tokens"] = estimate_image_tokens(img.width, img.height, ImageCaps(**enc["tokens"]), enc.get("detail"))
    return out


def upright(img: Image.Image) -> Image.Image:
    """EXIF-transposed copy (for tests and callers holding a Pillow image)."""
    return ImageOps.exif_transpose(img)
