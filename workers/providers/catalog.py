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

from pydantic import BaseModel, ConfigDict

from workers.core.errors import Unprocessable

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


class ModelCaps(BaseModel):
    """A model's resolved capabilities: provider defaults merged with model overrides."""

    model_config = ConfigDict(extra="forbid")

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


_MODALITY = {"image": "image", "document": "file", "audio": "audio", "video": "video"}


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    providers: dict[str, ProviderEntry]

    def resolve(self, model_id: str) -> ModelCaps:
        """``"provider/model"`` -> resolved caps, or 422 naming what is unknown."""
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
        m = entry.models.get(model)
        if m is None:
            raise Unprocessable(
                f"unknown model {model_id!r}; {provider} models: {', '.join(sorted(entry.models))}",
                param="request.model",
            )
        kinds: dict[str, object] = {}
        for kind, modality in _MODALITY.items():
            if modality not in m.input_modalities:
                kinds[kind] = None
                continue
            base = getattr(entry, kind)
            override = getattr(m, kind)
            if base is None:
                kinds[kind] = override
            elif override is None:
                kinds[kind] = base
            else:
                kinds[kind] = base.model_copy(update=override.model_dump(exclude_unset=True))
        return ModelCaps(
            provider=provider,
            model=model,
            adapter=entry.adapter,
            default_base_url=entry.default_base_url,
            input_modalities=m.input_modalities,
            output_modalities=m.output_modalities,
            request_max_bytes=entry.request_max_bytes,
            **kinds,
        )

    def model_ids(self) -> list[str]:
        return [f"{p}/{m}" for p, e in self.providers.items() for m in e.models]


def load_catalog(path: Path | None = None) -> Catalog:
    path = path or Path(__file__).with_name("catalog.toml")
    with path.open("rb") as fh:
        return Catalog.model_validate(tomllib.load(fh))


@lru_cache(maxsize=1)
def get_catalog() -> Catalog:
    return load_catalog()
