"""The dialects' routes for ``/openapi.json`` (app/openapi.py merges them in)."""
from __future__ import annotations

from typing import Any


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _sse_or_json(ref: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}},
                                                    "text/event-stream": {"schema": {"type": "string"}}}}


def _errors(schema: str, *codes: int) -> dict[str, Any]:
    return {str(c): _json({"$ref": f"#/components/schemas/{schema}"}, "Error") for c in codes}


SCHEMAS: dict[str, Any] = {
    "AnthropicMessagesRequest": {
        "type": "object", "required": ["model", "messages"], "additionalProperties": True,
        "description": "Anthropic's Messages body; model is a bare Anthropic model or provider/model.",
        "properties": {"model": {"type": "string", "examples": ["claude-sonnet-4-5", "openai/gpt-4o"]},
                       "max_tokens": {"type": "integer", "minimum": 1},
                       "messages": {"type": "array", "items": {"type": "object"}},
                       "system": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
                       "stream": {"type": "boolean"}, "metadata": {"type": "object"},
                       "stop_sequences": {"type": "array", "items": {"type": "string"}},
                       "tools": {"type": "array", "items": {"type": "object"}}, "tool_choice": {"type": "object"},
                       "ferry": {"type": "object", "description": "Ferry job fields: dry_run, delivery, options, "
                                                                  "webhook, metadata"}}},
    "AnthropicMessage": {"type": "object", "required": ["id", "type", "role", "content"], "properties": {
        "id": {"type": "string"}, "type": {"const": "message"}, "role": {"const": "assistant"},
        "model": {"type": "string"}, "content": {"type": "array", "items": {"type": "object"}},
        "stop_reason": {"type": ["string", "null"]},
        "usage": {"type": "object", "properties": {"input_tokens": {"type": "integer"},
                                                   "output_tokens": {"type": "integer"}}}}},
    "AnthropicError": {"type": "object", "required": ["type", "error"], "properties": {
        "type": {"const": "error"}, "error": {"type": "object", "required": ["type", "message"], "properties": {
            "type": {"type": "string"}, "message": {"type": "string"}}}}},
    "GenerateContentRequest": {
        "type": "object", "additionalProperties": True,
        "description": "Gemini's generateContent body (camelCase or snake_case fields).",
        "properties": {"contents": {"type": "array", "items": {"type": "object"}},
                       "systemInstruction": {"type": "object"}, "generationConfig": {"type": "object"},
                       "tools": {"type": "array", "items": {"type": "object"}}, "ferry": {"type": "object"}}},
    "GenerateContentResponse": {"type": "object", "properties": {
        "candidates": {"type": "array", "items": {"type": "object"}}, "usageMetadata": {"type": "object"},
        "modelVersion": {"type": "string"}, "responseId": {"type": "string"}}},
    "GoogleError": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "status"], "properties": {
            "code": {"type": "integer"}, "message": {"type": "string"}, "status": {"type": "string"}}}}},
    "ResponsesRequest": {
        "type": "object", "required": ["model", "input"], "additionalProperties": True,
        "description": "OpenAI's Responses body; model is a bare OpenAI model or provider/model.",
        "properties": {"model": {"type": "string", "examples": ["gpt-4o", "anthropic/claude-sonnet-4-5"]},
                       "input": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
                       "instructions": {"type": "string"}, "max_output_tokens": {"type": "integer"},
                       "background": {"type": "boolean"}, "stream": {"type": "boolean"},
                       "metadata": {"type": "object"}, "ferry": {"type": "object"}}},
    "Response": {"type": "object", "required": ["id", "object", "status"], "properties": {
        "id": {"type": "string"}, "object": {"const": "response"},
        "status": {"type": "string", "enum": ["queued", "in_progress", "completed", "incomplete", "failed",
                                               "cancelled"]},
        "model": {"type": "string"}, "output": {"type": "array", "items": {"type": "object"}},
        "usage": {"type": ["object", "null"]}, "error": {"type": ["object", "null"]}}},
}


