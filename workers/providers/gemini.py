"""Gemini generateContent: https://ai.google.dev/api/generate-content

Image output (https://ai.google.dev/gemini-api/docs/image-generation): OpenAI-style ``modalities``
(``["text", "image"]``, as OpenRouter takes them) become ``generationConfig.responseModalities``; an image
generation job (``call.task == "images"``) asks for TEXT and IMAGE and maps ``size`` to
``imageConfig.aspectRatio``. ``inlineData`` image parts of the answer go to ``message.images`` as data
URIs (the complete stage then stores them as Ferry files: workers/services/outputs.py).
"""
from __future__ import annotations

from math import gcd
from typing import Any

from workers.core.errors import Unprocessable, UpstreamError
from workers.providers.base import Call, NativeRequest, Part, completion, upstream_error
from workers.providers.tool_shapes import gemini_calls, gemini_done, gemini_params, gemini_turn
from workers.providers.tools import with_tool_calls

_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "RECITATION": "content_filter"}
_CONFIG = {"temperature": "temperature", "top_p": "topP", "max_tokens": "maxOutputTokens",
           "max_completion_tokens": "maxOutputTokens", "seed": "seed"}


def _part(p: Part) -> dict[str, Any]:
    if p.type == "text":
        return {"text": p.text}
    if p.file_id or p.url:
        return {"file_data": {"mime_type": p.mime, "file_uri": p.file_id or p.url}}
    return {"inline_data": {"mime_type": p.mime, "data": p.data_b64}}


def build_request(call: Call) -> NativeRequest:
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    for m in call.messages:
        if m.role in ("system", "developer"):
            system.extend({"text": p.text} for p in m.parts if p.type == "text")
            continue
        gemini_turn(contents, m, [_part(p) for p in m.parts], call.messages)  # function calls and responses too
    body: dict[str, Any] = {"contents": gemini_done(contents)}
    if system:
        body["systemInstruction"] = {"parts": system}
    config = {_CONFIG[k]: v for k, v in call.params.items() if k in _CONFIG}
    if "stop" in call.params:
        stop = call.params["stop"]
        config["stopSequences"] = [stop] if isinstance(stop, str) else stop
    config.update(_output_config(call))
    if config:
        body["generationConfig"] = config
    body.update(gemini_params(call.params, call.messages))
    url = f"{call.base_url.rstrip('/')}/v1beta/models/{call.model}:generateContent"
    headers = {"x-goog-api-key": call.api_key or "", "Content-Type": "application/json"}
    return NativeRequest("POST", url, headers, body, redact_headers=("x-goog-api-key",))


def parse_response(body: dict[str, Any], call: Call) -> dict[str, Any]:
    candidates = body.get("candidates") or [{}]
    first = candidates[0]
    text = "".join(p.get("text", "") for p in (first.get("content") or {}).get("parts", []))
    usage = body.get("usageMetadata", {})
    out = completion(
        id=body.get("responseId"),
        model=f"gemini/{call.model}",
        text=text,
        finish_reason=_FINISH.get(first.get("finishReason", "STOP"), "stop"),
        prompt_tokens=int(usage.get("promptTokenCount", 0)),
        completion_tokens=int(usage.get("candidatesTokenCount", 0)),
    )
    _add_outputs(out, first, usage)
    return with_tool_calls(out, gemini_calls((first.get("content") or {}).get("parts", [])))


# -- image output (issue 6 item 5) -----------------------------------------------------------------
#: gemini-2.5-flash-image's aspect ratios (https://ai.google.dev/gemini-api/docs/image-generation).
ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")


def _aspect_ratio(size: Any) -> str | None:
    """OpenAI's ``size`` ("1536x1024") as the nearest Gemini aspect ratio ("3:2"); None for auto/absent."""
    if not isinstance(size, str) or "x" not in size:
        return None
    w, _, h = size.partition("x")
    if not (w.isdigit() and h.isdigit()) or not int(w) or not int(h):
        raise Unprocessable(f"size must be WIDTHxHEIGHT or auto, not {size!r}", param="size")
    g = gcd(int(w), int(h))
    exact = f"{int(w) // g}:{int(h) // g}"
    if exact in ASPECT_RATIOS:
        return exact
    want = int(w) / int(h)
    return min(ASPECT_RATIOS, key=lambda r: abs(int(r.split(":")[0]) / int(r.split(":")[1]) - want))


def _output_config(call: Call) -> dict[str, Any]:
    config: dict[str, Any] = {}
    modalities = ["text", "image"] if call.task == "images" else call.params.get("modalities")
    if isinstance(modalities, list) and modalities and modalities != ["text"]:
        config["responseModalities"] = [str(m).upper() for m in modalities]
    if call.task == "images":
        if (call.params.get("n") or 1) != 1:
            raise Unprocessable(f"gemini/{call.model} makes one image per request: send n=1", param="n")
        ratio = _aspect_ratio(call.params.get("size"))
        if ratio:
            config["imageConfig"] = {"aspectRatio": ratio}
    return config


def _add_outputs(out: dict[str, Any], candidate: dict[str, Any], usage: dict[str, Any]) -> None:
    """Image parts -> ``message.images``; per-modality token counts -> ``*_tokens_details``."""
    images = []
    for part in (candidate.get("content") or {}).get("parts", []):
        inline = part.get("inlineData") or part.get("inline_data") or {}
        mime = inline.get("mimeType") or inline.get("mime_type") or ""
        if mime.startswith("image/") and inline.get("data"):
            images.append({"type": "image_url", "image_url": {"url": f"data:{mime};base64,{inline['data']}"}})
    if images:
        out["choices"][0]["message"]["images"] = images
    for src, dest in (("promptTokensDetails", "prompt_tokens_details"),
                      ("candidatesTokensDetails", "completion_tokens_details")):
        details = {f"{d['modality'].lower()}_tokens": int(d.get("tokenCount", 0))
                   for d in usage.get(src) or [] if isinstance(d, dict) and d.get("modality")}
        if details:
            out["usage"][dest] = details


def parse_error(status: int, body: Any) -> UpstreamError:
    return upstream_error("gemini", status, body)
