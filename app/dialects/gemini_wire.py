"""Gemini generateContent <-> Ferry's chat request and completion (pure functions).

Shapes from https://ai.google.dev/api/generate-content and google-genai (``types.py``; ``models.py``'s
``_*_to_mldev`` converters). What google-genai 3.x really sends mixes the cases — ``inlineData`` holding
``mime_type`` and URL-safe base64, ``fileData`` holding ``file_uri`` — so every field is read in both
camelCase and snake_case. Answers are camelCase, as the API's. Errors: https://ai.google.dev/gemini-api/docs/troubleshooting
(``{"error": {"code", "message", "status"}}``, google.rpc codes).
"""
from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

from app.dialects import translate as t
from workers.core.errors import BadRequest

PROVIDER = "gemini"
IGNORED = ("safetySettings", "labels", "serviceTier")
_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "content_filter": "SAFETY", "tool_calls": "STOP"}
_GEMINI_FILE = re.compile(r"^https://generativelanguage\.googleapis\.com/.*/files/", re.I)
_YOUTUBE = re.compile(r"^https?://(www\.|m\.)?(youtube\.com|youtu\.be)/", re.I)
_AUDIO_FORMAT = {"audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/wav": "wav", "audio/x-wav": "wav"}


def get(obj: dict[str, Any], camel: str) -> Any:
    """``obj[camel]``, or its snake_case spelling."""
    if camel in obj:
        return obj[camel]
    return obj.get(re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower())


def split_target(target: str) -> tuple[str, str]:
    """``models/{model}:{action}`` path tail -> (``provider/model``, action); the SDK does not encode
    the slash of ``anthropic/claude-sonnet-4-5``."""
    model, sep, action = target.rpartition(":")
    if not sep or not model:
        raise BadRequest("the path must be models/{model}:generateContent", param="model")
    return t.qualify(model.removeprefix("models/"), PROVIDER), action


# -- request ---------------------------------------------------------------------------------------

def _mime(obj: dict[str, Any], where: str) -> str:
    mime = get(obj, "mimeType") or ""
    if not isinstance(mime, str):
        raise BadRequest("mimeType must be a string", param=f"{where}.mimeType")
    return mime


def _inline(blob: Any, where: str) -> dict[str, Any]:
    blob = t.require_object(blob, where)
    mime = _mime(blob, where)
    data = get(blob, "data")
    uri = t.data_uri(mime or None, data, f"{where}.data")
    if mime.startswith("image/"):
        return t.image_part(uri)
    if mime.startswith("video/"):
        return {"type": "video_url", "video_url": {"url": uri}}
    if mime.startswith("audio/"):
        return {"type": "input_audio", "input_audio": {"data": uri, "format": _AUDIO_FORMAT.get(mime, mime[6:])}}
    if mime.startswith("text/"):
        try:
            return {"type": "text", "text": base64.b64decode(uri.partition(",")[2], validate=True).decode()}
        except ValueError as exc:  # binascii.Error, non-ASCII, not UTF-8
            raise BadRequest(f"inline text is not base64 UTF-8 ({exc})", param=f"{where}.data") from exc
    return t.file_part(data_uri_=uri)  # PDFs and the rest: typed from the bytes


def _file_data(ref: Any, where: str) -> dict[str, Any]:
    ref = t.require_object(ref, where)
    uri, mime = get(ref, "fileUri"), _mime(ref, where)
    if not isinstance(uri, str) or not uri:
        raise BadRequest("fileData needs a fileUri", param=f"{where}.fileUri")
    if _GEMINI_FILE.match(uri):
        raise BadRequest("a Gemini Files API URI names a file in the Google account that uploaded it, which Ferry "
                         "cannot read; send the bytes inline, an https:// or gs:// URL, or a Ferry file id "
                         "(file-…, POST /v1/files)", param=f"{where}.fileUri")
    if _YOUTUBE.match(uri) or mime.startswith("video/"):
        return {"type": "video_url", "video_url": {"url": uri}}
    if mime.startswith("image/"):
        return t.image_part(uri)
    if uri.startswith("file-"):
        return t.file_part(file_id=uri)
    return t.file_part(url=uri)


def _unused_id(name: str, pending: list[tuple[str, str]], used: set[str]) -> str:
    """An id for a functionCall sent without one: its name, numbered when the name was called before."""
    call_id, n = name, 2
    while call_id in used:
        call_id, n = f"{name}_{n}", n + 1
    return call_id


def _answered(resp: dict[str, Any], pending: list[tuple[str, str]]) -> str:
    """The call a functionResponse answers: its id, else the earliest unanswered call of that name (the SDK's
    ``Part.from_function_response(name=…)`` sends no id even when the call had one)."""
    if resp.get("id"):
        wanted = str(resp["id"])
        for item in pending:
            if item[0] == wanted:
                pending.remove(item)
        return wanted
    for item in pending:
        if item[1] == str(resp.get("name")):
            pending.remove(item)
            return item[0]
    return str(resp.get("name"))


