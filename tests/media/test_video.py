"""Video: native for Gemini (inline under its limit), evenly sampled frames plus timestamps elsewhere."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from workers.core.errors import TooLarge, Unprocessable
from workers.media.inspect import inspect_file
from workers.media.plan import plan_resource
from workers.media.transform import apply_plan
from workers.media.video import sample_times

from .conftest import caps, make_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("video") / "clip.mp4", seconds=2.0, fps=10)


def test_inspect_video(clip: Path) -> None:
    facts = inspect_file(clip)
    assert facts["kind"] == "video" and facts["mime"] == "video/mp4"
    assert (facts["width"], facts["height"], facts["fps"]) == (160, 120, 10.0)
    assert facts["duration_s"] == pytest.approx(2.0, abs=0.15) and facts["codec"] == "mpeg4"


def test_gemini_takes_video_natively(clip: Path) -> None:
    steps = plan_resource(inspect_file(clip), caps("gemini/gemini-2.5-flash"), {})
    assert steps[0]["op"] == "keep"


def test_large_video_for_gemini_needs_files_api(clip: Path) -> None:
    facts = {**inspect_file(clip), "bytes": 40_000_000}
    with pytest.raises(TooLarge, match="Files API"):
        plan_resource(facts, caps("gemini/gemini-2.5-flash"), {})


def test_large_video_for_gemini_is_kept_whole_when_files_api_or_storage_can_carry_it(clip: Path) -> None:
    facts = {**inspect_file(clip), "bytes": 40_000_000}
    steps = plan_resource(facts, caps("gemini/gemini-2.5-flash"), {"out_of_line": ["file"]})
    assert steps[0]["op"] == "keep" and "file" in steps[0]["reason"]


@pytest.mark.parametrize("model", ["openai/gpt-4o", "anthropic/claude-sonnet-4-5", "xai/grok-4"])
def test_image_only_models_get_frames_and_timestamps(model: str, clip: Path, tmp_path: Path) -> None:
    facts = inspect_file(clip)
    steps = plan_resource(facts, caps(model), {"video_frames": 4})
    assert steps[0]["op"] == "video_frames" and steps[0]["count"] == 4
    outs = apply_plan(clip, facts, steps, tmp_path)
    legend, frames = outs[0], outs[1:]
    assert legend["kind"] == "text" and len(frames) == 4
    times = [f["timestamp_s"] for f in frames]
    assert times == sorted(times) and times[0] < 0.5 and times[-1] > 1.5
    for f in frames:
        assert f"{f['timestamp_s']:.2f} s" in legend["text"]
        with Image.open(f["path"]) as img:
            assert img.format == "JPEG" and img.size == (160, 120)
    with Image.open(frames[0]["path"]) as first, Image.open(frames[-1]["path"]) as last:
        assert first.getpixel((80, 60))[2] > last.getpixel((80, 60))[2]  # the colour ramp moves on


def test_model_without_video_or_images_is_422(clip: Path) -> None:
    with pytest.raises(Unprocessable, match="cohere/command-a-03-2025"):
        plan_resource(inspect_file(clip), caps("cohere/command-a-03-2025"), {})


def test_sample_times_are_even() -> None:
    assert sample_times(8.0, 4) == [1.0, 3.0, 5.0, 7.0]
