"""Facts about a file, from its bytes: type, pixels, frames, pages, duration.

The MIME type comes from the bytes (:mod:`workers.media.sniff`) and is then
confirmed by the decoder for that kind, under the limits of
:mod:`workers.media.limits`: a file that sniffs as PNG but does not decode is a
415, a tiny file claiming a gigapixel canvas is a 413, a PDF locked with a
user password is a 422.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from workers.core.errors import UnsupportedMedia
from workers.media.images import open_image, upright
from workers.media.kinds import KINDS
from workers.media.docsniff import OLE_MAGIC, hint_from, sniff_document
from workers.media.sniff import SNIFF_BYTES, kind_of, sniff_mime

__all__ = ["inspect_file", "open_image", "exif_upright"]


def inspect_file(path: Path, declared_mime: str | None = None, filename: str | None = None) -> dict[str, Any]:
    """JSON-able facts for any supported file; raises 415/413/422 (workers.core.errors) otherwise.
    ``declared_mime`` and ``filename`` are hints for text formats only: the bytes decide."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", OLE_MAGIC)):
        mime = sniff_document(path, head) or sniff_mime(head)
    else:
        mime = sniff_mime(head)
        if mime is None and not _claims_media(declared_mime, filename or path.name):
            mime = sniff_document(path, head, hint_from(declared_mime, filename))
    name = kind_of(mime)
    if name is None or mime is None:
        raise UnsupportedMedia(f"unrecognised media type (sniffed {mime or 'nothing'} from the bytes)")
    if name not in KINDS:
        raise UnsupportedMedia(f"{mime} is not a media type Ferry handles")
    facts: dict[str, Any] = {"mime": mime, "kind": name, "bytes": path.stat().st_size}
    facts.update(KINDS[name].inspect(path, mime))
    return facts


def _claims_media(declared: str | None, filename: str | None) -> bool:
    """The request says image, audio or video: text bytes are then a mistake (an HTML error page served
    for a picture), not a document, and stay a 415."""
    import mimetypes

    guessed = [declared.split(";", 1)[0].strip().lower() if declared else None,
               mimetypes.guess_type(filename)[0] if filename and "." in filename else None]
    return any(kind_of(m) in ("image", "audio", "video") or (m or "").startswith(("image/", "audio/", "video/"))
               for m in guessed if m)


exif_upright = upright
