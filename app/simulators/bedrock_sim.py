"""Amazon Bedrock Runtime simulator: the Converse operation, as boto3 ``bedrock-runtime`` calls it.

Wire format from botocore's service model (``botocore/data/bedrock-runtime/2023-09-30/service-2.json``):
``POST /model/{modelId}/converse`` (rest-json), ``ImageFormat`` enum png|jpeg|gif|webp,
``ImageSource`` union bytes|s3Location, ``DocumentFormat`` enum pdf|csv|doc|docx|xls|xlsx|html|txt|md,
``DocumentBlock.name`` charset (alphanumerics, single whitespace, hyphens, parentheses, square
brackets), ``Message.content`` notes (≤ 20 images of ≤ 3.75 MB and ≤ 8000 px; ≤ 5 documents of
≤ 4.5 MB; a document needs a text block beside it), errors as ``{"message"}`` with the error code
in the ``x-amzn-ErrorType`` header (ValidationException 400, ThrottlingException 429,
InternalServerException 500, ServiceUnavailableException 503). Also
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html.
Auth: SigV4 ``Authorization`` header checked for presence and format only (or a Bedrock API key
as ``Bearer``).

Batch inference (issue 13): the control plane's model-invocation-job routes, :mod:`bedrock_batches`.

Model ids (issue 12): the region is the SigV4 credential scope's. Models AWS serves only through
inference profiles (:data:`PROFILE_ONLY`) answer the real ValidationException when called by their bare
id ("Invocation of model ID … with on-demand throughput isn’t supported. Retry your request with the ID
or ARN of an inference profile that contains this model." — AWS's curly apostrophe, as quoted in
github.com/gethouston/houston/pull/1381 and aws-samples issues); a geography-prefixed profile id
(``us.``, ``eu.``, ``apac.``, ``jp.``, ``au.``, ``ca.``, ``us-gov.``, ``global.``) or a profile ARN is
accepted only from its geography's source regions
(https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html); unknown ids answer
"The provided model identifier is invalid." (:mod:`served`).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from fnmatch import fnmatchcase
import time
from typing import Any

from flask import Flask, Response, jsonify, request

from .common import Part, completion_tokens, describe, load_json_body, prompt_tokens
from . import bedrock_batches, bedrock_tools, served
from .controls import SimReject, install_controls, record_parts
from .media import MediaError, b64decode_strict, inspect_lenient, inspect_media, office_format

IMAGE_FORMATS = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
DOCUMENT_FORMATS = {"pdf": "application/pdf", "csv": "text/plain", "doc": "application/x-cfb",
                    "docx": "application/zip", "xls": "application/x-cfb", "xlsx": "application/zip",
                    "html": "text/plain", "txt": "text/plain", "md": "text/plain"}
VIDEO_FORMATS = ("mkv", "mov", "mp4", "webm", "flv", "mpeg", "mpg", "wmv", "three_gp")
MAX_IMAGE_BYTES = int(3.75 * 1024 * 1024)
MAX_SIDE = 8000
MAX_IMAGES = 20
MAX_DOCUMENT_BYTES = int(4.5 * 1024 * 1024)
MAX_DOCUMENTS = 5
OFFICE_FORMATS = ("doc", "docx", "xls", "xlsx")  # checked against the container's main part / stream
MAX_DOCUMENT_PAGES = 100  # https://docs.claude.com/en/docs/build-with-claude/pdf-support (Claude on Bedrock)
DOC_NAME = re.compile(r"^[A-Za-z0-9()\[\]\-]+(\s[A-Za-z0-9()\[\]\-]+)*$")
SIGV4 = re.compile(r"^AWS4-HMAC-SHA256 Credential=[^/\s]+/\d{8}/[a-z0-9-]+/bedrock/aws4_request,\s*"
                   r"SignedHeaders=[a-z0-9;-]+,\s*Signature=[0-9a-f]{64}$")
#: Served only through inference profiles (the bare id is refused with on-demand throughput).
PROFILE_ONLY = ("anthropic.claude-3-7-*", "anthropic.claude-sonnet-4*", "anthropic.claude-opus-4*",
                "anthropic.claude-haiku-4*", "amazon.nova-premier*", "amazon.nova-2-*", "meta.llama3-2-*",
                "meta.llama3-3-*", "meta.llama4-*")
#: Geography prefix -> source regions (globs) its cross-Region profiles may be invoked from.
GEOGRAPHIES = {"us-gov": ("us-gov-*",), "us": ("us-east-*", "us-west-*"), "eu": ("eu-*",), "apac": ("ap-*",),
               "jp": ("ap-northeast-1", "ap-northeast-3"), "au": ("ap-southeast-2", "ap-southeast-4"),
               "ca": ("ca-*",), "global": ("us-east-*", "us-west-*", "eu-*", "ap-*", "ca-*", "sa-*", "me-*")}
ON_DEMAND_REFUSED = ("Invocation of model ID {} with on-demand throughput isn\u2019t supported. Retry your request "
                     "with the ID or ARN of an inference profile that contains this model.")
_TYPES = {400: "ValidationException", 403: "AccessDeniedException", 404: "ResourceNotFoundException",
          424: "ModelErrorException", 429: "ThrottlingException", 500: "InternalServerException",
          503: "ServiceUnavailableException"}


def render_error(exc: SimReject) -> Response:
    kind = exc.kind or _TYPES.get(exc.status, "InternalServerException")
    resp = jsonify({"message": exc.message})
    resp.headers["x-amzn-ErrorType"] = f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"
    resp.headers["x-amzn-RequestId"] = f"sim-{time.time_ns()}"
    return resp


def _bad(message: str) -> SimReject:
    return SimReject(400, message, "ValidationException")


def _enum_error(value: Any, where: str, allowed: Any) -> SimReject:
    """Coral's constraint message (1-based ``member`` indices as the real service prints them)."""
    return _bad(f"1 validation error detected: Value '{value}' at '{where}' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(allowed)}]")


