"""Tool calling in the neutral shapes: what every adapter needs to send tools and read calls back.

Ferry's neutral form is OpenAI's: ``params["tools"]`` as ``[{type: function, function: {name, description,
parameters}}]``, ``params["tool_choice"]`` (``none | auto | required | {type: function, function: {name}}``),
``params["parallel_tool_calls"]``, an assistant :class:`~workers.providers.base.Message`'s ``tool_calls``
and a ``tool`` message's ``tool_call_id`` (its text parts are the result). The request was validated
already (workers/services/chat_tools.py), so these helpers translate without re-checking. Every answer
comes back as ``message.tool_calls = [{id, type: "function", function: {name, arguments: <JSON string>}}]``
with ``finish_reason: "tool_calls"`` (https://platform.openai.com/docs/api-reference/chat/object).

This module imports nothing from the adapters (base.py imports it), so it works on duck-typed messages.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

TOOL_PARAMS = ("tools", "tool_choice", "parallel_tool_calls")
#: A schema for a function the history calls but ``tools`` no longer declares (Anthropic and Bedrock
#: refuse tool blocks in a request without tool definitions).
OPEN_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


@dataclass(frozen=True)
class Tool:
    name: str
    description: str | None
    parameters: dict[str, Any]


@dataclass(frozen=True)
class Choice:
    mode: str  # auto | required | none | function
    name: str | None = None


def tools_of(params: dict[str, Any], messages: list[Any] = ()) -> list[Tool]:  # type: ignore[assignment]
    """The declared functions, then any function the history calls that is not declared."""
    out: list[Tool] = []
    for t in params.get("tools") or []:
        fn = t.get("function") or {}
        out.append(Tool(fn["name"], fn.get("description") or None, fn.get("parameters") or dict(OPEN_SCHEMA)))
    known = {t.name for t in out}
    for m in messages:
        for c in getattr(m, "tool_calls", None) or []:
            name = c["function"]["name"]
            if name not in known:
                known.add(name)
                out.append(Tool(name, None, dict(OPEN_SCHEMA)))
    return out


def choice_of(params: dict[str, Any]) -> Choice | None:
    raw = params.get("tool_choice")
    if raw is None:
        return None
    if isinstance(raw, str):
        return Choice(raw)
    return Choice("function", (raw.get("function") or {}).get("name"))


def has_tool_history(messages: list[Any]) -> bool:
    return any(getattr(m, "tool_calls", None) or getattr(m, "tool_call_id", None) for m in messages)


def arguments(call: dict[str, Any]) -> dict[str, Any]:
    """A neutral tool call's arguments as an object (validated JSON at submit)."""
    raw = (call.get("function") or {}).get("arguments") or "{}"
    value = json.loads(raw) if isinstance(raw, str) else raw
    return value if isinstance(value, dict) else {}


def result_text(message: Any) -> str:
    """A tool message's result: its text parts."""
    return "\n".join(p.text or "" for p in message.parts if p.type == "text")


def call_names(messages: list[Any]) -> dict[str, str]:
    """Call id -> function name over the whole conversation (Gemini's functionResponse needs the name)."""
    return {c["id"]: c["function"]["name"] for m in messages for c in (getattr(m, "tool_calls", None) or [])}


def new_call_id(prefix: str = "call_") -> str:
    """An id for a call the provider answered without one (Gemini)."""
    return prefix + secrets.token_hex(12)


def tool_call(call_id: str, name: str, args: Any, **extra: Any) -> dict[str, Any]:
    text = args if isinstance(args, str) else json.dumps(args if args is not None else {})
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": text}, **extra}


def openai_tool_calls(raw: Any) -> list[dict[str, Any]]:
    """An OpenAI-shaped answer's ``tool_calls`` (Mistral may send arguments as an object, no type)."""
    out = []
    for c in raw or []:
        if not isinstance(c, dict):
            continue
        fn = c.get("function") or {}
        out.append(tool_call(str(c.get("id") or new_call_id()), str(fn.get("name") or ""), fn.get("arguments")))
    return out


def openai_form(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Calls as OpenAI takes them back: id, type, function only (no other provider's extra fields)."""
    return [tool_call(c["id"], c["function"]["name"], c["function"].get("arguments") or "{}") for c in calls]


def with_tool_calls(completion: dict[str, Any], calls: list[dict[str, Any]]) -> dict[str, Any]:
    """Put the calls on the completion's message; content null when there is no text (as OpenAI answers)."""
    if calls:
        choice = completion["choices"][0]
        choice["message"]["tool_calls"] = calls
        choice["message"]["content"] = choice["message"].get("content") or None
        if choice.get("finish_reason") in (None, "stop"):
            choice["finish_reason"] = "tool_calls"
    return completion


# -- OpenAI-like chat APIs ------------------------------------------------------------------------

_MISTRAL_ID = re.compile(r"^[a-zA-Z0-9]{9}$")
_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def mistral_id(call_id: str) -> str:
    """Mistral refuses tool call ids that are not 9 letters or digits ("Tool call id was … but must be a-z,
    A-Z, 0-9, with a length of 9", as its API answers); others' ids are mapped to one, the same each time."""
    if _MISTRAL_ID.match(call_id):
        return call_id
    n = int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:8], "big")
    return "".join(_ALNUM[(n >> (6 * i)) % 62] for i in range(9))


def mistral_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` with every tool call id in Mistral's form."""
    for m in messages:
        if m.get("tool_calls"):
            m["tool_calls"] = [{**c, "id": mistral_id(c["id"])} for c in m["tool_calls"]]
        if m.get("tool_call_id"):
            m["tool_call_id"] = mistral_id(m["tool_call_id"])
    return messages


def cohere_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cohere's assistant message takes ``tool_calls`` without ``content`` (cohere-python
    ``AssistantMessage``: content optional, not null)."""
    for m in messages:
        if m.get("tool_calls") and m.get("content") is None:
            del m["content"]
    return messages


def cohere_params(params: dict[str, Any]) -> dict[str, Any]:
    """Cohere v2 takes OpenAI's ``tools`` (without ``strict``) and ``tool_choice`` REQUIRED or NONE only
    (https://docs.cohere.com/reference/chat); a named function is REQUIRED with only that tool offered;
    ``parallel_tool_calls`` has no equivalent and is dropped."""
    tools = [{"type": "function", "function": {k: v for k, v in t["function"].items() if k != "strict"}}
             for t in params.get("tools") or []]
    if not tools:
        return {}
    out: dict[str, Any] = {"tools": tools}
    choice = choice_of(params)
    if choice and choice.mode == "function":
        out["tools"] = [t for t in tools if t["function"]["name"] == choice.name]
        out["tool_choice"] = "REQUIRED"
    elif choice and choice.mode in ("required", "none"):
        out["tool_choice"] = choice.mode.upper()
    return out