def _contents(contents: Any) -> list[dict[str, Any]]:
    if isinstance(contents, dict):
        contents = [contents]
    out: list[dict[str, Any]] = []
    pending: list[tuple[str, str]] = []  # (call id, name) of calls no functionResponse answered yet
    used: set[str] = set()
    for ci, content in enumerate(t.require_list(contents, "contents")):
        where = f"contents[{ci}]"
        content = t.require_object(content, where)
        role = content.get("role") or "user"
        if role not in ("user", "model", "function"):
            raise BadRequest("role must be user or model", param=f"{where}.role")
        parts, calls, results = [], [], []
        for pi, part in enumerate(t.require_list(content.get("parts"), f"{where}.parts")):
            pwhere = f"{where}.parts[{pi}]"
            part = t.require_object(part, pwhere)
            if part.get("thought"):
                continue
            if isinstance(part.get("text"), str):
                parts.append({"type": "text", "text": part["text"]})
            elif get(part, "inlineData") is not None:
                parts.append(_inline(get(part, "inlineData"), f"{pwhere}.inlineData"))
            elif get(part, "fileData") is not None:
                parts.append(_file_data(get(part, "fileData"), f"{pwhere}.fileData"))
            elif get(part, "functionCall") is not None:
                call = t.require_object(get(part, "functionCall"), f"{pwhere}.functionCall")
                call_id = str(call.get("id") or _unused_id(str(call.get("name")), pending, used))
                pending.append((call_id, str(call.get("name"))))
                used.add(call_id)
                calls.append(t.tool_call(call_id, str(call.get("name")), call.get("args") or {}))
            elif get(part, "functionResponse") is not None:
                resp = t.require_object(get(part, "functionResponse"), f"{pwhere}.functionResponse")
                results.append({"role": "tool", "tool_call_id": _answered(resp, pending),
                                "content": json.dumps(resp.get("response") or {})})
            else:
                raise BadRequest(f"unsupported part (keys: {', '.join(sorted(part)) or 'none'}); expected text, "
                                 "inlineData, fileData, functionCall or functionResponse", param=pwhere)
        if role == "model":
            if any(p["type"] != "text" for p in parts):
                raise BadRequest("model turns may hold text and function calls only", param=f"{where}.parts")
            out.append({"role": "assistant", "content": t.text_of(parts) or None,
                        **({"tool_calls": calls} if calls else {})})
            continue
        out.extend(results)
        if parts:
            out.append({"role": "user", "content": parts})
    if not out:
        raise BadRequest("contents must be a non-empty array", param="contents")
    return out


def _config(config: Any, chat: dict[str, Any]) -> None:
    config = t.require_object(config, "generationConfig")
    for camel, name in (("temperature", "temperature"), ("topP", "top_p"), ("maxOutputTokens", "max_tokens"),
                        ("seed", "seed"), ("presencePenalty", "presence_penalty"),
                        ("frequencyPenalty", "frequency_penalty")):
        if get(config, camel) is not None:
            chat[name] = get(config, camel)
    if get(config, "stopSequences"):
        chat["stop"] = t.require_list(get(config, "stopSequences"), "generationConfig.stopSequences")
    if (get(config, "candidateCount") or 1) != 1:
        raise BadRequest("candidateCount must be 1 through Ferry", param="generationConfig.candidateCount")
    schema = get(config, "responseJsonSchema") or get(config, "responseSchema")
    if schema:
        chat["response_format"] = {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}
    elif get(config, "responseMimeType") == "application/json":
        chat["response_format"] = {"type": "json_object"}
    modalities = get(config, "responseModalities")
    if modalities:
        chat["modalities"] = [str(m).lower() for m in t.require_list(modalities, "generationConfig.responseModalities")]


def _tools(body: dict[str, Any], chat: dict[str, Any]) -> None:
    tools = []
    for i, tool in enumerate(t.require_list(get(body, "tools") or [], "tools")):
        tool = t.require_object(tool, f"tools[{i}]")
        declarations = get(tool, "functionDeclarations")
        if declarations is None:
            raise BadRequest(f"tool {', '.join(sorted(tool))} is not supported through Ferry; use "
                             "functionDeclarations", param=f"tools[{i}]")
        for j, fn in enumerate(t.require_list(declarations, f"tools[{i}].functionDeclarations")):
            fn = t.require_object(fn, f"tools[{i}].functionDeclarations[{j}]")
            tools.append(t.function_tool(fn.get("name"), fn.get("description"),
                                         get(fn, "parametersJsonSchema") or fn.get("parameters"),
                                         f"tools[{i}].functionDeclarations[{j}]"))
    if tools:
        chat["tools"] = tools
    config = t.require_object(get(body, "toolConfig") or {}, "toolConfig")
    calling = t.require_object(get(config, "functionCallingConfig") or {}, "toolConfig.functionCallingConfig")
    mode = str(calling.get("mode") or "").upper()
    allowed = t.require_list(get(calling, "allowedFunctionNames") or [],
                             "toolConfig.functionCallingConfig.allowedFunctionNames")
    if mode == "ANY" and len(allowed) == 1:
        chat["tool_choice"] = {"type": "function", "function": {"name": allowed[0]}}
    elif mode in ("AUTO", "ANY", "NONE"):
        chat["tool_choice"] = {"AUTO": "auto", "ANY": "required", "NONE": "none"}[mode]


