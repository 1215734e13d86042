"""Pure pieces every dialect's translation shares: model names, media parts, tool calls, text pieces.

The target of every inbound translation is an OpenAI chat.completions body as
workers/services/chat_request.py parses it; these helpers build its parts.
"""
from __future__ import annotations

import json
import re
from typing import Any

from workers.core.errors import BadRequest

FERRY_FILE = re.compile(r"^file-[\w-]+$")
_PIECE = re.compile(r"\S*\s*")


def qualify(model: Any, provider: str, param: str = "model") -> str:
    """``provider/model`` as given, or a bare model name of the dialect's own ``provider``."""
    if not isinstance(model, str) or not model.strip():
        raise BadRequest(f"{param} is required, e.g. '{provider}/…' or another provider's 'openai/gpt-4o'",
                         param=param)
    model = model.strip()
    return model if "/" in model else f"{provider}/{model}"


def provider_of(model: str) -> str:
    return model.partition("/")[0]


def data_uri(mime: Any, data: Any, param: str) -> str:
    """``data:<mime>;base64,<data>`` for chat_request (which decodes and checks it); URL-safe base64
    (what google-genai sends) and missing padding are made standard first."""
    if not isinstance(data, str) or not data:
        raise BadRequest("data must be a non-empty base64 string", param=param)
    if mime is not None and not isinstance(mime, str):
        raise BadRequest("media type must be a string", param=param)
    return f"data:{mime or 'application/octet-stream'};base64,{standard_base64(data)}"


def standard_base64(data: str) -> str:
    data = "".join(data.split())
    if "-" in data or "_" in data:
        data = data.replace("-", "+").replace("_", "/")
    return data + "=" * (-len(data) % 4)


def image_part(url: str, detail: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url}
    if detail:
        body["detail"] = detail
    return {"type": "image_url", "image_url": body}


def file_part(*, data_uri_: str | None = None, url: str | None = None, file_id: str | None = None,
              filename: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if data_uri_ is not None:
        body["file_data"] = data_uri_
    if url is not None:
        body["url"] = url
    if file_id is not None:
        body["file_id"] = file_id
    if filename:
        body["filename"] = filename
    return {"type": "file", "file": body}


def ferry_file_id(value: Any, param: str, what: str) -> str:
    """Media named by id must be a Ferry file (``POST /v1/files``): a provider's own file ids live in an
    account Ferry cannot read."""
    if not isinstance(value, str) or not FERRY_FILE.match(value):
        raise BadRequest(f"{what} must be a Ferry file id (file-…, from POST /v1/files); a provider's own file "
                         "ids cannot be read by Ferry", param=param)
    return value


def text_of(content: Any) -> str:
    """The text of a string or of a list of text parts/blocks (anything else in it is left out)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def function_tool(name: Any, description: Any, parameters: Any, param: str) -> dict[str, Any]:
    """An OpenAI function tool."""
    if not isinstance(name, str) or not name:
        raise BadRequest("a tool needs a name", param=param)
    fn: dict[str, Any] = {"name": name}
    if isinstance(description, str):
        fn["description"] = description
    if parameters is not None:
        if not isinstance(parameters, dict):
            raise BadRequest("a tool's schema must be an object", param=param)
        fn["parameters"] = parameters
    return {"type": "function", "function": fn}


def tool_call(call_id: str, name: str, arguments: Any) -> dict[str, Any]:
    """An OpenAI assistant ``tool_calls`` entry (arguments as a JSON string)."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments if arguments is not None else {})
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}


def arguments_of(call: dict[str, Any]) -> dict[str, Any]:
    """A completion's tool call arguments as an object (``{}`` when not valid JSON)."""
    raw = (call.get("function") or {}).get("arguments") or "{}"
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {"value": value}


def message_of(result: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The first choice's message and finish reason of a chat.completion."""
    choice = (result.get("choices") or [{}])[0]
    return choice.get("message") or {}, choice.get("finish_reason") or "stop"


def pieces(text: str, size: int = 24) -> list[str]:
    """Word-aligned slices of about ``size`` characters, as app/chat.py streams them."""
    out, buf = [], ""
    for word in _PIECE.findall(text):
        buf += word
        if len(buf) >= size:
            out.append(buf)
            buf = ""
    if buf:
        out.append(buf)
    return out


def usage_of(result: dict[str, Any]) -> tuple[int, int]:
    usage = result.get("usage") or {}
    return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)


def require_object(value: Any, param: str, what: str = "an object") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"{param} must be {what}", param=param)
    return value


def require_list(value: Any, param: str) -> list[Any]:
    if not isinstance(value, list):
        raise BadRequest(f"{param} must be an array", param=param)
    return value


def sse(event: str | None, data: dict[str, Any]) -> str:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n"
