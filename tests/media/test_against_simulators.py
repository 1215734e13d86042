"""Ferry's media outputs, sent through the real adapters to the provider simulators (app/simulators):
what the planner produces for each provider is what that provider accepts."""
from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from workers.core.errors import FerryError
from workers.media.inspect import inspect_file
from workers.media.plan import plan_resource
from workers.media.transform import apply_plan
from workers.providers.base import Call, Message, Part, get_adapter
from workers.core.settings import get_settings

from .conftest import CORPUS, caps

server = pytest.importorskip("app.simulators.server")

MODELS = {"openai": "openai/gpt-4o", "anthropic": "anthropic/claude-sonnet-4-5", "gemini": "gemini/gemini-2.5-flash",
          "bedrock": "bedrock/amazon.nova-pro-v1:0", "mistral": "mistral/pixtral-large-latest",
          "xai": "xai/grok-4", "cohere": "cohere/command-a-vision-07-2025"}
#: Every file of the corpus: each either reaches the provider's simulator and is accepted, or is refused
#: by Ferry first with a clear 413/415/422.
FILES = sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file() and p.name != "README.md")


def _parts(path: Path, model: str, tmp: Path) -> list[Part]:
    facts = inspect_file(path)
    outs = apply_plan(path, facts, plan_resource(facts, caps(model), {"detail": "auto"}), tmp)
    parts = []
    for out in outs:
        if out["kind"] == "text":
            parts.append(Part("text", text=out["text"]))
        else:
            data = Path(out["path"]).read_bytes()
            parts.append(Part("media", kind=out["kind"], mime=out["mime"], filename="document.pdf",
                              data_b64=base64.b64encode(data).decode(), size=len(data)))
    return parts


@pytest.fixture(scope="module")
def sims() -> Iterator[dict[str, Any]]:
    """Every simulator once for the module; boto3 variables pointed at the Bedrock one (its client is cached)."""
    servers = server.run_all()
    saved = {k: os.environ.get(k) for k in server.env_for(servers)}
    os.environ.update(server.env_for(servers))
    get_settings.cache_clear()  # settings are read once; these variables must be seen
    yield servers
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()
    server.stop_all(servers)


@pytest.mark.parametrize("provider", list(MODELS))
@pytest.mark.parametrize("name", FILES)
def test_simulator_accepts_outputs(provider: str, name: str, tmp_path: Path, sims: dict[str, Any]) -> None:
    mc = caps(MODELS[provider])
    adapter = get_adapter(mc.adapter)
    try:
        media = _parts(CORPUS / name, mc.id, tmp_path)
    except FerryError as exc:  # refused before any provider sees it: must say why, with the right status
        assert exc.status in (413, 415, 422), f"{name} for {provider}: {exc.status} {exc}"
        assert len(exc.message) > 15, exc.message
        return
    parts = [Part("text", text="Describe this."), *media]
    sim = sims[provider]
    call = Call(mc.provider, mc.model, [Message("user", parts)], {"max_tokens": 16},
                sim.url + server.BASE_URLS[provider][1], "sim-key")
    native = adapter.build_request(call)
    if hasattr(adapter, "send"):  # Bedrock goes through boto3 (SigV4) with boto3's own variables
        assert adapter.send(native, 30), f"{provider} simulator answered nothing for {name}"  # raises on refusal
        return
    resp = httpx.request(native.method, native.url, headers=native.headers, json=native.json, timeout=30)
    assert resp.status_code == 200, f"{provider} simulator refused {name}: {resp.text[:300]}"
