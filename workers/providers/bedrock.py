"""Amazon Bedrock Converse: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html

Called through boto3 ``bedrock-runtime`` (SigV4, endpoint and credentials from boto3's own variables,
e.g. ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``), so this adapter brings its own :func:`send`. The native
request shown for dry runs is the REST body, bytes as base64 as on the wire; :func:`send` turns those
back into bytes for boto3. Quirks, all from the catalog: lowercase format labels, a document ``name``
limited to letters, digits, single spaces, hyphens, parentheses and brackets, a text block beside
each document, and ``s3Location`` for media staged to S3.
"""
from __future__ import annotations

import base64
import re
from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote

from workers.core.errors import Unprocessable, UpstreamError
from workers.providers.base import Call, NativeRequest, Part, completion, upstream_error
from workers.providers.catalog import ModelCaps, get_catalog
from workers.providers.tool_shapes import bedrock_calls, bedrock_done, bedrock_params, bedrock_turn
from workers.providers.tools import with_tool_calls

_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
           "guardrail_intervened": "content_filter", "content_filtered": "content_filter"}
_CONFIG = {"max_tokens": "maxTokens", "max_completion_tokens": "maxTokens", "temperature": "temperature",
           "top_p": "topP"}
_NAME_JUNK = re.compile(r"[^A-Za-z0-9()\[\]\- ]+")


def _source(p: Part) -> dict[str, Any]:
    if p.url and p.url.startswith("s3://"):
        return {"s3Location": {"uri": p.url}}
    if p.url or p.file_id:
        raise Unprocessable("bedrock takes media as bytes or s3:// locations only")
    return {"bytes": p.data_b64}


def document_name(filename: str | None, taken: set[str]) -> str:
    """A name Converse accepts (no dots or underscores, single spaces), unique within the request."""
    stem = (filename or "document").rsplit(".", 1)[0]
    name = " ".join(_NAME_JUNK.sub(" ", stem).split())[:190] or "document"
    unique, n = name, 2
    while unique in taken:
        unique, n = f"{name} ({n})", n + 1
    taken.add(unique)
    return unique


def _block(p: Part, caps: ModelCaps, names: set[str]) -> dict[str, Any]:
    if p.type == "text":
        return {"text": p.text}
    kcaps = caps.caps_for(p.kind)  # type: ignore[arg-type]
    label = (kcaps.format_labels if kcaps else {}).get(p.mime or "")
    if label is None:
        raise Unprocessable(f"bedrock has no format label for {p.mime}")
    if p.kind == "document":
        return {"document": {"format": label, "name": document_name(p.filename, names), "source": _source(p)}}
    if p.kind in ("image", "video"):
        return {p.kind: {"format": label, "source": _source(p)}}
    raise Unprocessable(f"bedrock adapter cannot send {p.kind}")


def build_request(call: Call) -> NativeRequest:
    caps = get_catalog().resolve(f"bedrock/{call.model}")  # capabilities only: the region was checked at submit
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    names: set[str] = set()
    for m in call.messages:
        if m.role in ("system", "developer"):
            system.extend({"text": p.text} for p in m.parts if p.type == "text")
            continue
        content = [_block(p, caps, names) for p in m.parts]
        needs_text = caps.document is not None and caps.document.needs_text_block
        if needs_text and any("document" in b for b in content) and not any("text" in b for b in content):
            content.append({"text": "See the attached document."})
        bedrock_turn(messages, m, content)  # toolUse / toolResult blocks too
    body: dict[str, Any] = {"messages": bedrock_done(messages)}
    if system:
        body["system"] = system
    config = {_CONFIG[k]: v for k, v in call.params.items() if k in _CONFIG}
    if "stop" in call.params:
        stop = call.params["stop"]
        config["stopSequences"] = [stop] if isinstance(stop, str) else stop
    if config:
        body["inferenceConfig"] = config
    body.update(bedrock_params(call.params, call.messages))
    url = f"{call.base_url.rstrip('/')}/model/{quote(call.send_model, safe='')}/converse"
    return NativeRequest("POST", url, {"Content-Type": "application/json", "Authorization": "AWS4-HMAC-SHA256 (boto3)"},
                         body, redact_headers=("authorization",))


def _with_bytes(x: Any) -> Any:
    """The REST body with every ``source.bytes`` base64 string decoded, as boto3 wants it."""
    if isinstance(x, dict):  # a tool's input and schema ("input", "json") are the user's data: kept as they are
        return {k: (base64.b64decode(v) if k == "bytes" and isinstance(v, str) else
                    v if k in ("input", "json") else _with_bytes(v)) for k, v in x.items()}
    if isinstance(x, list):
        return [_with_bytes(v) for v in x]
    return x


@lru_cache(maxsize=4)
def _client(timeout: float) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(read_timeout=timeout, connect_timeout=10, retries={"max_attempts": 1, "mode": "standard"})
    from workers.core.settings import get_settings

    return boto3.session.Session().client("bedrock-runtime", region_name=get_settings().bedrock_region(),
                                         config=config)


def send(native: NativeRequest, timeout: float) -> dict[str, Any]:
    """Call Converse through boto3; translate botocore errors into UpstreamError."""
    from botocore.exceptions import (BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError,
                                     NoCredentialsError, NoRegionError, ReadTimeoutError)

    model_id = unquote(native.url.rsplit("/model/", 1)[1].removesuffix("/converse"))
    try:
        answer = _client(timeout).converse(modelId=model_id, **_with_bytes(native.json))
    except ClientError as exc:
        err = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500)
        raise parse_error(status, {"message": f"{err.get('Code', 'Error')}: {err.get('Message', '')}"}) from exc
    except (NoCredentialsError, NoRegionError) as exc:
        raise Unprocessable(f"bedrock: {exc} (set AWS credentials and AWS_REGION)", stage="complete") from exc
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as exc:
        raise UpstreamError(f"bedrock could not be reached: {exc}", stage="complete", retryable=True) from exc
    except BotoCoreError as exc:
        raise UpstreamError(f"bedrock call failed: {exc}", stage="complete") from exc
    answer.pop("ResponseMetadata", None)
    return answer


def parse_response(body: dict[str, Any], call: Call) -> dict[str, Any]:
    message = (body.get("output") or {}).get("message") or {}
    text = "".join(b.get("text", "") for b in message.get("content") or [] if "text" in b)
    usage = body.get("usage") or {}
    out = completion(
        model=f"bedrock/{call.model}",
        text=text,
        finish_reason=_FINISH.get(body.get("stopReason") or "", "stop"),
        prompt_tokens=int(usage.get("inputTokens", 0)),
        completion_tokens=int(usage.get("outputTokens", 0)),
    )
    return with_tool_calls(out, bedrock_calls(message.get("content") or []))


def parse_error(status: int, body: Any) -> UpstreamError:
    return upstream_error("bedrock", status, body)
