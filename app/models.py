"""``GET /v1/models``: the capability catalog in OpenAI's list shape.

``client.models.list()`` works unchanged; each model also carries ``architecture``
(``input_modalities``, ``output_modalities``, ``features``), ``limits`` and ``delivery``
(per media kind), read from workers/providers/catalog.toml, the same data the planner uses.
Filters (comma-separated, every value must match): ``supported_parameters=vision,pdf``,
``output_modalities=image|audio``, ``input_modalities=audio``, ``provider=gemini``.

Names the catalog does not list are accepted too (issue 12): the list's ``other_models`` says, per
provider, which families' defaults they get, and ``GET /v1/models/{provider}/{name}`` answers any name of a
known provider with the capabilities Ferry would use (``listed: false`` and ``model_resolution``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, jsonify, request

from app.auth import context, require_tenant
from app.compat import openai_errors
from workers.core.errors import FerryError, NotFound
from workers.providers.catalog import Catalog

bp = openai_errors(Blueprint("models", __name__, url_prefix="/v1/models"))
KINDS = ("image", "document", "audio", "video")
FEATURES = ("vision", "audio_input", "pdf", "video", "file_upload")
_CREATED = int(Path(__file__).resolve().parent.parent.joinpath("workers", "providers", "catalog.toml").stat().st_mtime)


def features(caps: Any) -> list[str]:
    """Feature flags from capabilities: vision, audio_input, pdf, video, file_upload (Files API delivery)."""
    out = []
    if caps.image is not None:
        out.append("vision")
    if caps.audio is not None:
        out.append("audio_input")
    if caps.document is not None and "application/pdf" in caps.document.formats:
        out.append("pdf")
    if caps.video is not None:
        out.append("video")
    if any(getattr(caps, k) is not None and "file" in getattr(caps, k).delivery for k in KINDS):
        out.append("file_upload")
    return out


def _limits(kind_caps: Any) -> dict[str, Any]:
    dumped = kind_caps.model_dump(exclude_none=True)
    return {k: v for k, v in dumped.items()
            if not k.endswith("source") and k not in ("delivery", "format_labels") and not k.startswith("tokens_")}


def model_object(catalog: Catalog, provider: str, name: str, caps: Any = None) -> dict[str, Any]:
    caps = caps or catalog.resolve(f"{provider}/{name}")
    entry = catalog.providers[provider]
    model = entry.models.get(name)
    limits: dict[str, Any] = {"context_window": model.context_window if model else None,
                              "request_max_bytes": caps.request_max_bytes}
    delivery: dict[str, list[str]] = {}
    for kind in KINDS:
        kind_caps = getattr(caps, kind)
        if kind_caps is not None:
            limits[kind] = _limits(kind_caps)
            delivery[kind] = list(kind_caps.delivery)
    feats = features(caps)
    return {
        "id": caps.id, "object": "model", "created": _CREATED, "owned_by": provider,
        "name": f"{entry.name}: {name}",
        "architecture": {"input_modalities": list(caps.input_modalities),
                         "output_modalities": list(caps.output_modalities), "features": feats},
        "supported_parameters": feats,
        "limits": limits,
        "delivery": delivery,
        "listed": model is not None,
        # Unlisted names, and listed ones sent under another id (a Bedrock profile-only model) say how.
        **({"model_resolution": caps.resolution} if caps.resolution is not None
           and (model is None or caps.wire_model not in ("", caps.model)) else {}),
    }


def other_models(catalog: Catalog, providers: set[str]) -> list[dict[str, Any]]:
    """Per provider: names outside the list are accepted, with which families' defaults."""
    return [{"provider": p, "accepted": True,
             "rule": "a snapshot or alias of a listed model gets its capabilities; otherwise the first family "
                     "whose pattern matches; otherwise the provider defaults. The provider is called with the name "
                     "as given and answers for names it does not serve.",
             "families": [{"name": f.name, "match": list(f.match), "input_modalities": list(f.input_modalities),
                           "output_modalities": list(f.output_modalities)} for f in e.families],
             "default_input_modalities": list(e.default.input_modalities)}
            for p, e in catalog.providers.items() if not providers or p in providers]


def _wanted(name: str) -> set[str]:
    raw = request.args.get(name) or ""
    return {v.strip() for v in raw.replace("|", ",").split(",") if v.strip()}


@bp.get("")
def list_():  # type: ignore[no-untyped-def]
    require_tenant()
    catalog = context().catalog
    params, outputs, inputs = _wanted("supported_parameters"), _wanted("output_modalities"), _wanted("input_modalities")
    providers = _wanted("provider")
    data = []
    for provider, entry in catalog.providers.items():
        if providers and provider not in providers:
            continue
        for name in entry.models:
            m = model_object(catalog, provider, name)
            arch = m["architecture"]
            if params - set(arch["features"]) or outputs - set(arch["output_modalities"]) \
                    or inputs - set(arch["input_modalities"]):
                continue
            data.append(m)
    return jsonify(object="list", data=data, other_models=other_models(catalog, providers))


@bp.get("/<path:model_id>")
def read(model_id: str):  # type: ignore[no-untyped-def]
    require_tenant()
    catalog = context().catalog
    try:
        caps = catalog.resolve(model_id, region=context().settings.bedrock_region())
    except FerryError as exc:
        raise NotFound(exc.message, param="model") from exc
    return jsonify(model_object(catalog, caps.provider, caps.model, caps))
