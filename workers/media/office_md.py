"""Office documents to Markdown a model reads well, with maintained libraries: python-docx (headings,
lists, tables in body order), python-pptx (slide titles, text, tables, notes), openpyxl and xlrd (every
sheet named with its used range, as a Markdown table). Embedded raster images are taken from the zip's
media folders. Everything runs under the caps of :mod:`workers.media.limits` (413 naming the limit).
Macros are never read: only the document parts are opened.
"""
from __future__ import annotations

import datetime as dt
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from workers.core.errors import TooLarge, UnsupportedMedia, Unprocessable
from workers.media.limits import MAX_CONVERTED_CHARS, MAX_SHEET_CELLS, MAX_SLIDES
from workers.media.zipsafe import read_member

_MEDIA_DIRS = ("word/media/", "ppt/media/", "xl/media/", "Pictures/")
_RASTER = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff")
_IMAGE_CAP = 50_000_000


@dataclass
class Converted:
    """A document as Markdown, plus facts about it (sheets and their ranges, slides)."""

    markdown: str
    facts: dict[str, Any] = field(default_factory=dict)


class _Out:
    """Markdown lines with a running character budget (413 past MAX_CONVERTED_CHARS)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.chars = 0

    def add(self, line: str) -> None:
        self.chars += len(line) + 1
        if self.chars > MAX_CONVERTED_CHARS:
            raise TooLarge(f"the document converts to more than {MAX_CONVERTED_CHARS} characters of text; "
                           f"Ferry's cap is {MAX_CONVERTED_CHARS} (split the document)")
        self.lines.append(line)

    def text(self) -> str:
        return "\n".join(self.lines).strip() + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        value = value.isoformat()
    return " ".join(str(value).split()).replace("|", "\\|")


def md_table(rows: list[list[Any]], out: _Out) -> None:
    """A Markdown table, the first row as its header; ragged rows padded."""
    if not rows:
        return
    width = max(len(r) for r in rows)
    if out.lines and out.lines[-1] != "":
        out.add("")
    cells = [[_cell(v) for v in r] + [""] * (width - len(r)) for r in rows]
    out.add("| " + " | ".join(cells[0]) + " |")
    out.add("|" + "---|" * width)
    for r in cells[1:]:
        out.add("| " + " | ".join(r) + " |")
    out.add("")


def column_letter(n: int) -> str:
    letters = ""
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def used_range(rows: list[list[Any]]) -> tuple[str, list[list[Any]]]:
    """(A1-style used range, rows trimmed to it) of a grid whose first cell is A1."""
    filled = [(r, c) for r, row in enumerate(rows) for c, v in enumerate(row) if _cell(v) != ""]
    if not filled:
        return "", []
    r0, r1 = min(r for r, _ in filled), max(r for r, _ in filled)
    c0, c1 = min(c for _, c in filled), max(c for _, c in filled)
    grid = [(row + [None] * (c1 + 1 - len(row)))[c0:c1 + 1] for row in rows[r0:r1 + 1]]
    return f"{column_letter(c0 + 1)}{r0 + 1}:{column_letter(c1 + 1)}{r1 + 1}", grid


def sheet_section(title: str, rows: list[list[Any]], out: _Out, sheets: list[dict[str, Any]]) -> None:
    rng, grid = used_range(rows)
    sheets.append({"name": title, "used_range": rng or None, "rows": len(grid), "columns": len(grid[0]) if grid else 0})
    out.add(f"## Sheet \"{title}\" ({f'used range {rng}' if rng else 'empty'})")
    out.add("")
    md_table(grid, out)


class CellBudget:
    """Counts cells read across a workbook's sheets; 413 past MAX_SHEET_CELLS."""

    def __init__(self) -> None:
        self.cells = 0

    def take(self, n: int, sheet: str) -> None:
        self.cells += n
        if self.cells > MAX_SHEET_CELLS:
            raise TooLarge(f"the workbook has more than {MAX_SHEET_CELLS} cells (reached on sheet \"{sheet}\"); "
                           f"Ferry's cap is {MAX_SHEET_CELLS} cells (MAX_SHEET_CELLS)")


# -- Word ----------------------------------------------------------------------------------------------

def _paragraph(p: Any) -> str:
    text = p.text.strip()
    if not text:
        return ""
    style = (p.style.name if p.style is not None else "") or ""
    if style == "Title":
        return f"# {text}"
    if style.startswith("Heading ") and style[8:].isdigit():
        return "#" * min(6, int(style[8:])) + " " + text
    ppr = p._p.pPr
    num = ppr.numPr if ppr is not None else None
    if num is not None or style.startswith("List"):
        level = int(num.ilvl.val) if num is not None and num.ilvl is not None else 0
        marker = "1." if "Number" in style else "-"
        return "  " * level + f"{marker} {text}"
    return text


#: Word main-part content types python-docx does not map to its DocumentPart (macro-enabled, templates): the
#: XML is the same, so they are read the same way (the VBA part is never opened).
_DOCX_VARIANTS = ("application/vnd.ms-word.document.macroEnabled.main+xml",
                  "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
                  "application/vnd.ms-word.template.macroEnabledTemplate.main+xml")


def docx_markdown(path: Path) -> Converted:
    from docx.opc.part import PartFactory
    from docx.package import Package
    from docx.parts.document import DocumentPart
    from docx.table import Table

    for content_type in _DOCX_VARIANTS:
        PartFactory.part_type_for.setdefault(content_type, DocumentPart)

    try:
        document = Package.open(str(path)).main_document_part.document
    except (KeyError, ValueError, AttributeError, zipfile.BadZipFile) as exc:
        raise UnsupportedMedia(f"the Word document could not be read: {exc}") from exc
    out, tables = _Out(), 0
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            tables += 1
            md_table([[c.text for c in row.cells] for row in block.rows], out)
            continue
        line = _paragraph(block)
        if line:
            if line.startswith("#") and out.lines and out.lines[-1] != "":
                out.add("")
            out.add(line)
            if line.startswith("#"):
                out.add("")
    return Converted(out.text(), {"tables": tables})


