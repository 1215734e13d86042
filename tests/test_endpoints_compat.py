"""Issue 12 item 5: self-hosted / other OpenAI-compatible servers from FERRY_ENDPOINTS, end to end.

A private stack (its own web process and worker, started with FERRY_ENDPOINTS) against two generic
OpenAI-compatible simulators (app/simulators/compat_sim.py): ``local`` needs no key and takes images up to
1024 px (set by ``LOCAL_IMAGE_LONG_EDGE``), ``router`` needs ``ROUTER_API_KEY``.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.simulators import compat_sim
from app.simulators.server import SimServer
from tests.conftest import CORPUS
from tests.helpers import data_uri, image_part, job_body, pdf_part
from tests.stack import Stack
from workers.core.errors import Unprocessable
from workers.core.settings import Settings
from workers.providers.catalog import get_catalog

IMAGES = CORPUS / "images"


@pytest.fixture(scope="module")
def endpoints(sims: dict[str, Any]) -> Iterator[dict[str, Any]]:
    local = SimServer(compat_sim.create_app(api_key=None, max_side=1024))
    router = SimServer(compat_sim.create_app(api_key="router-key", models=("meta-llama/llama-3.2-11b-vision",)))
    stack = Stack({"FERRY_ENDPOINTS": f"local={local.url}/v1, router={router.url}/v1",
                   "LOCAL_IMAGE_LONG_EDGE": "1024", "ROUTER_API_KEY": "router-key"}, prefix="ferry-endpoints-")
    try:
        stack.worker()
        yield {"stack": stack, "local": local, "router": router}
    finally:
        stack.close()
        local.stop()
        router.stop()


def chats(sim: SimServer) -> list[dict[str, Any]]:
    return [e for e in sim.state.log() if e["path"] == "/v1/chat/completions"]


def test_images_go_inline_as_jpeg_or_png_upright_and_within_the_cap(endpoints, file_server):
    stack, sim = endpoints["stack"], endpoints["local"]
    job = stack.run(job_body("local/llava-1.6", image_part(f"{file_server}/images/hopper.webp"),  # a URL, webp
                             image_part(data_uri(IMAGES / "hopper_orientation_6.jpg", "image/jpeg")),
                             image_part(data_uri(IMAGES / "patak-5120x2880.png", "image/png"))), timeout=90)
    assert job["status"] == "succeeded", job.get("error")
    assert all(r["delivery"]["method"] == "inline" for r in job["resources"])
    call = chats(sim)[-1]
    assert call["status"] == 200 and "authorization" not in {h.lower() for h in call.get("headers", {})}
    images = [p for p in call["parts"] if p["kind"] == "image"]
    assert len(images) == 3 and all(p["mime"] in ("image/jpeg", "image/png") for p in images)
    assert all(max(p["width"], p["height"]) <= 1024 for p in images)
    turned = job["resources"][1]["transforms"]
    assert any(t["op"] == "exif_transpose" for t in turned)
    assert job["model_resolution"]["uses"] == "local defaults"
    assert job["result"]["model"] == "local/llava-1.6"


def test_pdf_goes_as_text_and_page_images_with_the_key(endpoints):
    stack, sim = endpoints["stack"], endpoints["router"]
    model = "router/meta-llama/llama-3.2-11b-vision"
    job = stack.run(job_body(model, pdf_part()), timeout=90)
    assert job["status"] == "succeeded", job.get("error")
    assert "authorization" in chats(sim)[-1]["headers"]  # ROUTER_API_KEY as the bearer key
    kinds = [p["kind"] for p in chats(sim)[-1]["parts"]]
    assert "image" in kinds and kinds.count("text") >= 5 and "document" not in kinds  # prompt + 4 pages of text
    assert job["resources"][0]["transforms"][0]["op"] == "pdf_pages"
    dry = stack.run(job_body(model, dry_run=True))
    assert dry["provider_request"]["headers"]["Authorization"] == "<redacted>"
    assert dry["provider_request"]["url"] == f"{sim.url}/v1/chat/completions"


def test_a_model_the_server_does_not_have_is_its_error(endpoints):
    job = endpoints["stack"].run(job_body("router/gpt-4o"))
    assert job["status"] == "failed"
    err = job["error"]
    assert err["stage"] == "complete" and err["upstream_status"] == 404
    assert "The model `gpt-4o` does not exist." in err["message"]


def test_endpoint_configuration_is_checked():
    settings = Settings(FERRY_ENDPOINTS="a=http://x/v1,b=http://y")
    assert settings.endpoints() == {"a": "http://x/v1", "b": "http://y"}
    with pytest.raises(ValueError, match="name=base_url"):
        Settings(FERRY_ENDPOINTS="nourl").endpoints()
    with pytest.raises(Unprocessable, match="built-in provider"):
        get_catalog().with_endpoints({"openai": "http://x/v1"})
    native = get_catalog().with_endpoints({"e": "http://x/v1"}, {"e": _override(pdf="native")})
    assert native.resolve("e/m").document is not None and get_catalog().with_endpoints(
        {"e": "http://x/v1"}).resolve("e/m").document is None


def _override(**kw: Any):  # type: ignore[no-untyped-def]
    from workers.providers.endpoints import EndpointOverride

    return EndpointOverride(**kw)


def test_tool_round_trip_through_an_openai_compatible_server(endpoints):
    """Tools, the call and its result pass through in OpenAI's shape (app/simulators/openai_tools.py)."""
    stack = endpoints["stack"]
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    ask = {"role": "user", "content": 'call lookup {"q": "ferry"}'}
    first = stack.run({"request": {"model": "local/llava-1.6", "tools": tools, "messages": [ask]}}, timeout=90)
    assert first["status"] == "succeeded", first.get("error")
    message = first["result"]["choices"][0]["message"]
    [call] = message["tool_calls"]
    assert call["function"]["name"] == "lookup" and call["function"]["arguments"] == '{"q": "ferry"}'
    second = stack.run({"request": {"model": "local/llava-1.6", "tools": tools, "messages": [
        ask, message, {"role": "tool", "tool_call_id": call["id"], "content": "found 3"}]}}, timeout=90)
    assert second["status"] == "succeeded", second.get("error")
    assert "lookup(" in second["result"]["choices"][0]["message"]["content"]
    assert "found 3" in second["result"]["choices"][0]["message"]["content"]
