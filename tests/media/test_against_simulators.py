"""Ferry's media outputs, sent through the real adapters to the provider simulators (tests/upstreams):
what the planner produces for each provider is what that provider accepts."""
from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from workers.settings import get_settings

from workers.media.inspect import inspect_file
from workers.media.plan import plan_resource
from workers.media.transform import apply_plan
from workers.providers.base import Call, Message, Part, get_adapter

from .conftest import CORPUS, caps

server = pytest.importorskip("tests.upstreams.server")

MODELS = {"openai": "openai/gpt-4o", "anthropic": "anthropic/claude-sonnet-4-5", "gemini": "gemini/gemini-2.5-flash",
          "bedrock": "bedrock/amazon.nova-pro-v1:0", "mistral": "mistral/pixtral-large-latest",
          "xai": "xai/grok-4", "cohere": "cohere/command-a-vision-07-2025"}
FILES = ["images/iss634.gif", "images/pil123rgba.png", "images/hopper_orientation_6.jpg", "images/hopper.heif",
         "images/pil_sample_cmyk.jpg", "images/altai-1080x1920.png", "pdf/pdflatex-4-pages.pdf"]


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
    try:
        adapter = get_adapter(mc.adapter)
    except ImportError as exc:
        pytest.skip(f"{provider}: adapter missing ({exc})")
    parts = [Part("text", text="Describe this."), *_parts(CORPUS / name, mc.id, tmp_path)]
    sim = sims[provider]
    call = Call(mc.provider, mc.model, [Message("user", parts)], {"max_tokens": 16},
                sim.url + server.BASE_URLS[provider][1], "sim-key")
    try:
        native = adapter.build_request(call)
    except (NotImplementedError, ValueError) as exc:
        pytest.skip(f"{provider} adapter cannot build this request yet: {exc}")
    if hasattr(adapter, "send"):  # Bedrock goes through boto3 (SigV4) with boto3's own variables
        assert adapter.send(native, 30), f"{provider} simulator answered nothing for {name}"  # raises on refusal
        return
    resp = httpx.request(native.method, native.url, headers=native.headers, json=native.json, timeout=30)
    assert resp.status_code == 200, f"{provider} simulator refused {name}: {resp.text[:300]}"
