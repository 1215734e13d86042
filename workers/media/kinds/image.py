"""Images: inspect (pixels, mode, frames, orientation), plan (first frame, upright, RGB, flatten, resize,
encode, each with its reason) and transform (one pass through :func:`workers.media.images.render`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from workers.core.errors import Unprocessable
from workers.media import images
from workers.media.kinds.common import encode_args, image_target_mime, kinds_taken, mb, models_taking
from workers.media.sizing import target_size
from workers.media.tokens import estimate_image_tokens
from workers.providers.catalog import ModelCaps

NAME = "image"
OPS = {"first_frame", "exif_transpose", "to_rgb", "flatten_alpha", "resize", "encode"}
_NORMAL_MODES = ("RGB", "RGBA", "L", "LA", "P")


def inspect(path: Path, mime: str) -> dict[str, Any]:
    return images.inspect_image(path)


def plan(facts: dict[str, Any], caps: ModelCaps, options: dict[str, Any]) -> list[dict[str, Any]]:
    icaps = caps.image
    mime = facts["mime"]
    if icaps is None:
        raise Unprocessable(f"{caps.id} does not accept image input ({mime}); it takes: {kinds_taken(caps)}. "
                            f"Vision models include {models_taking('image')}")
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
        reason = f"{mb(facts['bytes'])} is over {caps.provider}'s {mb(cap)} per image; re-encoding {out_mime} to fit"
    else:
        reason = f"re-encode as {out_mime} after the steps above"
    if out_mime == "image/jpeg" and facts.get("alpha") == "transparent" and not any(s["op"] == "flatten_alpha" for s in steps):
        steps.append({"op": "flatten_alpha", "background": [255, 255, 255],
                      "reason": "JPEG has no alpha channel; transparency flattened onto white"})
    steps.append({"op": "encode", **encode_args(icaps, caps, out_mime, detail), "reason": reason})
    return steps


def transform(src: Path, facts: dict[str, Any], steps: list[dict[str, Any]], workdir: Path) -> list[dict[str, Any]]:
    if not {s["op"] for s in steps} <= OPS:
        raise Unprocessable(f"unknown image transform in {[s['op'] for s in steps]}")
    return [images.render(src, facts, steps, workdir)]
