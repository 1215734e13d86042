"""OpenAI Responses <-> Ferry's chat request and completion (pure functions).

Shapes from https://platform.openai.com/docs/api-reference/responses and openai-python
(``types/responses/response.py``, ``response_input_item_param.py``; the stream events and their order
from ``lib/streaming/responses/_responses.py``, which ``client.responses.stream`` accumulates).
A response id is its job's: ``resp_<hex>`` is ``job_<hex>``.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from app.dialects import translate as t
from workers.core.errors import BadRequest

PROVIDER = "openai"
IGNORED = ("store", "user", "safety_identifier", "prompt_cache_key", "prompt_cache_retention", "service_tier",
           "truncation", "include", "max_tool_calls", "top_logprobs", "stream_options", "prompt_cache_options")
KNOWN = {"model", "input", "instructions", "max_output_tokens", "temperature", "top_p", "tools", "tool_choice",
         "parallel_tool_calls", "text", "metadata", "stream", "background", "reasoning", "previous_response_id",
         "conversation", "ferry", *IGNORED}
STATUS = {"queued": "queued", "running": "in_progress", "succeeded": "completed", "failed": "failed",
          "canceled": "cancelled"}
ROLES = ("user", "system", "developer", "assistant")


def response_id(job_id: str) -> str:
    return "resp_" + job_id.removeprefix("job_")


def job_id_of(resp_id: str) -> str | None:
    return "job_" + resp_id.removeprefix("resp_") if resp_id.startswith("resp_") else None


# -- request ---------------------------------------------------------------------------------------

def _part(p: Any, where: str, role: str) -> dict[str, Any] | None:
    p = t.require_object(p, where, "a content part object")
    ptype = p.get("type")
    if ptype in ("input_text", "output_text", "text"):
        if not isinstance(p.get("text"), str):
            raise BadRequest(f"{ptype} needs a string 'text'", param=f"{where}.text")
        return {"type": "text", "text": p["text"]}
    if ptype == "refusal":
        return None
    if role == "assistant":
        raise BadRequest(f"{ptype!r} is not an assistant content part", param=f"{where}.type")
    if ptype == "input_image":
        detail = p.get("detail") if p.get("detail") in ("auto", "low", "high") else None
        if p.get("image_url"):
            return t.image_part(p["image_url"], detail)
        if p.get("file_id"):
            return t.image_part(t.ferry_file_id(p["file_id"], f"{where}.file_id", "file_id"), detail)
        raise BadRequest("input_image needs image_url or file_id", param=where)
    if ptype == "input_file":
        name = p.get("filename") if isinstance(p.get("filename"), str) else None
        if p.get("file_data"):
            data = p["file_data"]
            if not isinstance(data, str):
                raise BadRequest("file_data must be a string", param=f"{where}.file_data")
            return t.file_part(data_uri_=data if data[:5].lower() == "data:" else t.data_uri(None, data, where),
                               filename=name)
        if p.get("file_id"):
            return t.file_part(file_id=t.ferry_file_id(p["file_id"], f"{where}.file_id", "file_id"), filename=name)
        if p.get("file_url"):
            return t.file_part(url=p["file_url"], filename=name)
        raise BadRequest("input_file needs file_data, file_id or file_url", param=where)
    if ptype == "input_audio":
        audio = t.require_object(p.get("input_audio"), f"{where}.input_audio")
        return {"type": "input_audio", "input_audio": {"data": audio.get("data"), "format": audio.get("format")}}
    raise BadRequest(f"unknown content part type {ptype!r}; expected input_text, input_image, input_file or "
                     "input_audio", param=f"{where}.type")


def _messages(items: Any) -> list[dict[str, Any]]:
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    out: list[dict[str, Any]] = []
    for i, item in enumerate(t.require_list(items, "input")):
        where = f"input[{i}]"
        item = t.require_object(item, where)
        kind = item.get("type") or "message"
        if kind == "message":
            role = item.get("role")
            if role not in ROLES:
                raise BadRequest(f"role must be one of {', '.join(ROLES)}", param=f"{where}.role")
            content = item.get("content")
            if isinstance(content, str):
                out.append({"role": role, "content": content})
                continue
            parts = [p for j, c in enumerate(t.require_list(content, f"{where}.content"))
                     if (p := _part(c, f"{where}.content[{j}]", role)) is not None]
            if role == "assistant":
                out.append({"role": "assistant", "content": t.text_of(parts)})
            else:
                out.append({"role": role, "content": parts})
        elif kind == "function_call":
            call = t.tool_call(str(item.get("call_id")), str(item.get("name")), item.get("arguments"))
            if out and out[-1]["role"] == "assistant" and out[-1].get("tool_calls") is not None:
                out[-1]["tool_calls"].append(call)
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            out.append({"role": "tool", "tool_call_id": str(item.get("call_id")),
                        "content": output if isinstance(output, str) else t.text_of(output)})
        elif kind != "reasoning":
            raise BadRequest(f"input item type {kind!r} is not supported; expected message, function_call or "
                             "function_call_output", param=f"{where}.type")
    if not out:
        raise BadRequest("input must be a string or a non-empty array of items", param="input")
    return out


def _tools(body: dict[str, Any], chat: dict[str, Any]) -> None:
    if body.get("tools"):
        tools = []
        for i, tool in enumerate(t.require_list(body["tools"], "tools")):
            tool = t.require_object(tool, f"tools[{i}]")
            if tool.get("type") != "function":
                raise BadRequest(f"tool type {tool.get('type')!r} is not supported through Ferry; use function tools",
                                 param=f"tools[{i}].type")
            fn = t.function_tool(tool.get("name"), tool.get("description"), tool.get("parameters"), f"tools[{i}]")
            if tool.get("strict") is not None:
                fn["function"]["strict"] = tool["strict"]
            tools.append(fn)
        chat["tools"] = tools
    choice = body.get("tool_choice") if chat.get("tools") else None  # Responses clients send defaults with no tools
    if isinstance(choice, str):
        chat["tool_choice"] = choice
    elif isinstance(choice, dict) and choice.get("type") == "function":
        chat["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    if isinstance(body.get("parallel_tool_calls"), bool) and chat.get("tools"):
        chat["parallel_tool_calls"] = body["parallel_tool_calls"]


def _text_format(text: Any) -> dict[str, Any] | None:
    fmt = (text or {}).get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") in (None, "text"):
        return None
    if fmt["type"] == "json_object":
        return {"type": "json_object"}
    if fmt["type"] == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        return {"type": "json_schema", "json_schema": schema}
    raise BadRequest("text.format.type must be text, json_object or json_schema", param="text.format.type")


def to_chat(body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Responses body -> (the chat.completions body, the job's ``metadata``)."""
    body = t.require_object(body, "body", "a JSON object (an OpenAI Responses body)")
    unknown = sorted(set(body) - KNOWN)
    if unknown:
        raise BadRequest(f"Unknown parameter: '{unknown[0]}'.", param=unknown[0])
    for name in ("previous_response_id", "conversation"):
        if body.get(name):
            raise BadRequest(f"{name} is not supported by Ferry (it keeps no conversation state); send the whole "
                             "conversation in input", param=name)
    messages = _messages(body.get("input"))
    if body.get("instructions"):
        if not isinstance(body["instructions"], str):
            raise BadRequest("instructions must be a string", param="instructions")
        messages.insert(0, {"role": "system", "content": body["instructions"]})
    chat: dict[str, Any] = {"model": t.qualify(body.get("model"), PROVIDER), "messages": messages}
    if body.get("max_output_tokens") is not None:
        chat["max_tokens"] = body["max_output_tokens"]
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            chat[name] = body[name]
    _tools(body, chat)
    fmt = _text_format(body.get("text"))
    if fmt:
        chat["response_format"] = fmt
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort"):
        chat["reasoning_effort"] = reasoning["effort"]
    metadata = body.get("metadata")
    return chat, (dict(t.require_object(metadata, "metadata")) if metadata is not None else {})


