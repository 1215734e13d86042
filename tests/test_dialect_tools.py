"""Tool use through the dialects, with the official SDKs unchanged: the anthropic SDK's tool_use ->
tool_result and google-genai's function calling, each to several providers (the simulators call a tool
when the last user turn says ``call <name> {args}``: app/simulators/tools.py).
"""
from __future__ import annotations

from collections.abc import Iterator

import anthropic
import openai
import pytest
from google import genai
from google.genai import types

from app.simulators.server import SimServer

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
ASK = 'Weather? call get_weather {"city": "Paris"}'


@pytest.fixture(scope="module")
def ferry_url(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with SimServer(app) as server:
        yield server.url


@pytest.mark.parametrize("model, provider", [("claude-sonnet-4-5", "anthropic"), ("openai/gpt-4o", "openai"),
                                             ("gemini/gemini-2.5-flash", "gemini"),
                                             ("bedrock/amazon.nova-pro-v1:0", "bedrock")])
def test_anthropic_sdk_tool_use_then_tool_result(ferry_url, model, provider):
    sdk = anthropic.Anthropic(base_url=ferry_url, api_key="ferry-local-key", max_retries=0, timeout=60)
    tools = [{"name": "get_weather", "description": "Weather in a city", "input_schema": SCHEMA}]
    messages: list = [{"role": "user", "content": ASK}]
    first = sdk.messages.create(model=model, max_tokens=100, tools=tools, messages=messages)
    assert first.stop_reason == "tool_use"
    [use] = [b for b in first.content if b.type == "tool_use"]
    assert use.name == "get_weather" and use.input == {"city": "Paris"} and use.id
    messages += [{"role": "assistant", "content": first.content},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "21 C, clear"}]}]
    second = sdk.messages.create(model=model, max_tokens=100, tools=tools, messages=messages)
    assert second.stop_reason == "end_turn"
    text = second.content[0].text
    assert text.startswith(f"sim:{provider}") and "get_weather(" in text and "21 C, clear" in text, text


@pytest.mark.parametrize("model, provider", [("gemini-2.5-flash", "gemini"), ("anthropic/claude-sonnet-4-5", "anthropic"),
                                             ("openai/gpt-4o", "openai"), ("cohere/command-a-03-2025", "cohere")])
def test_google_genai_function_call_then_function_response(ferry_url, model, provider):
    sdk = genai.Client(api_key="ferry-local-key", http_options=types.HttpOptions(base_url=ferry_url))
    weather = types.FunctionDeclaration(name="get_weather", description="Weather in a city",
                                        parameters_json_schema=SCHEMA)
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[weather])])
    contents: list = [types.Content(role="user", parts=[types.Part.from_text(text=ASK)])]
    first = sdk.models.generate_content(model=model, contents=contents, config=config)
    [call] = first.function_calls
    assert call.name == "get_weather" and call.args == {"city": "Paris"}
    contents += [first.candidates[0].content,  # the model turn as the SDK hands it back (its call id included)
                 types.Content(role="user", parts=[types.Part.from_function_response(  # by name only, as usual
                     name="get_weather", response={"temp_c": 21})])]
    second = sdk.models.generate_content(model=model, contents=contents, config=config)
    assert second.text.startswith(f"sim:{provider}") and '"temp_c": 21' in second.text, second.text
    assert not second.function_calls


def test_responses_function_call_then_output(ferry_url):
    sdk = openai.OpenAI(base_url=ferry_url + "/v1", api_key="ferry-local-key", max_retries=0, timeout=60)
    tools = [{"type": "function", "name": "get_weather", "parameters": SCHEMA}]
    first = sdk.responses.create(model="anthropic/claude-sonnet-4-5", input=ASK, tools=tools)
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and call.arguments and '"Paris"' in call.arguments
    second = sdk.responses.create(model="anthropic/claude-sonnet-4-5", tools=tools, input=[
        {"role": "user", "content": ASK}, call,
        {"type": "function_call_output", "call_id": call.call_id, "output": "21 C"}])
    assert "21 C" in second.output_text and second.output_text.startswith("sim:anthropic")


def test_responses_default_tool_fields_without_tools_are_dropped_and_gemini_responses_match_by_name():
    from app.dialects import gemini_wire, responses_wire
    from workers.services.chat_request import parse_chat_request

    chat, _ = responses_wire.to_chat({"model": "openai/gpt-4o", "input": "hi", "tool_choice": "auto",
                                      "parallel_tool_calls": True})
    assert "tool_choice" not in chat and "parallel_tool_calls" not in chat
    parse_chat_request(chat, max_bytes=1000, max_resources=1)  # no 400 for the defaults
    two = gemini_wire.to_chat({"contents": [
        {"role": "user", "parts": [{"text": "x"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}, {"functionCall": {"name": "f"}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"a": 1}}},
                                   {"functionResponse": {"name": "f", "response": {"a": 2}}}]}],
        "tools": [{"functionDeclarations": [{"name": "f"}]}]}, "gemini/gemini-2.5-flash")
    calls = [c["id"] for c in two["messages"][1]["tool_calls"]]
    assert calls == ["f", "f_2"] and [m["tool_call_id"] for m in two["messages"][2:]] == calls
    parse_chat_request(two, max_bytes=1000, max_resources=1)  # every call answered once


@pytest.mark.parametrize("model, provider", [("claude-sonnet-4-5", "anthropic"), ("gemini/gemini-2.5-flash", "gemini"),
                                             ("openai/gpt-4o", "openai")])
def test_a_tool_result_with_an_image_goes_through_the_media_pipeline(ferry_url, model, provider):
    import base64

    from tests.conftest import CORPUS

    png = base64.b64encode((CORPUS / "images" / "hopper.png").read_bytes()).decode()
    sdk = anthropic.Anthropic(base_url=ferry_url, api_key="ferry-local-key", max_retries=0, timeout=60)
    tools = [{"name": "screenshot", "input_schema": {"type": "object"}}]
    message = sdk.messages.create(model=model, max_tokens=50, tools=tools, messages=[
        {"role": "user", "content": "call screenshot"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_s1", "name": "screenshot", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_s1", "content": [
            {"type": "text", "text": "the screen"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}}]}]}])
    text = message.content[0].text
    assert text.startswith(f"sim:{provider}") and "the screen" in text and "screenshot(" in text, text
    assert "image/" in text  # the picture was fetched, inspected, delivered beside the result
