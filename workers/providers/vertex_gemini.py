"""Gemini on Vertex AI: the Gemini adapter's generateContent body, sent to Vertex.

``POST {base}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent``
with ``Authorization: Bearer <token>`` (Application Default Credentials; python-genai's ``_api_client.py``
builds the same path and header), where ``call.base_url`` is already ``{base}/v1/projects/{p}/locations/{l}``
(workers/core/settings.py ``vertex_resource_url``). The body is Gemini's (workers/providers/gemini.py), with
part fields in the lowerCamelCase of Vertex's REST reference (``inlineData``, ``fileData {mimeType,
fileUri}``; proto JSON takes both spellings). Vertex has no Files API: media it does not get inline it reads
from ``gs://`` (a staged output, or the user's own ``gs://`` source, never downloaded) or an https URL.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from workers.core.errors import UpstreamError
from workers.providers import gemini
from workers.providers.base import Call, NativeRequest, upstream_error

_CAMEL = {"inline_data": "inlineData", "file_data": "fileData", "mime_type": "mimeType", "file_uri": "fileUri"}


def _camel(part: dict[str, Any]) -> dict[str, Any]:
    return {_CAMEL.get(k, k): (_camel(v) if isinstance(v, dict) else v) for k, v in part.items()}


def vertex_request(call: Call, publisher: str, method: str, body: dict[str, Any]) -> NativeRequest:
    """POST ``body`` to ``{resource}/publishers/{publisher}/models/{model}:{method}`` with the bearer token
    (shared with workers/providers/vertex_anthropic.py)."""
    url = f"{call.base_url.rstrip('/')}/publishers/{publisher}/models/{quote(call.model, safe='@.-_')}:{method}"
    headers = {"Authorization": f"Bearer {call.api_key or ''}", "Content-Type": "application/json"}
    return NativeRequest("POST", url, headers, body, redact_headers=("authorization",))


def as_vertex(out: dict[str, Any], call: Call) -> dict[str, Any]:
    """The completion named as Ferry knows the model: ``vertex/<model>``."""
    out["model"] = f"vertex/{call.model}"
    return out


def build_request(call: Call) -> NativeRequest:
    body = dict(gemini.build_request(call).json)
    body["contents"] = [{**c, "parts": [_camel(p) for p in c["parts"]]} for c in body["contents"]]
    return vertex_request(call, "google", "generateContent", body)


def parse_response(body: dict[str, Any], call: Call) -> dict[str, Any]:
    return as_vertex(gemini.parse_response(body, call), call)


def parse_error(status: int, body: Any) -> UpstreamError:
    return upstream_error("vertex", status, body)
