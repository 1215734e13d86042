"""OpenAI simulator: Chat Completions with image / audio / file parts (and audio output); the
Images and Files APIs come from ``openai_images`` and ``openai_files``.

Shapes follow the official SDK (github.com/openai/openai-python, src/openai/types/...):
``chat/chat_completion_content_part_param.py`` (text, image_url, input_audio, file parts),
``chat/chat_completion.py`` + ``completion_usage.py`` (response). Error shape: ``openai_wire``.
"""
from __future__ import annotations

from collections.abc import Iterable
import base64
import math
import time
from fnmatch import fnmatchcase
from typing import Any

from flask import Flask, Response, jsonify, request

from .chatlike import STREAM_UNSUPPORTED
from .common import Part, completion_tokens, content_items, describe, prompt_tokens, request_id
from .controls import SimReject, discard_body, install_controls, record_parts
from . import served
from .files import FileStore
from .generated import make_tone
from .media import MediaError, b64decode_strict, inspect_media, is_data_uri, parse_data_uri
from .openai_batches import register_batches
from .openai_files import live, register_files
from .openai_images import register_images
from .openai_wire import bad, check_auth, error_param, json_object, render_error
from .openai_tools import answer, check as check_tools

# https://platform.openai.com/docs/guides/images-vision#image-input-requirements
IMAGE_MIMES = ("image/png", "image/jpeg", "image/webp", "image/gif")
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # "Up to 20MB per image" (same page)
MAX_PAYLOAD_BYTES = 50 * 1024 * 1024  # "Up to 50 MB total payload size per request" (same page)
MAX_IMAGES = 500  # "Up to 500 individual image inputs per request" (same page)
# chat_completion_content_part_input_audio_param.py: format: Literal["wav", "mp3"]
AUDIO_FORMATS = {"wav": "audio/wav", "mp3": "audio/mp3"}

# ---- outputs (issue 6 item 5) --------------------------------------------------------------------------
# Audio output in chat: types/chat/completion_create_params.py (``modalities: ["text", "audio"]``; ``audio``
# "Required when audio output is requested"), chat_completion_audio_param.py (``format``: wav, aac, mp3,
# flac, opus, pcm16; ``voice``: a name or ``{"id": ...}``), chat_completion_audio.py (the answer's
# ``message.audio``: id, data, expires_at, transcript), completion_usage.py (``completion_tokens_details.
# audio_tokens``). https://platform.openai.com/docs/guides/audio: only the audio models take it.
AUDIO_OUTPUT_MODELS = ("gpt-4o-audio-preview", "gpt-4o-mini-audio-preview", "gpt-audio", "gpt-audio-mini")
AUDIO_OUT_FORMATS = ("wav", "aac", "mp3", "flac", "opus", "pcm16")
AUDIO_SECONDS = 0.5  # every simulated spoken answer is a 0.5 s 440 Hz tone
AUDIO_TOKENS_PER_SECOND = 10  # simulator's convention (OpenAI does not document the rate)


def create_app(api_key: str = "sim-key", models: Iterable[str] | None = None) -> Flask:
    app = Flask("openai_sim")
    state = install_controls(app, "openai", render_error)
    files = FileStore("file-")
    state.reset_hooks.append(files.clear)

    @app.post("/v1/chat/completions")
    def chat_completions() -> Response:
        check_auth(api_key)
        if (request.content_length or 0) > MAX_PAYLOAD_BYTES:
            # Limit documented; the exact status/message of the real rejection is not (413 chosen).
            discard_body()
            raise bad(f"Request payload too large: {request.content_length} bytes > {MAX_PAYLOAD_BYTES} "
                      "bytes (50 MB total payload per request).", code="request_too_large", status=413)
        raw, body = json_object()
        model = body.get("model")
        if not model:
            raise bad("Missing required parameter: 'model'.", "model", "missing_required_parameter")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            raise bad("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
        if body.get("stream"):
            raise bad(STREAM_UNSUPPORTED, "stream")
        parts: list[Part] = []
        record_parts(parts, model)
        served.check("openai", str(model), models)
        _check_token_param(body, str(model))
        for path, item in content_items(body["messages"]):
            parts.append(_read_part(path, item, files))
        images = sum(1 for p in parts if p.kind == "image")
        if images > MAX_IMAGES:
            raise bad(f"Too many images in request: {images} > {MAX_IMAGES}.", "messages")
        plan = check_tools(body, lambda message, param: SimReject(400, message, "invalid_request_error",
                                                                  param=param))  # app/simulators/tools.py
        text, calls = answer(plan, raw, describe("openai", model, parts))
        p_tok, c_tok = prompt_tokens(parts), completion_tokens(text or str(calls))
        audio_format = _audio_output(body, model)
        if audio_format is not None:  # message.content is null; the words are audio.transcript
            clip = make_tone(audio_format, AUDIO_SECONDS)
            a_tok = math.ceil(AUDIO_SECONDS * AUDIO_TOKENS_PER_SECOND)
            audio_in = sum(p.tokens() for p in parts if p.kind == "audio")
            return jsonify({
                "id": request_id(raw, "chatcmpl-sim"), "object": "chat.completion", "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                             "message": {"role": "assistant", "content": None, "refusal": None, "annotations": [],
                                         "audio": {"id": request_id(raw, "audio_sim"),
                                                   "data": base64.b64encode(clip).decode("ascii"),
                                                   "expires_at": int(time.time()) + 3600, "transcript": text}}}],
                "usage": {"prompt_tokens": p_tok, "completion_tokens": c_tok + a_tok,
                          "total_tokens": p_tok + c_tok + a_tok,
                          "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": audio_in},
                          "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": a_tok,
                                                        "text_tokens": c_tok, "accepted_prediction_tokens": 0,
                                                        "rejected_prediction_tokens": 0}},
                "system_fingerprint": "fp_sim",
            })
        return jsonify({
            "id": request_id(raw, "chatcmpl-sim"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "finish_reason": "tool_calls" if calls else "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": text, "refusal": None,
                                     **({"tool_calls": calls} if calls else {})}}],
            "usage": {"prompt_tokens": p_tok, "completion_tokens": c_tok, "total_tokens": p_tok + c_tok},
            "system_fingerprint": "fp_sim",
        })

    register_images(app, state, api_key)
    register_files(app, files, api_key)
    register_batches(app, state, files, api_key)
    return app