def to_chat(body: Any, model: str) -> dict[str, Any]:
    """A generateContent body for ``model`` (``provider/model``) -> the chat.completions body."""
    body = t.require_object(body, "body", "a JSON object (a generateContent body)")
    if get(body, "cachedContent"):
        raise BadRequest("cachedContent is not supported through Ferry", param="cachedContent")
    messages = _contents(body.get("contents"))
    system = get(body, "systemInstruction")
    if system:
        text = system if isinstance(system, str) else t.text_of(
            t.require_list(t.require_object(system, "systemInstruction").get("parts"), "systemInstruction.parts"))
        messages.insert(0, {"role": "system", "content": text})
    chat: dict[str, Any] = {"model": model, "messages": messages}
    if get(body, "generationConfig") is not None:
        _config(get(body, "generationConfig"), chat)
    _tools(body, chat)
    return chat


# -- response --------------------------------------------------------------------------------------

def _media_part(url: str, mime: str | None) -> dict[str, Any]:
    if url.startswith("data:"):
        head, _, data = url.partition(";base64,")
        return {"inlineData": {"mimeType": head[5:] or mime or "application/octet-stream", "data": data}}
    return {"fileData": {"mimeType": mime or "application/octet-stream", "fileUri": url}}


def _parts(message: dict[str, Any]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if message.get("content"):
        parts.append({"text": message["content"]})
    for image in message.get("images") or []:
        parts.append(_media_part(image["image_url"]["url"], image.get("mime")))
    audio = message.get("audio") or {}
    if audio.get("data"):
        parts.append({"inlineData": {"mimeType": audio.get("mime") or "audio/wav", "data": audio["data"]}})
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        parts.append({"functionCall": {"id": call.get("id"), "name": fn.get("name"), "args": t.arguments_of(call)}})
    return parts


def _usage(result: dict[str, Any]) -> dict[str, Any]:
    prompt, completion = t.usage_of(result)
    return {"promptTokenCount": prompt, "candidatesTokenCount": completion, "totalTokenCount": prompt + completion}


def to_response(result: dict[str, Any], job_id: str) -> dict[str, Any]:
    """A chat.completion as a ``GenerateContentResponse``."""
    message, finish = t.message_of(result)
    return {"candidates": [{"content": {"role": "model", "parts": _parts(message)},
                            "finishReason": _FINISH.get(finish, "STOP"), "index": 0}],
            "usageMetadata": _usage(result), "modelVersion": result.get("model"), "responseId": job_id}


def stream_chunks(result: dict[str, Any], job_id: str) -> list[dict[str, Any]]:
    """``GenerateContentResponse`` chunks that add up to ``result``: text in pieces, then the rest
    (images, function calls), the last with ``finishReason`` and ``usageMetadata``."""
    whole = to_response(result, job_id)
    parts = whole["candidates"][0]["content"]["parts"]
    base = {"modelVersion": whole["modelVersion"], "responseId": job_id}
    texts = t.pieces(parts[0]["text"]) if parts and "text" in parts[0] else []
    rest = parts[1:] if texts else parts
    chunks = [{"candidates": [{"content": {"role": "model", "parts": [{"text": p}]}, "index": 0}], **base}
              for p in texts]
    if rest or not chunks:
        chunks.append({"candidates": [{"content": {"role": "model", "parts": rest}, "index": 0}], **base})
    chunks[-1]["candidates"][0]["finishReason"] = whole["candidates"][0]["finishReason"]
    chunks[-1]["usageMetadata"] = whole["usageMetadata"]
    return chunks


def sse(chunks: list[dict[str, Any]]) -> Iterator[str]:
    for chunk in chunks:
        yield t.sse(None, chunk)


# -- errors ----------------------------------------------------------------------------------------

_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def error(status: int, err: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A Ferry error as Google's: the nearest google.rpc code; Ferry's details in an ``ErrorInfo``."""
    if status in (405, 413, 415, 422):
        status = 400
    elif status >= 500 and status not in _STATUS:
        status = 500
    elif status not in _STATUS:
        status = 400 if status < 500 else 500
    metadata = {k: str(err[k]) for k in ("param", "stage", "code", "job_id", "upstream_status")
                if err.get(k) is not None}
    info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": str(err.get("type") or "error").upper(),
            "domain": "ferry", "metadata": metadata}
    return status, {"error": {"code": status, "message": err.get("message") or "", "status": _STATUS[status],
                              "details": [info]}}
