"""Self-hosted and other OpenAI-compatible servers as providers (issue 12 item 5).

``FERRY_ENDPOINTS="name=base_url,..."`` makes each ``name`` a provider (``name/<model as the server knows
it>``) built from the catalog's ``[endpoint_defaults]``: conservative, because such servers (vLLM, Ollama,
LM Studio, llama.cpp, OpenRouter, Together, Groq…) differ and often cannot fetch URLs: every image inline
as base64, JPEG or PNG, EXIF orientation applied, the long edge capped; PDFs as text plus page images;
the whole body capped. ``[endpoints.<name>]`` in the catalog, then ``<NAME>_IMAGE_FORMATS``,
``<NAME>_IMAGE_LONG_EDGE``, ``<NAME>_REQUEST_MAX_BYTES``, ``<NAME>_PDF`` in the environment override that.
"""
from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from workers.core.errors import Unprocessable

NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


class EndpointOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_formats: list[str] | None = None
    image_long_edge: int | None = None
    request_max_bytes: int | None = None
    pdf: Literal["native", "text"] | None = None
    """``native``: the server reads PDFs as OpenAI ``file`` parts; ``text`` (default): text plus page images."""


def provider_entry(template: Any, name: str, base_url: str, *overrides: EndpointOverride) -> Any:
    """The template ProviderEntry made into endpoint ``name``, overrides applied in order."""
    entry = template.model_copy(deep=True)
    entry.name = f"OpenAI-compatible endpoint {name} ({base_url})"
    entry.default_base_url = base_url
    for o in overrides:
        if o.request_max_bytes is not None:
            entry.request_max_bytes = o.request_max_bytes
        if entry.image is not None and o.image_formats:
            entry.image.formats = list(o.image_formats)
        if entry.image is not None and o.image_long_edge:
            entry.image.recommended_long_edge = entry.image.max_side = o.image_long_edge
        if o.pdf is not None:
            modalities = [m for m in entry.default.input_modalities if m != "file"]
            entry.default.input_modalities = modalities + (["file"] if o.pdf == "native" else [])
    return entry


def check_name(name: str, taken: Any) -> None:
    if not NAME.match(name) or name in taken:
        raise Unprocessable(f"FERRY_ENDPOINTS name {name!r} must be lowercase letters, digits, - or _ and not a "
                            f"built-in provider ({', '.join(sorted(taken))})")
