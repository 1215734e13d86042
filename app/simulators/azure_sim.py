"""Azure OpenAI simulator: chat completions on deployments, and the Files API, as strict as Azure.

Paths and auth as openai-python's ``AzureOpenAI`` calls them (src/openai/lib/azure.py):
``POST /openai/deployments/{deployment}/chat/completions?api-version=…`` and ``POST/GET/DELETE
/openai/files[/{id}]?api-version=…`` with the key in an ``api-key`` header. Content parts are read by the
OpenAI simulator's rules (``openai_sim._read_part``), then Azure's own limits apply
(https://learn.microsoft.com/en-us/azure/ai-foundry/openai/concepts/gpt-with-vision: 20 MB per image,
10 images per chat call).

Azure's answers (public bug reports quote each): no ``api-version`` or an unknown one is 404 ``{"error":
{"code": "404", "message": "Resource not found"}}`` (MicrosoftDocs/azure-docs#114602); a wrong key 401
"Access denied due to invalid subscription key or wrong API endpoint…"; an unknown deployment 404
``DeploymentNotFound``; the content filter 400 ``code: content_filter`` with ``innererror {code:
ResponsibleAIPolicyViolation, content_filter_result}`` (compl-ai/compl-ai#20), or, for a filtered
completion, 200 with ``finish_reason: content_filter`` and ``content_filter_results``. The simulator's
filter fires on the marker texts :data:`BLOCK_PROMPT` / :data:`BLOCK_COMPLETION` so tests can trigger it.
Uploaded files are ``pending`` until first read back, then ``processed`` (Azure's File object ``status``).
"""
from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, request

from .chatlike import STREAM_UNSUPPORTED
from .common import Part, completion_tokens, content_items, describe, prompt_tokens, request_id
from .controls import SimReject, discard_body, install_controls, record_parts
from .files import FileStore, StoredFile
from .media import inspect_lenient, sniff
from .openai_sim import _check_token_param, _read_part
from .openai_wire import json_object

DEPLOYMENTS = {"gpt-4o": "gpt-4o-2024-11-20", "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
               "prod-vision": "gpt-4o-2024-11-20", "gpt-5-mini": "gpt-5-mini-2025-08-07"}
#: GA (2024-10-21, 2024-06-01, …) and preview (2025-04-01-preview, …) versions.
API_VERSION = re.compile(r"^20\d\d-\d\d-\d\d(-preview)?$")
MAX_IMAGES = 10
MAX_IMAGE_BYTES = 20_971_520
MAX_BODY = 50 * 1024 * 1024
PURPOSES = ("assistants", "batch", "fine-tune", "evals")
BLOCK_PROMPT = "FERRY-SIM-BLOCK-PROMPT"
BLOCK_COMPLETION = "FERRY-SIM-BLOCK-COMPLETION"
_SAFE = {"filtered": False, "severity": "safe"}
_FILTERED = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": {"filtered": True, "severity": "medium"}}


class FilterReject(SimReject):
    """The content filter's 400, with its ``innererror``."""

    def __init__(self) -> None:
        super().__init__(400, "The response was filtered due to the prompt triggering Azure OpenAI's content "
                         "management policy. Please modify your prompt and retry. To learn more about our content "
                         "filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid="
                         "2198766", param="prompt", code="content_filter")
        self.innererror = {"code": "ResponsibleAIPolicyViolation",
                           "content_filter_result": {**_FILTERED, "jailbreak": {"filtered": False, "detected": False}}}


def render_error(exc: SimReject) -> Response:
    err: dict[str, Any] = {"code": exc.code or str(exc.status), "message": exc.message}
    if exc.param or exc.kind:
        err.update(param=exc.param, type=exc.kind)
    if isinstance(exc, FilterReject):
        err.update(type=None, status=400, innererror=exc.innererror)
    return jsonify({"error": err})


