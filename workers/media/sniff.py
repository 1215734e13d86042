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
    if mime == "application/pdf":
        return "document"
    major = mime.split("/", 1)[0]
    return major if major in ("image", "audio", "video") else None