def _region() -> str:
    """The region of the SigV4 credential scope (``us-east-1`` for a Bedrock API key)."""
    match = re.search(r"Credential=[^/\s]+/\d{8}/([a-z0-9-]+)/bedrock/", request.headers.get("Authorization", ""))
    return match.group(1) if match else "us-east-1"


def _check_model(model_id: str, region: str, models: Iterable[str] | None) -> None:
    """The profile-only rule, the profile's source regions, and ids AWS does not serve."""
    base, geography = model_id, None
    if model_id.startswith("arn:"):
        fields = model_id.split(":", 5)
        if len(fields) < 6 or fields[3] != region:
            raise _bad("The provided model identifier is invalid.")
        resource, _, base = fields[5].partition("/")
        if resource == "application-inference-profile":
            return
    for geo in sorted(GEOGRAPHIES, key=len, reverse=True):
        if base.startswith(geo + "."):
            geography, base = geo, base[len(geo) + 1:]
            break
    if geography is not None and not any(fnmatchcase(region, p) for p in GEOGRAPHIES[geography]):
        raise _bad("The provided model identifier is invalid.")
    served.check("bedrock", base, models)
    if geography is None and any(fnmatchcase(base, p) for p in PROFILE_ONLY):
        raise _bad(ON_DEMAND_REFUSED.format(model_id))


def create_app(api_key: str = "sim-key", models: Iterable[str] | None = None) -> Flask:
    app = Flask("bedrock_sim")
    state = install_controls(app, "bedrock", render_error)

    def check_auth() -> None:
        header = request.headers.get("Authorization", "")
        if not header:
            raise SimReject(403, "Missing Authentication Token", "MissingAuthenticationTokenException")
        if header.startswith("Bearer "):
            if header[7:] != api_key:
                raise SimReject(403, "The security token included in the request is invalid.",
                                "UnrecognizedClientException")
            return
        if not SIGV4.match(header) or not request.headers.get("X-Amz-Date"):
            raise SimReject(403, "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
                            "parameters, and the request needs X-Amz-Date.", "IncompleteSignatureException")

    # batch inference on the control plane (app/simulators/bedrock_batches.py), signed and checked the same way
    bedrock_batches.register_batches(app, state, check_auth, lambda m, r, _: _check_model(m, r, models), _region)

    @app.post("/model/<path:model_id>/converse")
    def converse(model_id: str) -> Response:
        check_auth()
        _check_model(model_id, _region(), models)
        raw = request.get_data()
        try:
            body = load_json_body(raw)
        except ValueError as exc:
            raise SimReject(400, str(exc), "SerializationException")
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list) or not messages:
            raise _bad("A conversation must start with a user message. Try again with a conversation that "
                       "starts with a user message.")
        _check_config(body.get("inferenceConfig"))
        parts: list[Part] = []
        record_parts(parts, model_id)
        counts = {"image": 0, "document": 0}
        for i, msg in enumerate(messages):
            _read_message(i, msg, parts, counts)
        plan = bedrock_tools.check(body)  # toolConfig, toolUse / toolResult pairing (app/simulators/tools.py)
        content, stop_reason = bedrock_tools.answer(plan, raw, describe("bedrock", model_id, parts))
        p_tok, c_tok = prompt_tokens(parts), completion_tokens(str(content))
        return jsonify({
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop_reason,
            "usage": {"inputTokens": p_tok, "outputTokens": c_tok, "totalTokens": p_tok + c_tok},
            "metrics": {"latencyMs": 1},
        })

    return app


