"""Audio: any common container/codec in, wav or mp3 out for OpenAI, native kept for Gemini, caps enforced."""
from __future__ import annotations

from pathlib import Path

import av
import pytest

from workers.core.errors import TooLarge, Unprocessable
from workers.media import audio
from workers.media.inspect import inspect_file
from workers.media.plan import plan_resource
from workers.media.transform import apply_plan

from .conftest import CORPUS, caps, make_audio

OPENAI_AUDIO = "openai/gpt-4o-audio-preview"

GENERATED = [("tone.flac", "flac", "flac"), ("tone.m4a", "aac", "mp4"), ("tone.webm", "libopus", "webm"),
             ("tone.opus.ogg", "libopus", "ogg"), ("tone.mp3", "libmp3lame", "mp3"), ("tone.wav", "pcm_s16le", "wav")]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("audio")
    return {name: make_audio(d / name, codec, fmt) for name, codec, fmt in GENERATED}


def _decoded(path: Path) -> tuple[str, float]:
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        seconds = sum(f.samples / f.sample_rate for f in c.decode(s))
        return s.codec_context.name, seconds


@pytest.mark.parametrize("name", [g[0] for g in GENERATED])
def test_common_formats_reach_openai_as_wav_or_mp3(name: str, generated: dict[str, Path], tmp_path: Path) -> None:
    src = generated[name]
    facts = inspect_file(src)
    assert facts["kind"] == "audio" and facts["duration_s"] == pytest.approx(1.0, abs=0.1)
    steps = plan_resource(facts, caps(OPENAI_AUDIO), {})
    out = apply_plan(src, facts, steps, tmp_path)[0]
    assert out["mime"] in ("audio/wav", "audio/mpeg")
    codec, seconds = _decoded(out["path"])
    assert codec in ("mp3float", "mp3", "pcm_s16le") and seconds == pytest.approx(1.0, abs=0.15)


def test_corpus_ogg_transcoded_for_openai_and_kept_for_gemini(tmp_path: Path) -> None:
    src = CORPUS / "audio" / "alarm-clock-elapsed.oga"
    facts = inspect_file(src)
    steps = plan_resource(facts, caps(OPENAI_AUDIO), {})
    assert steps[0]["op"] == "transcode" and steps[0]["to"] == "audio/mpeg"
    out = apply_plan(src, facts, steps, tmp_path)[0]
    assert _decoded(out["path"])[1] == pytest.approx(facts["duration_s"], abs=0.1)
    assert plan_resource(facts, caps("gemini/gemini-2.5-flash"), {})[0]["op"] == "keep"


def test_wav_passes_through_to_openai() -> None:
    facts = inspect_file(CORPUS / "audio" / "speech-question.wav")
    assert plan_resource(facts, caps(OPENAI_AUDIO), {})[0]["op"] == "keep"


@pytest.mark.parametrize("model", ["anthropic/claude-sonnet-4-5", "xai/grok-4", "mistral/pixtral-large-latest",
                                   "cohere/command-a-vision-07-2025", "openai/gpt-4o"])
def test_no_audio_input_is_422_naming_the_model(model: str) -> None:
    facts = inspect_file(CORPUS / "audio" / "complete.oga")
    with pytest.raises(Unprocessable, match=model.replace(".", r"\.")):
        plan_resource(facts, caps(model), {})


def test_duration_cap_in_plan() -> None:
    facts = {"kind": "audio", "mime": "audio/wav", "bytes": 1000, "duration_s": 5000.0}
    with pytest.raises(TooLarge, match="1500 s"):
        plan_resource(facts, caps(OPENAI_AUDIO), {})


def test_decoding_stops_at_the_cap(generated: dict[str, Path], tmp_path: Path) -> None:
    """A 1 s tone against a 0.25 s cap: 413 once the decoded audio passes the cap (how soon, against a
    full transcode: bench/bad_input_speed.py)."""
    with pytest.raises(TooLarge, match="stopped decoding"):
        audio.transcode(generated["tone.flac"], "audio/wav", tmp_path / "out", max_seconds=0.25)
