"""PDF: inspect with pypdf (lenient, so broken cross-reference tables are rebuilt), decrypt PDFs whose
user password is empty, extract text per page, render pages with pdfium.

Everything runs under caps from :mod:`workers.media.limits`: a page-count ceiling before any page is
touched, a character budget per page of extracted text and a pixel budget per rendered page, so a
"zip bomb" PDF costs bounded time and memory.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from workers.core.errors import TooLarge, UnsupportedMedia, Unprocessable
from workers.media.limits import MAX_PAGE_TEXT_CHARS, MAX_PDF_PAGES, MAX_RENDER_PIXELS

_RECOVERY_HINTS = ("xref", "startxref", "rebuild", "trailer")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _pypdf_warnings() -> Iterator[list[str]]:
    """Collect pypdf's repair warnings (it logs them) instead of printing them."""
    logger = logging.getLogger("pypdf")
    handler = _Collect()
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def open_reader(path: Path) -> tuple[Any, dict[str, Any]]:
    """A pypdf reader, decrypted when the user password is empty; 422 when it is not, 415 when unreadable."""
    from pypdf import PdfReader

    with _pypdf_warnings() as warned:
        try:
            reader = PdfReader(path, strict=False)
            encrypted = reader.is_encrypted
            if encrypted:
                try:
                    ok = reader.decrypt("")
                except Exception as exc:  # unsupported algorithm, broken /Encrypt
                    raise Unprocessable(f"PDF is encrypted and could not be decrypted: {exc}") from exc
                if not ok:
                    raise Unprocessable("PDF is encrypted with a user password; send it without the password")
            pages = len(reader.pages)
        except (Unprocessable, TooLarge):
            raise
        except Exception as exc:
            hint = " (its cross-reference table is broken beyond repair)" if any(
                h in " ".join(warned).lower() for h in _RECOVERY_HINTS) else ""
            raise UnsupportedMedia(f"PDF could not be read{hint}: {exc}") from exc
    if pages > MAX_PDF_PAGES:
        raise TooLarge(f"PDF has {pages} pages; Ferry opens at most {MAX_PDF_PAGES}")
    if pages == 0:
        raise UnsupportedMedia("PDF has no pages")
    recovered = any(h in m.lower() for m in warned for h in _RECOVERY_HINTS)
    return reader, {"pages": pages, "encrypted": encrypted, "recovered_xref": recovered,
                    "repair_notes": warned[:5]}


def inspect_pdf(path: Path) -> dict[str, Any]:
    reader, facts = open_reader(path)
    try:
        box = reader.pages[0].mediabox
        facts["page_width_pt"], facts["page_height_pt"] = round(float(box.width), 1), round(float(box.height), 1)
    except Exception:
        facts["page_width_pt"], facts["page_height_pt"] = 612.0, 792.0
    if facts["encrypted"]:
        facts["decrypted"] = "empty user password"
    facts["scanned_pages"] = scanned_pages(path, min(facts["pages"], MAX_SCAN_CHECK_PAGES))
    return facts


#: Pages checked for a text layer at inspect (a scan of more pages is judged by these).
MAX_SCAN_CHECK_PAGES = 1000


def scanned_pages(src: Path, pages: int) -> list[int]:
    """1-based pages with no text layer but an image on them: scans (a blank page is neither)."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        doc = _open_pdfium(src)
    except UnsupportedMedia:
        return []
    found: list[int] = []
    try:
        for number in range(1, pages + 1):
            page = doc[number - 1]
            textpage = page.get_textpage()
            chars = textpage.count_chars()
            textpage.close()
            if chars == 0 and next(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2), None) is not None:
                found.append(number)
            page.close()
    except pdfium.PdfiumError:
        return found
    finally:
        doc.close()
    return found


def rewrite(src: Path, dest: Path) -> Path:
    """Write a clean copy: decrypted, with a fresh cross-reference table."""
    from pypdf import PdfWriter

    reader, _ = open_reader(src)
    with _pypdf_warnings():
        writer = PdfWriter(clone_from=reader)
        with dest.open("wb") as fh:
            writer.write(fh)
    return dest


def page_texts(src: Path, pages: list[int]) -> Iterator[tuple[int, str]]:
    """(1-based page, text) for ``pages``; each capped at MAX_PAGE_TEXT_CHARS."""
    import pypdfium2 as pdfium

    doc = _open_pdfium(src)
    try:
        for number in pages:
            page = doc[number - 1]
            textpage = page.get_textpage()
            text = textpage.get_text_bounded() if hasattr(textpage, "get_text_bounded") else textpage.get_text_range()
            yield number, text.replace("\r\n", "\n")[:MAX_PAGE_TEXT_CHARS].strip()
            textpage.close()
            page.close()
    except pdfium.PdfiumError as exc:
        raise UnsupportedMedia(f"PDF text could not be extracted: {exc}") from exc
    finally:
        doc.close()


def _open_pdfium(src: Path) -> Any:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(str(src), password="")
    except pdfium.PdfiumError:
        pass
    # pdfium refuses some files pypdf can repair: render from pypdf's clean rewrite instead.
    fixed = src.with_name(src.stem + ".repaired.pdf")
    rewrite(src, fixed)
    try:
        return pdfium.PdfDocument(str(fixed))
    except pdfium.PdfiumError as exc:
        raise UnsupportedMedia(f"PDF could not be rendered: {exc}") from exc


def render_pages(src: Path, pages: list[int], size_for: Any) -> Iterator[tuple[int, Any]]:
    """(1-based page, Pillow image) for ``pages``; ``size_for(w_pt, h_pt) -> (w, h)`` picks pixels."""
    doc = _open_pdfium(src)
    try:
        for number in pages:
            page = doc[number - 1]
            w_pt, h_pt = page.get_size()
            w, h = size_for(w_pt, h_pt)
            if w * h > MAX_RENDER_PIXELS:
                raise TooLarge(f"page {number} would render at {w}x{h} px; the cap is {MAX_RENDER_PIXELS} pixels")
            scale = min(w / max(w_pt, 1), h / max(h_pt, 1))
            bitmap = page.render(scale=scale, may_draw_forms=True)
            img = bitmap.to_pil().convert("RGB")
            bitmap.close()
            page.close()
            yield number, img
    finally:
        doc.close()



#: Long edge of a PDF's first-page preview (the browser UI's thumbnail; web processes decode no PDF).
PREVIEW_EDGE = 240


def first_page_preview(src: Path, edge: int = PREVIEW_EDGE) -> tuple[bytes, int, int]:
    """Page 1 as a small JPEG (bytes, width, height), for people looking at the job, not for the model."""
    import io

    def size_for(w_pt: float, h_pt: float) -> tuple[int, int]:
        k = edge / max(w_pt, h_pt, 1.0)
        return max(1, round(w_pt * k)), max(1, round(h_pt * k))

    _, img = next(iter(render_pages(src, [1], size_for)))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue(), img.width, img.height