#: InferenceConfiguration's ranges (bedrock-runtime service-2.json); botocore checks only the minimums itself.
CONFIG_RANGES = {"maxTokens": (1, None), "temperature": (0, 1), "topP": (0, 1)}


def _check_config(config: Any) -> None:
    for name, (low, high) in CONFIG_RANGES.items():
        value = (config or {}).get(name) if isinstance(config, dict) else None
        if not isinstance(value, (int, float)):
            continue
        if value < low:
            raise _bad(f"1 validation error detected: Value '{value}' at 'inferenceConfig.{name}' failed to "
                       f"satisfy constraint: Member must have value greater than or equal to {low}")
        if high is not None and value > high:
            raise _bad(f"1 validation error detected: Value '{value}' at 'inferenceConfig.{name}' failed to "
                       f"satisfy constraint: Member must have value less than or equal to {high}")


def _read_message(i: int, msg: Any, parts: list[Part], counts: dict[str, int]) -> None:
    role = msg.get("role") if isinstance(msg, dict) else None
    if role not in ("user", "assistant"):
        raise _enum_error(role, f"messages.{i + 1}.member.role", ["user", "assistant"])
    content = msg.get("content")
    if not isinstance(content, list) or not content:
        raise _bad(f"The content field in the Message object at messages.{i} is empty. Add a ContentBlock "
                   "object to the content field and try again.")
    has_text = any(isinstance(b, dict) and "text" in b for b in content)
    for j, block in enumerate(content):
        where = f"messages.{i + 1}.member.content.{j + 1}.member"
        if not isinstance(block, dict):
            continue
        if "text" in block:
            parts.append(Part("text", text=str(block["text"])))
        elif "image" in block:
            counts["image"] += 1
            if counts["image"] > MAX_IMAGES:
                raise _bad(f"Too many images provided: the maximum is {MAX_IMAGES} images per request.")
            parts.append(_image(where + ".image", f"messages.{i}.content.{j}.image", block["image"]))
        elif "document" in block:
            if role != "user":
                raise _bad("Document blocks are only allowed in user messages.")
            if not has_text:
                raise _bad(f"messages.{i}.content: a document block must be accompanied by a text block in "
                           "the same message.")
            counts["document"] += 1
            if counts["document"] > MAX_DOCUMENTS:
                raise _bad(f"Too many documents provided: the maximum is {MAX_DOCUMENTS} documents per request.")
            parts.append(_document(where + ".document", f"messages.{i}.content.{j}.document", block["document"]))
        elif "video" in block:
            parts.append(_video(where + ".video", block["video"]))
        elif "toolResult" in block:  # its text; the pairing is checked by bedrock_tools
            parts.append(Part("text", text=bedrock_tools.result_text(block["toolResult"] or {})))
        elif "toolUse" in block:
            pass
        else:
            parts.append(Part("other", declared_mime=",".join(sorted(block))))


def _source_bytes(source: Any, where: str) -> tuple[bytes | None, str | None]:
    """(bytes, None) for ``{"bytes": b64}`` or (None, s3 uri) for ``{"s3Location": {"uri"}}``."""
    if not isinstance(source, dict) or len(source) != 1:
        raise _bad(f"{where}.source must set exactly one of bytes, s3Location")
    if "s3Location" in source:
        uri = (source["s3Location"] or {}).get("uri", "")
        if not str(uri).startswith("s3://"):
            raise _bad(f"{where}.source.s3Location.uri must start with s3://")
        return None, uri
    if "bytes" in source:
        try:
            data = b64decode_strict(source["bytes"])
        except MediaError as exc:
            raise SimReject(400, f"{where}.source.bytes: {exc}", "SerializationException")
        if not data:
            raise _bad(f"{where}.source.bytes must not be empty")
        return data, None
    if "text" in source or "content" in source:
        return None, None
    raise _bad(f"{where}.source must set exactly one of bytes, s3Location")


