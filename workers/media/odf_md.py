"""OpenDocument (odt, ods, odp) to Markdown, from ``content.xml`` parsed by defusedxml (no DTDs or
entities). Written here rather than with odfpy (unreleased since 2020, parses with plain SAX): the subset a
model needs is small. Repeated rows and columns (``number-rows-repeated``, a classic way to claim a
million-row sheet in a few bytes) are counted against MAX_SHEET_CELLS before anything is materialised.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from workers.core.errors import TooLarge, Unprocessable
from workers.media.limits import MAX_SHEET_CELLS, MAX_SLIDES, MAX_ZIP_UNCOMPRESSED
from workers.media.office_md import CellBudget, Converted, _Out, md_table, sheet_section
from workers.media.zipsafe import open_zip, parse_xml, read_member

_NS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "presentation": "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0",
    "manifest": "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0",
}


def _q(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{_NS[prefix]}}}{local}"


def _text(el: Any) -> str:
    """An element's text with ODF's space, tab and line-break elements honoured."""
    parts: list[str] = [el.text or ""]
    for child in el:
        if child.tag == _q("text:s"):
            parts.append(" " * min(int(child.get(_q("text:c")) or 1), 100))
        elif child.tag == _q("text:tab"):
            parts.append("\t")
        elif child.tag == _q("text:line-break"):
            parts.append("\n")
        elif child.tag not in (_q("office:annotation"), _q("text:note")):  # comments and footnote bodies
            parts.append(_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _load(path: Path) -> Any:
    with open_zip(path) as zf:
        names = set(zf.namelist())
        if "META-INF/manifest.xml" in names:
            manifest = read_member(zf, "META-INF/manifest.xml", 10_000_000)
            if b"encryption-data" in manifest:
                raise Unprocessable("the OpenDocument file is encrypted; send it without the password")
        return parse_xml(read_member(zf, "content.xml", MAX_ZIP_UNCOMPRESSED), "content.xml")


def _rows(table: Any, budget: CellBudget, name: str) -> list[list[str]]:
    """A table's rows, repeats expanded only where content follows them (trailing blanks cost nothing)."""
    rows: list[list[str]] = []
    pending_rows = 0
    for row in table.iter(_q("table:table-row")):
        cells: list[str] = []
        pending = 0
        for cell in row:
            if cell.tag not in (_q("table:table-cell"), _q("table:covered-table-cell")):
                continue
            value = "\n".join(_text(p) for p in cell.iter(_q("text:p"))).strip()
            repeat = int(cell.get(_q("table:number-columns-repeated")) or 1)
            if not value:
                pending += repeat
                continue
            budget.take(pending + repeat, name)
            cells.extend([""] * pending + [value] * repeat)
            pending = 0
        repeat_rows = int(row.get(_q("table:number-rows-repeated")) or 1)
        if not cells:
            pending_rows += repeat_rows
            continue
        budget.take(pending_rows + len(cells) * (repeat_rows - 1), name)
        rows.extend([[] for _ in range(pending_rows)] + [list(cells) for _ in range(repeat_rows)])
        pending_rows = 0
    return rows


def _blocks(parent: Any, out: _Out, budget: CellBudget, depth: int = 0) -> None:
    for el in parent:
        if el.tag == _q("text:h"):
            level = min(6, int(el.get(_q("text:outline-level")) or 1))
            text = _text(el).strip()
            if text:
                out.add("")
                out.add("#" * level + " " + text)
                out.add("")
        elif el.tag == _q("text:p"):
            text = _text(el).strip()
            if text:
                out.add(text)
        elif el.tag == _q("text:list"):
            for item in el:
                for sub in item:
                    if sub.tag in (_q("text:p"), _q("text:h")):
                        text = _text(sub).strip()
                        if text:
                            out.add("  " * depth + f"- {text}")
                    elif sub.tag == _q("text:list"):
                        _blocks([sub], out, budget, depth + 1)
        elif el.tag == _q("table:table"):
            out.add("")
            md_table(_rows(el, budget, el.get(_q("table:name")) or "table"), out)
        elif el.tag in (_q("text:section"), _q("office:text"), _q("draw:frame"), _q("draw:text-box")):
            _blocks(el, out, budget, depth)


def odt_markdown(path: Path) -> Converted:
    body = _load(path).find(f"{_q('office:body')}/{_q('office:text')}")
    out = _Out()
    if body is not None:
        _blocks(body, out, CellBudget())
    return Converted(out.text(), {})


def ods_markdown(path: Path) -> Converted:
    body = _load(path).find(f"{_q('office:body')}/{_q('office:spreadsheet')}")
    out, budget, sheets = _Out(), CellBudget(), []
    for table in body.findall(_q("table:table")) if body is not None else []:
        name = table.get(_q("table:name")) or f"Sheet{len(sheets) + 1}"
        sheet_section(name, _rows(table, budget, name), out, sheets)
    return Converted(out.text(), {"sheets": sheets})


def odp_markdown(path: Path) -> Converted:
    body = _load(path).find(f"{_q('office:body')}/{_q('office:presentation')}")
    pages = body.findall(_q("draw:page")) if body is not None else []
    if len(pages) > MAX_SLIDES:
        raise TooLarge(f"the presentation has {len(pages)} slides; Ferry reads at most {MAX_SLIDES} (MAX_SLIDES)")
    out, budget = _Out(), CellBudget()
    for number, page in enumerate(pages, 1):
        frames = [f for f in page if f.tag == _q("draw:frame")]
        title = next((_text(f).strip() for f in frames if f.get(_q("presentation:class")) == "title"), "")
        out.add(f"## Slide {number}" + (f": {title}" if title else ""))
        out.add("")
        for frame in frames:
            if frame.get(_q("presentation:class")) != "title":
                _blocks(frame, out, budget)
        notes = page.find(_q("presentation:notes"))
        if notes is not None:
            text = " ".join(_text(p).strip() for p in notes.iter(_q("text:p")) if _text(p).strip())
            if text:
                out.add("")
                out.add(f"Notes: {text}")
        out.add("")
    return Converted(out.text(), {"slides": len(pages)})


__all__ = ["odt_markdown", "ods_markdown", "odp_markdown", "MAX_SHEET_CELLS"]
