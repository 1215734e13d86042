"""Parts, usage and request helpers shared by every provider simulator.

Each simulator describes what it received with :class:`Part` labels (built on the
:class:`~.media.Media` facts), so Ferry's tests can assert that content arrived intact and in order.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

from .media import Media, MediaError, is_data_uri, parse_data_uri


#: Characters of a received text part (or text document) kept in the simulator's log.
LOGGED_TEXT_CHARS = 200_000


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
        if self.text is not None:  # what a model reads: tests look for a document's content in it (issue 15)
            out["text"] = self.text[:LOGGED_TEXT_CHARS]
        elif m is not None and (m.mime or "").startswith("text/"):
            out["text"] = m.data[:LOGGED_TEXT_CHARS].decode("utf-8", errors="replace")
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
