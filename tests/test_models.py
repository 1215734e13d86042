"""GET /v1/models: the catalog in OpenAI's list shape, with filters, through the official SDK."""
from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.conftest import AUTH
from app.simulators.server import SimServer

FEATURES = {"vision", "audio_input", "pdf", "video", "file_upload"}


@pytest.fixture(scope="module")
def sdk(app) -> Iterator[openai.OpenAI]:  # type: ignore[no-untyped-def]
    with SimServer(app) as server:
        yield openai.OpenAI(base_url=server.url + "/v1", api_key="ferry-local-key", max_retries=0)


def test_sdk_lists_every_catalog_model(sdk, app):
    models = list(sdk.models.list())
    ids = {m.id for m in models}
    assert ids == set(app.config["FERRY_CONTEXT"].catalog.model_ids())
    assert all(m.model_extra["listed"] for m in models)
    assert {"openai/gpt-4o", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash"} <= ids
    for m in models:
        assert m.object == "model" and isinstance(m.created, int) and m.owned_by == m.id.split("/")[0]
        arch = m.model_extra["architecture"]
        assert set(arch) == {"input_modalities", "output_modalities", "features"}
        assert set(arch["features"]) <= FEATURES
        assert "limits" in m.model_extra and "delivery" in m.model_extra


def test_sdk_retrieves_one_model(sdk):
    m = sdk.models.retrieve("gemini/gemini-2.5-flash")
    assert m.id == "gemini/gemini-2.5-flash"
    assert "vision" in m.model_extra["architecture"]["features"]
    assert "file" in m.model_extra["delivery"]["image"]
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("nosuch/gpt-nonexistent")
    other = sdk.models.retrieve("openai/gpt-5.1")  # not listed: what Ferry would use for it
    assert other.model_extra["listed"] is False
    assert other.model_extra["model_resolution"]["uses"] == "family gpt-5"


def test_vision_filter(client):
    data = client.get("/v1/models?supported_parameters=vision", headers=AUTH).json["data"]
    assert data and all("vision" in m["architecture"]["features"] for m in data)
    assert all("image" in m["architecture"]["input_modalities"] for m in data)
    everything = client.get("/v1/models", headers=AUTH).json["data"]
    assert len(data) < len(everything) or all("vision" in m["architecture"]["features"] for m in everything)


@pytest.mark.parametrize("modality", ["audio", "image"])
def test_output_modality_filter(client, modality):
    data = client.get(f"/v1/models?output_modalities={modality}", headers=AUTH).json["data"]
    assert all(modality in m["architecture"]["output_modalities"] for m in data)
    if modality == "audio":
        assert "openai/gpt-4o-audio-preview" in {m["id"] for m in data}


def test_limits_come_from_the_catalog(client):
    m = client.get("/v1/models/anthropic/claude-sonnet-4-5", headers=AUTH).json
    assert m["limits"]["image"]["max_bytes"] == 5_242_880
    assert m["limits"]["document"]["max_pages"] >= 100
    assert "pdf" in m["architecture"]["features"]


def test_list_says_other_names_are_accepted_with_family_defaults(client):
    body = client.get("/v1/models?provider=openai,bedrock", headers=AUTH).json
    other = {o["provider"]: o for o in body["other_models"]}
    assert set(other) == {"openai", "bedrock"} and all(o["accepted"] for o in other.values())
    assert "gpt-5" in {f["name"] for f in other["openai"]["families"]}
    assert any("amazon.nova-*" in f["match"] for f in other["bedrock"]["families"])


def test_models_need_a_key(client):
    assert client.get("/v1/models").status_code == 401
