"""Plan: (facts, model capabilities, options) -> transforms, each with its reason.

Pure: no I/O, only the facts from inspect and the catalog entry. Raises 415/422/413 saying what the
model (``caps.id``) cannot take and why. Options (job level unless noted):

- ``detail``: ``auto`` | ``low`` | ``high`` (per part, from ``image_url.detail``)
- ``pdf_strategy``: ``auto`` (native when within the model's limits, else text + page images) |
  ``native`` | ``text`` (extracted text per page) | ``images`` (rendered pages)
- ``pdf_image_pages``: pages rendered as images (default 4 beside text, 20 for ``images``)
- ``video_frames``: frames sampled from a video for image-only models (default 8)

Image steps: ``keep`` | ``first_frame``, ``exif_transpose``, ``to_rgb``, ``flatten_alpha``, ``resize``,
``encode``. Documents: ``keep`` | ``pdf_rewrite`` | ``pdf_pages``. Audio: ``keep`` | ``transcode``.
Video: ``keep`` | ``video_frames``.
"""
from __future__ import annotations

from typing import Any

from workers.core.errors import TooLarge, UnsupportedMedia, Unprocessable
from workers.media.sizing import target_size
from workers.media.tokens import estimate_image_tokens
from workers.providers.catalog import ImageCaps, ModelCaps

DEFAULT_VIDEO_FRAMES = 8
DEFAULT_PDF_IMAGE_PAGES = {"auto": 4, "images": 20}
MAX_TEXT_PAGES = 1000
PDF_STRATEGIES = ("auto", "native", "text", "images")
_NORMAL_MODES = ("RGB", "RGBA", "L", "LA", "P")
_TOKEN_FIELDS = {"token_formula", "tokens_base", "tokens_per_tile", "tile_size", "patch_size", "max_tiles",
                 "detail_mode", "low_detail_side"}


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


def _kinds(caps: ModelCaps) -> str:
    return ", ".join(k for k in ("image", "document", "audio", "video") if caps.caps_for(k)) or "text only"


def _models_taking(kind: str) -> str:
    from workers.providers.catalog import get_catalog

    catalog = get_catalog()
    ids = [m for m in catalog.model_ids() if catalog.resolve(m).caps_for(kind)]  # type: ignore[arg-type]
    return ", ".join(ids[:6]) + (", ..." if len(ids) > 6 else "")


def plan_resource(facts: dict[str, Any], caps: ModelCaps, options: dict[str, Any]) -> list[dict[str, Any]]:
    kind = facts["kind"]
    if kind == "image":
        return plan_image(facts, caps, options)
    if kind == "document":
        return plan_document(facts, caps, options)
    if kind == "audio":
        return plan_audio(facts, caps, options)
    if kind == "video":
        return plan_video(facts, caps, options)
    raise UnsupportedMedia(f"{facts.get('mime')} is not a media kind Ferry can send")


# -- images -------------------------------------------------------------------------------------

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


