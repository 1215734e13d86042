"""The dialects' translations as pure functions (app/dialects/*_wire.py): no services, no Flask.

Each inbound body is translated and then parsed by workers/services/chat_request.py exactly as a job
submit would, so what a translation builds is checked by the real parser; answers are built from
chat.completions shaped as the adapters make them (workers/providers/base.py ``completion``).
"""
from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.dialects import anthropic_wire, gemini_wire, responses_wire, translate
from tests.conftest import CORPUS
from workers.core.errors import BadRequest, FerryError
from workers.providers.base import completion
from workers.services.chat_request import parse_chat_request

HOPPER = (CORPUS / "images" / "hopper.jpg").read_bytes()
PDF = (CORPUS / "pdf" / "pdflatex-4-pages.pdf").read_bytes()


def parsed(chat: dict[str, Any]):  # type: ignore[no-untyped-def]
    return parse_chat_request(chat, max_bytes=50_000_000, max_resources=64)


def result(text: str = "Hello there, this is a longer answer to cut in pieces", finish: str = "stop",
           tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out = completion(model="gemini/gemini-2.5-flash", text=text, finish_reason=finish, prompt_tokens=12,
                     completion_tokens=7)
    if tool_calls:
        out["choices"][0]["message"]["tool_calls"] = tool_calls
    return out


def sse_data(events: list[str]) -> list[dict[str, Any]]:
    return [json.loads(e.split("data: ", 1)[1]) for e in events]


# -- model names --------------------------------------------------------------------------------

def test_bare_model_is_the_dialects_provider_and_provider_model_is_kept():
    assert translate.qualify("claude-sonnet-4-5", "anthropic") == "anthropic/claude-sonnet-4-5"
    assert translate.qualify("openai/gpt-4o", "anthropic") == "openai/gpt-4o"
    assert gemini_wire.split_target("models/anthropic/claude-sonnet-4-5:generateContent") == (
        "anthropic/claude-sonnet-4-5", "generateContent")
    assert gemini_wire.split_target("bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0:streamGenerateContent") == (
        "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0", "streamGenerateContent")
    with pytest.raises(BadRequest):
        gemini_wire.split_target("gemini-2.5-flash")


# -- Anthropic ----------------------------------------------------------------------------------

def test_anthropic_blocks_become_chat_parts_the_parser_accepts():
    chat, metadata = anthropic_wire.to_chat({
        "model": "claude-sonnet-4-5", "max_tokens": 50, "system": [{"type": "text", "text": "Be brief."}],
        "metadata": {"user_id": "u1"}, "stop_sequences": ["END"], "top_k": 5,
        "tools": [{"name": "lookup", "description": "d", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "lookup", "disable_parallel_tool_use": True},
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "see"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg",
                                             "data": base64.b64encode(HOPPER).decode()}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
                {"type": "document", "title": "r.pdf", "source": {"type": "base64", "media_type": "application/pdf",
                                                                  "data": base64.b64encode(PDF).decode()}},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain"}},
                {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "inner"}]}},
                {"type": "document", "source": {"type": "file", "file_id": "file-abc"}}]},
            {"role": "assistant", "content": [{"type": "text", "text": "calling"},
                                              {"type": "tool_use", "id": "tu_1", "name": "lookup", "input": {"q": 1}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": "42"}]}]})
    assert metadata == {"user_id": "u1"} and "top_k" not in chat
    assert chat["model"] == "anthropic/claude-sonnet-4-5" and chat["stop"] == ["END"] and chat["max_tokens"] == 50
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
    assert chat["parallel_tool_calls"] is False and chat["tools"][0]["function"]["parameters"] == {"type": "object"}
    p = parsed(chat)
    assert [m["role"] for m in p.body["messages"]] == ["system", "user", "assistant", "tool"]
    assert [(m.type, m.source_kind) for m in p.media] == [("image_url", "data"), ("image_url", "url"),
                                                          ("file", "data"), ("file", "file_id")]
    assert p.media[0].data == HOPPER and p.media[2].data == PDF and p.media[2].filename == "r.pdf"
    texts = [c["text"] for c in p.body["messages"][1]["content"] if c["type"] == "text"]
    assert texts == ["see", "plain", "inner"]
    assistant = p.body["messages"][2]
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"q": 1}
    assert p.body["messages"][3] == {"role": "tool", "tool_call_id": "tu_1", "content": "42"}


@pytest.mark.parametrize("body, param", [
    ({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]}, "max_tokens"),
    ({"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": []}, "messages"),
    ({"model": "", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}, "model"),
    ({"model": "c", "max_tokens": 5, "messages": [{"role": "system", "content": "hi"}]}, "messages[0].role"),
    ({"model": "c", "max_tokens": 5, "bogus": 1, "messages": [{"role": "user", "content": "hi"}]}, "bogus"),
    ({"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "file", "file_id": "file_011CNha8iCJcU1wXNR6q4V8w"}}]}]},
     "messages[0].content[0].source.file_id"),
    ({"model": "c", "max_tokens": 5, "tools": [{"type": "web_search_20250305", "name": "w"}],
      "messages": [{"role": "user", "content": "hi"}]}, "tools[0].type"),
])
def test_anthropic_bad_bodies_name_the_part(body, param):
    with pytest.raises(BadRequest) as exc:
        anthropic_wire.to_chat(body)
    assert exc.value.param == param


def test_anthropic_message_and_stream_events_add_up():
    call = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": 2}'}}
    message = anthropic_wire.to_message(result(finish="tool_calls", tool_calls=[call]), "job_abc")
    assert message["id"] == "msg_abc" and message["stop_reason"] == "tool_use"
    assert message["content"][1] == {"type": "tool_use", "id": "call_1", "name": "lookup", "input": {"q": 2}}
    assert message["usage"]["input_tokens"] == 12 and message["usage"]["output_tokens"] == 7
    events = list(anthropic_wire.stream_events(message))
    assert [e.split("\n")[0] for e in (events[0], events[-1])] == ["event: message_start", "event: message_stop"]
    data = sse_data(events)
    text = "".join(d["delta"]["text"] for d in data if d["type"] == "content_block_delta"
                   and d["delta"]["type"] == "text_delta")
    assert text == message["content"][0]["text"]
    partial = [d["delta"]["partial_json"] for d in data if d.get("delta", {}).get("type") == "input_json_delta"]
    assert json.loads("".join(partial)) == {"q": 2}
    assert [d for d in data if d["type"] == "message_delta"][0]["delta"]["stop_reason"] == "tool_use"


@pytest.mark.parametrize("status, kind, answered", [(400, "invalid_request_error", 400),
                                                    (401, "authentication_error", 401),
                                                    (404, "not_found_error", 404), (413, "request_too_large", 413),
                                                    (415, "invalid_request_error", 400),
                                                    (422, "invalid_request_error", 400),
                                                    (429, "rate_limit_error", 429), (502, "api_error", 502),
                                                    (504, "timeout_error", 504)])
def test_anthropic_errors(status, kind, answered):
    code, body = anthropic_wire.error(status, {"type": "fetch_error", "message": "m", "job_id": "job_1"})
    assert (code, body["type"], body["error"]["type"]) == (answered, "error", kind)
    assert body["error"]["message"] == "m" and body["error"]["ferry_type"] == "fetch_error"


# -- Gemini -------------------------------------------------------------------------------------

def test_gemini_parts_in_either_case_and_url_safe_base64():
    urlsafe = base64.urlsafe_b64encode(HOPPER).decode().rstrip("=")
    chat = gemini_wire.to_chat({
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generation_config": {"maxOutputTokens": 9, "top_p": 0.5, "stopSequences": ["x"],
                              "responseMimeType": "application/json", "responseModalities": ["TEXT", "IMAGE"]},
        "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "object"}}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}},
        "contents": [
            {"role": "user", "parts": [
                {"text": "see"}, {"inlineData": {"mime_type": "image/jpeg", "data": urlsafe}},
                {"inline_data": {"mimeType": "application/pdf", "data": base64.b64encode(PDF).decode()}},
                {"inlineData": {"mimeType": "text/plain", "data": base64.b64encode(b"notes").decode()}},
                {"fileData": {"file_uri": "gs://bucket/a.pdf", "mime_type": "application/pdf"}},
                {"file_data": {"fileUri": "https://www.youtube.com/watch?v=abc"}},
                {"fileData": {"fileUri": "https://example.com/a.png", "mimeType": "image/png"}}]},
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"a": 1}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"ok": True}}}]}]},
        "anthropic/claude-sonnet-4-5")
    assert chat["max_tokens"] == 9 and chat["top_p"] == 0.5 and chat["stop"] == ["x"]
    assert chat["response_format"] == {"type": "json_object"} and chat["modalities"] == ["text", "image"]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    p = parsed(chat)
    assert [m["role"] for m in p.body["messages"]] == ["system", "user", "assistant", "tool"]
    assert [(m.type, m.source_kind) for m in p.media] == [("image_url", "data"), ("file", "data"), ("file", "gs"),
                                                          ("video_url", "youtube"), ("image_url", "url")]
    assert p.media[0].data == HOPPER and p.media[1].data == PDF
    assert {"type": "text", "text": "notes"} in p.body["messages"][1]["content"]
    assert p.body["messages"][3]["tool_call_id"] == "f"


