"""Text documents: decoded by their detected encoding (charset-normalizer, not assumed UTF-8) and told
apart by content: JSON that parses, XML that parses, HTML by its tags, CSV/TSV by a consistent delimiter,
Markdown by its markers, else plain text. A declared type or file name only breaks ties between formats
the content allows (any text may be Markdown; CSV only if it splits evenly)."""
from __future__ import annotations

import codecs
import csv
import io
import json
import re
from pathlib import Path

from workers.core.errors import TooLarge, UnsupportedMedia
from workers.media.limits import MAX_TEXT_BYTES

_SAMPLE = 65536
_BOMS = ((codecs.BOM_UTF32_LE, "utf_32"), (codecs.BOM_UTF32_BE, "utf_32"), (codecs.BOM_UTF8, "utf_8_sig"),
         (codecs.BOM_UTF16_LE, "utf_16"), (codecs.BOM_UTF16_BE, "utf_16"))
_HTML = re.compile(rb"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]|<(p|div|table|br|h[1-6]|ul|ol|span|a)[\s>/]", re.I)
_MD_STRONG = re.compile(r"^(#{1,6}\s+\S|```|~~~|\|?\s*:?-{3,}:?\s*\|)", re.M)
_MD_WEAK = (re.compile(r"^\s*[-*+]\s+\S", re.M), re.compile(r"^\s*\d+\.\s+\S", re.M),
            re.compile(r"\[[^\]\n]+\]\([^)\s]+\)"), re.compile(r"\*\*[^*\n]+\*\*"), re.compile(r"^>\s", re.M))


def detect_encoding(sample: bytes) -> str | None:
    """The sample's encoding: a BOM, else UTF-8 if it decodes, else charset-normalizer's best guess; None
    for binary data (NUL bytes without a UTF-16/32 BOM, or nothing decodes it cleanly)."""
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    if b"\x00" in sample:
        return None
    try:
        sample.decode("utf-8")
        return "utf_8"
    except UnicodeDecodeError as exc:
        if exc.start > len(sample) - 4 and len(sample) >= _SAMPLE:  # a character cut at the sample's edge
            return "utf_8"
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None or best.chaos > 0.3:
        return None
    return best.encoding


def read_text(path: Path) -> tuple[str, str]:
    """(text, encoding) of a whole text file; 413 over MAX_TEXT_BYTES, 415 when it is not text."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        encoding = detect_encoding(fh.read(_SAMPLE))
    if encoding is None:
        raise UnsupportedMedia("the bytes are neither a known binary format nor text in any encoding")
    if size > MAX_TEXT_BYTES:
        raise TooLarge(f"the text document is {size} bytes; Ferry reads at most {MAX_TEXT_BYTES} (MAX_TEXT_BYTES)")
    data = path.read_bytes()
    text = data.decode(encoding, errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n"), encoding


def _delimited(text: str, delimiter: str | None = None) -> str | None:
    """The delimiter that splits the first lines into the same number (>= 2) of fields, or None."""
    lines = [ln for ln in text.split("\n", 41)[:40] if ln.strip()]
    if len(lines) < 2 and delimiter is None:
        return None
    for delim in ([delimiter] if delimiter else ["\t", ",", ";"]):
        try:
            rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delim))
        except csv.Error:
            continue
        counts = {len(row) for row in rows}
        later = [f for row in rows for f in row[1:]]
        prose = delim != "\t" and sum(1 for f in later if f.startswith(" ")) * 2 > len(later)  # "a, b, c." is prose
        if len(counts) == 1 and counts.pop() >= 2 and not prose:
            return delim
    return None


def _markdown(text: str) -> bool:
    head = text[:_SAMPLE]
    return bool(_MD_STRONG.search(head)) or sum(1 for rx in _MD_WEAK if rx.search(head)) >= 2


def _xml(text: str) -> bool:
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        SafeET.fromstring(text.encode("utf-8"), forbid_dtd=False, forbid_entities=True, forbid_external=True)
        return True
    except (SafeET.ParseError, DefusedXmlException, ValueError):
        return False


def classify(text: str, hint: str | None = None) -> str:
    """The text format of ``text`` (a MIME type); ``hint`` (declared or from the file name) breaks ties."""
    body = text.lstrip("\ufeff \t\n")
    if body[:1] in "{[" and body:
        try:
            json.loads(body)
            return "application/json"
        except ValueError:
            pass
    if body.startswith("<"):
        head = body[:4096].encode("utf-8", "replace")
        if _HTML.search(head) and not body.startswith("<?xml"):
            return "text/html"
        if _xml(body):
            return "text/html" if re.match(r"<html[\s>]", body, re.I) else "application/xml"
        if _HTML.search(head):
            return "text/html"
    if hint == "text/markdown" and not _delimited(body):
        return "text/markdown"
    if _markdown(body):
        return "text/markdown"
    delim = _delimited(body)
    if delim is None and hint in ("text/csv", "text/tab-separated-values"):
        delim = _delimited(body, "\t" if hint == "text/tab-separated-values" else ",")
    if delim == "\t":
        return "text/tab-separated-values"
    if delim is not None:
        return "text/csv"
    if hint == "text/markdown":
        return "text/markdown"
    return "text/plain"
