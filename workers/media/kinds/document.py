"""Documents (PDF): inspect (pages, encryption, text layer), plan (native, text, page images, or both,
within the model's page and byte limits) and transform (clean rewrite, or per-page text and images)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from workers.core.errors import TooLarge, UnsupportedMedia, Unprocessable
from workers.media import pdf
import workers.media.kinds.office as office
import workers.media.kinds.text as text
from workers.media.kinds.pdf_split import split_parts, split_step
from workers.media.kinds.common import encode_args, encode_picture, mb
from workers.media.sizing import target_size
from workers.providers.catalog import ImageCaps, ModelCaps

NAME = "document"
DEFAULT_PDF_IMAGE_PAGES = {"auto": 4, "images": 20}
MAX_TEXT_PAGES = 1000
PDF_STRATEGIES = ("auto", "native", "text", "images", "ocr")


#: Documents other than PDF, each with its own inspect, plan and transform (issue 15).
SUBKINDS = {m: k for k in (office, text) for m in k.MIMES}


def inspect(path: Path, mime: str) -> dict[str, Any]:
    if mime in SUBKINDS:
        return {"format": SUBKINDS[mime].NAME, **SUBKINDS[mime].inspect(path, mime)}
    if mime != "application/pdf":
        raise UnsupportedMedia(f"{mime} is not a media type Ferry handles")
    return pdf.inspect_pdf(path)


def _native_problem(facts: dict[str, Any], caps: ModelCaps, out_of_line: bool = False) -> str | None:
    dcaps = caps.document
    if dcaps is None:
        return f"{caps.id} does not take PDF input"
    if facts["mime"] not in dcaps.formats:
        return f"{caps.id} does not take {facts['mime']} documents"
    if dcaps.max_pages and facts.get("pages", 0) > dcaps.max_pages:
        return f"the PDF has {facts['pages']} pages; {caps.id} takes at most {dcaps.max_pages}"
    cap = caps.raw_byte_cap("document")
    if cap is not None and facts["bytes"] > cap and not out_of_line:
        return f"the PDF is {mb(facts['bytes'])}; {caps.id} takes at most {mb(cap)} inline"
    return None


def plan(facts: dict[str, Any], caps: ModelCaps, options: dict[str, Any]) -> list[dict[str, Any]]:
    if facts["mime"] in SUBKINDS:
        return SUBKINDS[facts["mime"]].plan(facts, caps, options)
    strategy = str(options.get("pdf_strategy") or "auto")
    if strategy not in PDF_STRATEGIES:
        raise Unprocessable(f"pdf_strategy must be one of {', '.join(PDF_STRATEGIES)}, not {strategy!r}",
                            param="options.pdf_strategy")
    if strategy == "ocr":
        return [_ocr_step(facts, options)]
    problem = _native_problem(facts, caps, bool(options.get("out_of_line")))
    if strategy == "native" or (strategy == "auto" and problem is None):
        if problem:
            error = TooLarge if ("pages" in problem or "MB" in problem) else Unprocessable
            raise error(f"pdf_strategy=native: {problem}; use pdf_strategy auto, text or images")
        if facts.get("encrypted") or facts.get("recovered_xref"):
            why = "decrypted (empty user password)" if facts.get("encrypted") else "cross-reference table rebuilt"
            return [{"op": "pdf_rewrite", "reason": f"PDF {why}; sending a clean copy natively to {caps.id}"}]
        return [{"op": "keep", "reason": f"PDF with {facts.get('pages')} pages is within {caps.id}'s limits; sent natively"}]
    split = split_step(facts, caps) if strategy == "auto" and problem and (
        "pages" in problem or "MB" in problem) else None
    if split is not None:  # several native documents (Bedrock); leftover pages as text and images below
        left = _pages_step(facts, caps, options, "auto")
        left["reason"] = (f"pages the {split['max_parts']} documents have no room for: their text, and images of up "
                          f"to {len(left.get('image_pages') or [])} of them")
        split["leftover"] = left
        split["reason"] = f"{problem}; {split['reason']}"
        return [split]
    return [_pages_step(facts, caps, options, strategy, problem)]


def _pages_step(facts: dict[str, Any], caps: ModelCaps, options: dict[str, Any], strategy: str,
                problem: str | None = None) -> dict[str, Any]:
    """``pdf_pages``: the text of every page and images of the first ``pdf_image_pages``."""
    pages = int(facts.get("pages") or 0)
    with_text = strategy in ("auto", "text")
    with_images = strategy in ("auto", "images") and caps.image is not None
    if strategy == "images" and caps.image is None:
        raise Unprocessable(f"pdf_strategy=images: {caps.id} does not accept images; use pdf_strategy text")
    n_images = 0
    step: dict[str, Any] = {"op": "pdf_pages"}
    if with_images:
        icaps = caps.image
        assert icaps is not None
        wanted = int(options.get("pdf_image_pages") or DEFAULT_PDF_IMAGE_PAGES[strategy])
        n_images = max(0, min(wanted, pages, icaps.max_per_request or wanted))
        step["image_pages"] = list(range(1, n_images + 1))
        step["image"] = {"caps": icaps.model_dump(), **encode_args(icaps, caps, "image/png", str(options.get("detail") or "auto"))}
    step["text_pages"] = list(range(1, min(pages, MAX_TEXT_PAGES) + 1)) if with_text else []
    why = problem or f"pdf_strategy={strategy}"
    parts = []
    scans = _scans_as_images(facts, caps, options, step) if with_text else []
    if with_text:
        parts.append(f"text of {len(step['text_pages'])} pages")
    if n_images:
        parts.append(f"images of pages 1-{n_images}")
    if scans:
        parts.append(f"images of the scanned pages {_ranges(scans)} (no text layer)")
    step["reason"] = f"{why}; sending {' and '.join(parts) or 'nothing'} instead"
    if not parts:
        raise Unprocessable(f"{caps.id} cannot take this PDF: {why}")
    return step


def transform(src: Path, facts: dict[str, Any], steps: list[dict[str, Any]], workdir: Path) -> list[dict[str, Any]]:
    if facts["mime"] in SUBKINDS:
        return SUBKINDS[facts["mime"]].transform(src, facts, steps, workdir)
    step = steps[0]
    if step["op"] == "pdf_rewrite":
        dest = pdf.rewrite(src, workdir / "document.pdf")
        return [{"path": dest, "kind": "document", "mime": "application/pdf", "pages": facts.get("pages")}]
    if step["op"] == "pdf_pages":
        return _pages(src, step, workdir)
    if step["op"] == "pdf_ocr":
        raise Unprocessable("pdf_ocr runs in the transform stage (workers/pipeline/ocr.py), not as a pure transform")
    if step["op"] == "pdf_split":
        parts, rest = split_parts(src, facts, step, workdir)
        if not rest:
            return parts
        left = step["leftover"]  # the same text + images recipe, for the pages the documents had no room for
        images = left.get("image_pages") or []
        return parts + _pages(src, {**left, "text_pages": rest, "image_pages": rest[:len(images)]}, workdir)
    raise Unprocessable(f"unknown document transform {step['op']!r}")


def _pages(src: Path, step: dict[str, Any], workdir: Path) -> list[dict[str, Any]]:
    """Per page, in order: the page image (when rendered) then its text."""
    spec = step.get("image")
    icaps = ImageCaps(**spec["caps"]) if spec else None
    rendered: dict[int, dict[str, Any]] = {}
    if spec and step.get("image_pages"):
        def size_for(w_pt: float, h_pt: float) -> tuple[int, int]:
            # 150 dpi is legible for body text; the provider's own size rules then shrink it.
            w, h = max(1, round(w_pt * 150 / 72)), max(1, round(h_pt * 150 / 72))
            return target_size(w, h, icaps, spec.get("detail"))[0]  # type: ignore[arg-type]

        for number, img in pdf.render_pages(src, step["image_pages"], size_for):
            out = encode_picture(img, spec, f"page-{number:04d}", workdir)
            out["page"] = number
            rendered[number] = out
    texts = dict(pdf.page_texts(src, step["text_pages"])) if step.get("text_pages") else {}
    outputs: list[dict[str, Any]] = []
    for number in sorted(set(rendered) | set(texts)):
        if number in rendered:
            outputs.append(rendered[number])
        if number in texts:
            body = texts[number] or "(no extractable text on this page)"
            outputs.append({"kind": "text", "mime": "text/plain", "page": number, "text": f"[Page {number}]\n{body}"})
    return outputs


def _ranges(pages: list[int]) -> str:
    """[1, 2, 3, 7] -> '1-3, 7'."""
    out: list[str] = []
    for n in pages:
        if out and int(out[-1].split("-")[-1]) == n - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{n}"
        else:
            out.append(str(n))
    return ", ".join(out)


def _scans_as_images(facts: dict[str, Any], caps: ModelCaps, options: dict[str, Any], step: dict[str, Any]) -> list[int]:
    """Scanned pages (no text layer) go as page images instead of empty text (issue 15 item 4); the pages
    added to ``step`` are returned. A model without image input cannot read them: 422 saying so."""
    scanned = [n for n in facts.get("scanned_pages") or [] if n in set(step["text_pages"])]
    if not scanned:
        return []
    icaps = caps.image
    if icaps is None:
        hint = "pdf_strategy=ocr" if options.get("ocr") else "pdf_strategy=ocr (set FERRY_OCR_PROVIDER=mistral)"
        raise Unprocessable(f"the PDF is scanned: pages {_ranges(scanned)} of {facts.get('pages')} have no text layer, "
                            f"and {caps.id} does not accept images; use {hint} or a model that reads images")
    have = list(step.get("image_pages") or [])
    room = max(0, (icaps.max_per_request or len(have) + len(scanned)) - len(have))
    added = [n for n in scanned if n not in have][:room]
    step["image_pages"] = sorted(have + added)
    step.setdefault("image", {"caps": icaps.model_dump(), **encode_args(icaps, caps, "image/png",
                                                                       str(options.get("detail") or "auto"))})
    step["text_pages"] = [n for n in step["text_pages"] if n not in set(added)]
    return added


def _ocr_step(facts: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """``pdf_ocr``: the pages read by the configured OCR provider (run by the transform stage, which may call
    out: workers/pipeline/ocr.py); 422 when none is configured."""
    provider = options.get("ocr")
    if not provider:
        raise Unprocessable("pdf_strategy=ocr: no OCR provider is configured on the workers (set "
                            "FERRY_OCR_PROVIDER=mistral and MISTRAL_API_KEY)", param="options.pdf_strategy")
    return {"op": "pdf_ocr", "provider": provider, "model": options.get("ocr_model"),
            "reason": f"pdf_strategy=ocr: the {facts.get('pages')} pages read by {provider} OCR, sent as text"}