def plan_image(facts: dict[str, Any], caps: ModelCaps, options: dict[str, Any]) -> list[dict[str, Any]]:
    icaps = caps.image
    mime = facts["mime"]
    if icaps is None:
        raise Unprocessable(f"{caps.id} does not accept image input ({mime}); it takes: {_kinds(caps)}. "
                            f"Vision models include {_models_taking('image')}")
    detail = str(options.get("detail") or "auto")
    steps: list[dict[str, Any]] = []
    if facts.get("animated"):
        if icaps.animated == "reject":
            why = f"{caps.provider} rejects animated images; sending frame 0 of {facts['frames']}"
        else:
            why = f"{caps.provider} reads only the first frame of an animation; sending frame 0 of {facts['frames']} explicitly"
        steps.append({"op": "first_frame", "reason": why})
    orientation = facts.get("orientation", 1) or 1
    if orientation != 1:
        steps.append({"op": "exif_transpose", "orientation": orientation,
                      "reason": f"EXIF orientation {orientation}: providers ignore it, so the pixels are turned upright"})
    if facts.get("mode") not in _NORMAL_MODES:
        steps.append({"op": "to_rgb", "from": facts.get("mode"),
                      "reason": f"{facts.get('mode')} pixels are rejected or mis-rendered by providers; converting to 8-bit RGB"})
    if facts.get("has_alpha") and not icaps.alpha:
        steps.append({"op": "flatten_alpha", "background": [255, 255, 255],
                      "reason": f"{caps.provider} fails on images with an alpha channel (RGBA PNG); flattened onto white"})
    dw, dh = facts.get("display_width", facts["width"]), facts.get("display_height", facts["height"])
    (tw, th), why = target_size(dw, dh, icaps, detail)
    if (tw, th) != (dw, dh):
        steps.append({"op": "resize", "width": tw, "height": th, "from": [dw, dh], "reason": "; ".join(why)})
    cap = caps.raw_byte_cap("image")
    accepted = mime in icaps.formats
    if not steps and accepted and (cap is None or facts["bytes"] <= cap):
        return [{"op": "keep", "width": dw, "height": dh,
                 "est_tokens": estimate_image_tokens(dw, dh, icaps, detail),
                 "reason": f"{mime} {dw}x{dh} is within {caps.id}'s limits; sent as is"}]
    out_mime = image_target_mime(facts, icaps)
    if not accepted:
        reason = f"{caps.provider} does not take {mime} (accepts {', '.join(icaps.formats)}); encoding {out_mime}"
    elif cap is not None and facts["bytes"] > cap:
        reason = f"{_mb(facts['bytes'])} is over {caps.provider}'s {_mb(cap)} per image; re-encoding {out_mime} to fit"
    else:
        reason = f"re-encode as {out_mime} after the steps above"
    if out_mime == "image/jpeg" and facts.get("alpha") == "transparent" and not any(s["op"] == "flatten_alpha" for s in steps):
        steps.append({"op": "flatten_alpha", "background": [255, 255, 255],
                      "reason": "JPEG has no alpha channel; transparency flattened onto white"})
    steps.append({"op": "encode", **encode_args(icaps, caps, out_mime, detail), "reason": reason})
    return steps


# -- documents ----------------------------------------------------------------------------------

def _native_problem(facts: dict[str, Any], caps: ModelCaps, out_of_line: bool = False) -> str | None:
    dcaps = caps.document
    if dcaps is None:
        return f"{caps.id} does not take PDF input"
    if facts["mime"] not in dcaps.formats:
        return f"{caps.id} does not take {facts['mime']} documents"
    if dcaps.max_pages and facts.get("pages", 0) > dcaps.max_pages:
        return f"the PDF has {facts['pages']} pages; {caps.id} takes at most {dcaps.max_pages}"
    cap = caps.raw_byte_cap("document")
    if cap is not None and facts["bytes"] > cap and not out_of_line:
        return f"the PDF is {_mb(facts['bytes'])}; {caps.id} takes at most {_mb(cap)} inline"
    return None


def plan_document(facts: dict[str, Any], caps: ModelCaps, options: dict[str, Any]) -> list[dict[str, Any]]:
    strategy = str(options.get("pdf_strategy") or "auto")
    if strategy not in PDF_STRATEGIES:
        raise Unprocessable(f"pdf_strategy must be one of {', '.join(PDF_STRATEGIES)}, not {strategy!r}",
                            param="options.pdf_strategy")
    problem = _native_problem(facts, caps, bool(options.get("out_of_line")))
    if strategy == "native" or (strategy == "auto" and problem is None):
        if problem:
            error = TooLarge if ("pages" in problem or "MB" in problem) else Unprocessable
            raise error(f"pdf_strategy=native: {problem}; use pdf_strategy auto, text or images")
        if facts.get("encrypted") or facts.get("recovered_xref"):
            why = "decrypted (empty user password)" if facts.get("encrypted") else "cross-reference table rebuilt"
            return [{"op": "pdf_rewrite", "reason": f"PDF {why}; sending a clean copy natively to {caps.id}"}]
        return [{"op": "keep", "reason": f"PDF with {facts.get('pages')} pages is within {caps.id}'s limits; sent natively"}]
    pages = int(facts.get("pages") or 0)
    with_text = strategy in ("auto", "text")
    with_images = strategy in ("auto", "images") and caps.image is not None
    if strategy == "images" and caps.image is None:
        raise Unprocessable(f"pdf_strategy=images: {caps.id} does not accept images; use pdf_strategy text")
    n_images = 0
    step: dict[str, Any] = {"op": "pdf_pages"}
    if with_images:
        icaps = caps.image
        assert icaps is not None
        wanted = int(options.get("pdf_image_pages") or DEFAULT_PDF_IMAGE_PAGES[strategy])
        n_images = max(0, min(wanted, pages, icaps.max_per_request or wanted))
        step["image_pages"] = list(range(1, n_images + 1))
        step["image"] = {"caps": icaps.model_dump(), **encode_args(icaps, caps, "image/png", str(options.get("detail") or "auto"))}
    step["text_pages"] = list(range(1, min(pages, MAX_TEXT_PAGES) + 1)) if with_text else []
    why = problem or f"pdf_strategy={strategy}"
    parts = []
    if with_text:
        parts.append(f"text of {len(step['text_pages'])} pages")
    if n_images:
        parts.append(f"images of pages 1-{n_images}")
    step["reason"] = f"{why}; sending {' and '.join(parts) or 'nothing'} instead"
    if not parts:
        raise Unprocessable(f"{caps.id} cannot take this PDF: {why}")
    return [step]


