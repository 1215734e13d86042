"""Anthropic's tool fields, checked as the Messages API checks them, and the scripted answer of :mod:`.tools`.

Shapes: anthropic-sdk-python ``types/tool_param.py`` (name, description, input_schema, cache_control, type
"custom", strict), ``tool_choice_param.py`` (auto | any | tool {name} | none, disable_parallel_tool_use),
``tool_use_block_param.py`` (id, name, input), ``tool_result_block_param.py`` (tool_use_id, content,
is_error). Pairing errors are the API's own words as quoted in bug reports
(github.com/anthropics/claude-code/issues/13460: "messages.N.content.M: unexpected `tool_use_id` found in
`tool_result` blocks: …"; issues/5060: "messages.N: `tool_use` ids were found without `tool_result` blocks
immediately after: …"). Unknown fields answer pydantic's "Extra inputs are not permitted".
"""
from __future__ import annotations

from typing import Any

from .controls import SimReject
from .tools import Plan, Result, results_text, sim_id, text_of, wanted_call

TOOL_FIELDS = {"name", "description", "input_schema", "cache_control", "type", "strict"}
USE_FIELDS = {"type", "id", "name", "input", "cache_control"}
RESULT_FIELDS = {"type", "tool_use_id", "content", "is_error", "cache_control"}
CHOICE_FIELDS = {"auto": {"type", "disable_parallel_tool_use"}, "any": {"type", "disable_parallel_tool_use"},
                 "tool": {"type", "name", "disable_parallel_tool_use"}, "none": {"type"}}


def _bad(message: str) -> SimReject:
    return SimReject(400, message, "invalid_request_error")


def check(body: dict[str, Any]) -> Plan:
    plan = Plan()
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise _bad("tools: Input should be a valid list")
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict):
                raise _bad(f"tools.{i}: Input should be a valid dictionary")
            for key in sorted(set(tool) - TOOL_FIELDS):
                raise _bad(f"tools.{i}.custom.{key}: Extra inputs are not permitted")
            if not isinstance(tool.get("name"), str) or not tool["name"]:
                raise _bad(f"tools.{i}.custom.name: Field required")
            if not isinstance(tool.get("input_schema"), dict):
                raise _bad(f"tools.{i}.custom.input_schema: Field required")
            plan.names.append(tool["name"])
    choice = body.get("tool_choice")
    if choice is not None:
        kind = choice.get("type") if isinstance(choice, dict) else None
        if kind not in CHOICE_FIELDS:
            raise _bad("tool_choice: Input tag does not match any of the expected tags: 'auto', 'any', 'tool', 'none'")
        for key in sorted(set(choice) - CHOICE_FIELDS[kind]):
            raise _bad(f"tool_choice.{kind}.{key}: Extra inputs are not permitted")
        if kind == "tool" and choice.get("name") not in plan.names:
            raise _bad(f"tool_choice.tool.name: Tool '{choice.get('name')}' not found in tools")
        plan.forced = {"auto": None, "any": "any", "none": "none", "tool": choice.get("name")}[kind]
    _history(body["messages"], plan)
    return plan


def _history(messages: Any, plan: Plan) -> None:
    called: dict[str, str] = {}
    previous: set[str] = set()  # tool_use ids of the message before this one
    for i, msg in enumerate(messages if isinstance(messages, list) else []):
        if not isinstance(msg, dict):
            continue
        blocks = msg.get("content") if isinstance(msg.get("content"), list) else []
        uses: list[str] = []
        answered: set[str] = set()
        results: list[Result] = []
        for j, block in enumerate(blocks):
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "tool_use":
                if msg.get("role") != "assistant":
                    raise _bad(f"messages.{i}.content.{j}: tool_use blocks may only appear in assistant messages")
                for key in sorted(set(block) - USE_FIELDS):
                    raise _bad(f"messages.{i}.content.{j}.tool_use.{key}: Extra inputs are not permitted")
                if not isinstance(block.get("id"), str) or not isinstance(block.get("input"), dict):
                    raise _bad(f"messages.{i}.content.{j}.tool_use: id and input (an object) are required")
                uses.append(block["id"])
                called[block["id"]] = str(block.get("name"))
            elif kind == "tool_result":
                for key in sorted(set(block) - RESULT_FIELDS):
                    raise _bad(f"messages.{i}.content.{j}.tool_result.{key}: Extra inputs are not permitted")
                use_id = block.get("tool_use_id")
                if use_id not in previous:
                    raise _bad(f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
                               f"{use_id}. Each `tool_result` block must have a corresponding `tool_use` block in "
                               "the previous message.")
                answered.add(use_id)
                results.append(Result(use_id, called[use_id], text_of(block.get("content"))))
        missing = [u for u in previous if u not in answered]
        if missing:
            raise _bad(f"messages.{i - 1}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                       f"{', '.join(sorted(missing))}. Each `tool_use` block must have a corresponding `tool_result` "
                       "block in the next message.")
        if (uses or results) and not plan.names:
            raise _bad("Requests which include `tool_use` or `tool_result` blocks must define tools.")
        previous = set(uses)
        if msg.get("role") == "user":
            plan.results = results
            plan.last_user_text = text_of(msg.get("content")) if isinstance(msg.get("content"), list) \
                else str(msg.get("content") or "")
    if previous:
        raise _bad(f"messages.{len(messages) - 1}: `tool_use` ids were found without `tool_result` blocks "
                   f"immediately after: {', '.join(sorted(previous))}. Each `tool_use` block must have a "
                   "corresponding `tool_result` block in the next message.")


def answer(plan: Plan, raw: bytes, described: str) -> tuple[list[dict[str, Any]], str]:
    """(content blocks, stop_reason) of the reply."""
    if plan.results:
        return [{"type": "text", "text": results_text(described, plan.results)}], "end_turn"
    wanted = wanted_call(plan.names, plan.forced, plan.last_user_text)
    if wanted is None:
        return [{"type": "text", "text": described}], "end_turn"
    name, args = wanted
    return [{"type": "tool_use", "id": sim_id("toolu_sim", raw), "name": name, "input": args}], "tool_use"
