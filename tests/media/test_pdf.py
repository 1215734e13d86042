"""PDF: native when within limits, else text + page images; decryption, repair, clear errors."""
from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from workers.core.errors import TooLarge, UnsupportedMedia, Unprocessable
from workers.media.inspect import inspect_file
from workers.media.plan import plan_resource
from workers.media.transform import apply_plan

from .conftest import CORPUS, caps

PDF = CORPUS / "pdf"


@pytest.fixture(scope="module")
def empty_password_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "locked.pdf"
    writer = PdfWriter(clone_from=PdfReader(PDF / "pdflatex-4-pages.pdf"))
    writer.encrypt(user_password="", owner_password="owner-secret", algorithm="AES-128")
    with path.open("wb") as fh:
        writer.write(fh)
    return path


def test_empty_user_password_is_decrypted(empty_password_pdf: Path, tmp_path: Path) -> None:
    facts = inspect_file(empty_password_pdf)
    assert facts["encrypted"] is True and facts["pages"] == 4 and facts["decrypted"]
    steps = plan_resource(facts, caps("anthropic/claude-sonnet-4-5"), {})
    assert steps[0]["op"] == "pdf_rewrite"
    out = apply_plan(empty_password_pdf, facts, steps, tmp_path)[0]
    reader = PdfReader(out["path"])
    assert not reader.is_encrypted and len(reader.pages) == 4


def test_user_password_is_422() -> None:
    with pytest.raises(Unprocessable, match="encrypted"):
        inspect_file(PDF / "libreoffice-writer-password.pdf")


def test_broken_xref_is_a_clear_415() -> None:
    with pytest.raises(UnsupportedMedia, match="cross-reference"):
        inspect_file(PDF / "unreadablemetadata.pdf")


def test_over_page_limit_falls_back_to_text_and_images(tmp_path: Path) -> None:
    facts = inspect_file(PDF / "GeoTopo-komprimiert.pdf")
    mc = caps("anthropic/claude-sonnet-4-5")
    steps = plan_resource(facts, mc, {"pdf_strategy": "auto"})
    assert steps[0]["op"] == "pdf_pages" and "117 pages" in steps[0]["reason"]
    outs = apply_plan(PDF / "GeoTopo-komprimiert.pdf", facts, steps, tmp_path)
    images = [o for o in outs if o["kind"] == "image"]
    texts = [o for o in outs if o["kind"] == "text"]
    assert len(images) == 4 and len(texts) == 117
    assert outs[0]["kind"] == "image" and outs[0]["page"] == 1 and outs[1]["text"].startswith("[Page 1]")
    assert all(max(o["width"], o["height"]) <= 1568 for o in images)
    with pytest.raises(TooLarge, match="117 pages"):
        plan_resource(facts, mc, {"pdf_strategy": "native"})


def test_gemini_takes_117_pages_natively(tmp_path: Path) -> None:
    facts = inspect_file(PDF / "GeoTopo-komprimiert.pdf")
    steps = plan_resource(facts, caps("gemini/gemini-2.5-flash"), {})
    assert steps[0]["op"] == "keep"


@pytest.mark.parametrize("strategy", ["text", "images"])
def test_strategies_are_selectable(strategy: str, tmp_path: Path) -> None:
    facts = inspect_file(PDF / "multicolumn.pdf")
    steps = plan_resource(facts, caps("openai/gpt-4o"), {"pdf_strategy": strategy, "pdf_image_pages": 2})
    outs = apply_plan(PDF / "multicolumn.pdf", facts, steps, tmp_path)
    kinds = {o["kind"] for o in outs}
    assert kinds == ({"text"} if strategy == "text" else {"image"})
    if strategy == "images":
        assert len(outs) == 2 and all(o["est_tokens"] > 0 for o in outs)
    else:
        assert len(outs) == 3 and "Page 2" in outs[1]["text"]


def test_providers_without_pdf_input(tmp_path: Path) -> None:
    facts = inspect_file(PDF / "minimal-document.pdf")
    for model in ("xai/grok-4", "mistral/pixtral-large-latest", "cohere/command-a-vision-07-2025"):
        steps = plan_resource(facts, caps(model), {})
        assert steps[0]["op"] == "pdf_pages" and "does not take PDF" in steps[0]["reason"]
        with pytest.raises(Unprocessable, match="does not take PDF"):
            plan_resource(facts, caps(model), {"pdf_strategy": "native"})
    text_only = plan_resource(facts, caps("cohere/command-a-03-2025"), {})
    assert text_only[0]["image_pages"] == [] if "image_pages" in text_only[0] else True
    outs = apply_plan(PDF / "minimal-document.pdf", facts, text_only, tmp_path)
    assert [o["kind"] for o in outs] == ["text"]
    with pytest.raises(Unprocessable, match="does not accept images"):
        plan_resource(facts, caps("cohere/command-a-03-2025"), {"pdf_strategy": "images"})


def test_unknown_strategy_is_422() -> None:
    facts = inspect_file(PDF / "minimal-document.pdf")
    with pytest.raises(Unprocessable, match="pdf_strategy"):
        plan_resource(facts, caps("openai/gpt-4o"), {"pdf_strategy": "ocr"})



def test_first_page_preview_is_a_small_jpeg_of_page_one():
    """The browser UI's PDF thumbnail: page 1 at a 240 px long edge, the page's aspect kept."""
    import io

    from PIL import Image

    from workers.media.pdf import first_page_preview

    src = CORPUS / "pdf" / "pdflatex-4-pages.pdf"
    data, width, height = first_page_preview(src)
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG" and img.size == (width, height) and max(img.size) == 240
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(src))
    w_pt, h_pt = doc[0].get_size()
    doc.close()
    assert abs(width / height - w_pt / h_pt) < 0.02
