"""``POST /v1/images/generations``: OpenAI's Images API on top of Ferry's jobs (issue 6 item 5).

The body is OpenAI's (openai-python ``types/image_generate_params.py``) with ``model`` naming a provider
and an image-output model: ``openai/gpt-image-1`` (OpenAI's Images API) or ``gemini/gemini-2.5-flash-image``
(generateContent with image output). Ferry runs it as a job (``options.task = "images"``, the prompt as
the user message) and waits like /v1/chat/completions (``FERRY_CHAT_TIMEOUT``; a 504 names the job to
poll). The images are stored as Ferry files of the caller's tenant (workers/services/outputs.py) and the answer is
OpenAI's ``ImagesResponse``: ``created``, ``data: [{url} | {b64_json}, revised_prompt?]``, ``usage``
(``input_tokens``, ``output_tokens``, ``input_tokens_details {text_tokens, image_tokens}``,
``output_tokens_details``) and, when the provider says, ``background``/``output_format``/``quality``/``size``.
``response_format`` is Ferry's to honour for every model: ``url`` (default) answers the Ferry file URL (or a
presigned storage URL), ``b64_json`` the base64. Job fields ride in ``ferry`` as on chat.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from app.auth import context, require_tenant
from app.compat import openai_errors, run_and_wait
from app.jobs import json_body
from workers.services import outputs
from workers.core.errors import BadRequest, Unprocessable

bp = openai_errors(Blueprint("images", __name__, url_prefix="/v1/images"))
FERRY_FIELDS = ("dry_run", "options", "webhook", "metadata")
#: Fields passed on to the provider (string enums are checked by the provider, as OpenAI does).
STRING_PARAMS = ("size", "quality", "background", "output_format", "moderation", "style", "user",
                 "safety_identifier")
KNOWN = {"model", "prompt", "n", "response_format", "output_compression", "stream", "partial_images", "ferry",
         *STRING_PARAMS}


def _check(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object (an OpenAI images.generate body)", param="body")
    unknown = set(body) - KNOWN
    if unknown:
        raise BadRequest(f"Unknown parameter: {min(unknown)!r}", param=min(unknown))
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise BadRequest("model is required, e.g. 'openai/gpt-image-1'", param="model")
    if not isinstance(body.get("prompt"), str) or not body["prompt"].strip():
        raise BadRequest("prompt must be a non-empty string", param="prompt")
    n = body.get("n")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 10):
        raise BadRequest("n must be an integer between 1 and 10", param="n")
    if body.get("response_format") not in (None, "url", "b64_json"):
        raise BadRequest("response_format must be url or b64_json", param="response_format")
    if body.get("stream"):
        raise BadRequest("stream is not supported on /v1/images/generations", param="stream")
    for name in STRING_PARAMS:
        if body.get(name) is not None and not isinstance(body[name], str):
            raise BadRequest(f"{name} must be a string", param=name)
    comp = body.get("output_compression")
    if comp is not None and (not isinstance(comp, int) or isinstance(comp, bool) or not 0 <= comp <= 100):
        raise BadRequest("output_compression must be an integer from 0 to 100", param="output_compression")
    ferry = body.get("ferry") or {}
    if not isinstance(ferry, dict) or set(ferry) - set(FERRY_FIELDS):
        raise BadRequest(f"ferry must be an object with fields among {', '.join(FERRY_FIELDS)}", param="ferry")
    if not isinstance(ferry.get("options") or {}, dict):
        raise BadRequest("ferry.options must be an object", param="ferry.options")
    return body


def job_body(body: dict[str, Any]) -> dict[str, Any]:
    """The /v1/jobs body for an images.generate body: the prompt as the user message, ``options.task``."""
    ferry = dict(body.get("ferry") or {})
    params = {k: body[k] for k in ("n", "output_compression", *STRING_PARAMS) if body.get(k) is not None}
    request_ = {"model": body["model"], "messages": [{"role": "user", "content": body["prompt"]}], **params}
    return {"request": request_, **ferry, "options": {**(ferry.get("options") or {}), "task": "images"}}


def images_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """A chat-style usage (prompt/completion tokens and their details) in the Images API's names."""
    pin = usage.get("prompt_tokens_details") or {}
    pout = usage.get("completion_tokens_details") or {}
    i, o = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    return {"input_tokens": i, "output_tokens": o, "total_tokens": int(usage.get("total_tokens", i + o)),
            "input_tokens_details": {"text_tokens": int(pin.get("text_tokens", i - int(pin.get("image_tokens", 0)))),
                                     "image_tokens": int(pin.get("image_tokens", 0))},
            "output_tokens_details": {"image_tokens": int(pout.get("image_tokens", o)),
                                      "text_tokens": int(pout.get("text_tokens", 0))}}


def images_response(result: dict[str, Any], response_format: str) -> dict[str, Any]:
    """A presented chat.completion with ``message.images`` as OpenAI's ImagesResponse."""
    data: list[dict[str, Any]] = []
    for choice in result.get("choices") or []:
        for image in (choice.get("message") or {}).get("images") or []:
            url = image["image_url"]["url"]
            item: dict[str, Any] = {}
            if response_format == "b64_json" and url.startswith("data:"):
                item["b64_json"] = url.partition(";base64,")[2]
            else:
                item["url"] = url
            if image.get("revised_prompt"):
                item["revised_prompt"] = image["revised_prompt"]
            if image.get("file_id"):
                item["file_id"] = image["file_id"]  # Ferry's: the stored copy (GET /v1/files/{id}/content)
            data.append(item)
    return {"created": result.get("created"), "data": data, **(result.get("image_generation") or {}),
            "usage": images_usage(result.get("usage") or {})}


@bp.post("/generations")
def generate():  # type: ignore[no-untyped-def]
    tenant = require_tenant()
    body = _check(json_body())
    ctx = context()
    caps = ctx.catalog.resolve(body["model"])
    if "image" not in caps.output_modalities:
        image_models = [m for m in ctx.catalog.model_ids() if "image" in ctx.catalog.resolve(m).output_modalities]
        raise Unprocessable(f"{caps.id} does not generate images; image models: {', '.join(image_models)}",
                            param="model")
    view, failure = run_and_wait(ctx, tenant, job_body(body))
    if failure is not None:
        return failure
    if view.get("dry_run"):
        resp = jsonify({"created": view["created_at"], "data": [], "ferry_job": view["id"],
                        "provider_request": view.get("provider_request"), "usage_estimate": view.get("usage_estimate")})
    else:
        response_format = body.get("response_format") or "url"
        result = outputs.present(ctx, tenant, view["result"], inline=response_format == "b64_json",
                                 base_url=request.host_url)
        resp = jsonify(images_response(result, response_format))
    resp.headers["x-request-id"] = view["id"]
    return resp