# -- audio --------------------------------------------------------------------------------------

def plan_audio(facts: dict[str, Any], caps: ModelCaps, options: dict[str, Any]) -> list[dict[str, Any]]:
    acaps = caps.audio
    mime = facts["mime"]
    if acaps is None:
        raise Unprocessable(f"{caps.id} does not accept audio input ({mime}); audio models include "
                            f"{_models_taking('audio')}")
    seconds = float(facts.get("duration_s") or 0)
    if acaps.max_seconds and seconds > acaps.max_seconds:
        raise TooLarge(f"audio is {seconds:.0f} s long; {caps.id} takes at most {acaps.max_seconds:.0f} s")
    cap = caps.raw_byte_cap("audio")
    if mime in acaps.formats and options.get("out_of_line"):
        cap = None  # a Files API or staging carries it whole
    if mime in acaps.formats and (cap is None or facts["bytes"] <= cap):
        return [{"op": "keep", "reason": f"{mime} is a format {caps.id} takes; sent as is"}]
    target = acaps.transcode_to or acaps.formats[0]
    why = (f"{caps.id} does not take {mime} (accepts {', '.join(acaps.formats)})" if mime not in acaps.formats
           else f"{_mb(facts['bytes'])} is over {caps.id}'s {_mb(cap or 0)}")
    return [{"op": "transcode", "to": target, "max_seconds": acaps.max_seconds, "max_bytes": cap,
             "reason": f"{why}; transcoding to {target}"}]


# -- video --------------------------------------------------------------------------------------

def plan_video(facts: dict[str, Any], caps: ModelCaps, options: dict[str, Any]) -> list[dict[str, Any]]:
    vcaps = caps.video
    mime = facts["mime"]
    seconds = float(facts.get("duration_s") or 0)
    if vcaps is not None and mime in vcaps.formats:
        if vcaps.max_seconds and seconds > vcaps.max_seconds:
            raise TooLarge(f"video is {seconds:.0f} s long; {caps.id} takes at most {vcaps.max_seconds:.0f} s")
        cap = caps.raw_byte_cap("video")
        if cap is not None and facts["bytes"] > cap:
            if not options.get("out_of_line"):
                raise TooLarge(f"video is {_mb(facts['bytes'])}; {caps.id} takes inline video up to {_mb(cap)} "
                               f"(request limit counted after base64); larger videos need its Files API or "
                               f"cloud-storage delivery: configure {caps.provider.upper()}_API_KEY or FERRY_STAGING")
            return [{"op": "keep", "reason": f"{mime} is over the inline cap; sent natively by "
                                             f"{' or '.join(options['out_of_line'])}"}]
        return [{"op": "keep", "reason": f"{mime} is a video format {caps.id} takes; sent natively"}]
    icaps = caps.image
    if icaps is None:
        raise Unprocessable(f"{caps.id} accepts neither video nor images ({mime}); video models include "
                            f"{_models_taking('video')}")
    wanted = int(options.get("video_frames") or DEFAULT_VIDEO_FRAMES)
    count = max(1, min(wanted, icaps.max_per_request or wanted))
    why = f"{caps.id} does not take video" if vcaps is None else f"{caps.id} does not take {mime}"
    return [{"op": "video_frames", "count": count, "duration_s": seconds,
             "image": {"caps": icaps.model_dump(), **encode_args(icaps, caps, "image/jpeg", str(options.get("detail") or "auto"))},
             "reason": f"{why}; sending {count} frames sampled evenly over {seconds:.1f} s, with their timestamps"}]
