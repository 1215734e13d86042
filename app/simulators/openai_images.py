"""OpenAI simulator, Images API: ``POST /v1/images/generations`` answers real PNG / JPEG / WebP
images of the requested size (``/_sim/images/<name>`` serves DALL·E's ``response_format: "url"``)."""
from __future__ import annotations

import base64
import hashlib
import threading
import time
from typing import Any

from flask import Flask, Response, jsonify, request

from .common import Part, completion_tokens
from .controls import SimReject, SimState, record_parts
from .generated import make_png
from .media import sniff
from .openai_wire import bad, check_auth, json_object

# Image generation: types/image_generate_params.py (prompt required, n 1-10, size, quality, background,
# output_format, response_format "Unsupported for GPT image models, which always return base64-encoded
# images"), images_response.py (created, data[{b64_json, url, revised_prompt}], usage with
# input_tokens_details{text_tokens, image_tokens}), https://platform.openai.com/docs/api-reference/images/create
# (dall-e-3: n=1 only; sizes per model).
GPT_IMAGE_SIZES = ("auto", "1024x1024", "1536x1024", "1024x1536")
IMAGE_MODELS: dict[str, tuple[str, ...]] = {
    "gpt-image-1": GPT_IMAGE_SIZES, "gpt-image-1-mini": GPT_IMAGE_SIZES, "gpt-image-1.5": GPT_IMAGE_SIZES,
    "gpt-image-2": GPT_IMAGE_SIZES, "chatgpt-image-latest": GPT_IMAGE_SIZES,
    "dall-e-2": ("256x256", "512x512", "1024x1024"), "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
}
# https://platform.openai.com/docs/guides/image-generation#cost-and-latency (gpt-image-1 output tokens by
# quality for 1024x1024 / 1024x1536 / 1536x1024).
IMAGE_OUTPUT_TOKENS = {"low": (272, 408, 400), "medium": (1056, 1584, 1568), "high": (4160, 6240, 6208)}


def register_images(app: Flask, state: SimState, api_key: str) -> None:
    """Add the Images API routes to the OpenAI simulator ``app``."""
    generated: dict[str, bytes] = {}  # response_format=url (dall-e): served at /_sim/images/<name>
    lock = threading.Lock()
    state.reset_hooks.append(generated.clear)

    @app.post("/v1/images/generations")
    def images_generations() -> Response:
        check_auth(api_key)
        raw, body = json_object()
        prompt = body.get("prompt")
        model = body.get("model") or "dall-e-2"  # the API's historical default
        record_parts([Part("text", text=prompt if isinstance(prompt, str) else "")], model)
        if not isinstance(prompt, str) or not prompt:
            raise bad("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
        if model not in IMAGE_MODELS:
            raise SimReject(404, f"The model `{model}` does not exist or you do not have access to it.",
                            "invalid_request_error", param="model", code="model_not_found")
        gpt_image = not model.startswith("dall-e")
        if len(prompt) > (32000 if gpt_image else 4000 if model == "dall-e-3" else 1000):
            raise bad("Invalid 'prompt': string too long.", "prompt", "string_above_max_length")
        n = body.get("n", 1)
        if n is None:
            n = 1
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 10:
            raise bad(f"Invalid 'n': must be an integer between 1 and 10, got {n!r}.", "n", "invalid_value")
        if model == "dall-e-3" and n != 1:
            raise bad("Invalid 'n': dall-e-3 only supports n=1.", "n", "invalid_value")
        sizes = IMAGE_MODELS[model]
        size = body.get("size") or ("auto" if gpt_image else "1024x1024")
        if size not in sizes:
            raise bad(f"Invalid value: '{size}'. Supported values are: {', '.join(repr(x) for x in sizes)}.",
                      "size", "invalid_value")
        if size == "auto":
            size = "1024x1024"
        response_format = body.get("response_format")
        if gpt_image and response_format is not None:
            raise bad(f"Unknown parameter: 'response_format'. {model} always returns b64_json.",
                      "response_format", "unknown_parameter")
        if response_format not in (None, "url", "b64_json"):
            raise bad(f"Invalid value: '{response_format}'. Supported values are: 'url' and 'b64_json'.",
                      "response_format", "invalid_value")
        quality = body.get("quality") or "auto"
        qualities = ("auto", "low", "medium", "high") if gpt_image else \
            ("auto", "standard", "hd") if model == "dall-e-3" else ("auto", "standard")
        if quality not in qualities:
            raise bad(f"Invalid value: '{quality}'. Supported values are: {', '.join(repr(q) for q in qualities)}.",
                      "quality", "invalid_value")
        output_format = body.get("output_format")
        for name, allowed in (("output_format", ("png", "jpeg", "webp")),
                              ("background", ("transparent", "opaque", "auto")), ("moderation", ("low", "auto"))):
            if body.get(name) is not None and not gpt_image:
                raise bad(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
            if body.get(name) is not None and body[name] not in allowed:
                raise bad(f"Invalid value: '{body[name]}'. Supported values are: "
                          f"{', '.join(repr(a) for a in allowed)}.", name, "invalid_value")
        if body.get("background") == "transparent" and output_format == "jpeg":
            raise bad("Transparent background requires output_format png or webp.", "background", "invalid_value")
        width, height = (int(x) for x in size.split("x"))
        fmt = output_format or "png"
        data = []
        for i in range(n):
            png = make_png(width, height, f"{model}:{prompt}:{i}")
            blob = png if fmt == "png" else _reencode(png, fmt)
            item: dict[str, Any] = {}
            if response_format == "url":
                name = hashlib.sha256(blob).hexdigest()[:24] + ".png"
                with lock:
                    generated[name] = blob
                item["url"] = f"{request.host_url}_sim/images/{name}"
            else:
                item["b64_json"] = base64.b64encode(blob).decode("ascii")
            if model == "dall-e-3":
                item["revised_prompt"] = f"A simulated picture of: {prompt}"
            data.append(item)
        out: dict[str, Any] = {"created": int(time.time()), "data": data}
        if gpt_image:
            q = "medium" if quality == "auto" else quality
            per_image = IMAGE_OUTPUT_TOKENS[q][{"1024x1024": 0, "1024x1536": 1, "1536x1024": 2}[size]]
            text_tokens = completion_tokens(prompt)
            out.update(background="opaque" if body.get("background") in (None, "auto") else body["background"],
                       output_format=fmt, quality=q, size=size)
            out["usage"] = {"input_tokens": text_tokens, "output_tokens": per_image * n,
                            "total_tokens": text_tokens + per_image * n,
                            "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": 0},
                            "output_tokens_details": {"image_tokens": per_image * n, "text_tokens": 0}}
        return jsonify(out)

    @app.get("/_sim/images/<name>")
    def generated_image(name: str) -> Response:
        with lock:
            blob = generated.get(name)
        if blob is None:
            return Response(b"not found", status=404)
        return Response(blob, mimetype=sniff(blob) or "application/octet-stream")


def _reencode(png: bytes, fmt: str) -> bytes:
    """``output_format`` jpeg / webp: the same picture in that format."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        buf = io.BytesIO()
        im.convert("RGB").save(buf, format={"jpeg": "JPEG", "webp": "WEBP"}[fmt])
    return buf.getvalue()
