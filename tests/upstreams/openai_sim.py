"""OpenAI simulator: Chat Completions with image / audio / file parts, and the Files API.

Shapes follow the official SDK (github.com/openai/openai-python, src/openai/types/...):
``chat/chat_completion_content_part_param.py`` (text, image_url, input_audio, file parts),
``chat/chat_completion.py`` + ``completion_usage.py`` (response), ``file_object.py`` and
``file_deleted.py`` (Files API), ``resources/files.py`` (multipart upload with ``purpose``).
Error body: ``{"error": {"message", "type", "param", "code"}}``
(https://platform.openai.com/docs/guides/error-codes).
"""
from __future__ import annotations

import base64
import hashlib
import math
import re
import threading
import time
from typing import Any

from flask import Flask, Response, jsonify, request

from .common import (MediaError, Part, b64decode_strict, completion_tokens, content_items, describe,
                     inspect_lenient, inspect_media, is_data_uri, load_json_body, make_png, make_tone,
                     parse_data_uri, prompt_tokens, request_id, sniff)
from .chatlike import STREAM_UNSUPPORTED
from .controls import SimReject, discard_body, install_controls, record_parts
from .files import FileStore, StoredFile

# https://platform.openai.com/docs/guides/images-vision#image-input-requirements
IMAGE_MIMES = ("image/png", "image/jpeg", "image/webp", "image/gif")
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # "Up to 20MB per image" (same page)
MAX_PAYLOAD_BYTES = 50 * 1024 * 1024  # "Up to 50 MB total payload size per request" (same page)
MAX_IMAGES = 500  # "Up to 500 individual image inputs per request" (same page)
# chat_completion_content_part_input_audio_param.py: format: Literal["wav", "mp3"]
AUDIO_FORMATS = {"wav": "audio/wav", "mp3": "audio/mp3"}
# types/file_purpose.py / file_object.py purposes accepted on upload
PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")

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

_ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
                413: "invalid_request_error", 429: "requests", 500: "server_error", 503: "server_error"}
_ERROR_CODES = {429: "rate_limit_exceeded"}


def render_error(exc: SimReject) -> Response:
    """OpenAI error envelope (openai-python _exceptions.py reads body["error"])."""
    return jsonify({"error": {"message": exc.message,
                              "type": exc.kind or _ERROR_TYPES.get(exc.status, "invalid_request_error"),
                              "param": exc.param,
                              "code": exc.code or _ERROR_CODES.get(exc.status)}})


def _param(path: str) -> str:
    """``messages.0.content.1`` → ``messages[0].content[1]`` (OpenAI's param style)."""
    return re.sub(r"\.(\d+)", r"[\1]", path)


def _bad(message: str, path: str | None = None, code: str | None = None, status: int = 400) -> SimReject:
    return SimReject(status, message, "invalid_request_error", param=_param(path) if path else None, code=code)


def _json_object() -> tuple[bytes, dict[str, Any]]:
    """The raw body and its JSON object, or OpenAI's 400 for anything else."""
    raw = request.get_data()
    try:
        body = load_json_body(raw)
    except ValueError as exc:
        raise _bad(f"We could not parse the JSON body of your request. ({exc})")
    if not isinstance(body, dict):
        raise _bad("Invalid request body: expected a JSON object.")
    return raw, body