#: Reasoning models refuse ``max_tokens`` (https://platform.openai.com/docs/guides/reasoning; the 400 below is the
#: real body, openai-python issue #1763 and others quote it).
REASONING_MODELS = ("gpt-5*", "o1*", "o3*", "o4*")


def _check_token_param(body: dict[str, Any], model: str) -> None:
    if "max_tokens" in body and any(fnmatchcase(model, p) for p in REASONING_MODELS):
        raise bad("Unsupported parameter: 'max_tokens' is not supported with this model. Use "
                  "'max_completion_tokens' instead.", "max_tokens", "unsupported_parameter")


def _audio_output(body: dict[str, Any], model: str) -> str | None:
    """The requested audio output format, or None for a text-only answer; SimReject when the request is
    not one OpenAI would take (see AUDIO_OUTPUT_MODELS above for the sources)."""
    modalities = body.get("modalities")
    if modalities is None:
        return None
    if not isinstance(modalities, list) or not modalities or \
            any(m not in ("text", "audio") for m in modalities):
        raise bad(f"Invalid value for 'modalities': {modalities!r}. Supported values are: 'text' and 'audio'.",
                  "modalities", "invalid_value")
    if "audio" not in modalities:
        return None
    if model not in AUDIO_OUTPUT_MODELS:
        raise bad(f"This model does not support the audio modality: {model}.", "modalities", "invalid_value")
    audio = body.get("audio")
    if not isinstance(audio, dict):
        raise bad("Missing required parameter: 'audio'. It is required when 'modalities' includes 'audio'.",
                  "audio", "missing_required_parameter")
    voice = audio.get("voice")
    if not (isinstance(voice, str) and voice) and not (isinstance(voice, dict) and isinstance(voice.get("id"), str)):
        raise bad("Missing required parameter: 'audio.voice'.", "audio.voice", "missing_required_parameter")
    fmt = audio.get("format")
    if fmt not in AUDIO_OUT_FORMATS:
        raise bad(f"Invalid value: '{fmt}'. Supported values are: "
                  f"{', '.join(repr(f) for f in AUDIO_OUT_FORMATS)}.", "audio.format", "invalid_value")
    return fmt


def _read_part(path: str, item: dict[str, Any], files: FileStore) -> Part:
    kind = item.get("type")
    if kind == "text":
        text = item.get("text")
        if not isinstance(text, str):
            raise bad("Invalid type for text: expected a string.", path + ".text", "invalid_type")
        return Part("text", text=text)
    if kind == "image_url":
        return _read_image(path, item.get("image_url"))
    if kind == "input_audio":
        return _read_audio(path, item.get("input_audio"))
    if kind == "file":
        return _read_file(path, item.get("file"), files)
    raise bad(f"Invalid value: '{kind}'. Supported values are: 'text', 'image_url', 'input_audio', "
              "'refusal', 'audio', and 'file'.", path + ".type", "invalid_value")


