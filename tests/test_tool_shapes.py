"""The adapters' tool translations as pure functions: neutral Call in, native body out, native answer back."""
from __future__ import annotations

import json

from workers.providers import anthropic, bedrock, cohere, gemini
from workers.providers.base import Call, Message, Part
from workers.providers.tools import OPEN_SCHEMA, mistral_id

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
CLOCK = {"type": "function", "function": {"name": "get_time", "description": "d", "strict": True}}


def history(name: str = "get_weather", call_id: str = "call_1", **extra) -> list[Message]:
    call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": '{"city": "Rome"}'}, **extra}
    return [Message("user", [Part("text", text="hi")]), Message("assistant", [], tool_calls=[call]),
            Message("tool", [Part("text", text="sunny")], tool_call_id=call_id)]


def call(provider: str, model: str, messages: list[Message], **params) -> Call:
    return Call(provider, model, messages, params, "http://sim", "k")


def test_gemini_thought_signature_round_trips_on_the_openai_call():
    answer = {"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}, "thoughtSignature": "c2ln"}]},
        "finishReason": "STOP"}]}
    out = gemini.parse_response(answer, call("gemini", "gemini-3-pro-preview", []))
    [tc] = out["choices"][0]["message"]["tool_calls"]
    assert out["choices"][0]["finish_reason"] == "tool_calls" and out["choices"][0]["message"]["content"] is None
    assert tc["extra_content"] == {"google": {"thought_signature": "c2ln"}} and tc["id"].startswith("call_ferry")
    body = gemini.build_request(call("gemini", "gemini-3-pro-preview", history(call_id=tc["id"], **{
        "extra_content": tc["extra_content"]}), tools=[WEATHER])).json
    sent = body["contents"][1]["parts"][0]
    assert sent == {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}, "thoughtSignature": "c2ln"}
    assert "id" not in body["contents"][2]["parts"][0]["functionResponse"]  # Ferry's own id is not Gemini's


def test_anthropic_parallel_off_and_history_only_functions_declared():
    body = anthropic.build_request(call("anthropic", "claude-sonnet-4-5", history("lookup"), tools=[CLOCK],
                                        parallel_tool_calls=False)).json
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert [t["name"] for t in body["tools"]] == ["get_time", "lookup"]
    assert body["tools"][1]["input_schema"] == OPEN_SCHEMA and "strict" not in body["tools"][0]
    answer = {"content": [{"type": "text", "text": "Let me look."},
                          {"type": "tool_use", "id": "toolu_9", "name": "lookup", "input": {"q": 1}}],
              "stop_reason": "tool_use", "usage": {}}
    message = anthropic.parse_response(answer, call("anthropic", "claude-sonnet-4-5", []))["choices"][0]["message"]
    assert message["content"] == "Let me look."
    assert message["tool_calls"] == [{"id": "toolu_9", "type": "function",
                                      "function": {"name": "lookup", "arguments": json.dumps({"q": 1})}}]


def test_bedrock_none_withholds_tools_unless_the_history_needs_them():
    plain = [Message("user", [Part("text", text="hi")])]
    assert "toolConfig" not in bedrock.build_request(call("bedrock", "amazon.nova-pro-v1:0", plain, tools=[WEATHER],
                                                          tool_choice="none")).json
    body = bedrock.build_request(call("bedrock", "amazon.nova-pro-v1:0", history(), tools=[WEATHER],
                                      tool_choice="none")).json
    assert "toolChoice" not in body["toolConfig"] and body["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather"
    answer = {"output": {"message": {"content": [{"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather",
                                                              "input": {"bytes": "not base64"}}}]}},
              "stopReason": "tool_use", "usage": {}}
    out = bedrock.parse_response(answer, call("bedrock", "amazon.nova-pro-v1:0", []))
    assert json.loads(out["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]) == {"bytes": "not base64"}
    assert bedrock._with_bytes({"toolUse": {"input": {"bytes": "abc"}}}) == {"toolUse": {"input": {"bytes": "abc"}}}


def test_cohere_named_choice_is_required_with_that_tool_only():
    body = cohere.build_request(call("cohere", "command-a-03-2025", [Message("user", [Part("text", text="x")])],
                                     tools=[WEATHER, CLOCK], tool_choice={"type": "function",
                                                                          "function": {"name": "get_time"}})).json
    assert body["tool_choice"] == "REQUIRED"
    assert body["tools"] == [{"type": "function", "function": {"name": "get_time", "description": "d"}}]


def test_mistral_ids_are_nine_alphanumerics_and_stable():
    assert mistral_id("call_abc123") == mistral_id("call_abc123")
    assert len(mistral_id("call_abc123")) == 9 and mistral_id("call_abc123").isalnum()
    assert mistral_id("Ab3dE6gH9") == "Ab3dE6gH9" and mistral_id("a") != mistral_id("b")
