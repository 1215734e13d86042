"""The catalog as data: seven providers, each limit with its source, quirks present."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from workers.core.errors import Unprocessable
from workers.providers import catalog as catalog_module
from workers.providers.catalog import get_catalog, load_catalog

PROVIDERS = {"openai", "anthropic", "gemini", "bedrock", "mistral", "xai", "cohere", "azure", "vertex"}
#: Platforms serving another provider's models (issue 12): Vertex speaks Gemini's and Anthropic's shapes.
ADAPTERS = {"vertex": "vertex_gemini"}


def test_nine_providers_with_their_adapters() -> None:
    cat = get_catalog()
    assert set(cat.providers) == PROVIDERS
    for name, entry in cat.providers.items():
        assert entry.adapter == ADAPTERS.get(name, name)
        assert entry.models or name == "azure", name  # Azure deployments are named by their owner


@pytest.mark.parametrize("model", get_catalog().model_ids())
def test_every_kind_has_formats_and_a_source(model: str) -> None:
    caps = get_catalog().resolve(model)
    assert caps.id == model and caps.adapter and caps.default_base_url
    for kind in ("image", "document", "audio", "video"):
        kc = caps.caps_for(kind)
        if kc is None:
            continue
        assert kc.formats and kc.source.startswith(("http", "estimate")), (model, kind)
        if kind == "image" and kc.token_formula != "none":
            assert kc.tokens_source


def test_quirks_are_data() -> None:
    cat = get_catalog()
    assert cat.resolve("openai/gpt-4o").image.animated == "first_frame"
    assert cat.resolve("mistral/pixtral-large-latest").image.alpha is False
    assert cat.resolve("xai/grok-4").image.formats == ["image/jpeg", "image/png"]
    bedrock = cat.resolve("bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert bedrock.image.max_bytes == 3_750_000 and bedrock.document.max_bytes == 4_500_000
    assert re.fullmatch(bedrock.document.name_pattern, "Quarterly report (v2) [final]")
    assert not re.fullmatch(bedrock.document.name_pattern, "report_v2.pdf")
    assert cat.resolve("cohere/command-a-vision-07-2025").image is not None
    assert cat.resolve("cohere/command-a-03-2025").image is None
    assert cat.resolve("gemini/gemini-2.5-flash").request_max_bytes == 20_000_000
    assert cat.resolve("gemini/gemini-2.5-flash").raw_byte_cap("image") == 15_000_000
    assert cat.resolve("anthropic/claude-sonnet-4-5").raw_byte_cap("image") == 5_242_880 * 3 // 4


def test_model_overrides_merge_over_provider_defaults() -> None:
    mini = get_catalog().resolve("openai/gpt-4o-mini").image
    assert (mini.tokens_base, mini.tokens_per_tile) == (2833, 5667)
    assert mini.formats == get_catalog().resolve("openai/gpt-4o").image.formats


def test_features_follow_modalities() -> None:
    cat = get_catalog()
    assert cat.resolve("gemini/gemini-2.5-pro").features == ["vision", "pdf", "audio_input", "video_input"]
    assert cat.resolve("openai/gpt-4o-audio-preview").features == ["audio_input"]


def test_unknown_name_of_a_known_provider_gets_its_defaults_and_a_note() -> None:
    """Issue 12: names outside the catalog are accepted; an unknown provider is still a 422 naming the known."""
    caps = get_catalog().resolve("xai/grok-99")
    assert (caps.listed, caps.uses, caps.wire_model) == (False, "xai defaults", "grok-99")
    assert "not in Ferry's catalog" in caps.notes[0] and "'grok-99'" in caps.notes[0]
    with pytest.raises(Unprocessable, match="known: anthropic"):
        get_catalog().resolve("nosuch/grok-99")


CATALOG_TOML = Path(catalog_module.__file__).with_name("catalog.toml")


def test_the_shipped_catalog_declares_every_key_it_uses() -> None:
    """Every catalog model forbids unknown keys, so loading the real file is the check."""
    assert set(load_catalog(CATALOG_TOML).providers) == PROVIDERS


@pytest.mark.parametrize(("section", "line", "where"), [
    ("[providers.openai.image]", "max_bytse = 20_000_000", ("providers", "openai", "image", "max_bytse")),
    ('[providers.openai.models."gpt-4o-mini".image]', "tokens_bsae = 1",
     ("providers", "openai", "models", "gpt-4o-mini", "image", "tokens_bsae")),
    ("[providers.gemini.video]", 'storage_schema = "gs"', ("providers", "gemini", "video", "storage_schema")),
    ('[providers.anthropic.models."claude-sonnet-4-5"]', "context_windwo = 200000",
     ("providers", "anthropic", "models", "claude-sonnet-4-5", "context_windwo")),
    ("[providers.xai]", "request_max_byte = 1", ("providers", "xai", "request_max_byte")),
])
def test_a_misspelled_key_fails_at_load_naming_it(tmp_path: Path, section: str, line: str,
                                                   where: tuple[str, ...]) -> None:
    text = CATALOG_TOML.read_text()
    assert text.count(section + "\n") == 1, section
    path = tmp_path / "catalog.toml"
    path.write_text(text.replace(section + "\n", f"{section}\n{line}\n"))
    with pytest.raises(ValidationError) as info:
        load_catalog(path)
    errors = info.value.errors()
    assert [(e["type"], e["loc"]) for e in errors] == [("extra_forbidden", where)]
    assert where[-1] in str(info.value)
