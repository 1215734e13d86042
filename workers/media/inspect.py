"""Facts about a file, from its bytes: type, pixels, frames, pages.

Decoders run under limits: Pillow's decompression-bomb check is an error,
not a warning, so a tiny file that claims a huge canvas fails fast.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from workers.errors import TooLarge, UnsupportedMedia, Unprocessable
from workers.media.sniff import SNIFF_BYTES, kind_of, sniff_mime

MAX_IMAGE_PIXELS = 100_000_000
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

try:  # HEIC/HEIF/AVIF decoders register with Pillow
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover
    pass

PIL_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP", "HEIF", "AVIF")


def open_image(path: Path) -> Image.Image:
    """Open with formats restricted and bomb warnings raised as errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(path, formats=PIL_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise TooLarge(f"image is too large to decode safely: {exc}") from exc
        except Exception as exc:
            raise UnsupportedMedia(f"image could not be decoded: {exc}") from exc


def inspect_image(path: Path) -> dict[str, Any]:
    img = open_image(path)
    with img, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            facts: dict[str, Any] = {
                "width": img.width,
                "height": img.height,
                "mode": img.mode,
                "format": img.format,
                "frames": getattr(img, "n_frames", 1),
                "orientation": img.getexif().get(0x0112, 1),
            }
            for frame in range(facts["frames"]):  # every frame's claimed size is checked
                img.seek(frame)
            img.seek(0)
            img.load()  # a truncated or corrupt file fails here, not at the provider
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise TooLarge(f"image is too large to decode safely: {exc}") from exc
        except Exception as exc:
            raise UnsupportedMedia(f"image is corrupt or truncated: {exc}") from exc
    if facts["orientation"] in (5, 6, 7, 8):
        facts["display_width"], facts["display_height"] = facts["height"], facts["width"]
    return facts


def inspect_pdf(path: Path) -> dict[str, Any]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path, strict=False)
        encrypted = reader.is_encrypted
        if encrypted and not reader.decrypt(""):
            raise Unprocessable("PDF is encrypted with a user password")
        return {"pages": len(reader.pages), "encrypted": encrypted}
    except Unprocessable:
        raise
    except (PdfReadError, Exception) as exc:
        raise UnsupportedMedia(f"PDF could not be read: {exc}") from exc


def inspect_file(path: Path) -> dict[str, Any]:
    """Facts for any supported file; raises 415 for what Ferry cannot identify."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    mime = sniff_mime(head)
    kind = kind_of(mime)
    if kind is None:
        raise UnsupportedMedia(f"unrecognised media type (sniffed {mime or 'nothing'} from the bytes)")
    facts: dict[str, Any] = {"mime": mime, "kind": kind, "bytes": path.stat().st_size}
    if kind == "image":
        facts.update(inspect_image(path))
    elif mime == "application/pdf":
        facts.update(inspect_pdf(path))
    return facts


def exif_upright(img: Image.Image) -> Image.Image:
    return ImageOps.exif_transpose(img)
