"""Golden checks on image transforms: orientation, sizes per detail, modes, formats, tokens, limits."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from workers.core.errors import TooLarge
from workers.media.inspect import inspect_file
from workers.media.plan import plan_resource
from workers.media.sizing import target_size
from workers.media.tokens import estimate_image_tokens
from workers.media.transform import apply_plan

from .conftest import CORPUS, caps

IMAGES = CORPUS / "images"


def run(path: Path, model: str, tmp: Path, detail: str = "auto") -> tuple[list[dict], dict]:
    facts = inspect_file(path)
    steps = plan_resource(facts, caps(model), {"detail": detail})
    outs = apply_plan(path, facts, steps, tmp)
    return steps, outs[0]


def mean_diff(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


def test_orientation_6_comes_out_upright(tmp_path: Path) -> None:
    steps, out = run(IMAGES / "hopper_orientation_6.jpg", "openai/gpt-4o", tmp_path)
    assert [s["op"] for s in steps] == ["exif_transpose", "encode"]
    with Image.open(IMAGES / "hopper_orientation_6.jpg") as src:
        reference = src.convert("RGB").transpose(Image.Transpose.ROTATE_270)  # orientation 6 = 90 deg CW
    with Image.open(out["path"]) as got:
        assert got.getexif().get(0x0112, 1) == 1
        assert mean_diff(got, reference) < 4
        assert mean_diff(got, reference.transpose(Image.Transpose.ROTATE_180)) > 20


@pytest.mark.parametrize(("detail", "size", "tokens"), [("high", (1365, 768), 85 + 170 * 6),
                                                       ("auto", (1365, 768), 85 + 170 * 6),
                                                       ("low", (512, 288), 85)])
def test_openai_detail_sizes(detail: str, size: tuple[int, int], tokens: int, tmp_path: Path) -> None:
    _, out = run(IMAGES / "volna-5120x2880.jpg", "openai/gpt-4o", tmp_path, detail)
    assert (out["width"], out["height"]) == size and out["mime"] == "image/jpeg"
    assert out["est_tokens"] == tokens
    with Image.open(out["path"]) as img:
        assert img.size == size and img.format == "JPEG" and img.mode == "RGB"


def test_openai_detail_rules_on_sizes() -> None:
    oc = caps("openai/gpt-4o").image
    assert target_size(5120, 2880, oc, "high")[0] == (1365, 768)
    assert target_size(400, 300, oc, "auto")[0] == (400, 300)  # auto -> low, already inside 512
    assert target_size(1000, 500, oc, "low")[0] == (512, 256)
    assert target_size(600, 600, oc, "high")[0] == (600, 600)
    assert estimate_image_tokens(400, 300, oc, "auto") == 85


def test_anthropic_size_and_tokens(tmp_path: Path) -> None:
    _, out = run(IMAGES / "patak-5120x2880.png", "anthropic/claude-sonnet-4-5", tmp_path)
    assert max(out["width"], out["height"]) <= 1568 and out["width"] * out["height"] <= 1_150_000
    assert out["est_tokens"] == -(-out["width"] * out["height"] // 750)
    assert out["mime"] == "image/jpeg"  # opaque photo: JPEG, far under 5 MB


def test_gemini_tokens() -> None:
    gc = caps("gemini/gemini-2.5-flash").image
    assert estimate_image_tokens(384, 200, gc) == 258
    assert estimate_image_tokens(1536, 864, gc) == 258 * 2 * 2


def test_cmyk_becomes_rgb(tmp_path: Path) -> None:
    steps, out = run(IMAGES / "pil_sample_cmyk.jpg", "anthropic/claude-sonnet-4-5", tmp_path)
    assert "to_rgb" in [s["op"] for s in steps]
    with Image.open(out["path"]) as img, Image.open(IMAGES / "pil_sample_cmyk.jpg") as src:
        assert img.mode == "RGB" and mean_diff(img, src.convert("RGB")) < 10


def test_mistral_gets_no_alpha(tmp_path: Path) -> None:
    steps, out = run(IMAGES / "pil123rgba.png", "mistral/pixtral-large-latest", tmp_path)
    assert "flatten_alpha" in [s["op"] for s in steps]
    with Image.open(out["path"]) as img:
        assert img.mode == "RGB"
        corner = img.getpixel((0, 0))
    with Image.open(IMAGES / "pil123rgba.png") as src:
        if src.getpixel((0, 0))[3] == 0:
            assert min(corner) > 240  # transparent pixels land on white


def test_transparency_kept_as_png_where_accepted(tmp_path: Path) -> None:
    _, out = run(IMAGES / "transparency.avif", "anthropic/claude-sonnet-4-5", tmp_path)
    with Image.open(out["path"]) as img:
        assert img.format == "PNG" and img.mode == "RGBA" and img.getchannel("A").getextrema()[0] < 255


@pytest.mark.parametrize("name", ["iss634.gif", "iss634.apng"])
def test_animation_first_frame(name: str, tmp_path: Path) -> None:
    steps, out = run(IMAGES / name, "openai/gpt-4o", tmp_path)
    assert steps[0]["op"] == "first_frame" and "first frame" in steps[0]["reason"]
    with Image.open(out["path"]) as img, Image.open(IMAGES / name) as src:
        assert getattr(img, "n_frames", 1) == 1
        src.seek(0)
        assert mean_diff(img, src.convert("RGB")) < 6


def test_heic_to_jpeg_for_openai_and_kept_for_gemini(tmp_path: Path) -> None:
    _, out = run(IMAGES / "hopper.heif", "openai/gpt-4o", tmp_path)
    assert out["mime"] == "image/jpeg"
    steps, out = run(IMAGES / "hopper.heif", "gemini/gemini-2.5-flash", tmp_path)
    assert steps[0]["op"] == "keep" and out["mime"] == "image/heic"


@pytest.mark.parametrize("name", ["hopper.tif", "hopper.bmp"])
def test_unaccepted_formats_converted(name: str, tmp_path: Path) -> None:
    _, out = run(IMAGES / name, "xai/grok-4", tmp_path)
    assert out["mime"] in ("image/jpeg", "image/png")
    with Image.open(out["path"]) as img, Image.open(IMAGES / name) as src:
        assert img.size == src.size and mean_diff(img, src) < 6


def test_byte_cap_reencodes(tmp_path: Path) -> None:
    facts = inspect_file(IMAGES / "gnome-pixels-4096.webp")
    mc = caps("xai/grok-4")
    steps = plan_resource(facts, mc, {})
    steps[-1]["max_bytes"] = 150_000  # squeeze: quality steps first, then dimensions
    out = apply_plan(IMAGES / "gnome-pixels-4096.webp", facts, steps, tmp_path)[0]
    assert out["path"].stat().st_size <= 150_000
    assert out["quality"] <= 85


@pytest.mark.parametrize("name", ["decompression_bomb.gif", "decompression_bomb_extents.gif"])
def test_bombs_are_refused_at_inspect(name: str) -> None:
    """413 from the header, before any pixel is decoded (how fast: bench/bad_input_speed.py)."""
    with pytest.raises(TooLarge, match="too large to decode safely"):
        inspect_file(CORPUS / "bad" / name)