def _read_image(path: str, image_url: Any) -> Part:
    where = path + ".image_url"
    if not isinstance(image_url, dict):
        raise bad(f"Invalid type for '{error_param(where)}': expected an object, but got "
                  f"{type(image_url).__name__} instead.", where, "invalid_type")
    url = image_url.get("url")
    if not isinstance(url, str) or not url:
        raise bad(f"Missing required parameter: '{error_param(where)}.url'.", where + ".url",
                  "missing_required_parameter")
    if is_data_uri(url):
        try:
            declared, data = parse_data_uri(url)
        except MediaError as exc:
            raise bad(f"Invalid 'image_url': {exc}", where + ".url", "invalid_image_url")
        if declared not in IMAGE_MIMES:
            # PDFs too: chat accepts them only as file parts (file_data / file_id).
            raise bad("Invalid MIME type. Only image types are supported.", where + ".url",
                      "invalid_image_format")
        if len(data) > MAX_IMAGE_BYTES:
            raise bad(f"Image too large: {len(data)} bytes > {MAX_IMAGE_BYTES} bytes (20 MB per image).",
                      where + ".url", "image_too_large")
        media = _image_media(data, where + ".url")
        return Part("image", media=media, declared_mime=declared, extra={"detail": image_url.get("detail")})
    if url.startswith(("http://", "https://")):
        return Part("image", source="url", ref=url, extra={"detail": image_url.get("detail")})
    raise bad("Invalid image URL: expected an http(s) URL or a base64 data URI.", where + ".url",
              "invalid_image_url")


def _image_media(data: bytes, where: str):
    try:
        media = inspect_media(data)
    except MediaError:
        media = None
    if media is None or media.mime not in IMAGE_MIMES:
        raise bad("You uploaded an unsupported image. Please make sure your image is valid and has one of "
                  "the following formats: ['png', 'jpeg', 'gif', 'webp'].", where, "invalid_image_format")
    return media


def _read_audio(path: str, audio: Any) -> Part:
    where = path + ".input_audio"
    if not isinstance(audio, dict) or "data" not in audio or "format" not in audio:
        raise bad(f"Missing required parameter: '{error_param(where)}.data' / '.format'.", where,
                  "missing_required_parameter")
    fmt = audio["format"]
    if fmt not in AUDIO_FORMATS:
        raise bad(f"Invalid value: '{fmt}'. Supported values are: 'wav' and 'mp3'.", where + ".format",
                  "invalid_value")
    try:
        data = b64decode_strict(audio["data"])
        media = inspect_media(data)
    except MediaError as exc:
        raise bad(f"Invalid audio data: {exc}", where + ".data", "invalid_value")
    if media.mime != AUDIO_FORMATS[fmt]:
        raise bad(f"The audio data is not valid {fmt} audio (it looks like {media.mime or 'unknown data'}).",
                  where + ".data", "invalid_value")
    return Part("audio", media=media, declared_mime=AUDIO_FORMATS[fmt])


def _read_file(path: str, f: Any, files: FileStore) -> Part:
    where = path + ".file"
    if not isinstance(f, dict) or not (f.get("file_data") or f.get("file_id")):
        raise bad(f"Invalid '{error_param(where)}': one of 'file_data' or 'file_id' is required.", where,
                  "missing_required_parameter")
    if f.get("file_id"):
        stored = live(files.get(f["file_id"]))
        if stored is None:
            # Chat answers a missing file id with 400 (issue 12, as observed); GET /v1/files/{id} answers 404.
            raise SimReject(400, f"No such File object: {f['file_id']}", "invalid_request_error",
                            param=error_param(where + ".file_id"))
        try:
            media = stored.media()
        except MediaError as exc:
            raise bad(f"Invalid file {stored.id}: {exc}", where + ".file_id", "invalid_value")
        if media.mime != "application/pdf" and media.mime not in IMAGE_MIMES:
            raise bad(f"Invalid file {stored.id}: only PDF (or image) files can be used as chat input, "
                      f"got {media.mime or 'unknown data'}.", where + ".file_id", "invalid_value")
        return Part("document" if media.mime == "application/pdf" else "image", media=media,
                    source="file", ref=stored.id)
    if not f.get("filename"):
        raise bad(f"Missing required parameter: '{error_param(where)}.filename'.", where + ".filename",
                  "missing_required_parameter")
    try:
        declared, data = parse_data_uri(f["file_data"])
        media = inspect_media(data)
    except MediaError as exc:
        raise bad(f"Invalid file data: {exc}", where + ".file_data", "invalid_value")
    if media.mime != "application/pdf":
        raise bad(f"Invalid file data: only PDF files are supported, got {media.mime or 'unknown data'}.",
                  where + ".file_data", "invalid_value")
    return Part("document", media=media, declared_mime=declared, extra={"filename": f["filename"]})
