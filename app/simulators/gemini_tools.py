"""Gemini's function calling fields, checked as generateContent checks them, and the scripted answer of
:mod:`.tools`.

Shapes: python-genai ``types.py`` / https://ai.google.dev/api/caching#Tool (``Tool.functionDeclarations``;
``FunctionDeclaration {name, description, parameters | parametersJsonSchema, response |
responseJsonSchema, behavior}``; ``ToolConfig.functionCallingConfig {mode AUTO|ANY|NONE|VALIDATED,
allowedFunctionNames}``; ``FunctionCall {id, name, args}``; ``FunctionResponse {id, name, response}``).
Unknown fields answer proto JSON's 'Invalid JSON payload received. Unknown name "x" at …: Cannot find
field.'; a function response turn must follow a function call turn with as many parts ("Please ensure that
the number of function response parts is equal to the number of function call parts of the function call
turn.", as quoted in google-gemini/gemini-cli issues 5443 and 16543). The developer API's answers carry no
call ``id``.
"""
from __future__ import annotations

from typing import Any

from .gemini_wire import bad, get_field
from .tools import Plan, Result, results_text, text_of, wanted_call

DECLARATION_FIELDS = {"name", "description", "parameters", "parametersJsonSchema", "parameters_json_schema",
                      "response", "responseJsonSchema", "response_json_schema", "behavior"}
MODES = ("MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED")


def _unknown(key: str, where: str) -> Exception:
    return bad(f'Invalid JSON payload received. Unknown name "{key}" at \'{where}\': Cannot find field.')


def check(body: dict[str, Any]) -> Plan:
    plan = Plan()
    for i, tool in enumerate(body.get("tools") or []):
        decls = get_field(tool, "function_declarations") if isinstance(tool, dict) else None
        if decls is None:
            continue  # googleSearch, codeExecution...: not function tools
        for j, fn in enumerate(decls):
            where = f"tools[{i}].function_declarations[{j}]"
            for key in sorted(set(fn) - DECLARATION_FIELDS):
                raise _unknown(key, where)
            if not isinstance(fn.get("name"), str) or not fn["name"]:
                raise bad(f"* GenerateContentRequest.{where}.name: Name cannot be empty.")
            if get_field(fn, "parameters") is not None and get_field(fn, "parameters_json_schema") is not None:
                raise bad(f"* GenerateContentRequest.{where}: parameters and parameters_json_schema are "
                          "mutually exclusive.")
            plan.names.append(fn["name"])
    calling = get_field(get_field(body, "tool_config") or {}, "function_calling_config") or {}
    mode = calling.get("mode")
    if mode is not None:
        if mode not in MODES:
            raise bad(f"Invalid value at 'tool_config.function_calling_config.mode' (type.googleapis.com/"
                      f"google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode), \"{mode}\"")
        allowed = get_field(calling, "allowed_function_names") or []
        plan.forced = {"ANY": allowed[0] if len(allowed) == 1 else "any", "NONE": "none"}.get(mode)
    _history(body.get("contents") or [], plan)
    return plan


def _history(contents: list[Any], plan: Plan) -> None:
    calls: list[str] = []  # names called by the previous content
    for i, content in enumerate(contents):
        parts = (content or {}).get("parts") or []
        made = [get_field(p, "function_call") for p in parts if get_field(p, "function_call") is not None]
        responses = [get_field(p, "function_response") for p in parts
                     if get_field(p, "function_response") is not None]
        if (made or responses) and not plan.names:
            raise bad("Function calling requires tools with function_declarations in the request.")
        if responses:
            if not calls:
                raise bad("Please ensure that function response turn comes immediately after a function call turn.")
            if len(responses) != len(calls):
                raise bad("Please ensure that the number of function response parts is equal to the number of "
                          "function call parts of the function call turn.")
            for j, resp in enumerate(responses):
                if resp.get("name") not in calls:
                    raise bad(f"* GenerateContentRequest.contents[{i}].parts[{j}].function_response.name: the "
                              f"function response names {resp.get('name')!r}, which the function call turn did not "
                              "call.")
                if not isinstance(resp.get("response"), dict):
                    raise bad(f"* GenerateContentRequest.contents[{i}].parts[{j}].function_response.response: "
                              "must be an object.")
            plan.results = [Result(str(r.get("id") or "-"), str(r["name"]), _shown(r["response"]))
                            for r in responses]
        elif (content or {}).get("role", "user") == "user":
            plan.results = []
        for fc in made:
            if not isinstance(fc.get("name"), str) or fc["name"] not in plan.names:
                raise bad(f"* GenerateContentRequest.contents[{i}]: function call {fc.get('name')!r} is not declared.")
        calls = [fc["name"] for fc in made]
        if (content or {}).get("role", "user") == "user" and not responses:
            plan.last_user_text = text_of(parts)


def is_call_part(part: Any) -> bool:
    return isinstance(part, dict) and (get_field(part, "function_call") is not None
                                       or get_field(part, "function_response") is not None)


def _shown(response: dict[str, Any]) -> str:
    import json

    return json.dumps(response, sort_keys=True)


def answer(plan: Plan, described: str) -> list[dict[str, Any]] | None:
    """The reply's parts when tools are in play (a functionCall, or the tool results), else None."""
    if plan.results:
        return [{"text": results_text(described, plan.results)}]
    wanted = wanted_call(plan.names, plan.forced, plan.last_user_text)
    if wanted is None:
        return None
    return [{"functionCall": {"name": wanted[0], "args": wanted[1]}}]
