"""Tool calling through Ferry to every provider, with the official openai SDK on /v1/chat/completions.

Each simulator answers a tool call in its own wire shape when the last user turn says ``call <name> {args}``
(app/simulators/tools.py), and after the tool's result answers text that carries the result; so a round
trip here proves the tools reached the provider in its shape, the call came back as OpenAI ``tool_calls``,
and the result went back as that provider's tool result.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from app.simulators.server import SimServer
from tests.conftest import AUTH, wait_job

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
CLOCK = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}
MODELS = [("openai/gpt-4o", "openai"), ("anthropic/claude-sonnet-4-5", "anthropic"),
          ("gemini/gemini-2.5-flash", "gemini"), ("bedrock/amazon.nova-pro-v1:0", "bedrock"),
          ("mistral/mistral-large-latest", "mistral"), ("xai/grok-4", "xai"), ("cohere/command-a-03-2025", "cohere")]


@pytest.fixture(scope="module")
def ferry_url(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with SimServer(app) as server:
        yield server.url


@pytest.fixture(scope="module")
def sdk(ferry_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=ferry_url + "/v1", api_key="ferry-local-key", max_retries=0, timeout=60)


def last_call(sims: dict[str, Any], provider: str) -> dict[str, Any]:
    return sims[provider].state.log()[-1]


@pytest.mark.parametrize("model, provider", MODELS)
def test_two_turn_tool_round_trip_on_every_provider(sdk, sims, model, provider):
    messages: list[Any] = [{"role": "system", "content": "You are terse."},
                           {"role": "user", "content": 'What is the weather? call get_weather {"city": "Paris"}'}]
    first = sdk.chat.completions.create(model=model, messages=messages, tools=[WEATHER, CLOCK], max_tokens=100)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    assert last_call(sims, provider)["status"] == 200
    [call] = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "get_weather" and call.id
    assert json.loads(call.function.arguments) == {"city": "Paris"}  # the provider's native call, parsed back
    messages.append(choice.message)  # the SDK's own message object, as users pass it back
    messages.append({"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 21, "sky": "clear"}'})
    second = sdk.chat.completions.create(model=model, messages=messages, tools=[WEATHER, CLOCK], max_tokens=100)
    text = second.choices[0].message.content
    assert second.choices[0].finish_reason == "stop" and not second.choices[0].message.tool_calls
    assert text.startswith(f"sim:{provider}")
    assert "get_weather(" in text and '"temp_c": 21' in text and '"sky": "clear"' in text, text  # the result arrived
    assert last_call(sims, provider)["status"] == 200


@pytest.mark.parametrize("model, provider", [MODELS[1], MODELS[2], MODELS[3]])
def test_forced_choice_and_two_results_in_one_turn(sdk, sims, model, provider):
    """A named tool_choice forces that call; two parallel calls' results go back in one native turn."""
    first = sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": "Time, please."}],
                                        tools=[WEATHER, CLOCK],
                                        tool_choice={"type": "function", "function": {"name": "get_time"}})
    [call] = first.choices[0].message.tool_calls
    assert call.function.name == "get_time" and json.loads(call.function.arguments) == {}
    calls = [{"id": "call_a1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}},
             {"id": "call_b2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]
    second = sdk.chat.completions.create(model=model, tools=[WEATHER, CLOCK], messages=[
        {"role": "user", "content": "Weather and time in Oslo"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": "call_a1", "content": "rain"},
        {"role": "tool", "tool_call_id": "call_b2", "content": "10:42"}])
    text = second.choices[0].message.content
    assert "get_weather(" in text and "rain" in text and "get_time(" in text and "10:42" in text, text


def test_tool_choice_none_and_no_directive_answer_text(sdk):
    plain = sdk.chat.completions.create(model="anthropic/claude-sonnet-4-5", tools=[WEATHER],
                                        messages=[{"role": "user", "content": "Hello"}])
    assert plain.choices[0].finish_reason == "stop" and plain.choices[0].message.content.startswith("sim:anthropic")
    none = sdk.chat.completions.create(model="openai/gpt-4o", tools=[WEATHER], tool_choice="none",
                                       messages=[{"role": "user", "content": "call get_weather"}])
    assert none.choices[0].message.tool_calls is None


def test_streamed_tool_call_adds_up(sdk):
    stream = sdk.chat.completions.create(model="gemini/gemini-2.5-flash", tools=[WEATHER], stream=True,
                                         messages=[{"role": "user", "content": 'call get_weather {"city": "Rome"}'}])
    chunks = list(stream)
    deltas = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas and deltas[0].function.name == "get_weather"
    assert json.loads(deltas[0].function.arguments) == {"city": "Rome"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_native_requests_in_each_providers_shape(client):
    """Dry runs show what each adapter sends: the neutral tools in every provider's own form."""
    body = {"model": "", "tools": [WEATHER], "tool_choice": "required", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_x1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}}]},
        {"role": "tool", "tool_call_id": "call_x1", "content": "sunny"}]}
    shown = {}
    for model in ("anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash", "bedrock/amazon.nova-pro-v1:0",
                  "mistral/mistral-large-latest", "cohere/command-a-03-2025"):
        resp = client.post("/v1/jobs", json={"request": {**body, "model": model}, "dry_run": True}, headers=AUTH)
        assert resp.status_code == 202, resp.get_json()
        job = wait_job(client, resp.get_json()["id"])
        assert job["status"] == "succeeded", job.get("error")
        shown[model.split("/")[0]] = job["provider_request"]["body"]
    assert shown["anthropic"]["tool_choice"] == {"type": "any"}
    assert shown["anthropic"]["messages"][1]["content"] == [
        {"type": "tool_use", "id": "call_x1", "name": "get_weather", "input": {"city": "Rome"}}]
    assert shown["anthropic"]["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_x1", "content": "sunny"}]
    gemini = shown["gemini"]
    assert gemini["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert gemini["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"] == WEATHER["function"]["parameters"]
    assert gemini["contents"][2]["parts"][0]["functionResponse"]["name"] == "get_weather"  # from the earlier call
    assert gemini["contents"][2]["parts"][0]["functionResponse"]["response"] == {"output": "sunny"}
    bedrock = shown["bedrock"]
    assert bedrock["toolConfig"]["toolChoice"] == {"any": {}}
    assert bedrock["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"] == {"json": WEATHER["function"]["parameters"]}
    assert bedrock["messages"][2]["content"][0]["toolResult"]["toolUseId"] == "call_x1"
    mistral_ids = {shown["mistral"]["messages"][1]["tool_calls"][0]["id"], shown["mistral"]["messages"][2]["tool_call_id"]}
    assert len(mistral_ids) == 1 and len(mistral_ids.pop()) == 9  # Mistral's 9-character id, the same both places
    assert shown["cohere"]["tool_choice"] == "REQUIRED"


@pytest.mark.parametrize("messages, extra, param", [
    ([{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "call_1", "content": "r"}], {},
     "messages[1].tool_call_id"),
    ([{"role": "user", "content": "x"},
      {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
      {"role": "tool", "content": "r"}], {}, "messages[2].tool_call_id"),
    ([{"role": "user", "content": "x"},
      {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
      {"role": "user", "content": "y"}], {}, "messages[1].tool_calls[0].id"),
    ([{"role": "user", "content": "x"},
      {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{no"}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "r"}], {}, "messages[1].tool_calls[0].function.arguments"),
    ([{"role": "user", "content": "x"}], {"tools": [{"type": "function", "function": {"name": "bad name"}}]},
     "tools[0].function.name"),
    ([{"role": "user", "content": "x"}], {"tools": [{"type": "function", "function": {"name": "f", "extra": 1}}]},
     "tools[0].function.extra"),
    ([{"role": "user", "content": "x"}], {"tools": [{"type": "web_search"}]}, "tools[0].type"),
    ([{"role": "user", "content": "x"}], {"tool_choice": "required"}, "tool_choice"),
    ([{"role": "user", "content": "x"}], {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {
        "name": "nope"}}}, "tool_choice.function.name"),
    ([{"role": "user", "content": "x"}], {"tools": [WEATHER], "parallel_tool_calls": "yes"}, "parallel_tool_calls"),
])
def test_bad_tool_fields_are_400s_naming_the_param(sdk, messages, extra, param):
    with pytest.raises(openai.BadRequestError) as err:
        sdk.chat.completions.create(model="openai/gpt-4o", messages=messages, **extra)
    assert err.value.body["param"] == param, err.value.body


@pytest.mark.parametrize("provider, body, expected", [
    ("anthropic", {"model": "claude-sonnet-4-5", "max_tokens": 5, "tools": [
        {"name": "f", "input_schema": {"type": "object"}}], "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_2", "content": "r"}]}]},
     "unexpected `tool_use_id` found in `tool_result` blocks: toolu_2"),
    ("anthropic", {"model": "claude-sonnet-4-5", "max_tokens": 5, "tools": [
        {"name": "f", "input_schema": {"type": "object"}, "parameters": {}}], "messages": [
        {"role": "user", "content": "x"}]}, "tools.0.custom.parameters: Extra inputs are not permitted"),
    ("openai", {"model": "gpt-4o", "messages": [
        {"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "c", "content": "r"}]},
     "messages with role 'tool' must be a response to a preceeding message with 'tool_calls'"),
    ("mistral", {"model": "mistral-large-latest", "tools": [WEATHER], "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [{"id": "call_long_id", "type": "function",
                                              "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_long_id", "content": "r"}]}, "must be a-z, A-Z, 0-9, with a length of 9"),
    ("gemini", {"contents": [{"role": "user", "parts": [{"text": "x"}]},
                             {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}],
                "tools": [{"functionDeclarations": [{"name": "f"}]}]},
     "function response turn comes immediately after a function call turn"),
    ("cohere", {"model": "command-a-03-2025", "tools": [WEATHER], "tool_choice": "auto",
                "messages": [{"role": "user", "content": "x"}]}, "Supported values are: 'REQUIRED', 'NONE'"),
])
def test_simulators_refuse_bad_tool_shapes_in_the_providers_words(sims, provider, body, expected):
    import httpx

    sim = sims[provider]
    path, headers = {"anthropic": ("/v1/messages", {"x-api-key": "sim-key", "anthropic-version": "2023-06-01"}),
                     "openai": ("/v1/chat/completions", {"Authorization": "Bearer sim-key"}),
                     "mistral": ("/v1/chat/completions", {"Authorization": "Bearer sim-key"}),
                     "cohere": ("/v2/chat", {"Authorization": "Bearer sim-key"}),
                     "gemini": ("/v1beta/models/gemini-2.5-flash:generateContent", {"x-goog-api-key": "sim-key"}),
                     }[provider]
    resp = httpx.post(sim.url + path, json=body, headers=headers)
    assert resp.status_code == 400 and expected in resp.text, resp.text
