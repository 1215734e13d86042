"""The capability catalog: what each provider and model accepts, as data.

``catalog.toml`` beside this module is the single source the planner, the
adapters and ``/v1/models`` read. Each provider entry holds defaults per media
kind; a model entry can override any kind and lists its modalities. Every
limit carries its source in a ``*_source`` string next to it.
"""
from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator

from workers.core.errors import Unprocessable
from workers.providers import endpoints as endpoints_mod
from workers.providers import inherit, names, profiles

Kind = Literal["image", "document", "audio", "video"]
Delivery = Literal["inline", "url", "file", "storage", "youtube"]


class _Caps(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelled key in catalog.toml fails at load, naming it

    formats: list[str] = []
    """Accepted MIME types."""
    max_bytes: int | None = None
    """Per item, raw bytes unless ``counted_on_base64``."""
    counted_on_base64: bool = False
    max_per_request: int | None = None
    delivery: list[Delivery] = ["inline"]
    format_labels: dict[str, str] = {}
    """MIME -> the provider's own format name (Bedrock's lowercase ``png``/``jpeg``/``pdf``)."""
    source: str = ""
    storage_scheme: Literal["gs", "s3"] | None = None
    """The bucket scheme ``storage`` delivery hands the provider: ``gs`` (Gemini ``file_uri``) or ``s3``
    (Bedrock ``s3Location``); None when the provider reads no bucket."""


class ImageCaps(_Caps):
    max_side: int | None = None
    """Hard limit: a larger side is rejected by the provider."""
    max_pixels: int | None = None
    recommended_long_edge: int | None = None
    """The provider scales larger images down itself, so Ferry never sends more."""
    recommended_max_pixels: int | None = None
    low_detail_side: int = 512
    """``detail: low`` fits the image in a square of this side."""
    detail_mode: Literal["openai", "fit"] = "fit"
    """``openai``: low -> 512 box, high -> 2048 box then short side <= 768, auto picks by size."""
    animated: Literal["first_frame", "reject", "ok"] = "first_frame"
    """What the provider does with animation: reads frame 0 only, refuses it, or uses it."""
    alpha: bool = True
    """False: transparency breaks the provider (Mistral), flatten onto white."""
    token_formula: Literal["openai_tiles", "anthropic_pixels", "gemini_tiles", "patches", "tiles", "none"] = "none"
    tokens_base: int = 0
    tokens_per_tile: int = 0
    tile_size: int = 512
    patch_size: int = 16
    max_tiles: int | None = None
    tokens_source: str = ""


class DocumentCaps(_Caps):
    max_pages: int | None = None
    needs_text_block: bool = False
    name_pattern: str | None = None
    """Regex a document name must match (Bedrock: letters, digits, single spaces, - ( ) [ ])."""


class AudioCaps(_Caps):
    max_seconds: float | None = None
    transcode_to: str | None = None
    """Target MIME when the input's format is not accepted."""


class VideoCaps(_Caps):
    max_seconds: float | None = None


class ModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_modalities: list[str] = ["text", "image"]
    output_modalities: list[str] = ["text"]
    context_window: int | None = None
    image: ImageCaps | None = None
    document: DocumentCaps | None = None
    audio: AudioCaps | None = None
    video: VideoCaps | None = None
    param_renames: dict[str, str] = {}
    """OpenAI parameter -> the name this model takes (OpenAI gpt-5 / o-series: ``max_tokens`` ->
    ``max_completion_tokens``); applied by the adapter."""
    profile_only: bool = False
    """Bedrock: AWS serves it only through an inference profile (a bare id is sent as the region's one)."""


class FamilyEntry(ModelEntry):
    """Defaults for names the catalog does not list, matched by ``fnmatch`` globs on the model name
    (workers/providers/names.py); its quirks (``param_renames``, ``profile_only``) also apply to listed
    models it matches."""

    name: str
    match: list[str]
    source: str = ""
    like: str | None = None
    """Another provider whose facts a matched name gets, resolved as that provider's name (Claude on Vertex:
    ``anthropic``); the family's own kind tables then override (workers/providers/inherit.py)."""
    adapter: str | None = None
    """The adapter for names of this family, when not the provider's (Vertex: ``vertex_anthropic``)."""
    request_max_bytes: int | None = None


class ProfileRules(BaseModel):
    """Bedrock inference profiles: geography prefix -> the source regions (``fnmatch`` globs) it serves."""

    model_config = ConfigDict(extra="forbid")

    geographies: dict[str, list[str]]
    prefer: list[str]
    """Which geography a bare profile-only id is sent through, first whose regions include the configured one."""
    source: str = ""


class ProviderEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    adapter: str
    default_base_url: str
    docs: str = ""
    request_max_bytes: int | None = None
    """Whole inline request body cap (after base64)."""
    request_max_bytes_source: str = ""
    image: ImageCaps | None = None
    document: DocumentCaps | None = None
    audio: AudioCaps | None = None
    video: VideoCaps | None = None
    models: dict[str, ModelEntry]
    families: list[FamilyEntry] = []
    default: ModelEntry = ModelEntry()
    """What a name that is neither listed nor in a family gets: the provider's most conservative values."""
    inference_profiles: ProfileRules | None = None
    key_required: bool = True
    """False for self-hosted endpoints: no ``Authorization`` unless ``<NAME>_API_KEY`` is set."""
    like: str | None = None
    """The provider whose kinds, families and default this one inherits (Azure: ``openai``; inherit.py)."""
    source_passthrough: list[Literal["gs"]] = []
    """Source schemes the provider reads itself (Vertex: ``gs``): such a source is sent as its URI, not fetched."""


class ModelCaps(BaseModel):
    """A model's resolved capabilities: provider defaults merged with model overrides."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str
    model: str
    adapter: str
    default_base_url: str
    input_modalities: list[str]
    output_modalities: list[str]
    request_max_bytes: int | None
    image: ImageCaps | None
    document: DocumentCaps | None
    audio: AudioCaps | None
    video: VideoCaps | None
    param_renames: dict[str, str] = {}
    profile_only: bool = False
    listed: bool = True
    """False: the name is not in the catalog; ``uses`` says whose capabilities it got."""
    uses: str = ""
    """``openai/gpt-4o`` (a listed model), ``family gpt-5``, or ``openai defaults``."""
    wire_model: str = ""
    """The id sent to the provider: the name as given, except a Bedrock id served only through an
    inference profile, sent as the configured region's profile."""
    notes: list[str] = []
    key_required: bool = True
    source_passthrough: list[str] = []

    @property
    def resolution(self) -> dict[str, object] | None:
        """What the job records about how its model was resolved (None for a listed name sent as given)."""
        if self.listed and self.wire_model in ("", self.model) and not self.notes:
            return None
        return {"listed": self.listed, "uses": self.uses, "sent_as": self.wire_model or self.model,
                "notes": list(self.notes)}

    @property
    def id(self) -> str:
        return f"{self.provider}/{self.model}"

    def caps_for(self, kind: Kind) -> _Caps | None:
        return getattr(self, kind)

    def raw_byte_cap(self, kind: Kind) -> int | None:
        """Largest raw (pre-base64) size one item of ``kind`` may have inline: the per-item cap and the
        whole-request cap, each converted from base64 bytes where the provider counts those."""
        caps = self.caps_for(kind)
        limits: list[int] = []
        if caps is not None and caps.max_bytes:
            limits.append(caps.max_bytes * 3 // 4 if caps.counted_on_base64 else caps.max_bytes)
        if self.request_max_bytes:
            limits.append(self.request_max_bytes * 3 // 4)
        return min(limits) if limits else None

    @property
    def features(self) -> list[str]:
        """``/v1/models`` feature flags: vision, pdf, audio_input, video_input."""
        names = {"image": "vision", "document": "pdf", "audio": "audio_input", "video": "video_input"}
        return [name for kind, name in names.items() if getattr(self, kind) is not None]


_FORMS = {"profile": "cross-Region inference profile id", "profile_arn": "inference profile ARN",
          "foundation_arn": "foundation-model ARN", "application_arn": "application inference profile ARN"}
#: How many resolved names a catalog remembers (workers/providers/catalog.py ``Catalog.resolve``).
RESOLVED_MAX = 512
_MODALITY = {"image": "image", "document": "file", "audio": "audio", "video": "video"}


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    providers: dict[str, ProviderEntry]
    endpoint_defaults: ProviderEntry | None = None
    """The template FERRY_ENDPOINTS providers are made from (workers/providers/endpoints.py)."""
    endpoints: dict[str, endpoints_mod.EndpointOverride] = {}
    """Per-endpoint overrides, by name."""
    _resolved: dict[tuple[str, str | None], ModelCaps] = PrivateAttr(default_factory=dict)
    """:meth:`resolve`'s answers: every step of every job asks again (10 % of a small job's worker CPU)."""

    @model_validator(mode="after")
    def _inherit(self) -> Catalog:
        """Complete each ``like`` provider from the one it is like (Azure from OpenAI, Vertex from Gemini)."""
        for name, entry in list(self.providers.items()):
            if entry.like is not None:
                base = self.providers.get(entry.like)
                if base is None or base.like is not None:
                    raise ValueError(f"providers.{name}.like = {entry.like!r} must name a provider that is like none")
                self.providers[name] = inherit.inherit_provider(entry, base)
        return self

    def with_endpoints(self, urls: dict[str, str],
                       env: dict[str, endpoints_mod.EndpointOverride] | None = None) -> Catalog:
        """This catalog plus one provider per configured OpenAI-compatible endpoint."""
        if not urls or self.endpoint_defaults is None:
            return self
        providers = dict(self.providers)
        for name, url in urls.items():
            endpoints_mod.check_name(name, self.providers)
            layers = [o for o in (self.endpoints.get(name), (env or {}).get(name)) if o is not None]
            providers[name] = endpoints_mod.provider_entry(self.endpoint_defaults, name, url, *layers)
        copied = self.model_copy(update={"providers": providers})
        copied._resolved = {}  # (model_copy shares private attributes)
        return copied

    def resolve(self, model_id: str, *, region: str | None = None) -> ModelCaps:
        """``"provider/model"`` -> resolved caps (see :meth:`resolve_uncached`), remembered per name and
        region: ModelCaps is frozen and nothing changes a catalog once loaded."""
        key = (model_id, region)
        caps = self._resolved.get(key)
        if caps is None:
            caps = self.resolve_uncached(model_id, region=region)
            if len(self._resolved) >= RESOLVED_MAX:
                self._resolved.clear()  # unbounded names (any snapshot of a family): keep the memo small
            self._resolved[key] = caps
        return caps

    def resolve_uncached(self, model_id: str, *, region: str | None = None) -> ModelCaps:
        """``"provider/model"`` -> resolved caps; 422 only for a malformed id or an unknown provider.

        A name the catalog does not list gets a listed model's caps (a snapshot or alias of it), a family's
        or the provider's defaults (workers/providers/names.py), and ``notes`` saying so; the provider is
        called with the name as given. Bedrock (``region``: where it is called): a profile id or ARN gets its
        base model's caps and is checked against the region; a bare profile-only id is sent as the region's
        profile (``wire_model``)."""
        provider, sep, model = model_id.partition("/")
        if not sep or not provider or not model:
            raise Unprocessable(
                f"model {model_id!r} must be 'provider/model', e.g. 'openai/gpt-4o'", param="request.model"
            )
        entry = self.providers.get(provider)
        if entry is None:
            raise Unprocessable(
                f"unknown provider {provider!r} in model {model_id!r}; known: {', '.join(sorted(self.providers))}",
                param="request.model",
            )
        family = names.family_match(model, entry.families)
        if family is not None and family.like:  # Claude on Vertex: Anthropic's facts for the same name
            inner = self.resolve(f"{family.like}/{model}", region=region)
            return inherit.apply_family(inner, family, provider=provider, model=model, entry=entry,
                                        listed=model in entry.models)
        notes: list[str] = []
        base, wire = model, model
        ref = None
        rules = entry.inference_profiles
        if rules is not None:
            ref = profiles.parse(model, rules.geographies)
            profiles.check_region(model, ref, rules.geographies, region)
            base = ref.base
            if ref.form != "bare":
                notes.append(f"{model!r} is a Bedrock {_FORMS[ref.form]}: capabilities of its model "
                             f"{base or '(not named in an application profile ARN)'}; sent as given")
        before = len(notes)
        layers, listed, uses = self._layers(entry, provider, base, notes, model)
        listed = listed and (ref is None or ref.form == "bare")
        profile_only = any(layer.profile_only for layer in layers if layer is not None)
        if ref is not None and rules is not None and ref.form == "bare" and profile_only:
            geo, wire = profiles.profile_for(base, rules.geographies, rules.prefer, region)
            notes.append(f"AWS serves {base} only through inference profiles: sent as {wire} (the {geo} profile "
                         f"of region {region or 'us-east-1'})")
        elif len(notes) > before:
            notes[before] += f"; the provider is called with {model!r}"
        merged: dict[str, object] = {}
        for layer in layers:
            if layer is not None:
                merged.update(layer.model_dump(exclude_unset=True, include={"input_modalities", "output_modalities"}))
        inputs = merged.get("input_modalities", ModelEntry().input_modalities)
        renames: dict[str, str] = {}
        for layer in layers:
            if layer is not None:
                renames.update(layer.param_renames)
        kinds: dict[str, object] = {}
        for kind, modality in _MODALITY.items():
            if modality not in inputs:  # type: ignore[operator]
                kinds[kind] = None
                continue
            caps = getattr(entry, kind)
            for layer in layers:
                override = getattr(layer, kind) if layer is not None else None
                if override is None:
                    continue
                caps = override if caps is None else caps.model_copy(update=override.model_dump(exclude_unset=True))
            kinds[kind] = caps
        return ModelCaps(
            provider=provider, model=model, adapter=entry.adapter, default_base_url=entry.default_base_url,
            input_modalities=inputs, output_modalities=merged.get("output_modalities", ["text"]),
            request_max_bytes=entry.request_max_bytes, param_renames=renames, profile_only=profile_only,
            listed=listed, uses=uses, wire_model=wire, notes=notes, key_required=entry.key_required,
            source_passthrough=list(entry.source_passthrough), **kinds,
        )

    def _layers(self, entry: ProviderEntry, provider: str, base: str, notes: list[str],
                model: str) -> tuple[tuple[ModelEntry | None, ModelEntry | None], bool, str]:
        """(family, model entry) layered over the provider's kinds, whether ``base`` is listed, and whose caps
        it uses; appends the note a name outside the catalog gets."""
        family = names.family_match(base, entry.families) if base else None
        listed_name = names.listed_match(base, entry.models) if base else None
        like = self.providers.get(entry.like) if entry.like else None
        if listed_name is None and like is not None and base:  # azure/gpt-4o-mini: OpenAI's gpt-4o-mini row
            like_name = names.listed_match(base, like.models)
            if like_name is not None:
                notes.append(f"{provider}/{model} is not in Ferry's catalog: using the capabilities of "
                             f"{entry.like}/{like_name}, the model it is named after")
                return (family, like.models[like_name]), False, f"{entry.like}/{like_name}"
        if listed_name is not None:
            if listed_name != base:
                notes.append(f"{provider}/{model} is not in Ferry's catalog: using the capabilities of "
                             f"{provider}/{listed_name} (a snapshot or alias of it)")
            return (family, entry.models[listed_name]), listed_name == base, f"{provider}/{listed_name}"
        if family is not None:
            notes.append(f"{provider}/{model} is not in Ferry's catalog: using the defaults of the {provider} "
                         f"family {family.name!r} ({', '.join(family.match)})")
            return (family, None), False, f"family {family.name}"
        notes.append(f"{provider}/{model} is not in Ferry's catalog and matches no family: using {provider}'s "
                     f"provider defaults (its most conservative limits)")
        return (None, entry.default), False, f"{provider} defaults"

    def model_ids(self) -> list[str]:
        return [f"{p}/{m}" for p, e in self.providers.items() for m in e.models]


def load_catalog(path: Path | None = None) -> Catalog:
    path = path or Path(__file__).with_name("catalog.toml")
    with path.open("rb") as fh:
        return Catalog.model_validate(tomllib.load(fh))


@lru_cache(maxsize=1)
def get_catalog() -> Catalog:
    return load_catalog()