def create_app(api_key: str = "sim-key") -> Flask:
    app = Flask("openai_sim")
    state = install_controls(app, "openai", render_error)
    files = FileStore("file-")
    state.reset_hooks.append(files.clear)

    def check_auth() -> None:
        header = request.headers.get("Authorization", "")
        if not header:
            raise SimReject(401, "You didn't provide an API key. You need to provide your API key in an "
                            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                            "invalid_request_error")
        token = header[7:] if header.startswith("Bearer ") else ""
        if token != api_key:
            shown = (token[:3] + "*" * 4 + token[-4:]) if len(token) > 8 else token
            raise SimReject(401, f"Incorrect API key provided: {shown}. You can find your API key at "
                            "https://platform.openai.com/account/api-keys.", "invalid_request_error",
                            code="invalid_api_key")

    @app.post("/v1/chat/completions")
    def chat_completions() -> Response:
        check_auth()
        if (request.content_length or 0) > MAX_PAYLOAD_BYTES:
            # Limit documented; the exact status/message of the real rejection is not (413 chosen).
            discard_body()
            raise _bad(f"Request payload too large: {request.content_length} bytes > {MAX_PAYLOAD_BYTES} "
                       "bytes (50 MB total payload per request).", code="request_too_large", status=413)
        raw, body = _json_object()
        model = body.get("model")
        if not model:
            raise _bad("Missing required parameter: 'model'.", "model", "missing_required_parameter")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            raise _bad("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
        if body.get("stream"):
            raise _bad(STREAM_UNSUPPORTED, "stream")
        parts: list[Part] = []
        record_parts(parts, model)
        for path, item in content_items(body["messages"]):
            parts.append(_read_part(path, item, files))
        images = sum(1 for p in parts if p.kind == "image")
        if images > MAX_IMAGES:
            raise _bad(f"Too many images in request: {images} > {MAX_IMAGES}.", "messages")
        text = describe("openai", model, parts)
        p_tok, c_tok = prompt_tokens(parts), completion_tokens(text)
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
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": text, "refusal": None}}],
            "usage": {"prompt_tokens": p_tok, "completion_tokens": c_tok, "total_tokens": p_tok + c_tok},
            "system_fingerprint": "fp_sim",
        })

    # ---------------------------------------------------------------- Images API
    generated: dict[str, bytes] = {}  # response_format=url (dall-e): served at /_sim/images/<name>
    lock = threading.Lock()
    state.reset_hooks.append(generated.clear)

    @app.post("/v1/images/generations")
    def images_generations() -> Response:
        check_auth()
        raw, body = _json_object()
        prompt = body.get("prompt")
        model = body.get("model") or "dall-e-2"  # the API's historical default
        record_parts([Part("text", text=prompt if isinstance(prompt, str) else "")], model)
        if not isinstance(prompt, str) or not prompt:
            raise _bad("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
        if model not in IMAGE_MODELS:
            raise SimReject(404, f"The model `{model}` does not exist or you do not have access to it.",
                            "invalid_request_error", param="model", code="model_not_found")
        gpt_image = not model.startswith("dall-e")
        if len(prompt) > (32000 if gpt_image else 4000 if model == "dall-e-3" else 1000):
            raise _bad("Invalid 'prompt': string too long.", "prompt", "string_above_max_length")
        n = body.get("n", 1)
        if n is None:
            n = 1
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 10:
            raise _bad(f"Invalid 'n': must be an integer between 1 and 10, got {n!r}.", "n", "invalid_value")
        if model == "dall-e-3" and n != 1:
            raise _bad("Invalid 'n': dall-e-3 only supports n=1.", "n", "invalid_value")
        sizes = IMAGE_MODELS[model]
        size = body.get("size") or ("auto" if gpt_image else "1024x1024")
        if size not in sizes:
            raise _bad(f"Invalid value: '{size}'. Supported values are: {', '.join(repr(x) for x in sizes)}.",
                       "size", "invalid_value")
        if size == "auto":
            size = "1024x1024"
        response_format = body.get("response_format")
        if gpt_image and response_format is not None:
            raise _bad(f"Unknown parameter: 'response_format'. {model} always returns b64_json.",
                       "response_format", "unknown_parameter")
        if response_format not in (None, "url", "b64_json"):
            raise _bad(f"Invalid value: '{response_format}'. Supported values are: 'url' and 'b64_json'.",
                       "response_format", "invalid_value")
        quality = body.get("quality") or "auto"
        qualities = ("auto", "low", "medium", "high") if gpt_image else \
            ("auto", "standard", "hd") if model == "dall-e-3" else ("auto", "standard")
        if quality not in qualities:
            raise _bad(f"Invalid value: '{quality}'. Supported values are: {', '.join(repr(q) for q in qualities)}.",
                       "quality", "invalid_value")
        output_format = body.get("output_format")
        for name, allowed in (("output_format", ("png", "jpeg", "webp")),
                              ("background", ("transparent", "opaque", "auto")), ("moderation", ("low", "auto"))):
            if body.get(name) is not None and not gpt_image:
                raise _bad(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
            if body.get(name) is not None and body[name] not in allowed:
                raise _bad(f"Invalid value: '{body[name]}'. Supported values are: "
                           f"{', '.join(repr(a) for a in allowed)}.", name, "invalid_value")
        if body.get("background") == "transparent" and output_format == "jpeg":
            raise _bad("Transparent background requires output_format png or webp.", "background", "invalid_value")
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

    # ---------------------------------------------------------------- Files API
    @app.post("/v1/files")
    def upload_file() -> Response:
        check_auth()
        purpose = request.form.get("purpose")
        if not purpose:
            raise _bad("Missing required parameter: 'purpose'.", "purpose", "missing_required_parameter")
        if purpose not in PURPOSES:
            raise _bad(f"'{purpose}' is not one of {list(PURPOSES)} - 'purpose'", "purpose")
        upload = request.files.get("file")
        if upload is None:
            raise _bad("Missing required parameter: 'file'.", "file", "missing_required_parameter")
        data = upload.read()
        stored = files.put(StoredFile(files.new_id(), upload.filename or "upload", data,
                                      sniff(data) or "application/octet-stream", extra={"purpose": purpose}))
        record_parts([Part("file", media=inspect_lenient(data), source="file", ref=stored.id)])
        return jsonify(_file_object(stored))

    @app.get("/v1/files")
    def list_files() -> Response:
        check_auth()
        return jsonify({"object": "list", "data": [_file_object(f) for f in files.all()], "has_more": False})

    @app.get("/v1/files/<file_id>")
    def get_file(file_id: str) -> Response:
        check_auth()
        return jsonify(_file_object(_lookup(files, file_id)))

    @app.get("/v1/files/<file_id>/content")
    def get_file_content(file_id: str) -> Response:
        check_auth()
        stored = _lookup(files, file_id)
        return Response(stored.data, mimetype=stored.mime)

    @app.delete("/v1/files/<file_id>")
    def delete_file(file_id: str) -> Response:
        check_auth()
        _lookup(files, file_id)
        files.delete(file_id)
        return jsonify({"id": file_id, "object": "file", "deleted": True})

    return app


def _audio_output(body: dict[str, Any], model: str) -> str | None:
    """The requested audio output format, or None for a text-only answer; SimReject when the request is
    not one OpenAI would take (see AUDIO_OUTPUT_MODELS above for the sources)."""
    modalities = body.get("modalities")
    if modalities is None:
        return None
    if not isinstance(modalities, list) or not modalities or \
            any(m not in ("text", "audio") for m in modalities):
        raise _bad(f"Invalid value for 'modalities': {modalities!r}. Supported values are: 'text' and 'audio'.",
                   "modalities", "invalid_value")
    if "audio" not in modalities:
        return None
    if model not in AUDIO_OUTPUT_MODELS:
        raise _bad(f"This model does not support the audio modality: {model}.", "modalities", "invalid_value")
    audio = body.get("audio")
    if not isinstance(audio, dict):
        raise _bad("Missing required parameter: 'audio'. It is required when 'modalities' includes 'audio'.",
                   "audio", "missing_required_parameter")
    voice = audio.get("voice")
    if not (isinstance(voice, str) and voice) and not (isinstance(voice, dict) and isinstance(voice.get("id"), str)):
        raise _bad("Missing required parameter: 'audio.voice'.", "audio.voice", "missing_required_parameter")
    fmt = audio.get("format")
    if fmt not in AUDIO_OUT_FORMATS:
        raise _bad(f"Invalid value: '{fmt}'. Supported values are: "
                   f"{', '.join(repr(f) for f in AUDIO_OUT_FORMATS)}.", "audio.format", "invalid_value")
    return fmt


def _reencode(png: bytes, fmt: str) -> bytes:
    """``output_format`` jpeg / webp: the same picture in that format."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        buf = io.BytesIO()
        im.convert("RGB").save(buf, format={"jpeg": "JPEG", "webp": "WEBP"}[fmt])
    return buf.getvalue()


def _lookup(files: FileStore, file_id: str) -> StoredFile:
    stored = files.get(file_id)
    if stored is None:
        raise SimReject(404, f"No such File object: {file_id}", "invalid_request_error", param="id")
    return stored


def _file_object(f: StoredFile) -> dict[str, Any]:
    return {"id": f.id, "object": "file", "bytes": len(f.data), "created_at": int(f.created),
            "filename": f.filename, "purpose": f.extra.get("purpose"), "status": "processed",
            "status_details": None, "expires_at": None}


def _read_part(path: str, item: dict[str, Any], files: FileStore) -> Part:
    kind = item.get("type")
    if kind == "text":
        text = item.get("text")
        if not isinstance(text, str):
            raise _bad("Invalid type for text: expected a string.", path + ".text", "invalid_type")
        return Part("text", text=text)
    if kind == "image_url":
        return _read_image(path, item.get("image_url"))
    if kind == "input_audio":
        return _read_audio(path, item.get("input_audio"))
    if kind == "file":
        return _read_file(path, item.get("file"), files)
    raise _bad(f"Invalid value: '{kind}'. Supported values are: 'text', 'image_url', 'input_audio', "
               "'refusal', 'audio', and 'file'.", path + ".type", "invalid_value")


def _read_image(path: str, image_url: Any) -> Part:
    where = path + ".image_url"
    if not isinstance(image_url, dict):
        raise _bad(f"Invalid type for '{_param(where)}': expected an object, but got "
                   f"{type(image_url).__name__} instead.", where, "invalid_type")
    url = image_url.get("url")
    if not isinstance(url, str) or not url:
        raise _bad(f"Missing required parameter: '{_param(where)}.url'.", where + ".url",
                   "missing_required_parameter")
    if is_data_uri(url):
        try:
            declared, data = parse_data_uri(url)
        except MediaError as exc:
            raise _bad(f"Invalid 'image_url': {exc}", where + ".url", "invalid_image_url")
        if declared not in IMAGE_MIMES:
            # PDFs too: chat accepts them only as file parts (file_data / file_id).
            raise _bad("Invalid MIME type. Only image types are supported.", where + ".url",
                       "invalid_image_format")
        if len(data) > MAX_IMAGE_BYTES:
            raise _bad(f"Image too large: {len(data)} bytes > {MAX_IMAGE_BYTES} bytes (20 MB per image).",
                       where + ".url", "image_too_large")
        media = _image_media(data, where + ".url")
        return Part("image", media=media, declared_mime=declared, extra={"detail": image_url.get("detail")})
    if url.startswith(("http://", "https://")):
        return Part("image", source="url", ref=url, extra={"detail": image_url.get("detail")})
    raise _bad("Invalid image URL: expected an http(s) URL or a base64 data URI.", where + ".url",
               "invalid_image_url")


def _image_media(data: bytes, where: str):
    try:
        media = inspect_media(data)
    except MediaError:
        media = None
    if media is None or media.mime not in IMAGE_MIMES:
        raise _bad("You uploaded an unsupported image. Please make sure your image is valid and has one of "
                   "the following formats: ['png', 'jpeg', 'gif', 'webp'].", where, "invalid_image_format")
    return media


def _read_audio(path: str, audio: Any) -> Part:
    where = path + ".input_audio"
    if not isinstance(audio, dict) or "data" not in audio or "format" not in audio:
        raise _bad(f"Missing required parameter: '{_param(where)}.data' / '.format'.", where,
                   "missing_required_parameter")
    fmt = audio["format"]
    if fmt not in AUDIO_FORMATS:
        raise _bad(f"Invalid value: '{fmt}'. Supported values are: 'wav' and 'mp3'.", where + ".format",
                   "invalid_value")
    try:
        data = b64decode_strict(audio["data"])
        media = inspect_media(data)
    except MediaError as exc:
        raise _bad(f"Invalid audio data: {exc}", where + ".data", "invalid_value")
    if media.mime != AUDIO_FORMATS[fmt]:
        raise _bad(f"The audio data is not valid {fmt} audio (it looks like {media.mime or 'unknown data'}).",
                   where + ".data", "invalid_value")
    return Part("audio", media=media, declared_mime=AUDIO_FORMATS[fmt])


def _read_file(path: str, f: Any, files: FileStore) -> Part:
    where = path + ".file"
    if not isinstance(f, dict) or not (f.get("file_data") or f.get("file_id")):
        raise _bad(f"Invalid '{_param(where)}': one of 'file_data' or 'file_id' is required.", where,
                   "missing_required_parameter")
    if f.get("file_id"):
        stored = files.get(f["file_id"])
        if stored is None:
            raise SimReject(404, f"No such File object: {f['file_id']}", "invalid_request_error",
                            param=_param(where + ".file_id"))
        try:
            media = stored.media()
        except MediaError as exc:
            raise _bad(f"Invalid file {stored.id}: {exc}", where + ".file_id", "invalid_value")
        if media.mime != "application/pdf" and media.mime not in IMAGE_MIMES:
            raise _bad(f"Invalid file {stored.id}: only PDF (or image) files can be used as chat input, "
                       f"got {media.mime or 'unknown data'}.", where + ".file_id", "invalid_value")
        return Part("document" if media.mime == "application/pdf" else "image", media=media,
                    source="file", ref=stored.id)
    if not f.get("filename"):
        raise _bad(f"Missing required parameter: '{_param(where)}.filename'.", where + ".filename",
                   "missing_required_parameter")
    try:
        declared, data = parse_data_uri(f["file_data"])
        media = inspect_media(data)
    except MediaError as exc:
        raise _bad(f"Invalid file data: {exc}", where + ".file_data", "invalid_value")
    if media.mime != "application/pdf":
        raise _bad(f"Invalid file data: only PDF files are supported, got {media.mime or 'unknown data'}.",
                   where + ".file_data", "invalid_value")
    return Part("document", media=media, declared_mime=declared, extra={"filename": f["filename"]})
