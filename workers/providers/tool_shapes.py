"""Tool definitions, calls and results in the native shapes of Anthropic, Gemini and Bedrock.

Each provider has three pieces here: the request parameters (tools + choice), a ``*_turn`` that appends
one neutral message to the native message list (assistant calls as call blocks, ``tool`` messages as result
blocks in a user turn, merged as each API wants), and ``*_calls`` that reads the calls out of an answer.
Sources:

- Anthropic: https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use and
  anthropic-sdk-python ``types/tool_param.py`` (name, description, input_schema),
  ``tool_choice_*_param.py`` (auto | any | tool {name} | none; ``disable_parallel_tool_use``),
  ``tool_use_block_param.py``, ``tool_result_block_param.py`` (tool_use_id, content, is_error).
  Tool results come first in their user turn.
- Gemini: https://ai.google.dev/gemini-api/docs/function-calling and python-genai ``types.py``
  (``Tool.function_declarations``, ``FunctionDeclaration.parameters_json_schema``,
  ``ToolConfig.function_calling_config {mode AUTO|ANY|NONE, allowed_function_names}``, ``FunctionCall
  {id, name, args}``, ``FunctionResponse {id, name, response}``: the response is an object, "output"
  for the result). A call's ``thoughtSignature`` (Gemini 3 requires it back) rides on the OpenAI call as
  ``extra_content.google.thought_signature``, as Google's own OpenAI-compatible endpoint does.
- Bedrock Converse: botocore ``bedrock-runtime/2023-09-30/service-2.json`` (``ToolConfiguration {tools:
  [{toolSpec: {name, description, inputSchema: {json}}}], toolChoice: {auto|any|tool {name}}}``,
  ``ToolUseBlock {toolUseId, name, input}``, ``ToolResultBlock {toolUseId, content: [{text}], status}``).
  There is no "none" choice: the tools are withheld (unless the history holds tool blocks, which need a
  ``toolConfig``). Turns must alternate, so a user message after tool results joins their turn.
"""
from __future__ import annotations

import json
from typing import Any

from workers.providers.tools import (arguments, call_names, choice_of, has_tool_history, new_call_id, result_text,
                                     tool_call, tools_of)

# -- Anthropic --------------------------------------------------------------------------------------


def anthropic_params(params: dict[str, Any], messages: list[Any]) -> dict[str, Any]:
    tools = tools_of(params, messages)
    if not tools:
        return {}
    out: dict[str, Any] = {"tools": [{"name": t.name, **({"description": t.description} if t.description else {}),
                                      "input_schema": t.parameters} for t in tools]}
    choice = choice_of(params)
    native: dict[str, Any] | None = None
    if choice is not None:
        native = {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"},
                  "function": {"type": "tool", "name": choice.name}}[choice.mode]
    if params.get("parallel_tool_calls") is False and (native or {}).get("type") != "none":
        native = {**(native or {"type": "auto"}), "disable_parallel_tool_use": True}
    if native:
        out["tool_choice"] = native
    return out


def anthropic_turn(out: list[dict[str, Any]], m: Any, blocks: list[dict[str, Any]]) -> None:
    """Append message ``m`` (its content already as ``blocks``) to Anthropic ``messages``."""
    if m.role == "tool":
        result = {"type": "tool_result", "tool_use_id": m.tool_call_id, "content": result_text(m)}
        if out and out[-1]["role"] == "user" and out[-1].get("_tool_results"):
            out[-1]["content"].append(result)
        else:
            out.append({"role": "user", "content": [result], "_tool_results": True})
        return
    if m.role == "assistant":
        blocks = [b for b in blocks if b.get("type") != "text" or b.get("text")]  # no empty text blocks
        blocks += [{"type": "tool_use", "id": c["id"], "name": c["function"]["name"], "input": arguments(c)}
                   for c in m.tool_calls or []]
        out.append({"role": "assistant", "content": blocks})
        return
    if out and out[-1].get("_tool_results"):  # the user's words after tool results join that turn
        out[-1]["content"].extend(blocks)
        return
    out.append({"role": "user", "content": blocks})


