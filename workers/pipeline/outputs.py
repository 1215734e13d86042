"""Generated media in results (issue 6 item 5): kept as Ferry files, answered as URLs.

Providers answer generated media as base64 inside their JSON. After the adapters normalise an
answer to an OpenAI ``chat.completion``, the media sits in two places:

- ``choices[i].message.audio`` — OpenAI's audio chat (``modalities: ["text", "audio"]``):
  ``{id, data (base64), expires_at, transcript}``, exactly OpenAI's shape;
- ``choices[i].message.images[j]`` — image output (OpenAI's Images API, Gemini image models):
  ``{"type": "image_url", "image_url": {"url": "data:image/png;base64,…"}}``, the convention
  OpenRouter uses for image-generating chat models.

:func:`store_outputs` (called by the ``complete`` stage) writes every such payload into Ferry's
storage as a Ferry file of the job's tenant (purpose ``output``, ``files/<tenant>/<id>``, served by
``GET /v1/files/{id}/content``) and replaces the base64 in the stored result by a reference:
``url`` (``/v1/files/{id}/content``), ``file_id``, ``mime``, ``bytes`` and ``sha256``. Job records stay
small and a poll never carries megabytes of base64. File ids are derived from the job id and the
position, so a redelivered ``complete`` rewrites the same files.

:func:`present` (workers/services/outputs.py) answers them as URLs or base64.
"""
from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import re
import time
from collections.abc import Iterator
from typing import Any

from workers.context import Context
from workers.core import keys
from workers.media.sniff import SNIFF_BYTES, sniff_mime
from workers.state import files as ferry_files

PURPOSE = "output"
#: OpenAI's ``audio.format`` values (openai-python types/chat/chat_completion_audio_param.py) -> MIME.
AUDIO_MIMES = {"wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac", "opus": "audio/ogg",
               "aac": "audio/aac", "pcm16": "audio/pcm"}
_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif", "audio/wav": "wav",
        "audio/mpeg": "mp3", "audio/flac": "flac", "audio/ogg": "ogg", "audio/aac": "aac", "audio/pcm": "pcm"}
_DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(;[\w-]+=[^;,]*)*;base64,", re.IGNORECASE)


def task_for(record: dict[str, Any], caps: Any) -> str:
    """``images`` when the job asks for image generation (``options.task``, set by /v1/images/generations)
    or the model only makes images (``output_modalities == ["image"]``, e.g. openai/gpt-image-1)."""
    if (record.get("options") or {}).get("task") == "images" or list(caps.output_modalities) == ["image"]:
        return "images"
    return "chat"


def slots(result: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(kind, where, holder) for every output media slot: ``audio`` holders are ``message.audio``,
    ``image`` holders are ``message.images[j]`` entries."""
    for i, choice in enumerate(result.get("choices") or []):
        msg = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(msg, dict):
            continue
        if isinstance(msg.get("audio"), dict):
            yield "audio", f"choices[{i}].message.audio", msg["audio"]
        for j, image in enumerate(msg.get("images") or []):
            if isinstance(image, dict) and isinstance(image.get("image_url"), dict):
                yield "image", f"choices[{i}].message.images[{j}]", image


def has_outputs(result: Any) -> bool:
    return isinstance(result, dict) and any(True for _ in slots(result))


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        try:  # proto-JSON (Gemini) may answer URL-safe base64
            return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            return None


def _save(ctx: Context, tenant: str, job_id: str, where: str, data: bytes, mime: str) -> dict[str, Any]:
    file_id = "file-" + hashlib.sha256(f"{job_id}:{where}".encode()).hexdigest()[:24]
    slot = re.sub(r"[^\w]+", "-", where.replace("choices", "c").replace(".message.", "-")).strip("-")
    filename = f"{job_id}-{slot}.{_EXT.get(mime, 'bin')}"
    rec = ferry_files.write_bytes(ctx, tenant, file_id, filename, PURPOSE, data, mime,
                                  expires_at=int(time.time()) + ctx.settings.job_ttl_seconds)
    ctx.redis.sadd(keys.job_outputs(job_id), file_id)
    ctx.redis.expire(keys.job_outputs(job_id), ctx.settings.job_ttl_seconds)
    return {"url": f"/v1/files/{file_id}/content", "file_id": file_id, "mime": mime, "bytes": rec["bytes"],
            "sha256": hashlib.sha256(data).hexdigest()}


def store_outputs(ctx: Context, record: dict[str, Any], job_id: str, result: Any, call: Any = None) -> Any:
    """Move every base64 output of ``result`` into Ferry files of the job's tenant; returns the result
    with references instead of base64 (the input is not modified)."""
    if not has_outputs(result):
        return result
    result = copy.deepcopy(result)
    tenant = record["tenant"]
    audio_param = ((call.params if call is not None else None) or record.get("request") or {}).get("audio") or {}
    declared_audio = AUDIO_MIMES.get(audio_param.get("format") if isinstance(audio_param, dict) else None)
    for kind, where, holder in slots(result):
        if kind == "audio":
            text = holder.get("data")
            data = _b64(text) if isinstance(text, str) and text else None
            if data is None:
                continue
            mime = sniff_mime(data[:SNIFF_BYTES]) or declared_audio or "application/octet-stream"
            holder.pop("data")
            holder.update(_save(ctx, tenant, job_id, where, data, mime))
        else:
            url = holder["image_url"].get("url")
            m = _DATA_URI.match(url) if isinstance(url, str) else None
            data = _b64(url[m.end():]) if m else None
            if data is None:  # a provider URL (or nothing): left as the provider gave it
                continue
            mime = sniff_mime(data[:SNIFF_BYTES]) or m.group("mime") or "application/octet-stream"  # type: ignore[union-attr]
            ref = _save(ctx, tenant, job_id, where, data, mime)
            holder["image_url"]["url"] = ref.pop("url")
            holder.update(ref)
    return result


