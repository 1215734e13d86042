"""Apply a plan: pure functions from a source file to output files (and text parts). No network, no Celery.

Outputs are in the order the model should see them. Each is ``{"path", "kind", "mime", ...}`` or a text
output ``{"kind": "text", "mime": "text/plain", "text"}``; image outputs carry ``est_tokens``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, ImageChops

from workers.core.errors import TooLarge, Unprocessable
from workers.media import audio, images, pdf, video
from workers.media.sizing import target_size
from workers.media.tokens import estimate_image_tokens
from workers.providers.catalog import ImageCaps

_IMAGE_OPS = {"first_frame", "exif_transpose", "to_rgb", "flatten_alpha", "resize", "encode"}


def apply_plan(src: Path, facts: dict[str, Any], steps: list[dict[str, Any]], workdir: Path) -> list[dict[str, Any]]:
    """Run ``steps`` on ``src``; returns the outputs (one or more)."""
    ops = [s["op"] for s in steps]
    if not steps or ops == ["keep"]:
        out: dict[str, Any] = {"path": src, "kind": facts["kind"], "mime": facts["mime"]}
        if facts["kind"] == "image":
            out.update(width=facts.get("display_width", facts.get("width")),
                       height=facts.get("display_height", facts.get("height")))
            if steps and "est_tokens" in steps[0]:
                out["est_tokens"] = steps[0]["est_tokens"]
        return [out]
    if set(ops) <= _IMAGE_OPS:
        return [images.render(src, facts, steps, workdir)]
    step = steps[0]
    if step["op"] == "pdf_rewrite":
        dest = pdf.rewrite(src, workdir / "document.pdf")
        return [{"path": dest, "kind": "document", "mime": "application/pdf", "pages": facts.get("pages")}]
    if step["op"] == "pdf_pages":
        return _pdf_pages(src, step, workdir)
    if step["op"] == "transcode":
        out = audio.transcode(src, step["to"], workdir / "audio", step.get("max_seconds"))
        size = out["path"].stat().st_size
        if step.get("max_bytes") and size > step["max_bytes"]:
            raise TooLarge(f"transcoded audio is {size} bytes; the provider takes at most {step['max_bytes']}")
        return [out]
    if step["op"] == "video_frames":
        return _video_frames(src, facts, step, workdir)
    raise Unprocessable(f"unknown transform step {step['op']!r}")


def _encode_image(img: Image.Image, spec: dict[str, Any], name: str, workdir: Path, mime: str | None = None) -> dict[str, Any]:
    """Fit an already-decoded image (a page, a frame) to the provider: size, format, bytes, tokens."""
    icaps = ImageCaps(**spec["caps"])
    detail = spec.get("detail") or "auto"
    (w, h), _ = target_size(img.width, img.height, icaps, detail)
    if (w, h) != img.size:
        img = img.resize((w, h), Image.Resampling.LANCZOS)
    if mime is None:
        few_colours = img.getcolors(256) is not None
        if few_colours and img.mode == "RGB" and _is_gray(img):
            img = img.convert("L")  # rendered text pages: a third of the PNG bytes
        mime = "image/png" if few_colours and "image/png" in icaps.formats else (
            "image/jpeg" if "image/jpeg" in icaps.formats else icaps.formats[0])
    dest, img, extra = images.encode(img, mime, workdir / name, spec.get("max_bytes"))
    return {"path": dest, "kind": "image", "mime": mime, "width": img.width, "height": img.height,
            "est_tokens": estimate_image_tokens(img.width, img.height, icaps, detail), **extra}


def _is_gray(img: Image.Image) -> bool:
    r, g, b = img.split()
    return ImageChops.difference(r, g).getbbox() is None and ImageChops.difference(g, b).getbbox() is None


def _pdf_pages(src: Path, step: dict[str, Any], workdir: Path) -> list[dict[str, Any]]:
    """Per page, in order: the page image (when rendered) then its text."""
    spec = step.get("image")
    icaps = ImageCaps(**spec["caps"]) if spec else None
    rendered: dict[int, dict[str, Any]] = {}
    if spec and step.get("image_pages"):
        def size_for(w_pt: float, h_pt: float) -> tuple[int, int]:
            # 150 dpi is legible for body text; the provider's own size rules then shrink it.
            w, h = max(1, round(w_pt * 150 / 72)), max(1, round(h_pt * 150 / 72))
            return target_size(w, h, icaps, spec.get("detail"))[0]  # type: ignore[arg-type]

        for number, img in pdf.render_pages(src, step["image_pages"], size_for):
            out = _encode_image(img, spec, f"page-{number:04d}", workdir)
            out["page"] = number
            rendered[number] = out
    texts = dict(pdf.page_texts(src, step["text_pages"])) if step.get("text_pages") else {}
    outputs: list[dict[str, Any]] = []
    for number in sorted(set(rendered) | set(texts)):
        if number in rendered:
            outputs.append(rendered[number])
        if number in texts:
            body = texts[number] or "(no extractable text on this page)"
            outputs.append({"kind": "text", "mime": "text/plain", "page": number, "text": f"[Page {number}]\n{body}"})
    return outputs


def _video_frames(src: Path, facts: dict[str, Any], step: dict[str, Any], workdir: Path) -> list[dict[str, Any]]:
    duration = float(step.get("duration_s") or facts.get("duration_s") or 0)
    times = video.sample_times(duration, int(step["count"]))
    frames: list[dict[str, Any]] = []
    for i, (t, img) in enumerate(video.sample_frames(src, times)):
        out = _encode_image(img.convert("RGB"), step["image"], f"frame-{i:03d}", workdir, mime=step["image"]["mime"])
        out["timestamp_s"] = t
        frames.append(out)
    listing = ", ".join(f"{f['timestamp_s']:.2f} s" for f in frames)
    legend = {"kind": "text", "mime": "text/plain",
              "text": f"[Video, {duration:.1f} s: {len(frames)} frames sampled evenly, at {listing}]"}
    return [legend, *frames]
