"""What a payload is, learnt from its bytes: sniffing, base64 / data-URI decoding, inspection.

Providers decide from the *bytes* what a payload is (not from the declared type), so the
simulators do the same: :func:`sniff` reads magic numbers, :func:`inspect_media` adds
pixel size / frame count / PDF page count with Pillow and pypdf. Each simulator then applies
its own provider's rules to the resulting :class:`Media`.

Nothing here changes global library state (e.g. ``Image.MAX_IMAGE_PIXELS``): Ferry's own code
may run in the same process during tests.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import wave
from dataclasses import dataclass
from typing import Any

from PIL import Image

try:  # HEIC/HEIF (Gemini accepts them); optional so the simulators still import without it
    import pillow_heif

    pillow_heif.register_heif_opener()
except Exception:  # pragma: no cover - depends on the environment
    pillow_heif = None

#: Formats Pillow may decode here; anything else is reported by sniff() only.
PIL_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "HEIF", "AVIF", "BMP", "TIFF")
#: Above this many pixels we trust the header instead of decoding (keeps tests fast, avoids bombs).
FULL_DECODE_MAX_PIXELS = 40_000_000


class MediaError(ValueError):
    """The bytes are not a valid instance of the format they claim or appear to be."""


# --------------------------------------------------------------------------- sniffing

_FTYP_BRANDS = {
    b"heic": "image/heic", b"heix": "image/heic", b"hevc": "image/heic", b"hevx": "image/heic",
    b"heim": "image/heic", b"heis": "image/heic",
    b"mif1": "image/heif", b"msf1": "image/heif",
    b"avif": "image/avif", b"avis": "image/avif",
    b"qt  ": "video/quicktime",
    b"3gp4": "video/3gpp", b"3gp5": "video/3gpp", b"3gp6": "video/3gpp", b"3g2a": "video/3gpp",
    b"M4A ": "audio/mp4", b"M4B ": "audio/mp4",
}


def sniff(data: bytes) -> str | None:
    """MIME type from magic numbers (https://mimesniff.spec.whatwg.org/ plus container brands)."""
    head = data[:64]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/avi"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _FTYP_BRANDS:
            return _FTYP_BRANDS[brand]
        return "video/mp4"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"BM"):
        return "image/bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "audio/aiff"
    if head.startswith(b"ID3"):
        return "audio/mp3"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: WebM or Matroska by DocType
        return "video/webm" if b"webm" in data[:64] else "video/x-matroska"
    if head.startswith(b"FLV"):
        return "video/x-flv"
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "video/mpeg"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "video/wmv"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "application/x-cfb"  # legacy .doc / .xls container
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0:
        layer = (head[1] >> 1) & 0x03
        return "audio/aac" if layer == 0 else "audio/mp3"  # ADTS has layer bits 00
    if _looks_like_text(data):
        return "text/plain"
    return None


def _looks_like_text(data: bytes) -> bool:
    sample = data[:4096]
    if not sample or b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:  # a multi-byte char cut at the sample edge is fine
        return exc.start > len(sample) - 4
    return True


#: Spellings providers treat as the same type (declared type vs. sniffed type).
MIME_ALIASES = {
    "image/jpg": "image/jpeg", "image/heif": "image/heic",
    "audio/x-wav": "audio/wav", "audio/wave": "audio/wav", "audio/vnd.wave": "audio/wav",
    "audio/mpeg": "audio/mp3", "audio/x-aiff": "audio/aiff", "audio/x-flac": "audio/flac",
    "video/mov": "video/quicktime", "video/mpg": "video/mpeg", "video/x-msvideo": "video/avi",
    "video/x-ms-wmv": "video/wmv", "video/flv": "video/x-flv",
    "text/markdown": "text/plain", "text/csv": "text/plain", "text/html": "text/plain",
}


def canonical_mime(mime: str | None) -> str | None:
    """Lower-case, parameters dropped, aliases folded (for comparing declared vs sniffed)."""
    if not mime:
        return mime
    base = mime.split(";", 1)[0].strip().lower()
    return MIME_ALIASES.get(base, base)


def same_mime(declared: str | None, sniffed: str | None) -> bool:
    return canonical_mime(declared) == canonical_mime(sniffed)


# --------------------------------------------------------------------------- decoding

def b64decode_strict(text: Any, urlsafe_ok: bool = False) -> bytes:
    """Decode standard base64 (padding and whitespace tolerated); MediaError if it is not base64.

    ``urlsafe_ok``: also accept the URL-safe alphabet, as proto-JSON APIs (Gemini) do — the
    google-genai SDK sends ``inline_data.data`` URL-safe encoded.
    """
    if not isinstance(text, str):
        raise MediaError("expected a base64 string")
    cleaned = re.sub(r"\s+", "", text)
    if urlsafe_ok:
        cleaned = cleaned.replace("-", "+").replace("_", "/")
        cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MediaError(f"invalid base64 data: {exc}") from None


