"""Validate the tool-calling parts of an OpenAI chat request before a job exists.

``tools``, ``tool_choice`` and ``parallel_tool_calls`` are checked here, and so is the conversation's
tool history: every assistant ``tool_calls`` entry must be answered by a ``tool`` message (right after it,
as OpenAI, Anthropic, Gemini and Bedrock all require) and every ``tool`` message must answer a call of the
assistant message before it. The adapters then translate without re-checking, and a mistake is a 400 naming
the exact param instead of some provider's own wording. Shapes:
https://platform.openai.com/docs/api-reference/chat/create (openai-python
``types/chat/chat_completion_tool_param.py``, ``chat_completion_message_tool_call_param.py``,
``chat_completion_tool_message_param.py``, ``chat_completion_tool_choice_option_param.py``).
"""
from __future__ import annotations

import json
import re
from typing import Any

from workers.core.errors import BadRequest

#: OpenAI's function name rule (``function.name``: a-z, A-Z, 0-9, underscores and dashes, at most 64);
#: Anthropic's and Bedrock's tool names follow the same pattern, Gemini's is wider.
NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
FUNCTION_FIELDS = {"name", "description", "parameters", "strict"}
CHOICES = ("none", "auto", "required")


def check_tools(body: dict[str, Any]) -> set[str]:
    """``tools``, ``tool_choice``, ``parallel_tool_calls``; the declared function names."""
    for legacy, new in (("functions", "tools"), ("function_call", "tool_choice")):
        if legacy in body:
            raise BadRequest(f"{legacy} is deprecated and not supported; send {new}", param=legacy)
    tools = body.get("tools")
    names: set[str] = set()
    if tools is not None:
        if not isinstance(tools, list):
            raise BadRequest("tools must be an array of function tools", param="tools")
        for i, tool in enumerate(tools):
            names.add(_tool(tool, f"tools[{i}]", names))
    choice = body.get("tool_choice")
    if choice is not None:
        if not names:
            raise BadRequest("tool_choice is only allowed when tools are given", param="tool_choice")
        _choice(choice, names)
    parallel = body.get("parallel_tool_calls")
    if parallel is not None:
        if not isinstance(parallel, bool):
            raise BadRequest("parallel_tool_calls must be true or false", param="parallel_tool_calls")
        if not names:
            raise BadRequest("parallel_tool_calls is only allowed when tools are given", param="parallel_tool_calls")
    return names


def _tool(tool: Any, where: str, seen: set[str]) -> str:
    if not isinstance(tool, dict):
        raise BadRequest("each tool must be an object {type: function, function: {...}}", param=where)
    if tool.get("type") != "function":
        raise BadRequest(f"tool type {tool.get('type')!r} is not supported; only function tools are",
                         param=f"{where}.type")
    unknown = sorted(set(tool) - {"type", "function"})
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r} in a tool", param=f"{where}.{unknown[0]}")
    fn = tool.get("function")
    if not isinstance(fn, dict):
        raise BadRequest("tool.function must be an object", param=f"{where}.function")
    unknown = sorted(set(fn) - FUNCTION_FIELDS)
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r} in a function", param=f"{where}.function.{unknown[0]}")
    name = fn.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise BadRequest("function.name must be 1-64 characters of a-z, A-Z, 0-9, _ and -",
                         param=f"{where}.function.name")
    if name in seen:
        raise BadRequest(f"function name {name!r} is declared twice", param=f"{where}.function.name")
    if fn.get("description") is not None and not isinstance(fn["description"], str):
        raise BadRequest("function.description must be a string", param=f"{where}.function.description")
    params = fn.get("parameters")
    if params is not None and (not isinstance(params, dict) or params.get("type", "object") != "object"):
        raise BadRequest("function.parameters must be a JSON Schema object with type 'object'",
                         param=f"{where}.function.parameters")
    if fn.get("strict") is not None and not isinstance(fn["strict"], bool):
        raise BadRequest("function.strict must be true or false", param=f"{where}.function.strict")
    return name


