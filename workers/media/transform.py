"""Apply a plan: pure functions from a file to output files. No network, no Celery."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import ImageOps

from workers.media.inspect import open_image

_PIL_FORMAT = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP", "image/gif": "GIF"}


def apply_plan(src: Path, facts: dict[str, Any], steps: list[dict[str, Any]], workdir: Path) -> list[dict[str, Any]]:
    """Run ``steps`` on ``src``; returns outputs ``[{path, kind, mime, ...}]`` (one or more)."""
    if not steps:
        return [{"path": src, "kind": facts["kind"], "mime": facts["mime"]}]
    img = open_image(src)
    img.seek(0)
    img.load()
    out_mime = facts["mime"]
    for step in steps:
        if step["op"] == "exif_transpose":
            img = ImageOps.exif_transpose(img)
        elif step["op"] == "convert":
            out_mime = step["to"]
    if out_mime == "image/jpeg" and img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    elif img.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        img = img.convert("RGBA" if "A" in img.mode else "RGB")
    dest = workdir / ("out." + _PIL_FORMAT[out_mime].lower())
    img.save(dest, _PIL_FORMAT[out_mime])
    return [{"path": dest, "kind": "image", "mime": out_mime, "width": img.width, "height": img.height}]
