"""Azure OpenAI: OpenAI's chat (and images) request, sent to a deployment.

``azure/<deployment>`` goes to ``{AZURE_OPENAI_ENDPOINT}/openai/deployments/{deployment}/chat/completions
?api-version={OPENAI_API_VERSION}`` with the key in an ``api-key`` header, as openai-python's ``AzureOpenAI``
sends it (src/openai/lib/azure.py: ``_deployments_endpoints``, ``{endpoint}/openai/deployments/{d}``,
``default_query = {"api-version": ...}``, ``{"api-key": api_key}``). The body is OpenAI's (the adapter
is workers/providers/openai.py); the SDK keeps ``model`` in it too.

Azure's content filter answers in two ways, both made the job's error here, saying what was filtered
(https://learn.microsoft.com/en-us/azure/ai-foundry/openai/concepts/content-filter): the prompt is refused
with 400 ``code: content_filter`` (``innererror.code: ResponsibleAIPolicyViolation``,
``innererror.content_filter_result``), and a filtered completion comes back 200 with ``finish_reason:
content_filter`` and the categories in ``choices[].content_filter_results``.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from workers.core.errors import UpstreamError
from workers.core.settings import get_settings
from workers.providers import openai
from workers.providers.base import Call, NativeRequest, upstream_error

_PATHS = {"chat": "/chat/completions", "images": "/images/generations"}


def deployment_url(call: Call, path: str) -> str:
    endpoint = call.base_url.rstrip("/")
    return (f"{endpoint}/openai/deployments/{quote(call.model, safe='')}{path}"
            f"?api-version={quote(get_settings().openai_api_version, safe='')}")


def build_request(call: Call) -> NativeRequest:
    native = openai.build_request(call)
    path = _PATHS.get(call.task, _PATHS["chat"])
    headers = {k: v for k, v in native.headers.items() if k.lower() != "authorization"}
    headers["api-key"] = call.api_key or ""
    return NativeRequest(native.method, deployment_url(call, path), headers, native.json, redact_headers=("api-key",))


def parse_response(body: dict[str, Any], call: Call) -> dict[str, Any]:
    for choice in body.get("choices") or []:
        if choice.get("finish_reason") == "content_filter":
            raise UpstreamError(f"azure content filter stopped the completion of deployment {call.model!r}: "
                                f"{_categories(choice.get('content_filter_results'))} (finish_reason "
                                "content_filter; change the prompt or the deployment's content filter)",
                                stage="complete", upstream_status=200, param="request.messages")
    out = openai.parse_response(body, call)
    out["model"] = f"azure/{call.model}"
    return out


def parse_error(status: int, body: Any) -> UpstreamError:
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict) and err.get("code") == "content_filter":
        inner = err.get("innererror") if isinstance(err.get("innererror"), dict) else {}
        why = inner.get("code") or "content_filter"
        exc = upstream_error("azure", status, body)
        exc.message = (f"azure content filter refused the prompt ({why}: "
                       f"{_categories(inner.get('content_filter_result'))}): {err.get('message', '')}")
        exc.param = "request.messages"
        return exc
    return upstream_error("azure", status, body)


def _categories(results: Any) -> str:
    """``{"violence": {"filtered": true, "severity": "medium"}, ...}`` -> ``violence (medium)``."""
    if not isinstance(results, dict):
        return "no categories given"
    hits = []
    for name, verdict in results.items():
        if isinstance(verdict, dict) and verdict.get("filtered"):
            detail = verdict.get("severity") or ("detected" if verdict.get("detected") else "")
            hits.append(f"{name} ({detail})" if detail else name)
    return ", ".join(hits) or "no category marked filtered"
