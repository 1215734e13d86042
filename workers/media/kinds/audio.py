"""Audio: inspect (codec, duration, read while decoding under the length cap), plan (keep, or transcode to a
format and size the model takes) and transform (transcode with PyAV)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from workers.core.errors import TooLarge, Unprocessable
from workers.media import audio as codec
from workers.media.kinds.common import mb, models_taking
from workers.providers.catalog import ModelCaps

NAME = "audio"


def inspect(path: Path, mime: str) -> dict[str, Any]:
    return codec.inspect_audio(path)


def plan(facts: dict[str, Any], caps: ModelCaps, options: dict[str, Any]) -> list[dict[str, Any]]:
    acaps = caps.audio
    mime = facts["mime"]
    if acaps is None:
        raise Unprocessable(f"{caps.id} does not accept audio input ({mime}); audio models include "
                            f"{models_taking('audio')}")
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
           else f"{mb(facts['bytes'])} is over {caps.id}'s {mb(cap or 0)}")
    return [{"op": "transcode", "to": target, "max_seconds": acaps.max_seconds, "max_bytes": cap,
             "reason": f"{why}; transcoding to {target}"}]


def transform(src: Path, facts: dict[str, Any], steps: list[dict[str, Any]], workdir: Path) -> list[dict[str, Any]]:
    step = steps[0]
    if step["op"] != "transcode":
        raise Unprocessable(f"unknown audio transform {step['op']!r}")
    out = codec.transcode(src, step["to"], workdir / "audio", step.get("max_seconds"))
    size = out["path"].stat().st_size
    if step.get("max_bytes") and size > step["max_bytes"]:
        raise TooLarge(f"transcoded audio is {size} bytes; the provider takes at most {step['max_bytes']}")
    return [out]
