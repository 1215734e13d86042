"""Validation and bookkeeping shared by every provider simulator.

Providers decide from the *bytes* what a payload is (not from the declared type), so the
simulators do the same: :func:`sniff` reads magic numbers, :func:`inspect_media` adds
pixel size / frame count / PDF page count with Pillow and pypdf. Each simulator then applies
its own provider's rules to the resulting :class:`Media` and describes what it received with
:class:`Part` labels, so Ferry's tests can assert that content arrived intact and in order.

Nothing here changes global library state (e.g. ``Image.MAX_IMAGE_PIXELS``): Ferry's own code
may run in the same process during tests.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import math
import re
import wave
from dataclasses import dataclass, field
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


# --------------------------------------------------------------------------- parts and labels

@dataclass
class Part:
    """One received content part, as described back to the caller and written to the log."""

    kind: str  # text | image | document | audio | video | file | other
    text: str | None = None
    media: Media | None = None
    declared_mime: str | None = None
    source: str = "inline"  # inline | url | file
    ref: str | None = None  # URL or file id when not inline
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def mime(self) -> str | None:
        return (self.media.mime if self.media else None) or self.declared_mime

    def label(self) -> str:
        """Short deterministic description, e.g. ``image/png 128x128 sha=1a2b3c4d``."""
        if self.kind == "text":
            snippet = (self.text or "").replace("\n", " ")
            if len(snippet) > 40:
                snippet = snippet[:37] + "..."
            return f'text "{snippet}"'
        bits = [self.mime or self.kind]
        m = self.media
        if m is not None:
            if m.width is not None:
                bits.append(f"{m.width}x{m.height}")
            if m.frames and m.frames > 1:
                bits.append(f"{m.frames}f")
            if m.pages is not None:
                bits.append(f"{m.pages}p")
            if m.duration is not None:
                bits.append(f"{m.duration}s")
        if self.source == "url":
            bits.append(f"url={self.ref}")
        elif self.source == "file":
            bits.append(f"file={self.ref}")
        if m is not None:
            bits.append(f"sha={m.sha256[:8]}")
        return " ".join(bits)

    def to_log(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "source": self.source, "label": self.label()}
        if self.text is not None:
            out["chars"] = len(self.text)
        if self.declared_mime:
            out["declared_mime"] = self.declared_mime
        if self.ref:
            out["ref"] = self.ref
        m = self.media
        if m is not None:
            out.update(mime=m.mime, bytes=m.size, sha256=m.sha256)
            for key in ("width", "height", "frames", "pages", "duration"):
                if getattr(m, key) is not None:
                    out[key] = getattr(m, key)
        out.update(self.extra)
        return out

    def tokens(self) -> int:
        """Deterministic usage estimate: 4 chars/token; images ~ w*h/750 (as Anthropic documents);
        258 per PDF page; 1 per KiB otherwise."""
        if self.kind == "text":
            return max(1, math.ceil(len(self.text or "") / 4))
        m = self.media
        if m is None:
            return 85
        if m.width and m.height:
            return max(1, (m.width * m.height) // 750)
        if m.pages:
            return 258 * m.pages
        return max(1, m.size // 1024)


def describe(provider: str, model: str | None, parts: list[Part]) -> str:
    """The reply text every simulator returns: what arrived, in order."""
    return f"sim:{provider} model={model} parts=[{', '.join(p.label() for p in parts)}]"


def prompt_tokens(parts: list[Part]) -> int:
    return sum(p.tokens() for p in parts)


def completion_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


# --------------------------------------------------------------------------- request helpers

def content_items(messages: Any) -> list[tuple[str, dict[str, Any]]]:
    """Flatten ``messages[].content`` (string or list of parts) into (path, part) in order.

    The path uses the providers' own error-path style, e.g. ``messages.0.content.1``.
    String content becomes a ``{"type": "text", "text": ...}`` part.
    """
    items: list[tuple[str, dict[str, Any]]] = []
    if not isinstance(messages, list):
        return items
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            continue
        content = msg.get("content")
        if isinstance(content, str):
            items.append((f"messages.{i}.content", {"type": "text", "text": content}))
        elif isinstance(content, list):
            for j, part in enumerate(content):
                if isinstance(part, dict):
                    items.append((f"messages.{i}.content.{j}", part))
    return items


def load_json_body(raw: bytes) -> Any:
    """Parse a JSON request body; ValueError with a short reason if it is not JSON."""
    import json

    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"could not parse JSON body: {exc}") from None


def request_id(raw: bytes, prefix: str) -> str:
    """Deterministic id derived from the request body (same request → same id)."""
    return prefix + hashlib.sha256(raw).hexdigest()[:24]


def inspect_lenient(data: bytes) -> Media:
    """Like inspect_media but never raises: uploads accept any bytes, use-time checks reject."""
    try:
        return inspect_media(data)
    except MediaError:
        return Media(data=data, mime=sniff(data))


def image_url_source(value: Any) -> tuple[str | None, bytes | None, str | None]:
    """OpenAI-style ``image_url`` (an object with ``url``, or a bare string as Mistral allows)
    → (declared mime, bytes, None) for a data URI or (None, None, url) for an http(s) URL."""
    url = value.get("url") if isinstance(value, dict) else value
    if not isinstance(url, str) or not url:
        raise MediaError("image_url.url is required")
    if is_data_uri(url):
        mime, data = parse_data_uri(url)
        return mime, data, None
    if url.startswith(("http://", "https://")):
        return None, None, url
    raise MediaError("image_url must be an http(s) URL or a base64 data URI")


# --------------------------------------------------------------------------- generated outputs
# Image generation and audio output (issue 6 item 5): the simulators answer with real, small media
# made here, so Ferry's tests can check that the exact bytes reach storage and come back.

def make_png(width: int, height: int, seed: str = "") -> bytes:
    """A real PNG of ``width`` x ``height`` (a few colour bands picked from ``seed``; compresses small)."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    im = Image.new("RGB", (width, height), tuple(digest[:3]))
    band = max(1, height // 4)
    for i in range(1, 4):
        im.paste(tuple(digest[3 * i:3 * i + 3]), (0, i * band, width, min(height, (i + 1) * band)))
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def tone_pcm16(seconds: float = 0.5, rate: int = 24_000, freq: float = 440.0) -> bytes:
    """Little-endian signed 16-bit mono samples of a sine tone (OpenAI's ``pcm16``: 24 kHz mono)."""
    import struct

    n = int(seconds * rate)
    return struct.pack(f"<{n}h", *(int(0.3 * 32767 * math.sin(2 * math.pi * freq * i / rate)) for i in range(n)))


def make_tone(fmt: str, seconds: float = 0.5, rate: int = 24_000) -> bytes:
    """A short real tone encoded as ``wav | pcm16 | mp3 | flac | opus | aac`` (PyAV for the codecs)."""
    raw = tone_pcm16(seconds, rate)
    if fmt == "pcm16":
        return raw
    if fmt == "wav":
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(raw)
        return buf.getvalue()
    import av

    container, codec = {"mp3": ("mp3", "libmp3lame"), "flac": ("flac", "flac"), "opus": ("ogg", "libopus"),
                        "aac": ("adts", "aac")}[fmt]
    out_rate = 48_000 if fmt == "opus" else rate  # libopus takes 48 kHz
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=out_rate, layout="mono")
        frame = av.AudioFrame(format="s16", layout="mono", samples=len(raw) // 2)
        frame.planes[0].update(raw)
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=out_rate,
                                      frame_size=stream.codec_context.frame_size or None)
        for chunk in (frame, None):
            for f in resampler.resample(chunk):
                for packet in stream.encode(f):
                    out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()
