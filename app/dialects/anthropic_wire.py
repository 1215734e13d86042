"""Anthropic Messages <-> Ferry's chat request and completion (pure functions).

Shapes from https://docs.anthropic.com/en/api/messages and anthropic-sdk-python (``types/message.py``,
``types/raw_message_stream_event.py``, ``lib/streaming/_messages.py``: the event order the SDK's
``messages.stream`` accumulates). Errors: https://docs.anthropic.com/en/api/errors.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from app.dialects import translate as t
from workers.core.errors import BadRequest

PROVIDER = "anthropic"
#: Anthropic request fields Ferry accepts but cannot carry to every provider; they are ignored.
IGNORED = ("top_k", "thinking", "service_tier", "container", "mcp_servers", "context_management", "cache_control",
           "inference_geo", "betas", "output_config", "speed", "diagnostics", "user_profile_id", "workspace_id")
KNOWN = {"model", "max_tokens", "messages", "system", "metadata", "stop_sequences", "temperature", "top_p",
         "tools", "tool_choice", "stream", "ferry", *IGNORED}
_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
         "content_filter": "refusal"}


# -- request ---------------------------------------------------------------------------------------

def _source(src: Any, where: str, kind: str) -> tuple[str, str | None]:
    """An image/document ``source`` as (a URL chat_request takes, the declared media type)."""
    src = t.require_object(src, f"{where}.source")
    stype = src.get("type")
    if stype == "base64":
        return t.data_uri(src.get("media_type"), src.get("data"), f"{where}.source.data"), src.get("media_type")
    if stype == "url":
        if not isinstance(src.get("url"), str):
            raise BadRequest("source.url must be a string", param=f"{where}.source.url")
        return src["url"], None
    if stype == "file":
        return t.ferry_file_id(src.get("file_id"), f"{where}.source.file_id", "source.file_id"), None
    raise BadRequest(f"{kind} source.type must be base64, url or file", param=f"{where}.source.type")


def _document(block: dict[str, Any], where: str) -> list[dict[str, Any]]:
    src = t.require_object(block.get("source"), f"{where}.source")
    title = block.get("title") if isinstance(block.get("title"), str) else None
    if src.get("type") == "text":
        if not isinstance(src.get("data"), str):
            raise BadRequest("a text document needs source.data", param=f"{where}.source.data")
        return [{"type": "text", "text": f"{title}\n\n{src['data']}" if title else src["data"]}]
    if src.get("type") == "content":
        inner = src.get("content")
        if isinstance(inner, str):
            return [{"type": "text", "text": inner}]
        return [p for i, b in enumerate(t.require_list(inner, f"{where}.source.content"))
                for p in _user_block(b, f"{where}.source.content[{i}]")]
    url, _mime = _source(src, where, "document")
    if url.startswith("data:"):
        return [t.file_part(data_uri_=url, filename=title)]
    if url.startswith("file-"):
        return [t.file_part(file_id=url, filename=title)]
    return [t.file_part(url=url, filename=title)]


def _user_block(block: Any, where: str) -> list[dict[str, Any]]:
    block = t.require_object(block, where, "a content block object")
    btype = block.get("type")
    if btype == "text":
        if not isinstance(block.get("text"), str):
            raise BadRequest("a text block needs a string 'text'", param=f"{where}.text")
        return [{"type": "text", "text": block["text"]}]
    if btype == "image":
        return [t.image_part(_source(block.get("source"), where, "image")[0])]
    if btype == "document":
        return _document(block, where)
    raise BadRequest(f"unsupported content block type {btype!r} here; expected text, image, document, "
                     "tool_use (assistant) or tool_result (user)", param=f"{where}.type")


def _tool_result(block: dict[str, Any], where: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A ``tool_result`` as an OpenAI tool message, plus its images/documents (a tool message carries
    text only, so they follow in a user message)."""
    if not isinstance(block.get("tool_use_id"), str):
        raise BadRequest("tool_result needs tool_use_id", param=f"{where}.tool_use_id")
    content = block.get("content")
    texts: list[str] = []
    media: list[dict[str, Any]] = []
    if isinstance(content, str):
        texts.append(content)
    elif content is not None:
        for i, inner in enumerate(t.require_list(content, f"{where}.content")):
            for part in _user_block(inner, f"{where}.content[{i}]"):
                (texts.append(part["text"]) if part["type"] == "text" else media.append(part))
    text = "\n".join(texts)
    if block.get("is_error"):
        text = f"[tool error] {text}"
    return {"role": "tool", "tool_call_id": block["tool_use_id"], "content": text}, media


