"""Real, small media the simulators answer with (image generation, spoken answers), so Ferry's
tests can check that the exact bytes reach storage and come back."""
from __future__ import annotations

import hashlib
import io
import math
import wave

from PIL import Image


def make_png(width: int, height: int, seed: str = "") -> bytes:
    """A real PNG of ``width`` x ``height`` (a few colour bands picked from ``seed``; compresses small)."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    im = Image.new("RGB", (width, height), tuple(digest[:3]))
    band = max(1, height // 4)
    for i in range(1, 4):
        im.paste(tuple(digest[3 * i:3 * i + 3]), (0, i * band, width, min(height, (i + 1) * band)))
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def tone_pcm16(seconds: float = 0.5, rate: int = 24_000, freq: float = 440.0) -> bytes:
    """Little-endian signed 16-bit mono samples of a sine tone (OpenAI's ``pcm16``: 24 kHz mono)."""
    import struct

    n = int(seconds * rate)
    return struct.pack(f"<{n}h", *(int(0.3 * 32767 * math.sin(2 * math.pi * freq * i / rate)) for i in range(n)))


def make_tone(fmt: str, seconds: float = 0.5, rate: int = 24_000) -> bytes:
    """A short real tone encoded as ``wav | pcm16 | mp3 | flac | opus | aac`` (PyAV for the codecs)."""
    raw = tone_pcm16(seconds, rate)
    if fmt == "pcm16":
        return raw
    if fmt == "wav":
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(raw)
        return buf.getvalue()
    import av

    container, codec = {"mp3": ("mp3", "libmp3lame"), "flac": ("flac", "flac"), "opus": ("ogg", "libopus"),
                        "aac": ("adts", "aac")}[fmt]
    out_rate = 48_000 if fmt == "opus" else rate  # libopus takes 48 kHz
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=out_rate, layout="mono")
        frame = av.AudioFrame(format="s16", layout="mono", samples=len(raw) // 2)
        frame.planes[0].update(raw)
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=out_rate,
                                      frame_size=stream.codec_context.frame_size or None)
        for chunk in (frame, None):
            for f in resampler.resample(chunk):
                for packet in stream.encode(f):
                    out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()
