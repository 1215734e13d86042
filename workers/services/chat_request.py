"""Parse an OpenAI-style chat request and pull out its media parts.

The API validates the body here, before a job exists, so malformed input is a
400 naming the part. Each media part becomes a resource (fetched, inspected,
transformed and delivered on its own) and is replaced in the stored request by
``{"type": "ferry_resource", "index": i}``, so job records stay small.
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from workers.core.errors import BadRequest
from workers.services.chat_tools import ToolHistory, check_tools

MEDIA_PART_TYPES = ("image_url", "input_audio", "file", "video_url")
ROLES = ("system", "developer", "user", "assistant", "tool")
DETAILS = ("auto", "low", "high")
_DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w-]+=[^;,]*)*)(?P<b64>;base64)?,", re.I)
_YOUTUBE = re.compile(r"^https?://(www\.|m\.)?(youtube\.com/(watch|shorts|live)|youtu\.be/)", re.I)


@dataclass
class MediaRef:
    """One media part of the request, as the user gave it."""

    part: str
    type: str
    source_kind: str  # url | data | file_id | s3 | gs | youtube
    url: str | None = None
    data: bytes | None = field(default=None, repr=False)
    declared_mime: str | None = None
    detail: str = "auto"
    filename: str | None = None
    audio_format: str | None = None

    def entry(self) -> dict[str, Any]:
        """The resource entry recorded on the job (without the bytes)."""
        source: dict[str, Any] = {"kind": self.source_kind}
        if self.url is not None:
            source["url"] = self.url
        if self.declared_mime:
            source["declared_mime"] = self.declared_mime
        if self.filename:
            source["filename"] = self.filename
        if self.audio_format:
            source["declared_format"] = self.audio_format
        return {"part": self.part, "type": self.type, "detail": self.detail, "source": source}


def decode_base64(text: str, param: str, max_bytes: int) -> bytes:
    if len(text) * 3 // 4 > max_bytes + 3:
        from workers.core.errors import TooLarge

        raise TooLarge(f"inline data is over the {max_bytes}-byte limit", param=param)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(f"invalid base64 data ({exc})", param=param) from exc


def parse_data_uri(uri: str, param: str, max_bytes: int) -> tuple[str | None, bytes]:
    """``data:<mime>;base64,<payload>`` -> (declared mime, bytes)."""
    m = _DATA_URI.match(uri)
    if not m or not m.group("b64"):
        raise BadRequest("data URI must look like data:<mime>;base64,<payload>", param=param)
    return (m.group("mime") or None), decode_base64(uri[m.end():], param, max_bytes)


def _ref_from_url(url: Any, part: str, type_: str, max_bytes: int, where: str, **kw: Any) -> MediaRef:
    if not isinstance(url, str) or not url:
        raise BadRequest("url must be a non-empty string", param=f"{where}.url")
    low = url[:16].lower()
    if low.startswith("data:"):
        mime, data = parse_data_uri(url, f"{where}.url", max_bytes)
        return MediaRef(part, type_, "data", data=data, declared_mime=mime, **kw)
    if low.startswith(("http://", "https://")):
        kind = "youtube" if _YOUTUBE.match(url) else "url"
        return MediaRef(part, type_, kind, url=url, **kw)
    if low.startswith("s3://"):
        return MediaRef(part, type_, "s3", url=url, **kw)
    if low.startswith("gs://"):
        return MediaRef(part, type_, "gs", url=url, **kw)
    if low.startswith("file-"):
        return MediaRef(part, type_, "file_id", url=url, **kw)
    raise BadRequest("url must be https://, data:, s3://, gs:// or a Ferry file id", param=f"{where}.url")


def _media_ref(p: dict[str, Any], part: str, max_bytes: int) -> MediaRef:
    t = p["type"]
    body = p.get(t)
    if not isinstance(body, dict):
        if t in ("image_url", "video_url") and isinstance(body, str):
            body = {"url": body}
        else:
            raise BadRequest(f"{t} must be an object", param=f"{part}.{t}")
    where = f"{part}.{t}"
    if t in ("image_url", "video_url"):
        detail = body.get("detail", "auto") or "auto"
        if detail not in DETAILS:
            raise BadRequest(f"detail must be one of {', '.join(DETAILS)}", param=f"{where}.detail")
        return _ref_from_url(body.get("url"), part, t, max_bytes, where, detail=detail)
    if t == "input_audio":
        data = body.get("data")
        if not isinstance(data, str) or not data:
            raise BadRequest("input_audio.data must be base64 audio", param=f"{where}.data")
        fmt = body.get("format")
        if fmt is not None and not isinstance(fmt, str):
            raise BadRequest("input_audio.format must be a string", param=f"{where}.format")
        if data[:5].lower() == "data:":
            mime, raw = parse_data_uri(data, f"{where}.data", max_bytes)
            return MediaRef(part, t, "data", data=raw, declared_mime=mime, audio_format=fmt)
        return MediaRef(part, t, "data", data=decode_base64(data, f"{where}.data", max_bytes), audio_format=fmt)
    # file
    filename = body.get("filename")
    if filename is not None and not isinstance(filename, str):
        raise BadRequest("file.filename must be a string", param=f"{where}.filename")
    if body.get("file_data") is not None:
        data = body["file_data"]
        if not isinstance(data, str):
            raise BadRequest("file_data must be a data URI or base64 string", param=f"{where}.file_data")
        if data[:5].lower() == "data:":
            mime, raw = parse_data_uri(data, f"{where}.file_data", max_bytes)
        else:
            mime, raw = None, decode_base64(data, f"{where}.file_data", max_bytes)
        return MediaRef(part, t, "data", data=raw, declared_mime=mime, filename=filename)
    if body.get("file_id") is not None:
        file_id = body["file_id"]
        if not isinstance(file_id, str) or not file_id:
            raise BadRequest("file_id must be a string", param=f"{where}.file_id")
        return _ref_from_url(file_id, part, t, max_bytes, where, filename=filename)
    if body.get("url") is not None:
        return _ref_from_url(body["url"], part, t, max_bytes, where, filename=filename)
    raise BadRequest("file needs file_data, file_id or url", param=where)


@dataclass
class ParsedRequest:
    body: dict[str, Any]
    """The chat body with media parts replaced by ferry_resource placeholders."""
    media: list[MediaRef]


def parse_chat_request(body: Any, *, max_bytes: int, max_resources: int) -> ParsedRequest:
    if not isinstance(body, dict):
        raise BadRequest("request must be a JSON object (an OpenAI chat.completions body)", param="request")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("request.model is required, e.g. 'openai/gpt-4o'", param="request.model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("request.messages must be a non-empty array", param="request.messages")
    check_tools(body)
    history = ToolHistory()  # tool calls answered by tool messages (workers/services/chat_tools.py)
    media: list[MediaRef] = []
    out_messages: list[dict[str, Any]] = []
    for mi, msg in enumerate(messages):
        where = f"messages[{mi}]"
        if not isinstance(msg, dict):
            raise BadRequest("each message must be an object", param=where)
        role = msg.get("role")
        if role not in ROLES:
            raise BadRequest(f"role must be one of {', '.join(ROLES)}", param=f"{where}.role")
        history.message(msg, where)
        content = msg.get("content")
        if content is None or isinstance(content, str):
            out_messages.append(dict(msg))
            continue
        if not isinstance(content, list):
            raise BadRequest("content must be a string or an array of parts", param=f"{where}.content")
        parts: list[dict[str, Any]] = []
        for pi, p in enumerate(content):
            pwhere = f"{where}.content[{pi}]"
            if not isinstance(p, dict) or not isinstance(p.get("type"), str):
                raise BadRequest("each content part must be an object with a type", param=pwhere)
            if p["type"] == "text":
                if not isinstance(p.get("text"), str):
                    raise BadRequest("text part needs a string 'text'", param=f"{pwhere}.text")
                parts.append({"type": "text", "text": p["text"]})
            elif p["type"] in MEDIA_PART_TYPES:
                if role not in ("user", "system", "developer"):
                    raise BadRequest(f"{p['type']} parts are allowed in user messages only", param=pwhere)
                if len(media) >= max_resources:
                    raise BadRequest(f"at most {max_resources} media parts per request", param=pwhere)
                media.append(_media_ref(p, pwhere, max_bytes))
                parts.append({"type": "ferry_resource", "index": len(media) - 1})
            else:
                raise BadRequest(
                    f"unknown content part type {p['type']!r}; expected text, {', '.join(MEDIA_PART_TYPES)}",
                    param=f"{pwhere}.type",
                )
        out_messages.append({**msg, "content": parts})
    history.end(len(messages))
    return ParsedRequest(body={**body, "messages": out_messages}, media=media)
