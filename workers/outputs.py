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

:func:`present` (called by the API when it answers) turns the references into what the client
asked for: a presigned URL where the storage backend makes them (S3, GCS), else the Ferry URL made
absolute with the request's host; or, inline, the base64 back where the provider put it (audio
``data``, a ``data:`` URI in ``image_url.url``).
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

from workers import ferry_files
from workers.context import Context
from workers.errors import NotFound
from workers.media.sniff import sniff_mime

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


def _slots(result: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
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
    return isinstance(result, dict) and any(True for _ in _slots(result))


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
    ctx.redis.sadd(output_files_key(job_id), file_id)
    ctx.redis.expire(output_files_key(job_id), ctx.settings.job_ttl_seconds)
    return {"url": f"/v1/files/{file_id}/content", "file_id": file_id, "mime": mime, "bytes": rec["bytes"],
            "sha256": hashlib.sha256(data).hexdigest()}


def output_files_key(job_id: str) -> str:
    return f"ferry:job:{job_id}:outputs"


def delete_outputs(ctx: Context, tenant: str, job_id: str) -> int:
    """Delete the files a job's generated media went to (``DELETE /v1/jobs/{id}?purge=true``)."""
    deleted = 0
    for raw in ctx.redis.smembers(output_files_key(job_id)):
        try:
            ferry_files.delete(ctx, tenant, raw.decode())
            deleted += 1
        except NotFound:
            pass  # already deleted through /v1/files
    ctx.redis.delete(output_files_key(job_id))
    return deleted


def store_outputs(ctx: Context, record: dict[str, Any], job_id: str, result: Any, call: Any = None) -> Any:
    """Move every base64 output of ``result`` into Ferry files of the job's tenant; returns the result
    with references instead of base64 (the input is not modified)."""
    if not has_outputs(result):
        return result
    result = copy.deepcopy(result)
    tenant = record["tenant"]
    audio_param = ((call.params if call is not None else None) or record.get("request") or {}).get("audio") or {}
    declared_audio = AUDIO_MIMES.get(audio_param.get("format") if isinstance(audio_param, dict) else None)
    for kind, where, holder in _slots(result):
        if kind == "audio":
            text = holder.get("data")
            data = _b64(text) if isinstance(text, str) and text else None
            if data is None:
                continue
            mime = sniff_mime(data[:8192]) or declared_audio or "application/octet-stream"
            holder.pop("data")
            holder.update(_save(ctx, tenant, job_id, where, data, mime))
        else:
            url = holder["image_url"].get("url")
            m = _DATA_URI.match(url) if isinstance(url, str) else None
            data = _b64(url[m.end():]) if m else None
            if data is None:  # a provider URL (or nothing): left as the provider gave it
                continue
            mime = sniff_mime(data[:8192]) or m.group("mime") or "application/octet-stream"  # type: ignore[union-attr]
            ref = _save(ctx, tenant, job_id, where, data, mime)
            holder["image_url"]["url"] = ref.pop("url")
            holder.update(ref)
    return result


def _public_url(ctx: Context, tenant: str, file_id: str, base_url: str | None) -> str:
    signed = ctx.storage.presigned_url(ferry_files.storage_key(tenant, file_id), ctx.settings.presign_seconds)
    if signed:
        return signed
    path = f"/v1/files/{file_id}/content"
    return base_url.rstrip("/") + path if base_url else path


def present(ctx: Context, tenant: str, result: Any, *, inline: bool, base_url: str | None = None) -> Any:
    """The stored result as answered: output references as URLs (presigned, or absolute Ferry URLs
    when ``base_url`` is given), or with ``inline`` the base64 back where the provider sent it."""
    if not has_outputs(result):
        return result
    result = copy.deepcopy(result)
    for kind, _where, holder in _slots(result):
        file_id = holder.get("file_id")
        if not isinstance(file_id, str):
            continue
        if inline:
            try:
                data = ferry_files.read_bytes(ctx, tenant, file_id)
            except NotFound:  # the client deleted the file: keep the reference
                continue
            b64 = base64.b64encode(data).decode("ascii")
            if kind == "audio":
                holder["data"] = b64
            else:
                holder["image_url"]["url"] = f"data:{holder.get('mime') or 'image/png'};base64,{b64}"
            continue
        url = _public_url(ctx, tenant, file_id, base_url)
        if kind == "audio":
            holder["url"] = url
        else:
            holder["image_url"]["url"] = url
    return result


def wants_inline(options: Any, include: str | None) -> bool:
    """``?include=b64`` on the request, or the job's ``options.outputs == "inline"``."""
    if include and "b64" in {p.strip() for p in include.split(",")}:
        return True
    return isinstance(options, dict) and options.get("outputs") == "inline"


def present_view(ctx: Context, tenant: str, view: dict[str, Any], *, base_url: str | None,
                 include: str | None = None) -> dict[str, Any]:
    """``GET /v1/jobs/{id}``: the job view with its result's outputs presented."""
    if not has_outputs(view.get("result")):
        return view
    inline = wants_inline(None, include) or wants_inline(ctx.store.record(view["id"]).get("options"), None)
    return {**view, "result": present(ctx, tenant, view["result"], inline=inline, base_url=base_url)}
