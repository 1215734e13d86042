"""Video with PyAV: facts from the container, and evenly sampled frames for image-only models."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workers.core.errors import TooLarge, UnsupportedMedia
from workers.media.audio import stream_seconds
from workers.media.limits import MAX_MEDIA_SECONDS, MAX_VIDEO_PIXELS


def _open(path: Path) -> Any:
    import av

    try:
        return av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise UnsupportedMedia(f"video could not be decoded: {exc}") from exc


def inspect_video(path: Path) -> dict[str, Any]:
    """Facts for a file with a video stream; ``{"video": False}`` when it holds audio only."""
    import av

    with _open(path) as container:
        if not container.streams.video:
            return {"video": False, "has_audio": bool(container.streams.audio)}
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if ctx.width * ctx.height > MAX_VIDEO_PIXELS:
            raise TooLarge(f"video is {ctx.width}x{ctx.height} px; Ferry decodes at most {MAX_VIDEO_PIXELS} pixels")
        try:
            seconds = stream_seconds(container, stream, MAX_MEDIA_SECONDS)
        except av.FFmpegError as exc:
            raise UnsupportedMedia(f"video could not be decoded: {exc}") from exc
        rate = stream.average_rate or stream.guessed_rate
        facts = {
            "video": True,
            "container": container.format.name,
            "codec": ctx.name,
            "width": ctx.width,
            "height": ctx.height,
            "fps": round(float(rate), 3) if rate else None,
            "duration_s": round(seconds, 3),
            "frames": stream.frames or None,
            "has_audio": bool(container.streams.audio),
        }
    if seconds > MAX_MEDIA_SECONDS:
        raise TooLarge(f"video is {seconds:.0f} s long; Ferry decodes at most {MAX_MEDIA_SECONDS} s")
    return facts


def sample_times(duration: float, count: int) -> list[float]:
    """``count`` instants spread evenly, each in the middle of its slice of the video."""
    count = max(1, count)
    return [round(duration * (i + 0.5) / count, 3) for i in range(count)]


def sample_frames(src: Path, times: list[float]) -> Iterator[tuple[float, Any]]:
    """(timestamp, Pillow RGB image) of the first frame at or after each time (seeking, not decoding all)."""
    import av

    with _open(src) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = stream.time_base
        for t in times:
            try:
                container.seek(int(t / tb), stream=stream, backward=True, any_frame=False)
                picked = None
                for frame in container.decode(stream):
                    picked = frame
                    if frame.time is not None and frame.time >= t - 1e-3:
                        break
            except av.FFmpegError as exc:
                raise UnsupportedMedia(f"video could not be decoded at {t:.2f} s: {exc}") from exc
            if picked is None:
                continue
            yield (round(picked.time if picked.time is not None else t, 3), picked.to_image())