def paths() -> dict[str, Any]:
    gemini_post = {
        "summary": "Gemini generateContent / streamGenerateContent (?alt=sse) / countTokens: model_id is "
                   "{model}:{method}, the model bare (Gemini's) or provider/model",
        "security": [{"goog_api_key": []}, {"goog_key_query": []}, {"bearer": []}],
        "parameters": [{"name": "model_id", "in": "path", "required": True, "schema": {"type": "string"},
                        "description": "e.g. gemini-2.5-flash:generateContent, anthropic/claude-sonnet-4-5:"
                                       "streamGenerateContent"},
                       {"name": "alt", "in": "query", "required": False, "schema": {"type": "string", "enum": ["sse"]},
                        "description": "sse: streamGenerateContent answers Server-Sent Events"}],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/GenerateContentRequest"}}}},
        "responses": {"200": _sse_or_json("#/components/schemas/GenerateContentResponse",
                                          "A GenerateContentResponse (a list of them, or SSE, when streamed)"),
                      **_errors("GoogleError", 400, 401, 404, 409, 500, 504)}}
    resp_id = {"name": "resp_id", "in": "path", "required": True, "schema": {"type": "string"},
               "description": "A response id (resp_…; its job is job_…)"}
    return {
        "/v1/messages": {"post": {
            "summary": "Anthropic Messages: runs a job and waits (stream: true answers Anthropic's SSE events)",
            "security": [{"anthropic_key": []}, {"bearer": []}],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/AnthropicMessagesRequest"}}}},
            "responses": {"200": _sse_or_json("#/components/schemas/AnthropicMessage", "An Anthropic message"),
                          **_errors("AnthropicError", 400, 401, 404, 409, 413, 502, 504)}}},
        "/v1/messages/count_tokens": {"post": {
            "summary": "Anthropic count_tokens: input tokens after Ferry's transforms (a dry-run job)",
            "security": [{"anthropic_key": []}, {"bearer": []}],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/AnthropicMessagesRequest"}}}},
            "responses": {"200": _json({"type": "object", "properties": {"input_tokens": {"type": "integer"}}}),
                          **_errors("AnthropicError", 400, 401, 413, 504)}}},
        "/v1beta/models/{model_id}": {"post": gemini_post},
        "/v1/models/{model_id}": {"post": gemini_post},
        "/v1/responses": {"post": {
            "summary": "OpenAI Responses: runs a job and waits (stream: SSE events; background: true answers "
                       "queued at once)",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/ResponsesRequest"}}}},
            "responses": {"200": _sse_or_json("#/components/schemas/Response", "A response"),
                          **_errors("Error", 400, 401, 409, 413, 415, 422, 502, 504)}}},
        "/v1/responses/{resp_id}": {"get": {
            "summary": "Poll a response (its job); ?wait= long-polls up to 60 s", "parameters": [
                resp_id, {"name": "wait", "in": "query", "required": False,
                          "schema": {"type": "integer", "minimum": 0, "maximum": 60}}],
            "responses": {"200": _json({"$ref": "#/components/schemas/Response"}), **_errors("Error", 400, 401, 404)}}},
        "/v1/responses/{resp_id}/cancel": {"post": {
            "summary": "Cancel a response (its job; idempotent)", "parameters": [resp_id],
            "responses": {"200": _json({"$ref": "#/components/schemas/Response"}), **_errors("Error", 401, 404)}}},
    }


SECURITY_SCHEMES: dict[str, Any] = {
    "anthropic_key": {"type": "apiKey", "in": "header", "name": "x-api-key"},
    "goog_api_key": {"type": "apiKey", "in": "header", "name": "x-goog-api-key"},
    "goog_key_query": {"type": "apiKey", "in": "query", "name": "key"},
}


def merge(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with the dialects' paths, schemas and key schemes added (a path already there, like
    ``/v1/models/{model_id}``'s GET, keeps its operations)."""
    for path, ops in paths().items():
        spec["paths"].setdefault(path, {}).update(ops)
    spec["components"]["schemas"].update(SCHEMAS)
    spec["components"]["securitySchemes"].update(SECURITY_SCHEMES)
    return spec