_DATA_URI = re.compile(r"^data:(?P<mime>[^;,]*)(?P<params>(;[^;,]*)*?);base64,(?P<data>.*)$", re.S)


def is_data_uri(url: Any) -> bool:
    return isinstance(url, str) and url.startswith("data:")


def parse_data_uri(url: str) -> tuple[str, bytes]:
    """``data:<mime>;base64,<data>`` → (mime, bytes); MediaError for any other form."""
    m = _DATA_URI.match(url)
    if not m:
        raise MediaError("data URI must look like data:<mime>;base64,<data>")
    return m.group("mime").strip().lower(), b64decode_strict(m.group("data"))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- inspection

@dataclass
class Media:
    """Facts about one payload, learnt from its bytes."""

    data: bytes
    mime: str | None  # sniffed
    width: int | None = None
    height: int | None = None
    frames: int | None = None
    mode: str | None = None
    has_alpha: bool = False
    pages: int | None = None
    encrypted: bool = False
    duration: float | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return sha256_hex(self.data)

    @property
    def is_image(self) -> bool:
        return bool(self.mime and self.mime.startswith("image/"))

    @property
    def max_side(self) -> int:
        return max(self.width or 0, self.height or 0)


def inspect_media(data: bytes) -> Media:
    """Sniff and, for images / PDFs / WAV, read the facts providers check. MediaError if corrupt."""
    media = Media(data=data, mime=sniff(data))
    if media.is_image and media.mime not in ("image/bmp", "image/tiff"):
        _inspect_image(media)
    elif media.mime == "application/pdf":
        _inspect_pdf(media)
    elif media.mime == "audio/wav":
        _inspect_wav(media)
    return media


def _inspect_image(media: Media) -> None:
    try:
        with Image.open(io.BytesIO(media.data), formats=PIL_FORMATS) as im:
            media.width, media.height = im.size
            media.mode = im.mode
            media.has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
            media.frames = getattr(im, "n_frames", 1)
            if media.width * media.height <= FULL_DECODE_MAX_PIXELS:
                im.load()  # catches truncated and corrupt files, as a provider's decoder would
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError("image dimensions are too large to decode") from None
    except MediaError:
        raise
    except Exception as exc:  # Pillow raises many types (OSError, SyntaxError, ValueError, ...)
        raise MediaError(f"image could not be decoded: {exc}") from None


def _inspect_pdf(media: Media) -> None:
    """Page count with PDFium (lenient, like the readers providers run), pypdf as a second opinion."""
    try:
        import pypdfium2 as pdfium

        doc = pdfium.PdfDocument(media.data)
        try:
            media.pages = len(doc)
        finally:
            doc.close()
        return
    except ImportError:
        pass
    except Exception as exc:
        if "password" in str(exc).lower():
            media.encrypted = True
            return
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(media.data), strict=False)
        if reader.is_encrypted:
            media.encrypted = True
            try:
                if not reader.decrypt(""):
                    return
            except Exception:
                return
        media.pages = len(reader.pages)
    except Exception as exc:
        raise MediaError(f"PDF could not be read: {exc}") from None


def _inspect_wav(media: Media) -> None:
    try:
        with wave.open(io.BytesIO(media.data)) as w:
            media.duration = round(w.getnframes() / float(w.getframerate() or 1), 2)
    except Exception as exc:
        raise MediaError(f"WAV could not be read: {exc}") from None


def inspect_lenient(data: bytes) -> Media:
    """Like inspect_media but never raises: uploads accept any bytes, use-time checks reject."""
    try:
        return inspect_media(data)
    except MediaError:
        return Media(data=data, mime=sniff(data))


# --------------------------------------------------------------------------- office containers (issue 15)

def office_format(data: bytes) -> str | None:
    """docx | xlsx | pptx (a zip with the main part), doc | xls | ppt (an OLE2 file with the main stream), or
    None: what Bedrock's ``DocumentFormat`` label must match."""
    import zipfile

    if data.startswith(b"PK\x03\x04"):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except zipfile.BadZipFile:
            return None
        for part, fmt in (("word/document.xml", "docx"), ("xl/workbook.xml", "xlsx"), ("ppt/presentation.xml", "pptx")):
            if part in names:
                return fmt
        return None
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        import olefile

        try:
            with olefile.OleFileIO(data) as ole:
                for stream, fmt in (("WordDocument", "doc"), ("Workbook", "xls"), ("Book", "xls"),
                                    ("PowerPoint Document", "ppt")):
                    if ole.exists(stream):
                        return fmt
        except Exception:
            return None
    return None