def _choice(choice: Any, names: set[str]) -> None:
    if isinstance(choice, str):
        if choice not in CHOICES:
            raise BadRequest(f"tool_choice must be one of {', '.join(CHOICES)} or "
                             "{type: function, function: {name}}", param="tool_choice")
        return
    if not isinstance(choice, dict) or choice.get("type") != "function" or not isinstance(choice.get("function"), dict):
        raise BadRequest("tool_choice must be a string or {type: function, function: {name}}", param="tool_choice")
    name = choice["function"].get("name")
    if not isinstance(name, str) or name not in names:
        raise BadRequest(f"tool_choice names function {name!r}, which is not in tools",
                         param="tool_choice.function.name")


def check_tool_calls(calls: Any, where: str) -> list[str]:
    """An assistant message's ``tool_calls``; their ids in order."""
    if not isinstance(calls, list) or not calls:
        raise BadRequest("tool_calls must be a non-empty array", param=f"{where}.tool_calls")
    ids: list[str] = []
    for j, call in enumerate(calls):
        cwhere = f"{where}.tool_calls[{j}]"
        if not isinstance(call, dict):
            raise BadRequest("each tool call must be an object", param=cwhere)
        if not isinstance(call.get("id"), str) or not call["id"]:
            raise BadRequest("a tool call needs a string id", param=f"{cwhere}.id")
        if call.get("type", "function") != "function":
            raise BadRequest("tool call type must be function", param=f"{cwhere}.type")
        fn = call.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise BadRequest("a tool call needs function.name", param=f"{cwhere}.function.name")
        args = fn.get("arguments")
        if not isinstance(args, str):
            raise BadRequest("function.arguments must be a JSON string", param=f"{cwhere}.function.arguments")
        try:
            value = json.loads(args or "{}")
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise BadRequest("function.arguments must be a JSON object encoded as a string",
                             param=f"{cwhere}.function.arguments")
        ids.append(call["id"])
    return ids


class ToolHistory:
    """Walks the messages in order: which calls are waiting for their tool message."""

    def __init__(self) -> None:
        self.pending: dict[str, str] = {}  # call id -> where it was made
        self.answerable: set[str] = set()  # ids of the assistant message the current tool run answers
        self.seen: set[str] = set()

    def message(self, msg: dict[str, Any], where: str) -> None:
        role = msg.get("role")
        if role != "tool":
            self._close(where)
        if role == "assistant" and msg.get("tool_calls") is not None:
            ids = check_tool_calls(msg["tool_calls"], where)
            for j, call_id in enumerate(ids):
                if call_id in self.seen:
                    raise BadRequest(f"tool call id {call_id!r} is used twice", param=f"{where}.tool_calls[{j}].id")
                self.seen.add(call_id)
                self.pending[call_id] = f"{where}.tool_calls[{j}]"
            self.answerable = set(ids)
        elif role == "tool":
            call_id = msg.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                raise BadRequest("a tool message needs tool_call_id", param=f"{where}.tool_call_id")
            if call_id not in self.answerable:
                raise BadRequest(f"tool message answers {call_id!r}, but the assistant message before it has no tool "
                                 "call with that id", param=f"{where}.tool_call_id")
            if call_id not in self.pending:
                raise BadRequest(f"tool call {call_id!r} is answered twice", param=f"{where}.tool_call_id")
            if msg.get("content") is None:
                raise BadRequest("a tool message needs content (the tool's result)", param=f"{where}.content")
            del self.pending[call_id]
        elif msg.get("tool_call_id") is not None:
            raise BadRequest("tool_call_id belongs on tool messages only", param=f"{where}.tool_call_id")
        if role not in ("assistant", "tool"):
            self.answerable = set()
        if role != "assistant" and msg.get("tool_calls") is not None:
            raise BadRequest("tool_calls belong on assistant messages only", param=f"{where}.tool_calls")

    def _close(self, where: str) -> None:
        if self.pending:
            call_id, made = next(iter(self.pending.items()))
            raise BadRequest(f"tool call {call_id!r} has no tool message answering it (tool messages must follow "
                             f"the assistant message that made the calls, before {where})", param=f"{made}.id")

    def end(self, count: int) -> None:
        self._close(f"messages[{count}]")
