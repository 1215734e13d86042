"""Providers that serve another provider's models (Azure OpenAI, Vertex AI): their facts are that provider's.

``like = "openai"`` on a provider (``[providers.azure]``) means: its media kinds, request cap, families and
default are OpenAI's, with only the fields the entry sets itself overriding them (Azure's 10 images per
request); a name of it that is a snapshot or alias of a model OpenAI's catalog lists gets that model's entry.
``like = "anthropic"`` on a *family* (``claude-*`` on Vertex) means: a name it matches is resolved as that
provider's name would be (``anthropic/claude-sonnet-4-5@20250929``), then the family's kind overrides apply
(Vertex has no Anthropic Files API) and its ``adapter`` speaks the wire format. So the capability facts live
once, in the original provider's rows, and the serving platform adds only what differs.
"""
from __future__ import annotations

from typing import Any

KINDS = ("image", "document", "audio", "video")


def merge_kind(base: Any, override: Any) -> Any:
    """``base`` kind caps with the fields ``override`` sets itself (a table in catalog.toml) applied."""
    if base is None:
        return override
    if override is None:
        return base.model_copy(deep=True)
    return base.model_copy(deep=True, update=override.model_dump(exclude_unset=True))


def inherit_provider(entry: Any, base: Any) -> Any:
    """``entry`` (a ProviderEntry with ``like``) completed from ``base``, the provider it is like."""
    own = entry.model_fields_set
    update: dict[str, Any] = {kind: merge_kind(getattr(base, kind), getattr(entry, kind)) for kind in KINDS}
    if "request_max_bytes" not in own:
        update["request_max_bytes"] = base.request_max_bytes
        update["request_max_bytes_source"] = base.request_max_bytes_source
    if "default" not in own:
        update["default"] = base.default.model_copy(deep=True)
    update["families"] = [*entry.families, *(f.model_copy(deep=True) for f in base.families)]
    return entry.model_copy(update=update)


def apply_family(inner: Any, family: Any, *, provider: str, model: str, entry: Any, listed: bool) -> Any:
    """The caps of ``model`` on ``provider`` from ``inner`` (the same name resolved at ``family.like``)."""
    kinds = {kind: merge_kind(getattr(inner, kind), getattr(family, kind)) if getattr(inner, kind) is not None
             else None for kind in KINDS}
    whose = inner.uses if "/" in inner.uses or inner.uses.startswith(family.like) else f"{family.like} {inner.uses}"
    uses = f"{whose} ({family.name})"
    notes = [] if listed else [
        f"{provider}/{model} is not in Ferry's catalog: {family.name} uses the capabilities of {whose}; the "
        f"provider is called with {model!r}"]
    return inner.model_copy(update={
        "provider": provider, "model": model, "adapter": family.adapter or entry.adapter,
        "default_base_url": entry.default_base_url, "listed": listed, "uses": uses, "wire_model": model,
        "notes": notes, "key_required": entry.key_required, "source_passthrough": list(entry.source_passthrough),
        "request_max_bytes": family.request_max_bytes if family.request_max_bytes is not None
        else inner.request_max_bytes,
        **kinds})