# -- response --------------------------------------------------------------------------------------

def _output(result: dict[str, Any], hex_id: str) -> list[dict[str, Any]]:
    message, _finish = t.message_of(result)
    items: list[dict[str, Any]] = []
    if message.get("content") or not message.get("tool_calls"):
        items.append({"id": f"msg_{hex_id}", "type": "message", "status": "completed", "role": "assistant",
                      "content": [{"type": "output_text", "text": message.get("content") or "", "annotations": [],
                                   "logprobs": []}]})
    for i, call in enumerate(message.get("tool_calls") or []):
        fn = call.get("function") or {}
        items.append({"id": f"fc_{hex_id}_{i}", "type": "function_call", "status": "completed",
                      "call_id": call.get("id"), "name": fn.get("name"), "arguments": fn.get("arguments") or "{}"})
    return items


def _usage(result: dict[str, Any]) -> dict[str, Any]:
    prompt, completion = t.usage_of(result)
    return {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": prompt + completion}


def _error(err: dict[str, Any]) -> dict[str, Any]:
    code = "rate_limit_exceeded" if err.get("upstream_status") == 429 else (
        "server_error" if err.get("type") in ("upstream_error", "storage_error", "internal_error", "timeout_error")
        else "invalid_prompt")
    return {"code": code, "message": err.get("message") or "", "type": err.get("type"), "param": err.get("param"),
            "stage": err.get("stage")}


def to_response(view: dict[str, Any], result: dict[str, Any] | None, *, echo: dict[str, Any] | None = None,
                error: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Ferry job (its view, and its chat.completion once it has one) as a Responses ``response``."""
    echo = echo or {}
    hex_id = view["id"].removeprefix("job_")
    status = STATUS.get(view.get("status") or "queued", "in_progress")
    if result is not None:
        status = "completed"
    _message, finish = t.message_of(result or {})
    incomplete = result is not None and finish == "length"
    err = error or (view.get("error") if status == "failed" else None)
    return {
        "id": response_id(view["id"]), "object": "response", "created_at": view.get("created_at") or int(time.time()),
        "status": "incomplete" if incomplete else status,
        "completed_at": int(time.time()) if result is not None else None,
        "model": (result or {}).get("model") or view.get("model"),
        "output": _output(result, hex_id) if result is not None else [],
        "usage": _usage(result) if result is not None else None,
        "error": _error(err) if err else None,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "instructions": echo.get("instructions"), "metadata": view.get("metadata") or echo.get("metadata") or {},
        "background": bool(echo.get("background")), "max_output_tokens": echo.get("max_output_tokens"),
        "temperature": echo.get("temperature"), "top_p": echo.get("top_p"),
        "parallel_tool_calls": echo.get("parallel_tool_calls", True), "tool_choice": echo.get("tool_choice", "auto"),
        "tools": echo.get("tools") or [], "previous_response_id": None, "text": echo.get("text") or {
            "format": {"type": "text"}}, "truncation": "disabled", "ferry_job": view["id"],
    }


def stream_events(response: dict[str, Any]) -> Iterator[str]:
    """The Responses event stream that adds up to the finished ``response``."""
    seq = iter(range(1_000_000))

    def ev(kind: str, **data: Any) -> str:
        return t.sse(kind, {"type": kind, "sequence_number": next(seq), **data})

    start = {**response, "status": "in_progress", "output": [], "usage": None, "completed_at": None,
             "incomplete_details": None}
    yield ev("response.created", response=start)
    yield ev("response.in_progress", response=start)
    for index, item in enumerate(response["output"]):
        if item["type"] == "message":
            yield ev("response.output_item.added", output_index=index,
                     item={**item, "status": "in_progress", "content": []})
            for ci, part in enumerate(item["content"]):
                yield ev("response.content_part.added", item_id=item["id"], output_index=index, content_index=ci,
                         part={**part, "text": ""})
                for piece in t.pieces(part["text"]):
                    yield ev("response.output_text.delta", item_id=item["id"], output_index=index, content_index=ci,
                             delta=piece, logprobs=[])
                yield ev("response.output_text.done", item_id=item["id"], output_index=index, content_index=ci,
                         text=part["text"], logprobs=[])
                yield ev("response.content_part.done", item_id=item["id"], output_index=index, content_index=ci,
                         part=part)
        else:
            yield ev("response.output_item.added", output_index=index,
                     item={**item, "status": "in_progress", "arguments": ""})
            yield ev("response.function_call_arguments.delta", item_id=item["id"], output_index=index,
                     delta=item["arguments"])
            yield ev("response.function_call_arguments.done", item_id=item["id"], output_index=index,
                     arguments=item["arguments"], name=item["name"])
        yield ev("response.output_item.done", output_index=index, item=item)
    final = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
    yield ev(final, response=response)


def echo_of(body: dict[str, Any]) -> dict[str, Any]:
    """The request fields a response repeats."""
    return {k: body[k] for k in ("instructions", "metadata", "background", "max_output_tokens", "temperature",
                                 "top_p", "parallel_tool_calls", "tool_choice", "tools", "text") if k in body}
