"""Request bodies as pydantic models; a validation error becomes a 400 naming the field (``param``).

The chat ``messages`` themselves are parsed by workers/services/chat_request.py, which decodes media
as it validates (base64 and size caps while reading); these models are the envelopes around them.
"""
from __future__ import annotations

from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError, field_validator

from workers.core.errors import BadRequest

M = TypeVar("M", bound=BaseModel)


class Webhook(BaseModel):
    model_config = ConfigDict(extra="allow")

    url: StrictStr

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if len(url) > 2048 or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("webhook.url must be an http(s) URL")
        return url


class Delivery(BaseModel):
    model_config = ConfigDict(extra="allow")

    prefer: Literal["inline", "url", "file", "storage"] = "inline"


class JobFields(BaseModel):
    """What a job adds to a chat request; also the ``ferry`` object of /v1/chat/completions."""

    model_config = ConfigDict(extra="forbid")

    dry_run: StrictBool = False
    metadata: dict[str, Any] | None = None
    delivery: Delivery | None = None
    options: dict[str, Any] | None = None
    webhook: Webhook | None = None


class JobBody(JobFields):
    """``POST /v1/jobs``."""

    request: Any = None


class BatchFerry(BaseModel):
    """``POST /v1/batches`` ``ferry`` (SDK: ``extra_body={"ferry": {...}}``): how lines reach providers (issue 13)."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["native", "jobs", "auto"] = "auto"
    fallback: Literal["jobs"] | None = None


class BatchBody(BaseModel):
    """``POST /v1/batches`` (OpenAI's fields; others are ignored, as OpenAI does)."""

    model_config = ConfigDict(extra="ignore")

    input_file_id: StrictStr = Field(min_length=1)
    endpoint: Literal["/v1/chat/completions"]
    completion_window: Literal["24h"]
    metadata: dict[StrictStr, StrictStr] | None = Field(default=None, max_length=16)
    webhook: Webhook | None = None
    ferry: BatchFerry | None = None

    @field_validator("metadata")
    @classmethod
    def _openai_metadata(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value and any(len(k) > 64 or len(v) > 512 for k, v in value.items()):
            raise ValueError("metadata keys are at most 64 characters, values at most 512")
        return value


def param_of(loc: tuple[int | str, ...]) -> str:
    """pydantic's error location as Ferry's ``param``: ``("webhook", "url")`` -> ``webhook.url``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


_MESSAGES = {
    "dry_run": "dry_run must be true or false",
    "metadata": "metadata must be an object",
    "options": "options must be an object",
    "delivery": "delivery must be an object",
    "delivery.prefer": "delivery.prefer must be one of inline, url, file, storage",
    "webhook": "webhook must be an object with a 'url'",
    "webhook.url": "webhook.url must be an http(s) URL",
    "input_file_id": "input_file_id is required",
    "endpoint": "endpoint must be one of /v1/chat/completions",
    "completion_window": "completion_window must be one of 24h",
}


def parse(model: type[M], body: Any, what: str = "body") -> M:
    """Validate ``body`` as ``model``; the first problem is a 400 naming its field."""
    if not isinstance(body, dict):
        raise BadRequest(f"{what} must be a JSON object", param="body")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = exc.errors()
        unknown = sorted(param_of(e["loc"]) for e in errors if e["type"] == "extra_forbidden")
        if unknown:
            raise BadRequest(f"unknown field(s): {', '.join(unknown)}", param=unknown[0]) from None
        first = errors[0]
        param = param_of(tuple(p for p in first["loc"] if p not in ("function-after",)))
        top = "metadata" if param.startswith("metadata") else param
        message = _MESSAGES.get(top) or f"{param}: {first['msg']}"
        if top == "metadata" and model is BatchBody:
            message = "metadata must be at most 16 string pairs (keys <= 64, values <= 512 characters)"
        raise BadRequest(message, param=top) from None