def anthropic_done(out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for msg in out:
        msg.pop("_tool_results", None)
    return out


def anthropic_calls(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [tool_call(b.get("id") or new_call_id("toolu_"), b.get("name", ""), b.get("input") or {})
            for b in content if b.get("type") == "tool_use"]


# -- Gemini -----------------------------------------------------------------------------------------


def gemini_params(params: dict[str, Any], messages: list[Any]) -> dict[str, Any]:
    tools = tools_of(params, messages)
    if not tools:
        return {}
    out: dict[str, Any] = {"tools": [{"functionDeclarations": [
        {"name": t.name, **({"description": t.description} if t.description else {}),
         "parametersJsonSchema": t.parameters} for t in tools]}]}
    choice = choice_of(params)
    if choice is not None:
        config: dict[str, Any] = {"mode": {"auto": "AUTO", "required": "ANY", "none": "NONE",
                                           "function": "ANY"}[choice.mode]}
        if choice.mode == "function":
            config["allowedFunctionNames"] = [choice.name]
        out["toolConfig"] = {"functionCallingConfig": config}
    return out


GENERATED_PREFIX = "call_ferry"
"""Ids Ferry made for calls Gemini answered without one: not sent back (Gemini matches by name)."""


def gemini_turn(out: list[dict[str, Any]], m: Any, parts: list[dict[str, Any]], messages: list[Any]) -> None:
    if m.role == "tool":
        name = call_names(messages).get(m.tool_call_id or "", "")
        text = result_text(m)
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        response = {"functionResponse": {"name": name, "response": value if isinstance(value, dict)
                                         else {"output": text}}}
        if m.tool_call_id and not m.tool_call_id.startswith(GENERATED_PREFIX):
            response["functionResponse"]["id"] = m.tool_call_id
        if out and out[-1].get("_tool_results"):
            out[-1]["parts"].append(response)
        else:
            out.append({"role": "user", "parts": [response], "_tool_results": True})
        return
    if m.role == "user" and out and out[-1].get("_tool_results"):  # words or media after results join their turn
        out[-1]["parts"].extend(parts)
        return
    if m.role == "assistant" and m.tool_calls:
        parts = [p for p in parts if p.get("text") != ""]
        for c in m.tool_calls:
            fc: dict[str, Any] = {"name": c["function"]["name"], "args": arguments(c)}
            if not c["id"].startswith(GENERATED_PREFIX):
                fc["id"] = c["id"]
            part: dict[str, Any] = {"functionCall": fc}
            signature = ((c.get("extra_content") or {}).get("google") or {}).get("thought_signature")
            if signature:
                part["thoughtSignature"] = signature
            parts.append(part)
    out.append({"role": "model" if m.role == "assistant" else "user", "parts": parts})


def gemini_done(out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for content in out:
        content.pop("_tool_results", None)
    return out


def gemini_calls(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    calls = []
    for p in parts:
        fc = p.get("functionCall") or p.get("function_call")
        if not isinstance(fc, dict):
            continue
        signature = p.get("thoughtSignature") or p.get("thought_signature")
        extra = {"extra_content": {"google": {"thought_signature": signature}}} if signature else {}
        calls.append(tool_call(fc.get("id") or new_call_id(GENERATED_PREFIX + "_"), fc.get("name", ""),
                               fc.get("args") or {}, **extra))
    return calls


# -- Bedrock Converse -------------------------------------------------------------------------------


def bedrock_params(params: dict[str, Any], messages: list[Any]) -> dict[str, Any]:
    tools = tools_of(params, messages)
    choice = choice_of(params)
    if not tools or (choice and choice.mode == "none" and not has_tool_history(messages)):
        return {}
    config: dict[str, Any] = {"tools": [{"toolSpec": {"name": t.name, **({"description": t.description}
                                                                         if t.description else {}),
                                                      "inputSchema": {"json": t.parameters}}} for t in tools]}
    if choice and choice.mode != "none":
        config["toolChoice"] = {"auto": {"auto": {}}, "required": {"any": {}},
                                "function": {"tool": {"name": choice.name}}}[choice.mode]
    return {"toolConfig": config}


def bedrock_turn(out: list[dict[str, Any]], m: Any, content: list[dict[str, Any]]) -> None:
    if m.role == "tool":
        result = {"toolResult": {"toolUseId": m.tool_call_id, "content": [{"text": result_text(m) or "(empty)"}]}}
        if out and out[-1].get("_tool_results"):
            out[-1]["content"].append(result)
        else:
            out.append({"role": "user", "content": [result], "_tool_results": True})
        return
    if m.role == "assistant":
        content = [b for b in content if b.get("text") != ""]
        content += [{"toolUse": {"toolUseId": c["id"], "name": c["function"]["name"], "input": arguments(c)}}
                    for c in m.tool_calls or []]
        out.append({"role": "assistant", "content": content})
        return
    if out and out[-1].get("_tool_results"):
        out[-1]["content"].extend(content)
        return
    out.append({"role": "user", "content": content})


def bedrock_done(out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for msg in out:
        msg.pop("_tool_results", None)
    return out


def bedrock_calls(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [tool_call(b["toolUse"].get("toolUseId") or new_call_id("tooluse_"), b["toolUse"].get("name", ""),
                      b["toolUse"].get("input") or {}) for b in content if isinstance(b.get("toolUse"), dict)]