# -- PowerPoint ----------------------------------------------------------------------------------------

def _shapes(shapes: Iterable[Any]) -> Iterable[Any]:
    for shape in shapes:
        if getattr(shape, "shapes", None) is not None and shape.shape_type == 6:  # a group: its members
            yield from _shapes(shape.shapes)
        else:
            yield shape


def pptx_markdown(path: Path) -> Converted:
    from pptx.package import Package

    try:
        prs = Package.open(str(path)).presentation_part.presentation
        slides = list(prs.slides)
    except (KeyError, ValueError, AttributeError, zipfile.BadZipFile) as exc:
        raise UnsupportedMedia(f"the presentation could not be read: {exc}") from exc
    if len(slides) > MAX_SLIDES:
        raise TooLarge(f"the presentation has {len(slides)} slides; Ferry reads at most {MAX_SLIDES} (MAX_SLIDES)")
    out = _Out()
    for number, slide in enumerate(slides, 1):
        title_shape = slide.shapes.title
        title = title_shape.text_frame.text.strip() if title_shape is not None and title_shape.has_text_frame else ""
        out.add(f"## Slide {number}" + (f": {title}" if title else ""))
        out.add("")
        for shape in _shapes(slide.shapes):
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            if getattr(shape, "has_table", False) and shape.has_table:
                md_table([[c.text for c in row.cells] for row in shape.table.rows], out)
            elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
                paras = [p for p in shape.text_frame.paragraphs if "".join(r.text for r in p.runs).strip()]
                for p in paras:
                    text = "".join(r.text for r in p.runs).strip()
                    out.add("  " * p.level + f"- {text}" if len(paras) > 1 or p.level else text)
                if paras:
                    out.add("")
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame.text.strip() if slide.notes_slide.notes_text_frame else ""
            if notes:
                out.add(f"Notes: {notes}")
                out.add("")
    return Converted(out.text(), {"slides": len(slides)})


# -- Excel -----------------------------------------------------------------------------------------------

def xlsx_markdown(path: Path) -> Converted:
    import openpyxl

    fh = path.open("rb")  # a file object: openpyxl would refuse a path not named .xlsx
    try:
        wb = openpyxl.load_workbook(fh, read_only=True, data_only=True, keep_vba=False, keep_links=False)
    except Exception as exc:  # openpyxl raises KeyError, InvalidFileException, ValueError...
        fh.close()
        raise UnsupportedMedia(f"the workbook could not be read: {exc}") from exc
    out, budget, sheets = _Out(), CellBudget(), []
    try:
        for ws in wb.worksheets:
            rows_declared, cols_declared = ws.max_row or 0, ws.max_column or 0
            if rows_declared * cols_declared > MAX_SHEET_CELLS:
                raise TooLarge(f"sheet \"{ws.title}\" declares A1:{column_letter(cols_declared)}{rows_declared} "
                               f"({rows_declared * cols_declared} cells); "
                               f"Ferry's cap is {MAX_SHEET_CELLS} cells per workbook (MAX_SHEET_CELLS)")
            rows: list[list[Any]] = []
            for row in ws.iter_rows(values_only=True):
                budget.take(len(row), ws.title)
                rows.append(list(row))
            sheet_section(ws.title, rows, out, sheets)
    finally:
        wb.close()
        fh.close()
    return Converted(out.text(), {"sheets": sheets})


def xls_markdown(path: Path) -> Converted:
    import xlrd

    try:
        book = xlrd.open_workbook(str(path), on_demand=True)
    except xlrd.XLRDError as exc:
        if "encrypt" in str(exc).lower():
            raise Unprocessable("the Excel 97-2003 workbook is encrypted; send it without the password") from exc
        raise UnsupportedMedia(f"the Excel 97-2003 workbook could not be read: {exc}") from exc
    except Exception as exc:
        raise UnsupportedMedia(f"the Excel 97-2003 workbook could not be read: {exc}") from exc
    out, budget, sheets = _Out(), CellBudget(), []
    try:
        for index in range(book.nsheets):
            sheet = book.sheet_by_index(index)
            budget.take(sheet.nrows * sheet.ncols, sheet.name)
            rows = []
            for r in range(sheet.nrows):
                row = []
                for cell in sheet.row(r):
                    value = cell.value
                    if cell.ctype == xlrd.XL_CELL_DATE:
                        value = xlrd.xldate_as_datetime(value, book.datemode)
                    row.append(value)
                rows.append(row)
            sheet_section(sheet.name, rows, out, sheets)
            book.unload_sheet(index)
    finally:
        book.release_resources()
    return Converted(out.text(), {"sheets": sheets})


# -- embedded images ---------------------------------------------------------------------------------------

def embedded_images(path: Path, limit: int) -> list[tuple[str, bytes]]:
    """Up to ``limit`` (name, bytes) raster images from an office zip's media folders, in name order."""
    if limit <= 0:
        return []
    with zipfile.ZipFile(path) as zf:
        names = sorted(n for n in zf.namelist() if n.startswith(_MEDIA_DIRS) and n.lower().endswith(_RASTER))
        return [(n, read_member(zf, n, _IMAGE_CAP)) for n in names[:limit]]


def count_images(path: Path) -> int:
    with zipfile.ZipFile(path) as zf:
        return sum(1 for n in zf.namelist() if n.startswith(_MEDIA_DIRS) and n.lower().endswith(_RASTER))