def test_gemini_response_stream_and_errors():
    with_image = result()
    with_image["choices"][0]["message"]["images"] = [{"type": "image_url", "image_url": {
        "url": "data:image/png;base64,iVBORw0KGgo="}, "mime": "image/png"}]
    whole = gemini_wire.to_response(with_image, "job_1")
    parts = whole["candidates"][0]["content"]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
    assert whole["usageMetadata"] == {"promptTokenCount": 12, "candidatesTokenCount": 7, "totalTokenCount": 19}
    chunks = gemini_wire.stream_chunks(with_image, "job_1")
    assert len(chunks) > 2 and "".join(c["candidates"][0]["content"]["parts"][0].get("text", "")
                                       for c in chunks) == parts[0]["text"]
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP" and "usageMetadata" not in chunks[0]
    assert gemini_wire.to_response(result(finish="length"), "j")["candidates"][0]["finishReason"] == "MAX_TOKENS"
    code, body = gemini_wire.error(422, {"type": "unprocessable_error", "message": "no", "param": "request.model"})
    assert code == 400 and body["error"]["status"] == "INVALID_ARGUMENT" and body["error"]["code"] == 400
    assert body["error"]["details"][0]["metadata"] == {"param": "request.model"}
    assert gemini_wire.error(502, {"message": "x"})[1]["error"]["status"] == "INTERNAL"
    assert gemini_wire.error(401, {"message": "x"})[1]["error"]["status"] == "UNAUTHENTICATED"