def _messages(messages: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for mi, msg in enumerate(t.require_list(messages, "messages")):
        where = f"messages[{mi}]"
        msg = t.require_object(msg, where)
        role, content = msg.get("role"), msg.get("content")
        if role not in ("user", "assistant"):
            raise BadRequest("role must be user or assistant (system goes in 'system')", param=f"{where}.role")
        if isinstance(content, str):
            out.append({"role": role, "content": content})
            continue
        blocks = t.require_list(content, f"{where}.content")
        if role == "assistant":
            text, calls = [], []
            for bi, b in enumerate(blocks):
                b = t.require_object(b, f"{where}.content[{bi}]")
                if b.get("type") == "text":
                    if not isinstance(b.get("text"), str):
                        raise BadRequest("a text block needs a string 'text'", param=f"{where}.content[{bi}].text")
                    text.append(b["text"])
                elif b.get("type") == "tool_use":
                    calls.append(t.tool_call(str(b.get("id")), str(b.get("name")), b.get("input")))
                elif b.get("type") not in ("thinking", "redacted_thinking"):
                    raise BadRequest(f"assistant content block {b.get('type')!r} is not supported",
                                     param=f"{where}.content[{bi}].type")
            out.append({"role": "assistant", "content": "".join(text) or None, **({"tool_calls": calls} if calls else {})})
            continue
        parts: list[dict[str, Any]] = []
        for bi, b in enumerate(blocks):
            bwhere = f"{where}.content[{bi}]"
            if isinstance(b, dict) and b.get("type") == "tool_result":
                tool_msg, media = _tool_result(b, bwhere)
                out.append(tool_msg)
                parts.extend(media)
            else:
                parts.extend(_user_block(b, bwhere))
        if parts:
            out.append({"role": "user", "content": parts})
    if not out:
        raise BadRequest("messages must be a non-empty array", param="messages")
    return out


def _tool_choice(choice: Any) -> dict[str, Any]:
    choice = t.require_object(choice, "tool_choice")
    kind = choice.get("type")
    mapped: Any = {"auto": "auto", "any": "required", "none": "none"}.get(kind) if isinstance(kind, str) else None
    if kind == "tool":
        mapped = {"type": "function", "function": {"name": choice.get("name")}}
    if mapped is None:
        raise BadRequest("tool_choice.type must be auto, any, tool or none", param="tool_choice.type")
    out: dict[str, Any] = {"tool_choice": mapped}
    if choice.get("disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False
    return out


def to_chat(body: Any, *, require_max_tokens: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """An Anthropic Messages body -> (the chat.completions body, the job's ``metadata``)."""
    body = t.require_object(body, "body", "a JSON object (an Anthropic Messages body)")
    unknown = sorted(set(body) - KNOWN)
    if unknown:
        raise BadRequest(f"{unknown[0]}: Extra inputs are not permitted", param=unknown[0])
    chat: dict[str, Any] = {"model": t.qualify(body.get("model"), PROVIDER)}
    max_tokens = body.get("max_tokens")
    if max_tokens is None and require_max_tokens:
        raise BadRequest("max_tokens: Field required", param="max_tokens")
    if max_tokens is not None:
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise BadRequest("max_tokens must be a positive integer", param="max_tokens")
        chat["max_tokens"] = max_tokens
    system = body.get("system")
    messages = _messages(body.get("messages"))
    if system:
        if not isinstance(system, str) and not all(
                isinstance(b, dict) and isinstance(b.get("text"), str) for b in t.require_list(system, "system")):
            raise BadRequest("system must be a string or an array of text blocks", param="system")
        text = system if isinstance(system, str) else "\n\n".join(b["text"] for b in system)
        messages.insert(0, {"role": "system", "content": text})
    chat["messages"] = messages
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            if not isinstance(body[name], (int, float)) or isinstance(body[name], bool):
                raise BadRequest(f"{name} must be a number", param=name)
            chat[name] = body[name]
    if body.get("stop_sequences"):
        stops = t.require_list(body["stop_sequences"], "stop_sequences")
        if not all(isinstance(s, str) for s in stops):
            raise BadRequest("stop_sequences must be strings", param="stop_sequences")
        chat["stop"] = stops
    if body.get("tools"):
        tools = []
        for i, tool in enumerate(t.require_list(body["tools"], "tools")):
            tool = t.require_object(tool, f"tools[{i}]")
            if tool.get("type") not in (None, "custom"):
                raise BadRequest(f"server tool {tool.get('type')!r} is not supported through Ferry; define a custom "
                                 "tool with input_schema", param=f"tools[{i}].type")
            tools.append(t.function_tool(tool.get("name"), tool.get("description"), tool.get("input_schema"),
                                         f"tools[{i}]"))
        chat["tools"] = tools
    if body.get("tool_choice") is not None:
        chat.update(_tool_choice(body["tool_choice"]))
    metadata = body.get("metadata")
    return chat, (dict(t.require_object(metadata, "metadata")) if metadata is not None else {})


# -- response --------------------------------------------------------------------------------------

def message_id(job_id: str) -> str:
    return "msg_" + job_id.removeprefix("job_")


def to_message(result: dict[str, Any], job_id: str) -> dict[str, Any]:
    """A chat.completion as an Anthropic ``message``."""
    message, finish = t.message_of(result)
    content: list[dict[str, Any]] = []
    if message.get("content"):
        content.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls") or []:
        content.append({"type": "tool_use", "id": call.get("id"), "name": (call.get("function") or {}).get("name"),
                        "input": t.arguments_of(call)})
    prompt, completion = t.usage_of(result)
    return {"id": message_id(job_id), "type": "message", "role": "assistant", "model": result.get("model"),
            "content": content, "stop_reason": _STOP.get(finish, "end_turn"), "stop_sequence": None,
            "usage": {"input_tokens": prompt, "output_tokens": completion, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0}}


def stream_events(message: dict[str, Any]) -> Iterator[str]:
    """The SSE events of Anthropic's stream that add up to ``message``."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {**usage, "output_tokens": 0}}
    yield t.sse("message_start", {"type": "message_start", "message": start})
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            yield t.sse("content_block_start", {"type": "content_block_start", "index": index,
                                                "content_block": {"type": "text", "text": ""}})
            for piece in t.pieces(block["text"]):
                yield t.sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                                    "delta": {"type": "text_delta", "text": piece}})
        else:
            yield t.sse("content_block_start", {"type": "content_block_start", "index": index,
                                                "content_block": {**block, "input": {}}})
            yield t.sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {
                "type": "input_json_delta", "partial_json": json.dumps(block["input"])}})
        yield t.sse("content_block_stop", {"type": "content_block_stop", "index": index})
    yield t.sse("message_delta", {"type": "message_delta",
                                  "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                                  "usage": {"output_tokens": usage["output_tokens"]}})
    yield t.sse("message_stop", {"type": "message_stop"})


# -- errors ----------------------------------------------------------------------------------------

def error(status: int, err: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A Ferry error (type, message, param, stage, job_id) as Anthropic's status and error body."""
    if status in (415, 422):
        status = 400
    kind = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
            403: "permission_error", 404: "not_found_error", 409: "conflict_error", 413: "request_too_large",
            429: "rate_limit_error", 504: "timeout_error", 529: "overloaded_error"}.get(status)
    if kind is None:
        kind = "invalid_request_error" if status < 500 else "api_error"
    detail = {"type": kind, "message": err.get("message") or ""}
    for name in ("param", "stage", "code", "job_id", "upstream_status"):
        if err.get(name) is not None:
            detail[name] = err[name]
    if err.get("type"):
        detail["ferry_type"] = err["type"]
    return status, {"type": "error", "error": detail, "request_id": err.get("job_id")}
