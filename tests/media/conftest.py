"""Shared fixtures: the corpus beside the repo, the catalog, and small generated media."""
from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest

from workers.providers.catalog import ModelCaps, get_catalog

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"

#: One model per provider (the first listed; Azure lists none: deployments are named by their owner), plus
#: models that exercise other modalities.
MODELS = [f"{p}/{next(iter(e.models), 'gpt-4o')}" for p, e in get_catalog().providers.items()] + [
    "openai/gpt-4o-audio-preview", "cohere/command-a-03-2025", "bedrock/amazon.nova-pro-v1:0"]


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "README.md")


def caps(model: str) -> ModelCaps:
    return get_catalog().resolve(model)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


def make_video(path: Path, seconds: float = 2.0, fps: int = 10, size: tuple[int, int] = (160, 120),
               codec: str = "mpeg4", fmt: str | None = None) -> Path:
    """A small test video whose frame i is a solid colour that encodes i (PyAV)."""
    import av
    from PIL import Image

    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(int(seconds * fps)):
            shade = int(255 * i / max(1, seconds * fps - 1))
            frame = av.VideoFrame.from_image(Image.new("RGB", size, (shade, 0, 255 - shade)))
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def make_audio(path: Path, codec: str, fmt: str, seconds: float = 1.0, rate: int = 48000) -> Path:
    """A sine tone encoded with ``codec`` in container ``fmt`` (PyAV)."""
    import av

    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        sample_fmt = stream.codec_context.codec.audio_formats[0].name
        resampler = av.AudioResampler(format=sample_fmt, layout="mono", rate=rate,
                                      frame_size=stream.codec_context.frame_size or None)
        n = int(seconds * rate)
        pcm = b"".join(struct.pack("<h", int(0.3 * 32767 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(n))
        frame = av.AudioFrame(format="s16", layout="mono", samples=n)
        frame.planes[0].update(pcm)
        frame.sample_rate = rate
        for rf in resampler.resample(frame):
            out.mux(stream.encode(rf))
        for rf in resampler.resample(None):
            out.mux(stream.encode(rf))
        out.mux(stream.encode(None))
    return path


def lying_wav(path: Path, claimed_seconds: float, rate: int = 8000) -> Path:
    """A WAV whose header claims ``claimed_seconds`` of audio but holds 0.1 s."""
    data = b"\x00\x00" * int(rate * 0.1)
    claimed = int(claimed_seconds * rate * 2)
    header = b"RIFF" + struct.pack("<I", 36 + claimed) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    header += b"data" + struct.pack("<I", claimed)
    path.write_bytes(header + data)
    return path