# -- OpenAI Responses ---------------------------------------------------------------------------

def test_responses_items_become_chat_messages():
    chat, metadata = responses_wire.to_chat({
        "model": "gpt-4o", "instructions": "Be brief.", "max_output_tokens": 20, "metadata": {"k": "v"},
        "text": {"format": {"type": "json_schema", "name": "s", "schema": {"type": "object"}}},
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": True}],
        "input": [
            {"role": "user", "content": [
                {"type": "input_text", "text": "see"},
                {"type": "input_image", "image_url": "data:image/jpeg;base64," + base64.b64encode(HOPPER).decode(),
                 "detail": "low"},
                {"type": "input_image", "file_id": "file-img", "detail": "auto"},
                {"type": "input_file", "filename": "a.pdf", "file_data": base64.b64encode(PDF).decode()},
                {"type": "input_file", "file_url": "https://example.com/a.pdf"},
                {"type": "input_audio", "input_audio": {"data": base64.b64encode(b"RIFF....").decode(),
                                                        "format": "wav"}}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"x": 1}'},
            {"type": "function_call_output", "call_id": "c1", "output": "done"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]}]})
    assert chat["model"] == "openai/gpt-4o" and chat["max_tokens"] == 20 and metadata == {"k": "v"}
    assert chat["response_format"]["json_schema"]["name"] == "s" and chat["tools"][0]["function"]["strict"] is True
    p = parsed(chat)
    assert [m["role"] for m in p.body["messages"]] == ["system", "user", "assistant", "tool", "assistant"]
    assert [(m.type, m.source_kind) for m in p.media] == [("image_url", "data"), ("image_url", "file_id"),
                                                          ("file", "data"), ("file", "url"), ("input_audio", "data")]
    assert p.media[0].detail == "low" and p.media[2].data == PDF and p.media[2].filename == "a.pdf"
    assert responses_wire.to_chat({"model": "anthropic/claude-sonnet-4-5", "input": "hi"})[0]["messages"] == [
        {"role": "user", "content": "hi"}]


def test_responses_response_and_stream_events():
    view = {"id": "job_abc", "status": "succeeded", "created_at": 1, "model": "openai/gpt-4o", "metadata": {}}
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    response = responses_wire.to_response(view, result(tool_calls=[call]))
    assert response["id"] == "resp_abc" and response["status"] == "completed"
    assert [o["type"] for o in response["output"]] == ["message", "function_call"]
    assert response["usage"]["total_tokens"] == 19
    data = sse_data(list(responses_wire.stream_events(response)))
    assert data[0]["type"] == "response.created" and data[-1]["type"] == "response.completed"
    assert [d["sequence_number"] for d in data] == list(range(len(data)))
    text = "".join(d["delta"] for d in data if d["type"] == "response.output_text.delta")
    assert text == response["output"][0]["content"][0]["text"]
    queued = responses_wire.to_response({**view, "status": "queued"}, None)
    assert queued["status"] == "queued" and queued["output"] == [] and queued["usage"] is None
    failed = responses_wire.to_response({**view, "status": "failed", "error": {
        "type": "fetch_error", "message": "gone", "stage": "fetch"}}, None)
    assert failed["status"] == "failed" and failed["error"]["message"] == "gone"
    assert responses_wire.to_response(view, result(finish="length"))["status"] == "incomplete"
    assert responses_wire.job_id_of("resp_abc") == "job_abc" and responses_wire.job_id_of("job_abc") is None


