"""A PDF over a model's page (or byte) limit, for a provider that takes several documents per request:
split it into page ranges that each fit (Bedrock Converse: 5 documents of at most 4.5 MB; Claude reads at
most 100 pages each), so every page reaches the model natively; pages beyond the documents' room go as
text plus page images (issue 12 item 6: a 117-page PDF reached Bedrock as 4 page images and text).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from workers.media import pdf
from workers.providers.catalog import ModelCaps

#: Page count estimated from the average bytes per page is kept under the byte cap by this margin
#: (split parts repeat shared fonts and images); a part still over the cap is halved until it fits.
_MARGIN = 0.85


def split_step(facts: dict[str, Any], caps: ModelCaps) -> dict[str, Any] | None:
    """The ``pdf_split`` plan step, or None when the model takes one document at a time."""
    dcaps = caps.document
    if dcaps is None or "application/pdf" not in dcaps.formats or (dcaps.max_per_request or 1) < 2:
        return None
    pages, size = int(facts.get("pages") or 0), int(facts.get("bytes") or 0)
    cap = caps.raw_byte_cap("document")
    per_part = dcaps.max_pages or pages
    if cap and size > 0:
        per_part = min(per_part, max(1, int(pages * cap * _MARGIN / size)))
    parts = dcaps.max_per_request or 1
    return {"op": "pdf_split", "pages_per_part": per_part, "max_parts": parts, "max_bytes": cap,
            "reason": f"split into documents of at most {per_part} pages"
                      f"{f' and {cap} bytes' if cap else ''} (up to {parts} per request, {caps.id}'s limits), "
                      "so every page is sent natively; any pages beyond them as text and page images"}


def split_parts(src: Path, facts: dict[str, Any], step: dict[str, Any], workdir: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """(document outputs, pages left over): consecutive page ranges, each re-checked against the byte cap
    (halved until it fits; a single page over the cap ends the documents, it and the rest go as text)."""
    from pypdf import PdfWriter

    reader, _ = pdf.open_reader(src)
    pages = int(facts.get("pages") or len(reader.pages))
    cap = step.get("max_bytes")
    outputs: list[dict[str, Any]] = []
    start = 1
    while start <= pages and len(outputs) < step["max_parts"]:
        count = min(step["pages_per_part"], pages - start + 1)
        while True:
            end = start + count - 1
            dest = workdir / f"part-{start:04d}-{end:04d}.pdf"
            writer = PdfWriter()
            for number in range(start, end + 1):
                writer.add_page(reader.pages[number - 1])
            with dest.open("wb") as fh:
                writer.write(fh)
            if not cap or dest.stat().st_size <= cap:
                break
            if count == 1:
                return outputs, list(range(start, pages + 1))
            count = max(1, count // 2)
        outputs.append({"path": dest, "kind": "document", "mime": "application/pdf", "pages": count,
                        "page_range": [start, end]})
        start = end + 1
    return outputs, list(range(start, pages + 1))
