"""Scanned PDFs (issue 15 item 4): pages with no text layer are found at inspect; strategies that would send
text send those pages as images; a model without image input gets a 422 saying the PDF is scanned;
``pdf_strategy: "ocr"`` reads pages with Mistral's /v1/ocr (its simulator) or says it is not configured."""
from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pypdf import PdfWriter

from tests.conftest import AUTH, CORPUS, wait_job
from workers.core.errors import Unprocessable
from workers.media import pdf
from workers.media.inspect import inspect_file
from workers.media.plan import plan_resource
from workers.providers.catalog import get_catalog

TEXT_PDF = CORPUS / "pdf" / "pdflatex-4-pages.pdf"


def scanned_copy(src: Path, dest: Path) -> Path:
    """Each page of ``src`` rendered to pixels and saved as an image-only PDF (what a scanner makes)."""
    images = [img for _, img in pdf.render_pages(src, [1, 2], lambda w, h: (int(w), int(h)))]
    images[0].save(dest, "PDF", save_all=True, append_images=images[1:], resolution=72)
    return dest


def mixed(tmp: Path) -> Path:
    """4 text pages, then 2 scanned pages."""
    writer = PdfWriter()
    writer.append(str(TEXT_PDF))
    writer.append(str(scanned_copy(TEXT_PDF, tmp / "scan.pdf")))
    out = tmp / "mixed.pdf"
    with out.open("wb") as fh:
        writer.write(fh)
    return out


def test_pages_without_a_text_layer_are_found(tmp_path):
    assert inspect_file(mixed(tmp_path))["scanned_pages"] == [5, 6]
    assert inspect_file(TEXT_PDF)["scanned_pages"] == []
    assert inspect_file(CORPUS / "pdf" / "cmyk-image.pdf")["scanned_pages"] == [1]  # a real image-only page


def test_scanned_pages_go_as_images_where_text_would_be_sent(tmp_path):
    facts = inspect_file(mixed(tmp_path))
    step = plan_resource(facts, get_catalog().resolve("openai/gpt-4o"), {"pdf_strategy": "text"})[0]
    assert step["op"] == "pdf_pages" and step["image_pages"] == [5, 6] and step["text_pages"] == [1, 2, 3, 4]
    assert "scanned pages 5-6" in step["reason"]
    auto = plan_resource(facts, get_catalog().resolve("mistral/pixtral-large-latest"), {})[0]
    assert auto["image_pages"] == [1, 2, 3, 4, 5, 6]


def test_a_model_without_images_gets_a_422_saying_the_pdf_is_scanned(tmp_path):
    facts = inspect_file(mixed(tmp_path))
    with pytest.raises(Unprocessable, match="scanned: pages 5-6 of 6 have no text layer.*does not accept images"):
        plan_resource(facts, get_catalog().resolve("xai/grok-3-mini"), {})


def test_ocr_without_a_provider_says_it_is_not_configured(tmp_path):
    facts = inspect_file(TEXT_PDF)
    with pytest.raises(Unprocessable, match="no OCR provider is configured.*FERRY_OCR_PROVIDER"):
        plan_resource(facts, get_catalog().resolve("openai/gpt-4o"), {"pdf_strategy": "ocr", "ocr": None})
    step = plan_resource(facts, get_catalog().resolve("openai/gpt-4o"), {"pdf_strategy": "ocr", "ocr": "mistral"})[0]
    assert step["op"] == "pdf_ocr" and step["provider"] == "mistral"


# -- end to end --------------------------------------------------------------------------------------------

def _job(client, path: Path, model: str, token: str, **options):  # type: ignore[no-untyped-def]
    part = {"type": "file", "file": {"filename": path.name,
                                     "file_data": "data:application/pdf;base64," + base64.b64encode(path.read_bytes()).decode()}}
    body = {"request": {"model": model, "messages": [{"role": "user", "content": [
        {"type": "text", "text": f"Read it {token}"}, part]}]}, "options": options}
    resp = client.post("/v1/jobs", json=body, headers=AUTH)
    assert resp.status_code == 202, resp.json
    return wait_job(client, resp.json["id"], timeout=120)


def _call(sim, token: str) -> dict:  # type: ignore[no-untyped-def]
    return next(e for e in reversed(sim.state.log()) if any(token in (p.get("text") or "") for p in e.get("parts") or []))


def test_scanned_pages_reach_a_vision_model_as_images(client, sims, tmp_path):
    job = _job(client, mixed(tmp_path), "mistral/pixtral-large-latest", "scan-e2e")
    assert job["status"] == "succeeded", job.get("error")
    parts = _call(sims["mistral"], "scan-e2e")["parts"]
    assert sum(1 for p in parts if p["kind"] == "image") == 6
    assert any("[Page 1]" in (p.get("text") or "") for p in parts)


def test_scanned_pdf_to_a_text_only_model_fails_clearly(client, tmp_path):
    job = _job(client, mixed(tmp_path), "xai/grok-3-mini", "scan-text-only")
    assert job["status"] == "failed"
    assert job["error"]["type"] == "unprocessable_error" and "scanned" in job["error"]["message"]


def test_ocr_strategy_reads_pages_through_mistral_ocr(client, sims, tmp_path):
    scan = scanned_copy(TEXT_PDF, tmp_path / "scan.pdf")
    job = _job(client, scan, "anthropic/claude-sonnet-4-5", "ocr-e2e", pdf_strategy="ocr")
    assert job["status"] == "succeeded", job.get("error")
    ocr_calls = [e for e in sims["mistral"].state.log() if e["path"] == "/v1/ocr"]
    assert ocr_calls and ocr_calls[-1]["status"] == 200
    received = "\n".join(p.get("text") or "" for p in _call(sims["anthropic"], "ocr-e2e")["parts"])
    assert "[Page 1]\nOCR-SIM page 1 of" in received and "[Page 2]\nOCR-SIM page 2 of" in received
    assert job["resources"][0]["transforms"][0]["op"] == "pdf_ocr"
