"""Which model names each simulated provider serves, and how it refuses the others.

Ferry forwards names its catalog does not list (issue 12), so the simulators, like the real services,
must refuse names they do not serve with the provider's own "unknown model" error. The globs below mimic
each provider's real ids (dated snapshots, ``-latest`` aliases); ``create_app(models=[...])`` replaces them.
Error texts as the providers send them:

- OpenAI 404 ``model_not_found``: "The model `X` does not exist or you do not have access to it."
- Anthropic 404 ``not_found_error``: "model: X"
- Gemini 404 NOT_FOUND: "models/X is not found for API version v1beta, or is not supported for generateContent. …"
- Bedrock 400 ValidationException: "The provided model identifier is invalid."
- Mistral 400 ``invalid_model`` (code 1500): "Invalid model: X"
- xAI 404: "The model X does not exist or your team does not have access to it."
- Cohere 404: "model 'X' not found, make sure the correct model ID was used and that you have access to the model."
"""
from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from .controls import SimReject

SERVED: dict[str, tuple[str, ...]] = {
    "openai": ("gpt-4o", "gpt-4o-20??-??-??", "gpt-4o-mini", "gpt-4o-mini-20??-??-??", "gpt-4o*-audio-preview*",
               "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4.1*-20??-??-??", "gpt-5", "gpt-5-mini", "gpt-5-nano",
               "gpt-5.1", "gpt-5.2", "gpt-5*-20??-??-??", "o1", "o3", "o3-mini", "o4-mini", "o[134]*-20??-??-??",
               "gpt-image-1*", "gpt-image-2", "chatgpt-image-latest", "dall-e-[23]", "gpt-audio*", "chatgpt-4o-latest"),
    "anthropic": ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929", "claude-opus-4-5", "claude-opus-4-5-20251101",
                  "claude-opus-4-1", "claude-opus-4-1-20250805", "claude-haiku-4-5", "claude-haiku-4-5-20251001",
                  "claude-sonnet-4-20250514", "claude-opus-4-20250514", "claude-3-7-sonnet-*", "claude-3-5-haiku-*"),
    "gemini": ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite", "gemini-2.0-flash", "gemini-2.0-flash-0??",
               "gemini-2.5-flash-image", "gemini-2.5-flash-image-preview", "gemini-2.5-*-preview-??-2025",
               "gemini-3-pro-preview", "gemini-3-flash-preview", "gemini-3-pro-image-preview", "gemini-*-latest"),
    "bedrock": ("anthropic.claude-*-v[12]:0", "amazon.nova-*-v1:0", "meta.llama*-v1:0", "mistral.*", "cohere.*"),
    "mistral": ("pixtral-large-latest", "pixtral-large-2411", "pixtral-12b-2409", "pixtral-12b-latest",
                "mistral-*-latest", "mistral-*-2[0-9][0-9][0-9]", "codestral-*", "magistral-*", "ministral-*"),
    "xai": ("grok-4", "grok-4-*", "grok-4-1-fast-*", "grok-3", "grok-3-mini", "grok-2-vision-1212", "grok-code-fast-1"),
    "cohere": ("command-a-vision-07-2025", "command-a-03-2025", "command-a-reasoning-08-2025",
               "command-a-translate-08-2025", "command-r-plus-08-2024", "command-r-08-2024", "command-r7b-12-2024", "command-r-plus",
               "command-r", "command-light", "command"),
}


def check(provider: str, model: str, served: Iterable[str] | None = None) -> None:
    """Raise the provider's own "unknown model" rejection unless ``model`` is one it serves."""
    if any(fnmatchcase(model, pat) for pat in (served if served is not None else SERVED[provider])):
        return
    if provider == "openai":
        raise SimReject(404, f"The model `{model}` does not exist or you do not have access to it.",
                        "invalid_request_error", code="model_not_found")
    if provider == "anthropic":
        raise SimReject(404, f"model: {model}", "not_found_error")
    if provider == "gemini":
        raise SimReject(404, f"models/{model} is not found for API version v1beta, or is not supported for "
                        "generateContent. Call ListModels to see the list of available models and their supported "
                        "methods.", "NOT_FOUND")
    if provider == "bedrock":
        raise SimReject(400, "The provided model identifier is invalid.", "ValidationException")
    if provider == "mistral":
        raise SimReject(400, f"Invalid model: {model}", "invalid_model", code="1500")
    if provider == "xai":
        raise SimReject(404, f"The model {model} does not exist or your team does not have access to it.",
                        "Some requested entity was not found")
    raise SimReject(404, f"model '{model}' not found, make sure the correct model ID was used and that you have "
                    "access to the model.")