def _image(where: str, path: str, image: dict[str, Any]) -> Part:
    fmt = image.get("format")
    if fmt not in IMAGE_FORMATS:
        raise _enum_error(fmt, where + ".format", IMAGE_FORMATS)
    data, uri = _source_bytes(image.get("source"), path)
    if data is None:
        return Part("image", declared_mime=IMAGE_FORMATS[fmt], source="url", ref=uri)
    if len(data) > MAX_IMAGE_BYTES:
        raise _bad(f"{path}.source.bytes: image exceeds 3.75 MB maximum: {len(data)} bytes > "
                   f"{MAX_IMAGE_BYTES} bytes")
    try:
        media = inspect_media(data)
    except MediaError:
        raise _bad(f"{path}: Unable to process the image bytes (the image is invalid or corrupt).")
    if media.mime != IMAGE_FORMATS[fmt]:
        raise _bad(f"{path}: The image was specified with format '{fmt}', but the bytes appear to be "
                   f"{media.mime or 'unrecognised data'}.")
    if media.max_side > MAX_SIDE:
        raise _bad(f"{path}: Image dimensions {media.width}x{media.height} exceed the maximum of "
                   f"{MAX_SIDE}x{MAX_SIDE} pixels.")
    return Part("image", media=media, declared_mime=IMAGE_FORMATS[fmt])


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _document(where: str, path: str, doc: dict[str, Any]) -> Part:
    name = doc.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 200 or not DOC_NAME.match(name):
        raise _bad("The document file name can only contain alphanumeric characters, whitespace characters, "
                   "hyphens, parentheses, and square brackets. The name can't contain more than one "
                   f"consecutive whitespace character. (got {name!r} at {path}.name)")
    fmt = doc.get("format")
    source = doc.get("source")
    data, uri = _source_bytes(source, path)
    if data is None and uri is None:  # text / content sources carry no file
        return Part("document", text=str(source.get("text", "")), declared_mime="text", extra={"name": name})
    if fmt not in DOCUMENT_FORMATS:
        raise _enum_error(fmt, where + ".format", DOCUMENT_FORMATS)
    if data is None:
        return Part("document", declared_mime=fmt, source="url", ref=uri, extra={"name": name})
    if len(data) > MAX_DOCUMENT_BYTES:
        raise _bad(f"{path}.source.bytes: document exceeds 4.5 MB maximum: {len(data)} bytes > "
                   f"{MAX_DOCUMENT_BYTES} bytes")
    try:
        media = inspect_media(data)
    except MediaError:
        raise _bad(f"{path}: Unable to process the document bytes (invalid or corrupt {fmt}).")
    if media.mime != DOCUMENT_FORMATS[fmt] or (fmt in OFFICE_FORMATS and office_format(data) != fmt):
        raise _bad(f"{path}: The document was specified with format '{fmt}', but the bytes appear to be "
                   f"{office_format(data) or media.mime or 'unrecognised data'}.")
    if DOCUMENT_FORMATS[fmt] == "text/plain" and not _utf8(data):  # txt/csv/html/md are read as UTF-8 text
        raise _bad(f"{path}: Unable to process the document bytes: {fmt} documents must be UTF-8 text.")
    if media.encrypted and media.pages is None:
        raise _bad(f"{path}: The document is password protected.")
    if media.pages and media.pages > MAX_DOCUMENT_PAGES:  # Claude's 100-page PDF limit (message: the simulator's)
        raise _bad(f"{path}: The document has {media.pages} pages; at most {MAX_DOCUMENT_PAGES} pages are "
                   "supported per document.")
    return Part("document", media=media, declared_mime=fmt, extra={"name": name})


def _video(where: str, video: dict[str, Any]) -> Part:
    fmt = video.get("format")
    if fmt not in VIDEO_FORMATS:
        raise _enum_error(fmt, where + ".format", VIDEO_FORMATS)
    data, uri = _source_bytes(video.get("source"), where)
    if data is None:
        return Part("video", declared_mime=fmt, source="url", ref=uri)
    return Part("video", media=inspect_lenient(data), declared_mime=fmt)
