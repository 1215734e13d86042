"""Every corpus file x every provider: outputs that obey the provider's catalog rules, checked on the
output bytes (re-opened), or a clear 413/415/422."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from workers.core.errors import FerryError
from workers.media.inspect import inspect_file
from workers.media.plan import plan_resource
from workers.media.sniff import sniff_mime
from workers.media.transform import apply_plan
from workers.providers.catalog import ModelCaps

from .conftest import MODELS, caps, corpus_files

#: What inspect must say about the corpus's bad and locked files.
EXPECTED_INSPECT_ERRORS = {
    "broken.png": 415, "truncated_end_chunk.png": 415, "text-named.png": 415,
    "decompression_bomb.gif": 413, "decompression_bomb_extents.gif": 413,
    "libreoffice-writer-password.pdf": 422, "unreadablemetadata.pdf": 415,
}


@functools.lru_cache(maxsize=None)
def facts_of(path: Path) -> dict[str, Any] | FerryError:
    try:
        return inspect_file(path)
    except FerryError as exc:
        return exc


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_inspect_corpus(path: Path) -> None:
    facts = facts_of(path)
    if path.name in EXPECTED_INSPECT_ERRORS:
        assert isinstance(facts, FerryError), facts
        assert facts.status == EXPECTED_INSPECT_ERRORS[path.name] and len(facts.message) > 20
        return
    assert not isinstance(facts, FerryError), facts
    assert facts["kind"] in ("image", "document", "audio", "video") and facts["bytes"] == path.stat().st_size


def check_image(out: dict[str, Any], mc: ModelCaps) -> None:
    ic = mc.image
    data = Path(out["path"]).read_bytes()
    assert sniff_mime(data[:8192]) == out["mime"] in ic.formats
    cap = mc.raw_byte_cap("image")
    assert cap is None or len(data) <= cap
    with Image.open(out["path"]) as img:
        assert (img.width, img.height) == (out["width"], out["height"])
        side = max(img.size)
        assert not ic.max_side or side <= ic.max_side
        if ic.recommended_long_edge:
            assert side <= ic.recommended_long_edge
        if ic.recommended_max_pixels:
            assert img.width * img.height <= ic.recommended_max_pixels
        if ic.detail_mode == "openai":
            assert side <= 2048 and min(img.size) <= 768
        if not ic.alpha:
            assert img.mode not in ("RGBA", "LA", "PA") and "transparency" not in img.info
        if ic.animated != "ok":
            assert getattr(img, "n_frames", 1) == 1
        assert img.mode in ("RGB", "RGBA", "L", "LA", "P")
        img.load()
    assert out["est_tokens"] > 0


def check_output(out: dict[str, Any], mc: ModelCaps) -> None:
    if out["kind"] == "text":
        assert out["mime"] == "text/plain" and out["text"].strip()
        return
    kc = mc.caps_for(out["kind"])
    assert kc is not None, f"{mc.id} got a {out['kind']} output"
    if out["kind"] == "image":
        check_image(out, mc)
        return
    data = Path(out["path"]).read_bytes()
    assert out["mime"] in kc.formats
    cap = mc.raw_byte_cap(out["kind"])
    assert cap is None or len(data) <= cap
    if out["kind"] == "document":
        from pypdf import PdfReader

        reader = PdfReader(out["path"])
        assert not reader.is_encrypted
        assert not kc.max_pages or len(reader.pages) <= kc.max_pages
    elif out["kind"] == "audio":
        assert sniff_mime(data[:8192]) == out["mime"]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("path", [p for p in corpus_files() if p.name not in EXPECTED_INSPECT_ERRORS],
                         ids=lambda p: p.name)
def test_outputs_obey_catalog(path: Path, model: str, tmp_path: Path) -> None:
    facts = facts_of(path)
    assert not isinstance(facts, FerryError)
    mc = caps(model)
    try:
        steps = plan_resource(facts, mc, {"detail": "auto"})
        outputs = apply_plan(path, facts, steps, tmp_path)
    except FerryError as exc:
        assert exc.status in (413, 415, 422)
        assert mc.id in exc.message or "PDF" in exc.message, exc.message
        assert mc.caps_for(facts["kind"]) is None or facts["kind"] == "document", exc.message
        return
    assert outputs and all(s.get("reason") for s in steps)
    for out in outputs:
        check_output(out, mc)