# -- anything in, a clear 400 or a body the parser takes -----------------------------------------
# Valid bodies of each dialect with one value anywhere in them replaced by arbitrary JSON.

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=8)
B64 = base64.b64encode(b"GIF89a").decode()
VALID = {
    "anthropic": {"model": "c", "max_tokens": 5, "system": [{"type": "text", "text": "s"}], "metadata": {"u": 1},
                  "stop_sequences": ["x"], "temperature": 0.1, "tool_choice": {"type": "auto"},
                  "tools": [{"name": "f", "description": "d", "input_schema": {"type": "object"}}],
                  "messages": [{"role": "user", "content": [
                      {"type": "text", "text": "t"},
                      {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": B64}},
                      {"type": "document", "title": "x", "source": {"type": "url", "url": "https://e.com/a.pdf"}},
                      {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "i"}]}}]},
                      {"role": "assistant", "content": [{"type": "text", "text": "a"},
                                                        {"type": "tool_use", "id": "1", "name": "f", "input": {}}]},
                      {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "1", "content": [
                          {"type": "text", "text": "r"}], "is_error": False}]}]},
    "responses": {"model": "m", "instructions": "i", "max_output_tokens": 5, "metadata": {"k": "v"},
                  "text": {"format": {"type": "json_schema", "name": "n", "schema": {}}}, "tool_choice": "auto",
                  "tools": [{"type": "function", "name": "f", "parameters": {}}], "reasoning": {"effort": "low"},
                  "input": [{"role": "user", "content": [
                      {"type": "input_text", "text": "t"}, {"type": "input_image", "image_url": "https://e.com/a.png"},
                      {"type": "input_file", "file_data": B64, "filename": "a"},
                      {"type": "input_audio", "input_audio": {"data": B64, "format": "wav"}}]},
                      {"type": "function_call", "call_id": "1", "name": "f", "arguments": "{}"},
                      {"type": "function_call_output", "call_id": "1", "output": "o"}]},
    "gemini": {"systemInstruction": {"parts": [{"text": "s"}]},
               "generationConfig": {"temperature": 0.1, "stopSequences": ["x"], "responseModalities": ["TEXT"]},
               "tools": [{"functionDeclarations": [{"name": "f", "parameters": {}}]}],
               "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}},
               "contents": [{"role": "user", "parts": [
                   {"text": "t"}, {"inlineData": {"mimeType": "image/gif", "data": B64}},
                   {"inlineData": {"mimeType": "text/plain", "data": B64}},
                   {"fileData": {"fileUri": "gs://b/a.pdf", "mimeType": "application/pdf"}}]},
                   {"role": "model", "parts": [{"text": "a"}, {"functionCall": {"name": "f", "args": {}}}]},
                   {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}]},
}


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:  # type: ignore[type-arg]
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


def _replaced(body: Any, path: tuple, value: Any) -> Any:  # type: ignore[type-arg]
    if not path:
        return value
    copy = json.loads(json.dumps(body))
    node = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copy


def _translate_and_parse(kind: str, body: Any) -> None:
    try:
        if kind == "anthropic":
            chat, _ = anthropic_wire.to_chat(body)
        elif kind == "responses":
            chat, _ = responses_wire.to_chat(body)
        else:
            chat = gemini_wire.to_chat(body, "gemini/g")
        parsed(chat)
    except FerryError as exc:
        assert exc.status in (400, 413) and exc.message and exc.param is not None


@pytest.mark.parametrize("kind", sorted(VALID))
def test_the_valid_bodies_translate(kind):
    _translate_and_parse(kind, VALID[kind])
    assert len(parsed(anthropic_wire.to_chat(VALID["anthropic"])[0]).media) == 2


@pytest.mark.parametrize("kind", sorted(VALID))
@settings(max_examples=300, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data(), value=JSON)
def test_any_value_anywhere_is_translated_or_refused_with_a_400(kind, data, value):
    paths = _paths(VALID[kind])
    path = data.draw(st.sampled_from(paths))
    _translate_and_parse(kind, _replaced(VALID[kind], path, value))
