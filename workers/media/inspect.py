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
from workers.media.audio import inspect_audio
from workers.media.images import inspect_image, open_image, upright
from workers.media.pdf import inspect_pdf
from workers.media.sniff import SNIFF_BYTES, kind_of, sniff_mime
from workers.media.video import inspect_video

__all__ = ["inspect_file", "open_image", "exif_upright"]

#: Audio-only files in containers that sniff as video.
_AUDIO_MIME_FOR = {"video/webm": "audio/webm", "video/mp4": "audio/mp4", "video/x-matroska": "audio/x-matroska",
                   "video/quicktime": "audio/mp4"}


def inspect_file(path: Path) -> dict[str, Any]:
    """JSON-able facts for any supported file; raises 415/413/422 (workers.core.errors) otherwise."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    mime = sniff_mime(head)
    kind = kind_of(mime)
    if kind is None:
        raise UnsupportedMedia(f"unrecognised media type (sniffed {mime or 'nothing'} from the bytes)")
    facts: dict[str, Any] = {"mime": mime, "kind": kind, "bytes": path.stat().st_size}
    if kind == "image":
        facts.update(inspect_image(path))
    elif mime == "application/pdf":
        facts.update(inspect_pdf(path))
    elif kind == "audio":
        facts.update(inspect_audio(path))
    elif kind == "video":
        video = inspect_video(path)
        if not video.pop("video"):
            if not video.get("has_audio"):
                raise UnsupportedMedia(f"{mime} file has neither a video nor an audio stream")
            facts.update(mime=_AUDIO_MIME_FOR.get(mime, mime.replace("video/", "audio/")), kind="audio")
            facts.update(inspect_audio(path))
        else:
            facts.update(video)
    else:
        raise UnsupportedMedia(f"{mime} is not a media type Ferry handles")
    return facts


exif_upright = upright
