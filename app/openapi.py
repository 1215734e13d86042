"""``GET /openapi.json``: every endpoint Ferry serves, as OpenAPI 3.1.

Written by hand next to the routes (small, and the schemas say what Ferry promises rather
than what a generator guesses); tests/test_metrics_openapi.py checks that every Flask
route is described and runs schemathesis against it looking for 5xx answers.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

bp = Blueprint("openapi", __name__)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERR = _json(_ref("Error"), "Error")


def _errors(*codes: int) -> dict[str, Any]:
    names = {400: "Malformed request", 401: "Missing or unknown bearer key", 404: "Not found for this tenant",
             409: "Conflict", 413: "Too large", 415: "Unsupported media", 422: "Valid but cannot be served",
             502: "Upstream provider failed", 504: "Still running after FERRY_CHAT_TIMEOUT"}
    return {str(c): {**_ERR, "description": names.get(c, "Error")} for c in codes}


def _id_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["type", "message"],
        "properties": {"type": {"type": "string"}, "message": {"type": "string"},
                       "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]},
                       "stage": {"type": "string"}, "job_id": {"type": "string"}}}}},
    "ChatRequest": {
        "type": "object", "required": ["model", "messages"], "additionalProperties": True,
        "description": "An OpenAI chat.completions body; model is provider/model (e.g. openai/gpt-4o).",
        "properties": {
            "model": {"type": "string", "examples": ["openai/gpt-4o"]},
            "messages": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["role"],
                "properties": {"role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool"]},
                               "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}},
                                                     {"type": "null"}]},
                               "tool_calls": {"type": "array", "items": {"type": "object"}},
                               "tool_call_id": {"type": "string"}}}},
            "stream": {"type": "boolean"},
            "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
            "max_tokens": {"type": "integer"},
            "tools": {"type": "array", "items": {"type": "object"}, "description": "function tools (README: Tool calling)"},
            "tool_choice": {"anyOf": [{"type": "string", "enum": ["none", "auto", "required"]}, {"type": "object"}]},
            "parallel_tool_calls": {"type": "boolean"},
            "ferry": {"type": "object", "description": "Ferry job fields: dry_run, delivery, options, webhook, metadata"},
        }},
    "JobCreate": {
        "type": "object", "required": ["request"], "additionalProperties": False,
        "properties": {
            "request": _ref("ChatRequest"),
            "webhook": {"type": "object", "required": ["url"], "properties": {"url": {"type": "string"}}},
            "delivery": {"type": "object", "properties": {"prefer": {"type": "string",
                                                                     "enum": ["inline", "url", "file", "storage"]}}},
            "dry_run": {"type": "boolean"},
            "metadata": {"type": "object"},
            "options": {"type": "object"},
        }},
    "Job": {"type": "object", "required": ["id", "object", "status"], "properties": {
        "id": {"type": "string"}, "object": {"const": "job"},
        "status": {"type": "string", "enum": ["queued", "running", "succeeded", "failed", "canceled"]},
        "stage": {"type": ["string", "null"]}, "progress": {"type": "number"}, "model": {"type": "string"},
        "submitted_at": {"type": "number", "description": "unix seconds, to the millisecond: the timeline's "
                                                          "entries ('at') are read against it"},
        "status_detail": {"type": "string", "description": "what a running job waits for (a native batch line: "
                                                           "its provider batch), or what answered it"},
        "resources": {"type": "array", "items": {"type": "object"}}, "provider_request": {"type": "object"},
        "delivery_plan": {"type": "array", "items": {"type": "object"}}, "usage_estimate": {"type": "object"},
        "result": _ref("ChatCompletion"), "error": {"type": "object"},
        "webhook": {"type": "object", "properties": {"url": {"type": "string"},
                                                     "attempts": {"type": "array", "items": {"type": "object"}}}}}},
    "ChatCompletion": {"type": "object", "properties": {
        "id": {"type": "string"}, "object": {"const": "chat.completion"}, "created": {"type": "integer"},
        "model": {"type": "string"}, "choices": {"type": "array", "items": {"type": "object"}},
        "usage": {"type": "object"}}},
    "ImagesRequest": {
        "type": "object", "required": ["model", "prompt"],
        "description": "OpenAI's images.generate body; model is provider/model with image output "
                       "(openai/gpt-image-1, gemini/gemini-2.5-flash-image).",
        "properties": {
            "model": {"type": "string", "examples": ["openai/gpt-image-1"]}, "prompt": {"type": "string"},
            "n": {"type": "integer", "minimum": 1, "maximum": 10}, "size": {"type": "string"},
            "quality": {"type": "string"}, "background": {"type": "string"}, "output_format": {"type": "string"},
            "output_compression": {"type": "integer", "minimum": 0, "maximum": 100},
            "response_format": {"type": "string", "enum": ["url", "b64_json"],
                                "description": "url (default): a Ferry file URL (or presigned storage URL)"},
            "user": {"type": "string"},
            "ferry": {"type": "object", "description": "Ferry job fields: dry_run, options, webhook, metadata"}}},
    "ImagesResponse": {"type": "object", "required": ["created", "data"], "properties": {
        "created": {"type": "integer"},
        "data": {"type": "array", "items": {"type": "object", "properties": {
            "url": {"type": "string"}, "b64_json": {"type": "string"}, "revised_prompt": {"type": "string"},
            "file_id": {"type": "string"}}}},
        "usage": {"type": "object", "properties": {
            "input_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"},
            "total_tokens": {"type": "integer"}, "input_tokens_details": {"type": "object"},
            "output_tokens_details": {"type": "object"}}}}},
    "FileObject": {"type": "object", "required": ["id", "object", "bytes", "created_at", "filename", "purpose"],
                   "properties": {"id": {"type": "string"}, "object": {"const": "file"}, "bytes": {"type": "integer"},
                                  "created_at": {"type": "integer"}, "filename": {"type": "string"},
                                  "purpose": {"type": "string"}, "status": {"type": "string"}}},
    "FileUpload": {"type": "object", "required": ["file", "purpose"], "properties": {
        "file": {"type": "string", "format": "binary"},
        "purpose": {"type": "string", "enum": ["batch", "user_data", "vision"]}}},
    "FileDeleted": {"type": "object", "properties": {"id": {"type": "string"}, "object": {"const": "file"},
                                                     "deleted": {"type": "boolean"}}},
    "BatchCreate": {"type": "object", "required": ["input_file_id", "endpoint", "completion_window"], "properties": {
        "input_file_id": {"type": "string"}, "endpoint": {"type": "string", "enum": ["/v1/chat/completions"]},
        "completion_window": {"type": "string", "enum": ["24h"]},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "webhook": {"type": "object", "required": ["url"], "properties": {"url": {"type": "string"}}}}},
    "Batch": {"type": "object", "required": ["id", "object", "status"], "properties": {
        "id": {"type": "string"}, "object": {"const": "batch"}, "endpoint": {"type": "string"},
        "input_file_id": {"type": "string"}, "completion_window": {"type": "string"},
        "status": {"type": "string", "enum": ["validating", "in_progress", "finalizing", "completed", "failed",
                                               "expired", "cancelling", "cancelled"]},
        "output_file_id": {"type": ["string", "null"]}, "error_file_id": {"type": ["string", "null"]},
        "request_counts": {"type": "object", "properties": {"total": {"type": "integer"},
                                                            "completed": {"type": "integer"},
                                                            "failed": {"type": "integer"}}}}},
    "Model": {"type": "object", "required": ["id", "object", "created", "owned_by"], "properties": {
        "id": {"type": "string"}, "object": {"const": "model"}, "created": {"type": "integer"},
        "owned_by": {"type": "string"},
        "architecture": {"type": "object", "properties": {
            "input_modalities": {"type": "array", "items": {"type": "string"}},
            "output_modalities": {"type": "array", "items": {"type": "string"}},
            "features": {"type": "array", "items": {"type": "string"}}}},
        "limits": {"type": "object"}, "delivery": {"type": "object"}}},
}


def _list_of(name: str) -> dict[str, Any]:
    return {"type": "object", "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": _ref(name)},
                                            "has_more": {"type": "boolean"}}}


def spec() -> dict[str, Any]:
    job_id = _id_param("job_id", "A job id (job_...)")
    file_id = _id_param("file_id", "A Ferry file id (file-...)")
    batch_id = _id_param("batch_id", "A batch id (batch_...)")
    paths: dict[str, Any] = {
        "/healthz": {"get": {"summary": "Readiness: Redis and storage", "security": [],
                             "responses": {"200": _json({"type": "object"}), "503": _json({"type": "object"}, "Degraded")}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "security": [], "responses": {
            "200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/openapi.json": {"get": {"summary": "This document", "security": [],
                                  "responses": {"200": _json({"type": "object"})}}},
        "/v1/jobs": {"post": {
            "summary": "Submit a job", "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                                       "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("JobCreate")}}},
            "responses": {"202": _json(_ref("Job"), "Queued"), "200": _json(_ref("Job"), "Idempotent replay"),
                          **_errors(400, 401, 409, 413, 415, 422)}}},
        "/v1/jobs/{job_id}": {
            "get": {"summary": "Poll a job", "parameters": [job_id, _query(
                "include", {"type": "string", "enum": ["b64"]},
                "b64: generated media in the result as base64 instead of URLs"), _query(
                "wait", {"type": "number", "minimum": 0, "maximum": 60},
                "long poll: answer as soon as the job ends, or after this many seconds")],
                    "responses": {"200": _json(_ref("Job")), **_errors(400, 401, 404)}},
            "delete": {"summary": "Cancel a job (idempotent)", "parameters": [job_id],
                       "responses": {"200": _json(_ref("Job")), **_errors(401, 404)}}},
        "/v1/chat/completions": {"post": {
            "summary": "OpenAI-compatible chat completion: runs a job and waits (stream: true answers SSE)",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ChatRequest")}}},
            "responses": {"200": {"description": "A chat.completion, or SSE chat.completion.chunk events",
                                  "content": {"application/json": {"schema": _ref("ChatCompletion")},
                                              "text/event-stream": {"schema": {"type": "string"}}}},
                          **_errors(400, 401, 409, 413, 415, 422, 502, 504)}}},
        "/v1/images/generations": {"post": {
            "summary": "OpenAI-compatible image generation: runs a job and waits; images are stored as Ferry files",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ImagesRequest")}}},
            "responses": {"200": _json(_ref("ImagesResponse")), **_errors(400, 401, 409, 413, 422, 502, 504)}}},
        "/v1/files": {
            "post": {"summary": "Upload a file (purpose batch, user_data or vision)",
                     "requestBody": {"required": True,
                                     "content": {"multipart/form-data": {"schema": _ref("FileUpload")}}},
                     "responses": {"200": _json(_ref("FileObject")), **_errors(400, 401, 413)}},
            "get": {"summary": "List files", "parameters": [
                _query("purpose", {"type": "string"}, "Only files with this purpose"),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 10000}, "Page size"),
                _query("after", {"type": "string"}, "Cursor: the last id of the previous page"),
                _query("order", {"type": "string", "enum": ["asc", "desc"]}, "By created_at")],
                "responses": {"200": _json(_list_of("FileObject")), **_errors(400, 401, 404)}}},
        "/v1/files/{file_id}": {
            "get": {"summary": "A file's metadata", "parameters": [file_id],
                    "responses": {"200": _json(_ref("FileObject")), **_errors(401, 404)}},
            "delete": {"summary": "Delete a file", "parameters": [file_id],
                       "responses": {"200": _json(_ref("FileDeleted")), **_errors(401, 404)}}},
        "/v1/files/{file_id}/content": {"get": {"summary": "A file's bytes", "parameters": [file_id], "responses": {
            "200": {"description": "The file", "content": {"application/octet-stream": {"schema": {
                "type": "string", "format": "binary"}}}}, **_errors(401, 404)}}},
        "/v1/batches": {
            "post": {"summary": "Create a batch (OpenAI Batch API)",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("BatchCreate")}}},
                     "responses": {"200": _json(_ref("Batch")), **_errors(400, 401, 404)}},
            "get": {"summary": "List batches, newest first", "parameters": [
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 100}, "Page size"),
                _query("after", {"type": "string"}, "Cursor: the last id of the previous page")],
                "responses": {"200": _json(_list_of("Batch")), **_errors(400, 401, 404)}}},
        "/v1/batches/{batch_id}": {"get": {"summary": "A batch", "parameters": [batch_id],
                                           "responses": {"200": _json(_ref("Batch")), **_errors(401, 404)}}},
        "/v1/batches/{batch_id}/cancel": {"post": {
            "summary": "Cancel a batch (a finished one is answered as it is)", "parameters": [batch_id],
            "responses": {"200": _json(_ref("Batch")), **_errors(401, 404)}}},
        "/v1/models": {"get": {"summary": "The capability catalog", "parameters": [
            _query("supported_parameters", {"type": "string"}, "Features, comma-separated: vision, audio_input, pdf, "
                                                                "video, file_upload"),
            _query("output_modalities", {"type": "string"}, "text, image, audio"),
            _query("input_modalities", {"type": "string"}, "text, image, file, audio, video"),
            _query("provider", {"type": "string"}, "openai, anthropic, gemini, ...")],
            "responses": {"200": _json(_list_of("Model")), **_errors(401)}}},
        "/v1/models/{model_id}": {"get": {"summary": "One model (provider/model)",
                                          "parameters": [_id_param("model_id", "provider/model")],
                                          "responses": {"200": _json(_ref("Model")), **_errors(401, 404)}}},
    }
    from app.ui.openapi_paths import ui_paths  # the browser UI (issue 16)

    paths.update(ui_paths())
    return {
        "openapi": "3.1.0",
        "info": {"title": "Ferry", "version": "1",
                 "description": "Media preprocessing and delivery for every LLM provider; OpenAI-compatible "
                                "chat, files, batches and models."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": SCHEMAS},
        "paths": paths,
    }


@bp.get("/openapi.json")
def openapi():  # type: ignore[no-untyped-def]
    from app.dialects.spec import (
        merge,  # Anthropic Messages, Gemini generateContent, OpenAI Responses
    )

    return jsonify(merge(spec()))
