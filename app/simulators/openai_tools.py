"""Tool fields of the OpenAI-shaped chat APIs (OpenAI, xAI, Mistral, OpenAI-compatible servers, Cohere v2):
checked strictly, and the scripted call or result answer of :mod:`.tools`.

OpenAI's shapes and messages: openai-python ``types/chat/chat_completion_tool_param.py``,
``shared_params/function_definition.py`` (name, description, parameters, strict),
``chat_completion_tool_choice_option_param.py``, ``chat_completion_message_tool_call_param.py``; the 400s
for a tool message without a preceding call ("Invalid parameter: messages with role 'tool' must be a
response to a preceeding message with 'tool_calls'.", param ``messages.[N].role``) and for an unanswered call
("An assistant message with 'tool_calls' must be followed by tool messages responding to each
'tool_call_id'. …") as quoted in github.com/microsoft/promptflow/pull/3130 and many bug reports. Mistral
takes ``any`` as a choice and 9-character ids only ("Tool call id was … but must be a-z, A-Z, 0-9, with a
length of 9.", langchain-ai/langchain PR 24668); Cohere takes ``tool_choice`` REQUIRED or NONE
(https://docs.cohere.com/reference/chat) and names calls ``<name>_<random>``.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .controls import SimReject
from .tools import Plan, Result, results_text, sim_id, text_of, wanted_call

NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MISTRAL_ID = re.compile(r"^[a-zA-Z0-9]{9}$")
ALNUM = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

#: (message, param) -> the provider's 400
Bad = Callable[[str, "str | None"], SimReject]


@dataclass(frozen=True)
class Dialect:
    choices: tuple[str, ...] = ("none", "auto", "required")
    named_choice: bool = True
    function_fields: frozenset[str] = frozenset({"name", "description", "parameters", "strict"})
    mistral_ids: bool = False
    cohere: bool = False


OPENAI = Dialect()
MISTRAL = Dialect(choices=("none", "auto", "any", "required"), mistral_ids=True)
COHERE = Dialect(choices=("REQUIRED", "NONE"), named_choice=False,
                 function_fields=frozenset({"name", "description", "parameters"}), cohere=True)


def check(body: dict[str, Any], bad: Bad, dialect: Dialect = OPENAI) -> Plan:
    plan = Plan(names=_tools(body.get("tools"), bad, dialect))
    plan.forced = _choice(body.get("tool_choice"), plan.names, bad, dialect)
    if body.get("parallel_tool_calls") is not None and not plan.names and not dialect.cohere:
        raise bad("Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are "
                  "specified.", "parallel_tool_calls")
    _history(body["messages"], bad, dialect, plan)
    return plan


def _tools(tools: Any, bad: Bad, dialect: Dialect) -> list[str]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise bad("Invalid type for 'tools': expected an array of objects.", "tools")
    names = []
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise bad(f"Invalid value: '{(tool or {}).get('type') if isinstance(tool, dict) else tool}'. "
                      "Supported values are: 'function'.", f"{where}.type")
        for key in sorted(set(tool) - {"type", "function"}):
            raise bad(f"Unknown parameter: '{where}.{key}'.", f"{where}.{key}")
        fn = tool.get("function")
        if not isinstance(fn, dict):
            raise bad(f"Missing required parameter: '{where}.function'.", f"{where}.function")
        for key in sorted(set(fn) - dialect.function_fields):
            raise bad(f"Unknown parameter: '{where}.function.{key}'.", f"{where}.function.{key}")
        name = fn.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            raise bad(f"Invalid '{where}.function.name': string does not match pattern. Expected a string that "
                      "matches the pattern '^[a-zA-Z0-9_-]+$'.", f"{where}.function.name")
        params = fn.get("parameters")
        if params is not None and not isinstance(params, dict):
            raise bad(f"Invalid type for '{where}.function.parameters': expected an object.",
                      f"{where}.function.parameters")
        names.append(name)
    return names


def _choice(choice: Any, names: list[str], bad: Bad, dialect: Dialect) -> str | None:
    if choice is None:
        return None
    if not names:
        raise bad("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
                  "tool_choice")
    if isinstance(choice, str):
        if choice not in dialect.choices:
            raise bad(f"Invalid value: '{choice}'. Supported values are: "
                      f"{', '.join(repr(c) for c in dialect.choices)}.", "tool_choice")
        return {"none": "none", "auto": None, "required": "any", "any": "any"}.get(choice.lower())
    fn = choice.get("function") if isinstance(choice, dict) else None
    if not dialect.named_choice or not isinstance(fn, dict) or choice.get("type") != "function":
        raise bad("Invalid value for 'tool_choice': expected one of "
                  f"{', '.join(repr(c) for c in dialect.choices)}"
                  + (" or {'type': 'function', 'function': {'name': ...}}." if dialect.named_choice else "."),
                  "tool_choice")
    if fn.get("name") not in names:
        raise bad(f"Invalid value for 'tool_choice': function '{fn.get('name')}' is not one of the tools.",
                  "tool_choice.function.name")
    return str(fn["name"])


def _history(messages: list[Any], bad: Bad, dialect: Dialect, plan: Plan) -> None:
    pending: dict[str, str] = {}  # id -> name, calls of the last assistant message still unanswered
    called: dict[str, str] = {}
    after_calls = False
    opened = 0
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            continue
        role = msg.get("role")
        if role != "tool" and pending:
            raise bad("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                      f"'tool_call_id'. The following tool_call_ids did not have response messages: "
                      f"{', '.join(pending)}", f"messages.[{opened}].role")
        if role == "assistant" and msg.get("tool_calls"):
            pending = {}
            for j, call in enumerate(msg["tool_calls"]):
                call_id, name = _call(call, f"messages[{i}].tool_calls[{j}]", bad, dialect)
                pending[call_id] = called[call_id] = name
            after_calls, opened, plan.results = True, i, []
        elif role == "tool":
            call_id = msg.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                raise bad(f"Missing required parameter: 'messages[{i}].tool_call_id'.", f"messages[{i}].tool_call_id")
            if dialect.mistral_ids and not MISTRAL_ID.match(call_id):
                raise bad(f"Tool call id was {call_id} but must be a-z, A-Z, 0-9, with a length of 9.", None)
            if not after_calls or call_id not in called:
                raise bad("Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
                          "with 'tool_calls'.", f"messages.[{i}].role")
            pending.pop(call_id, None)
            plan.results.append(Result(call_id, called[call_id], text_of(msg.get("content"))))
        else:  # a user turn right after tool results (their images, as Ferry sends them) keeps the results
            keep = role == "user" and i > 0 and isinstance(messages[i - 1], dict) and messages[i - 1].get("role") == "tool"
            after_calls, plan.results = False, plan.results if keep else []
            if role == "user":
                plan.last_user_text = text_of(msg.get("content"))
    if pending:
        raise bad("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                  f"'tool_call_id'. The following tool_call_ids did not have response messages: "
                  f"{', '.join(pending)}", f"messages.[{opened}].role")


def _call(call: Any, where: str, bad: Bad, dialect: Dialect) -> tuple[str, str]:
    if not isinstance(call, dict):
        raise bad(f"Invalid type for '{where}': expected an object.", where)
    for key in sorted(set(call) - {"id", "type", "function"}):
        raise bad(f"Unknown parameter: '{where}.{key}'.", f"{where}.{key}")
    fn = call.get("function")
    if not isinstance(call.get("id"), str) or not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise bad(f"Missing required parameter: '{where}.id' / '.function.name'.", where)
    if not isinstance(fn.get("arguments"), str):
        raise bad(f"Invalid type for '{where}.function.arguments': expected a string.", f"{where}.function.arguments")
    if dialect.mistral_ids and not MISTRAL_ID.match(call["id"]):
        raise bad(f"Tool call id was {call['id']} but must be a-z, A-Z, 0-9, with a length of 9.", None)
    return call["id"], fn["name"]


def answer(plan: Plan, raw: bytes, described: str, dialect: Dialect = OPENAI
           ) -> tuple[str | None, list[dict[str, Any]] | None]:
    """(content, tool_calls) of the reply: a tool call, the tool results, or just what arrived."""
    if plan.results:
        return results_text(described, plan.results), None
    wanted = wanted_call(plan.names, plan.forced, plan.last_user_text)
    if wanted is None:
        return described, None
    name, args = wanted
    if dialect.mistral_ids:
        call_id = sim_id("", raw, ALNUM, 9)
    elif dialect.cohere:
        call_id = sim_id(f"{name}_", raw, "0123456789abcdefghijklmnopqrstuvwxyz", 12)
    else:
        call_id = sim_id("call_", raw, ALNUM, 24)
    return None, [{"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}]
