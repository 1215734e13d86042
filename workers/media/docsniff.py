"""Documents recognised from the whole file (their signatures are not all in the first bytes): OOXML by
its zip structure and ``[Content_Types].xml``, OpenDocument by its ``mimetype`` entry, legacy OLE2 (doc,
xls, ppt, encrypted OOXML) by the compound-file magic and its stream names, text by its content.

The declared MIME type or file name is a hint only: it picks between text formats the content allows.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

from workers.core.errors import UnsupportedMedia
from workers.media import sniff as s
from workers.media.textfmt import classify, read_text
from workers.media.zipsafe import parse_xml, read_member

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CT_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"
#: Main-part content types (macro-enabled and template variants included: macros are never run or sent on).
_OOXML_MAIN = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": s.DOCX,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml": s.DOCX,
    "application/vnd.ms-word.document.macroEnabled.main+xml": s.DOCX,
    "application/vnd.ms-word.template.macroEnabledTemplate.main+xml": s.DOCX,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": s.XLSX,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml": s.XLSX,
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": s.XLSX,
    "application/vnd.ms-excel.template.macroEnabled.main+xml": s.XLSX,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": s.PPTX,
    "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml": s.PPTX,
    "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml": s.PPTX,
    "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml": s.PPTX,
    "application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml": s.PPTX,
}
_ODF = {s.ODT: s.ODT, "application/vnd.oasis.opendocument.text-template": s.ODT, s.ODS: s.ODS,
        "application/vnd.oasis.opendocument.spreadsheet-template": s.ODS, s.ODP: s.ODP,
        "application/vnd.oasis.opendocument.presentation-template": s.ODP}


def hint_from(declared: str | None, filename: str | None) -> str | None:
    """A MIME type suggested by the request (declared type, else the file name's ending)."""
    if declared:
        base = declared.split(";", 1)[0].strip().lower()
        if base in s.DOCUMENT_MIMES:
            return base
        if base == "text/x-markdown":
            return "text/markdown"
    if filename and "." in filename:
        return s.EXTENSIONS.get(filename.rsplit(".", 1)[1].lower())
    return None


def sniff_zip(path: Path) -> str | None:
    """OOXML or OpenDocument MIME type of a zip, or None for any other zip."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    with zf:
        names = set(zf.namelist())
        if "mimetype" in names:
            declared = read_member(zf, "mimetype", 200).decode("ascii", "replace").strip()
            if declared in _ODF:
                return _ODF[declared]
        if "[Content_Types].xml" in names:
            root = parse_xml(read_member(zf, "[Content_Types].xml", 1_000_000), "[Content_Types].xml")
            for el in root.iter(f"{_CT_NS}Override"):
                found = _OOXML_MAIN.get((el.get("ContentType") or "").strip())
                if found:
                    return found
    return None


def sniff_ole(path: Path) -> str | None:
    """Legacy Office type of an OLE2 compound file from its stream names, or None."""
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            if ole.exists("EncryptionInfo") and ole.exists("EncryptedPackage"):
                return s.ENCRYPTED_OOXML
            if ole.exists("WordDocument"):
                return s.DOC
            if ole.exists("Workbook") or ole.exists("Book"):
                return s.XLS
            if ole.exists("PowerPoint Document"):
                return s.PPT
    except (OSError, ValueError, IndexError, TypeError) as exc:  # olefile raises these on corrupt files
        _ = exc
    return None


def sniff_document(path: Path, head: bytes, hint: str | None = None) -> str | None:
    """The document type of ``path`` from its bytes, or None (a binary nobody recognises)."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return sniff_zip(path)
    if head.startswith(OLE_MAGIC):
        return sniff_ole(path)
    try:
        text, _ = read_text(path)  # a text file over MAX_TEXT_BYTES is a 413 here, naming the limit
    except UnsupportedMedia:  # not text: unrecognised
        return None
    return classify(text, hint)
