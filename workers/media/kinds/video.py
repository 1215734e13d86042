"""Video: inspect (streams, duration; a file with only an audio stream is audio), plan (native where the
model takes video, else frames sampled evenly with their timestamps) and transform (sample frames)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from workers.core.errors import TooLarge, UnsupportedMedia, Unprocessable
from workers.media import audio, video as codec
from workers.media.kinds.common import encode_args, encode_picture, mb, models_taking
from workers.providers.catalog import ModelCaps

NAME = "video"
DEFAULT_VIDEO_FRAMES = 8
#: Audio-only files in containers that sniff as video.
_AUDIO_MIME_FOR = {"video/webm": "audio/webm", "video/mp4": "audio/mp4", "video/x-matroska": "audio/x-matroska",
                   "video/quicktime": "audio/mp4"}


def inspect(path: Path, mime: str) -> dict[str, Any]:
    """Video facts; a container with no video stream is reported as the audio it holds."""
    facts = codec.inspect_video(path)
    if facts.pop("video"):
        return facts
    if not facts.get("has_audio"):
        raise UnsupportedMedia(f"{mime} file has neither a video nor an audio stream")
    return {"mime": _AUDIO_MIME_FOR.get(mime, mime.replace("video/", "audio/")), "kind": "audio",
            **audio.inspect_audio(path)}


def plan(facts: dict[str, Any], caps: ModelCaps, options: dict[str, Any]) -> list[dict[str, Any]]:
    vcaps = caps.video
    mime = facts["mime"]
    seconds = float(facts.get("duration_s") or 0)
    if vcaps is not None and mime in vcaps.formats:
        if vcaps.max_seconds and seconds > vcaps.max_seconds:
            raise TooLarge(f"video is {seconds:.0f} s long; {caps.id} takes at most {vcaps.max_seconds:.0f} s")
        cap = caps.raw_byte_cap("video")
        if cap is not None and facts["bytes"] > cap:
            if not options.get("out_of_line"):
                raise TooLarge(f"video is {mb(facts['bytes'])}; {caps.id} takes inline video up to {mb(cap)} "
                               f"(request limit counted after base64); larger videos need its Files API or "
                               f"cloud-storage delivery: configure {caps.provider.upper()}_API_KEY or FERRY_STAGING")
            return [{"op": "keep", "reason": f"{mime} is over the inline cap; sent natively by "
                                             f"{' or '.join(options['out_of_line'])}"}]
        return [{"op": "keep", "reason": f"{mime} is a video format {caps.id} takes; sent natively"}]
    icaps = caps.image
    if icaps is None:
        raise Unprocessable(f"{caps.id} accepts neither video nor images ({mime}); video models include "
                            f"{models_taking('video')}")
    wanted = int(options.get("video_frames") or DEFAULT_VIDEO_FRAMES)
    count = max(1, min(wanted, icaps.max_per_request or wanted))
    why = f"{caps.id} does not take video" if vcaps is None else f"{caps.id} does not take {mime}"
    return [{"op": "video_frames", "count": count, "duration_s": seconds,
             "image": {"caps": icaps.model_dump(), **encode_args(icaps, caps, "image/jpeg", str(options.get("detail") or "auto"))},
             "reason": f"{why}; sending {count} frames sampled evenly over {seconds:.1f} s, with their timestamps"}]


def transform(src: Path, facts: dict[str, Any], steps: list[dict[str, Any]], workdir: Path) -> list[dict[str, Any]]:
    step = steps[0]
    if step["op"] != "video_frames":
        raise Unprocessable(f"unknown video transform {step['op']!r}")
    return _frames(src, facts, step, workdir)


def _frames(src: Path, facts: dict[str, Any], step: dict[str, Any], workdir: Path) -> list[dict[str, Any]]:
    duration = float(step.get("duration_s") or facts.get("duration_s") or 0)
    times = codec.sample_times(duration, int(step["count"]))
    frames: list[dict[str, Any]] = []
    for i, (t, img) in enumerate(codec.sample_frames(src, times)):
        out = encode_picture(img.convert("RGB"), step["image"], f"frame-{i:03d}", workdir, mime=step["image"]["mime"])
        out["timestamp_s"] = t
        frames.append(out)
    listing = ", ".join(f"{f['timestamp_s']:.2f} s" for f in frames)
    legend = {"kind": "text", "mime": "text/plain",
              "text": f"[Video, {duration:.1f} s: {len(frames)} frames sampled evenly, at {listing}]"}
    return [legend, *frames]
