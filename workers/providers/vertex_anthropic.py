"""Claude on Vertex AI: the Anthropic adapter's Messages body, sent to Vertex's ``rawPredict``.

``POST {base}/v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:rawPredict``
with ``Authorization: Bearer <token>``; the body is Anthropic's without ``model`` (it is in the path) and
with ``anthropic_version: "vertex-2023-10-16"`` (anthropic-sdk-python ``lib/vertex/_client.py``
``_prepare_options``: ``DEFAULT_VERSION``, ``json_data.pop("model")``, ``:rawPredict``). Model ids are
Vertex's (``claude-sonnet-4-5@20250929``). No Files API and no URL sources on Vertex: the catalog keeps
Claude-on-Vertex media inline.
"""
from __future__ import annotations

from typing import Any

from workers.core.errors import UpstreamError
from workers.providers import anthropic
from workers.providers.base import Call, NativeRequest, upstream_error
from workers.providers.vertex_gemini import as_vertex, vertex_request

VERTEX_VERSION = "vertex-2023-10-16"


def build_request(call: Call) -> NativeRequest:
    body = {k: v for k, v in anthropic.build_request(call).json.items() if k != "model"}
    body["anthropic_version"] = VERTEX_VERSION
    return vertex_request(call, "anthropic", "rawPredict", body)


def parse_response(body: dict[str, Any], call: Call) -> dict[str, Any]:
    return as_vertex(anthropic.parse_response(body, call), call)


def parse_error(status: int, body: Any) -> UpstreamError:
    if isinstance(body, list) and body and isinstance(body[0], dict):  # Vertex wraps some errors in a list
        body = body[0]
    return upstream_error("vertex", status, body)
