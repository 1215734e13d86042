"""Converse's tool fields, checked as Bedrock checks them, and the scripted answer of :mod:`.tools`.

Shapes: botocore ``bedrock-runtime/2023-09-30/service-2.json`` (``ToolConfiguration {tools, toolChoice}``,
``Tool`` union toolSpec | cachePoint | systemTool, ``ToolSpecification {name, description, inputSchema
{json}, strict}``, ``ToolChoice`` union auto | any | tool {name}, ``ToolUseBlock {toolUseId, name, input,
type}``, ``ToolResultBlock {toolUseId, content: [{text | json | image | document | video}], status,
type}``; ``toolUseId`` pattern ``[a-zA-Z0-9_-]+``). ValidationException wording as reported:
"The number of toolResult blocks at messages.N.content exceeds the number of toolUse blocks of previous
turn." (pydantic/pydantic-ai issue 2327), "Expected toolResult blocks at messages.N.content for the
following Ids: …", "The toolConfig field must be defined when using toolUse and toolResult content blocks."
"""
from __future__ import annotations

import json
from typing import Any

from .controls import SimReject
from .tools import Plan, Result, results_text, sim_id, text_of, wanted_call

SPEC_FIELDS = {"name", "description", "inputSchema", "strict"}


def _bad(message: str) -> SimReject:
    return SimReject(400, message, "ValidationException")


def check(body: dict[str, Any]) -> Plan:
    plan = Plan()
    config = body.get("toolConfig")
    if config is not None:
        for key in sorted(set(config) - {"tools", "toolChoice"}):
            raise _bad(f"Unknown field toolConfig.{key}")
        tools = config.get("tools")
        if not isinstance(tools, list) or not tools:
            raise _bad("1 validation error detected: Value at 'toolConfig.tools' failed to satisfy constraint: "
                       "Member must have length greater than or equal to 1")
        for i, tool in enumerate(tools):
            spec = tool.get("toolSpec") if isinstance(tool, dict) else None
            if spec is None:
                continue
            for key in sorted(set(spec) - SPEC_FIELDS):
                raise _bad(f"Unknown field toolConfig.tools.{i}.toolSpec.{key}")
            schema = spec.get("inputSchema")
            if not isinstance(schema, dict) or not isinstance(schema.get("json"), dict):
                raise _bad(f"toolConfig.tools.{i}.toolSpec.inputSchema must set json (a JSON Schema object)")
            if spec.get("description") == "":
                raise _bad(f"1 validation error detected: Value at 'toolConfig.tools.{i + 1}.member.toolSpec."
                           "description' failed to satisfy constraint: Member must have length greater than or "
                           "equal to 1")
            plan.names.append(str(spec.get("name")))
        choice = config.get("toolChoice")
        if choice is not None:
            if not isinstance(choice, dict) or len(choice) != 1 or next(iter(choice)) not in ("auto", "any", "tool"):
                raise _bad("toolConfig.toolChoice must set exactly one of auto, any, tool")
            kind = next(iter(choice))
            name = (choice["tool"] or {}).get("name") if kind == "tool" else None
            if kind == "tool" and name not in plan.names:
                raise _bad(f"The tool {name} named in toolChoice is not defined in toolConfig.tools.")
            plan.forced = {"auto": None, "any": "any", "tool": name}[kind]
    _history(body.get("messages") or [], plan, config is not None)
    return plan


def _history(messages: list[Any], plan: Plan, has_config: bool) -> None:
    previous: dict[str, str] = {}  # toolUseId -> name, of the message before
    for i, msg in enumerate(messages):
        content = (msg or {}).get("content") or []
        uses = {b["toolUse"].get("toolUseId"): str(b["toolUse"].get("name")) for b in content
                if isinstance(b, dict) and isinstance(b.get("toolUse"), dict)}
        results = [b["toolResult"] for b in content if isinstance(b, dict) and isinstance(b.get("toolResult"), dict)]
        if (uses or results) and not has_config:
            raise _bad("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
        if len(results) > len(previous):
            raise _bad(f"The number of toolResult blocks at messages.{i}.content exceeds the number of toolUse blocks "
                       "of previous turn.")
        missing = [u for u in previous if u not in {r.get("toolUseId") for r in results}]
        if missing:
            raise _bad(f"Expected toolResult blocks at messages.{i}.content for the following Ids: "
                       f"{', '.join(missing)}")
        for r in results:
            for key in sorted(set(r) - {"toolUseId", "content", "status", "type"}):
                raise _bad(f"Unknown field messages.{i}.content.toolResult.{key}")
        if msg.get("role") == "user":
            plan.results = [Result(str(r["toolUseId"]), previous[r["toolUseId"]], result_text(r)) for r in results]
            plan.last_user_text = text_of(content)
        previous = uses
    if previous:
        raise _bad(f"Expected toolResult blocks at messages.{len(messages)}.content for the following Ids: "
                   f"{', '.join(previous)}")


def result_text(result: dict[str, Any]) -> str:
    out = []
    for block in result.get("content") or []:
        if "text" in block:
            out.append(str(block["text"]))
        elif "json" in block:
            out.append(json.dumps(block["json"], sort_keys=True))
    return "\n".join(out)


def answer(plan: Plan, raw: bytes, described: str) -> tuple[list[dict[str, Any]], str]:
    """(content blocks, stopReason) of the reply."""
    if plan.results:
        return [{"text": results_text(described, plan.results)}], "end_turn"
    wanted = wanted_call(plan.names, plan.forced, plan.last_user_text)
    if wanted is None:
        return [{"text": described}], "end_turn"
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return [{"toolUse": {"toolUseId": sim_id("tooluse_", raw, alphabet, 22), "name": wanted[0],
                         "input": wanted[1]}}], "tool_use"
