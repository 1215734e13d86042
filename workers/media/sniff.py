"""Real media type from the bytes, never from the label."""
from __future__ import annotations

import filetype

#: filetype names a few types differently from what providers expect.
_CANONICAL = {
    "audio/x-wav": "audio/wav",
    "audio/x-flac": "audio/flac",
    "audio/mp3": "audio/mpeg",
    "image/x-ms-bmp": "image/bmp",
    "audio/x-aiff": "audio/aiff",
    "audio/m4a": "audio/mp4",
    "video/x-matroska": "video/x-matroska",
}

SNIFF_BYTES = 8192


def sniff_mime(head: bytes) -> str | None:
    """The MIME type the first bytes declare, or None when unrecognised."""
    if head[:4] == b"\x89PNG":
        # filetype calls APNG "image/apng"; providers want image/png, animation is a fact for inspect.
        return "image/png"
    kind = filetype.guess(head[:SNIFF_BYTES])
    if kind is not None:
        return _CANONICAL.get(kind.mime, kind.mime)
    if head.lstrip()[:5] == b"%PDF-" or b"%PDF-" in head[:1024]:
        return "application/pdf"
    return None


def kind_of(mime: str | None) -> str | None:
    """image | document | audio | video for a MIME type."""
    if not mime:
        return None
    if mime in DOCUMENT_MIMES:
        return "document"
    major = mime.split("/", 1)[0]
    return major if major in ("image", "audio", "video") else None


# -- documents beyond PDF (issue 15): recognised from the whole file by workers/media/docsniff.py ----------
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
ODP = "application/vnd.oasis.opendocument.presentation"
DOC = "application/msword"
XLS = "application/vnd.ms-excel"
PPT = "application/vnd.ms-powerpoint"
ENCRYPTED_OOXML = "application/x-encrypted-ooxml"  # an OLE2 container holding EncryptionInfo + EncryptedPackage
OFFICE_MIMES = (DOCX, XLSX, PPTX, ODT, ODS, ODP, DOC, XLS, PPT, ENCRYPTED_OOXML)
TEXT_MIMES = ("text/plain", "text/markdown", "text/csv", "text/tab-separated-values", "text/html",
              "application/json", "application/xml")
DOCUMENT_MIMES = ("application/pdf", *OFFICE_MIMES, *TEXT_MIMES)
#: File name endings as hints (never proof) for the text formats and office files.
EXTENSIONS = {"txt": "text/plain", "text": "text/plain", "md": "text/markdown", "markdown": "text/markdown",
              "csv": "text/csv", "tsv": "text/tab-separated-values", "tab": "text/tab-separated-values",
              "html": "text/html", "htm": "text/html", "json": "application/json", "xml": "application/xml",
              "docx": DOCX, "xlsx": XLSX, "pptx": PPTX, "odt": ODT, "ods": ODS, "odp": ODP, "doc": DOC,
              "xls": XLS, "ppt": PPT, "pdf": "application/pdf"}
