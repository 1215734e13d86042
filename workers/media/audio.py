"""Audio with PyAV: facts from the container, and transcoding to what a provider takes.

Durations are checked twice: from the header at inspect time, and while
decoding (headers lie), so an absurdly long stream stops at the cap instead of
filling the disk or memory.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from workers.core.errors import TooLarge, UnsupportedMedia
from workers.media.limits import MAX_MEDIA_SECONDS

#: Output MIME -> (container, codec, extension).
ENCODERS = {
    "audio/mpeg": ("mp3", "libmp3lame", ".mp3"),
    "audio/wav": ("wav", "pcm_s16le", ".wav"),
    "audio/flac": ("flac", "flac", ".flac"),
    "audio/ogg": ("ogg", "libopus", ".ogg"),
}
_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


def _open(path: Path) -> Any:
    import av

    try:
        return av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise UnsupportedMedia(f"audio could not be decoded: {exc}") from exc


def stream_seconds(container: Any, stream: Any, cap: float) -> float:
    """Duration from the header, or by reading packet timestamps (stopping past ``cap``)."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    last = 0.0
    for packet in container.demux(stream):
        if packet.pts is not None and packet.time_base:
            last = max(last, float((packet.pts + (packet.duration or 0)) * packet.time_base))
            if last > cap:
                break
    return last


def inspect_audio(path: Path) -> dict[str, Any]:
    import av

    with _open(path) as container:
        if not container.streams.audio:
            raise UnsupportedMedia("file has no audio stream")
        stream = container.streams.audio[0]
        try:
            seconds = stream_seconds(container, stream, MAX_MEDIA_SECONDS)
        except av.FFmpegError as exc:
            raise UnsupportedMedia(f"audio could not be decoded: {exc}") from exc
        facts = {
            "container": container.format.name,
            "codec": stream.codec_context.name,
            "duration_s": round(seconds, 3),
            "sample_rate": stream.codec_context.sample_rate,
            "channels": stream.codec_context.channels,
            "bit_rate": stream.codec_context.bit_rate or container.bit_rate,
        }
    if seconds > MAX_MEDIA_SECONDS:
        raise TooLarge(f"audio is {seconds:.0f} s long; Ferry decodes at most {MAX_MEDIA_SECONDS} s")
    return facts


def transcode(src: Path, mime: str, dest_stem: Path, max_seconds: float | None) -> dict[str, Any]:
    """Decode ``src`` and encode it as ``mime``; 413 as soon as the decoded audio passes ``max_seconds``."""
    import av

    cap = min(max_seconds or MAX_MEDIA_SECONDS, MAX_MEDIA_SECONDS)
    fmt, codec, ext = ENCODERS[mime]
    dest = dest_stem.with_suffix(ext)
    with _open(src) as inp:
        if not inp.streams.audio:
            raise UnsupportedMedia("file has no audio stream")
        ist = inp.streams.audio[0]
        channels = min(ist.codec_context.channels or 1, 2)
        rate = ist.codec_context.sample_rate or 44100
        if codec == "libmp3lame":
            rate = min(_MP3_RATES, key=lambda r: abs(r - rate))
        elif codec == "libopus":
            rate = 48000
        layout = "mono" if channels == 1 else "stereo"
        with av.open(str(dest), "w", format=fmt) as out:
            ost = out.add_stream(codec, rate=rate)
            ost.layout = layout
            if codec == "libmp3lame":
                ost.bit_rate = 64000 * channels
            elif codec == "libopus":
                ost.bit_rate = 48000 * channels
            sample_fmt = ost.codec_context.codec.audio_formats[0].name if ost.codec_context.codec.audio_formats else "s16"
            resampler = av.AudioResampler(format=sample_fmt, layout=layout, rate=rate,
                                          frame_size=ost.codec_context.frame_size or None)
            decoded = 0.0
            try:
                for frame in inp.decode(ist):
                    decoded += frame.samples / (frame.sample_rate or rate)
                    if decoded > cap:
                        raise TooLarge(f"audio is longer than {cap:.0f} s (stopped decoding at the cap)")
                    for rframe in resampler.resample(frame):
                        out.mux(ost.encode(rframe))
                for rframe in resampler.resample(None):
                    out.mux(ost.encode(rframe))
                out.mux(ost.encode(None))
            except av.FFmpegError as exc:
                raise UnsupportedMedia(f"audio could not be decoded: {exc}") from exc
    return {"path": dest, "kind": "audio", "mime": mime, "duration_s": round(decoded, 3),
            "sample_rate": rate, "channels": channels}
