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


def bearer_headers(call: Call) -> dict[str, str]:
    return {"Authorization": f"Bearer {call.api_key or ''}", "Content-Type": "application/json"}


def model_url(call: Call, publisher: str, method: str) -> str:
    return f"{call.base_url.rstrip('/')}/publishers/{publisher}/models/{quote(call.model, safe='@.-_')}:{method}"


def build_request(call: Call) -> NativeRequest:
    body = dict(gemini.build_request(call).json)
    body["contents"] = [{**c, "parts": [_camel(p) for p in c["parts"]]} for c in body["contents"]]
    return NativeRequest("POST", model_url(call, "google", "generateContent"), bearer_headers(call), body,
                         redact_headers=("authorization",))


def parse_response(body: dict[str, Any], call: Call) -> dict[str, Any]:
    out = gemini.parse_response(body, call)
    out["model"] = f"vertex/{call.model}"
    return out


def parse_error(status: int, body: Any) -> UpstreamError:
    return upstream_error("vertex", status, body)