def create_app(api_key: str = "sim-key", deployments: Mapping[str, str] | None = None) -> Flask:
    app = Flask("azure_sim")
    state = install_controls(app, "azure", render_error)
    files = FileStore("file-")
    state.reset_hooks.append(files.clear)
    served = dict(deployments if deployments is not None else DEPLOYMENTS)

    def check() -> None:
        if not API_VERSION.match(request.args.get("api-version", "")):
            raise SimReject(404, "Resource not found")
        if request.headers.get("api-key") != api_key:
            raise SimReject(401, "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
                            "provide a valid key for an active subscription and use a correct regional API "
                            "endpoint for your resource.")

    @app.post("/openai/deployments/<deployment>/chat/completions")
    def chat(deployment: str) -> Response:
        check()
        if (request.content_length or 0) > MAX_BODY:
            discard_body()
            raise SimReject(413, f"Request body of {request.content_length} bytes is too large", code="413")
        if deployment not in served:
            raise SimReject(404, "The API deployment for this resource does not exist. If you created the deployment "
                            "within the last 5 minutes, please wait a moment and try again.", code="DeploymentNotFound")
        raw, body = json_object()
        if body.get("stream"):
            raise SimReject(400, STREAM_UNSUPPORTED, "invalid_request_error", param="stream")
        model = served[deployment]
        parts: list[Part] = []
        record_parts(parts, deployment)
        _check_token_param(body, model)
        for path, item in content_items(body.get("messages")):
            part = _read_part(path, item, files)
            if part.kind == "image" and part.media is not None and part.media.size > MAX_IMAGE_BYTES:
                raise SimReject(400, f"The image size must be greater than zero and cannot exceed {MAX_IMAGE_BYTES} "
                                "bytes.", "invalid_request_error", param=path)
            parts.append(part)
        texts = " ".join(p.text or "" for p in parts if p.kind == "text")
        if BLOCK_PROMPT in texts:
            raise FilterReject()
        images = sum(1 for p in parts if p.kind == "image")
        if images > MAX_IMAGES:  # documented limit; the exact wording of Azure's 400 is not
            raise SimReject(400, f"Too many images in request: {images}. The maximum is {MAX_IMAGES} images per "
                            "chat request.", "invalid_request_error", param="messages")
        text = describe("azure", deployment, parts)
        blocked = BLOCK_COMPLETION in texts
        choice: dict[str, Any] = {
            "index": 0, "logprobs": None, "finish_reason": "content_filter" if blocked else "stop",
            "message": {"role": "assistant", "content": None if blocked else text, "refusal": None},
            "content_filter_results": _FILTERED if blocked else {k: _SAFE for k in _FILTERED}}
        p_tok, c_tok = prompt_tokens(parts), 0 if blocked else completion_tokens(text)
        return jsonify({
            "id": request_id(raw, "chatcmpl-azsim"), "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [choice], "system_fingerprint": "fp_azsim",
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {k: _SAFE for k in _FILTERED}}],
            "usage": {"prompt_tokens": p_tok, "completion_tokens": c_tok, "total_tokens": p_tok + c_tok}})

    @app.post("/openai/files")
    def upload() -> Response:
        check()
        purpose = request.form.get("purpose")
        if purpose not in PURPOSES:
            raise SimReject(400, f"Invalid value for purpose: {purpose!r}; supported: {', '.join(PURPOSES)}",
                            "invalid_request_error", param="purpose", code="invalidPayload")
        up = request.files.get("file")
        if up is None:
            raise SimReject(400, "Missing required parameter: 'file'.", "invalid_request_error", param="file")
        data = up.read()
        stored = files.put(StoredFile(files.new_id(), up.filename or "upload", data,
                                      sniff(data) or "application/octet-stream",
                                      extra={"purpose": purpose, "status": "pending"}))
        record_parts([Part("file", media=inspect_lenient(data), source="file", ref=stored.id)])
        resp = jsonify(_file_object(stored))
        resp.status_code = 201
        return resp

    def lookup(file_id: str) -> StoredFile:
        stored = files.get(file_id)
        if stored is None:
            raise SimReject(404, f"File with id '{file_id}' was not found.", code="fileNotFound")
        return stored

    @app.get("/openai/files/<file_id>")
    def get_file(file_id: str) -> Response:
        check()
        stored = lookup(file_id)
        shown = _file_object(stored)
        stored.extra["status"] = "processed"  # processed once seen: the uploader's poll sees pending, then this
        return jsonify(shown)

    @app.delete("/openai/files/<file_id>")
    def delete_file(file_id: str) -> Response:
        check()
        lookup(file_id)
        files.delete(file_id)
        return jsonify({"id": file_id, "object": "file", "deleted": True})

    return app


def _file_object(f: StoredFile) -> dict[str, Any]:
    return {"id": f.id, "object": "file", "bytes": len(f.data), "created_at": int(f.created), "filename": f.filename,
            "purpose": f.extra.get("purpose"), "status": f.extra.get("status", "processed")}
