"""What every provider adapter does, and the neutral shapes it works on.

An adapter is three small functions over a provider's wire format: build the
native request from planned parts, parse the answer into an OpenAI
``chat.completion``, parse an error body. It holds no limits: those live in
the catalog and are applied by the planner before the adapter runs.
"""
from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from workers.core.errors import PASSED_UPSTREAM, UpstreamError
from workers.providers.tools import openai_form, openai_tool_calls, with_tool_calls


@dataclass
class Part:
    """One content part after the pipeline: text, or delivered media."""

    type: str  # "text" | "media"
    text: str | None = None
    kind: str | None = None  # image | document | audio | video
    mime: str | None = None
    data_b64: str | None = None  # inline delivery
    url: str | None = None  # URL / cloud URI delivery
    file_id: str | None = None  # provider Files API delivery
    filename: str | None = None
    detail: str | None = None
    sha256: str | None = None
    size: int | None = None


@dataclass
class Message:
    role: str
    parts: list[Part]
    tool_calls: list[dict[str, Any]] | None = None
    """An assistant turn's calls, in OpenAI form ``[{id, type, function: {name, arguments}}]``."""
    tool_call_id: str | None = None
    """A ``tool`` turn: the call it answers (its ``parts`` are the result)."""


@dataclass
class Call:
    provider: str
    model: str
    messages: list[Message]
    params: dict[str, Any]
    """The remaining OpenAI parameters (max_tokens, temperature, stop, ...)."""
    base_url: str
    api_key: str | None
    task: str = "chat"
    """``chat``, or ``images`` for image generation (workers/services/outputs.py ``task_for``)."""
    wire_model: str = ""
    """The id sent to the provider when it differs from ``model`` (a Bedrock inference profile)."""

    @property
    def send_model(self) -> str:
        return self.wire_model or self.model


@dataclass
class NativeRequest:
    method: str
    url: str
    headers: dict[str, str]
    json: dict[str, Any]
    redact_headers: tuple[str, ...] = field(default=())

    def public(self) -> dict[str, Any]:
        """The request as shown to users: secrets redacted."""
        headers = {k: ("<redacted>" if k.lower() in self.redact_headers else v) for k, v in self.headers.items()}
        return {"method": self.method, "url": self.url, "headers": headers, "body": self.json}


class Adapter(Protocol):
    def build_request(self, call: Call) -> NativeRequest: ...

    def parse_response(self, body: dict[str, Any], call: Call) -> dict[str, Any]: ...

    def parse_error(self, status: int, body: Any) -> UpstreamError: ...


def get_adapter(name: str) -> Adapter:
    """Adapters are modules named after the catalog's ``adapter`` field."""
    return importlib.import_module(f"workers.providers.{name}")  # type: ignore[return-value]


def completion(
    *, model: str, text: str, finish_reason: str, prompt_tokens: int, completion_tokens: int, id: str | None = None
) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` object."""
    return {
        "id": id or f"chatcmpl-{int(time.time() * 1000):x}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def error_message(body: Any) -> str:
    """Dig the human message out of the common error shapes."""
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
        if isinstance(body.get("message"), str):
            return body["message"]
    if isinstance(body, list) and body:
        return error_message(body[0])
    return str(body)[:500]


def upstream_error(provider: str, status: int, body: Any, *, stage: str = "complete",
                   request: str | None = None) -> UpstreamError:
    """A provider's error answer (chat call, or a Files API call at stage ``deliver``): 429 and 5xx are
    retryable; the error keeps the provider's status when it is one Ferry passes on
    (:data:`workers.core.errors.PASSED_UPSTREAM`), anything else is 502. ``request`` ("POST /v1/files") is named
    in the message."""
    to = f" to {request}" if request else ""
    return UpstreamError(
        f"{provider} answered {status}{to}: {error_message(body)}",
        stage=stage,
        retryable=status == 429 or status >= 500,
        upstream_status=status,
        status=status if status in PASSED_UPSTREAM else 502,
    )


# -- helpers for the OpenAI-compatible chat APIs (Mistral, xAI, Cohere's content parts) ----------------

def media_url(p: Part) -> str:
    """The part as a URL: its delivered URL, or a base64 data URI."""
    return p.url or f"data:{p.mime};base64,{p.data_b64}"


def image_url_part(p: Part) -> dict[str, Any]:
    """OpenAI's ``image_url`` content part (also Mistral's, xAI's and Cohere's)."""
    image: dict[str, Any] = {"url": media_url(p)}
    if p.detail:
        image["detail"] = p.detail
    return {"type": "image_url", "image_url": image}


def text_or_image_part(p: Part, provider: str) -> dict[str, Any]:
    """Content parts for chat APIs that take text and images only."""
    if p.type == "text":
        return {"type": "text", "text": p.text}
    if p.kind == "image":
        return image_url_part(p)
    raise ValueError(f"{provider} adapter cannot send {p.kind}")


def chat_messages(call: Call, part: Any) -> list[dict[str, Any]]:
    """OpenAI-style ``messages``: text-only turns other than the user's as plain strings,
    the rest as lists of ``part(p)`` content parts."""
    out: list[dict[str, Any]] = []
    for m in call.messages:
        if all(p.type == "text" for p in m.parts) and m.role != "user":
            out.append({"role": m.role, "content": "\n".join(p.text or "" for p in m.parts)})
        else:
            out.append({"role": m.role, "content": [part(p) for p in m.parts]})
        if m.tool_calls:  # OpenAI's shape is every OpenAI-like API's (workers/providers/tools.py)
            out[-1].update(content=out[-1]["content"] or None, tool_calls=openai_form(m.tool_calls))
        if m.tool_call_id:
            out[-1]["tool_call_id"] = m.tool_call_id
    return out


def bearer_json(url: str, api_key: str | None, body: dict[str, Any]) -> NativeRequest:
    return NativeRequest("POST", url, {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
                         body, redact_headers=("authorization",))


def openai_like_completion(provider: str, body: dict[str, Any], call: Call) -> dict[str, Any]:
    """Normalise an OpenAI-shaped answer from another provider into Ferry's chat.completion."""
    choice = (body.get("choices") or [{}])[0]
    content = (choice.get("message") or {}).get("content") or ""
    if isinstance(content, list):  # Mistral may answer with chunks
        content = "".join(c.get("text", "") for c in content if isinstance(c, dict))
    usage = body.get("usage") or {}
    out = completion(
        id=body.get("id"),
        model=f"{provider}/{body.get('model') or call.model}",
        text=content,
        finish_reason=choice.get("finish_reason") or "stop",
        prompt_tokens=int(usage.get("prompt_tokens", 0)),
        completion_tokens=int(usage.get("completion_tokens", 0)),
    )
    return with_tool_calls(out, openai_tool_calls((choice.get("message") or {}).get("tool_calls")))
