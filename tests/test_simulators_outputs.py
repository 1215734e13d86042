"""Simulated outputs (issue 6 item 5): OpenAI image generation and audio chat, Gemini image output.

Each simulator runs on a real loopback socket; requests go through the official openai SDK or
httpx, and the answers carry real media (PNG from Pillow, audio from wave / PyAV) whose facts
are checked from the bytes.
"""
from __future__ import annotations

import base64
import io
import wave
from collections.abc import Iterator

import httpx
import openai
import pytest
from PIL import Image

from app.simulators import gemini_sim, openai_sim
from app.simulators.media import sniff
from app.simulators.server import SimServer

KEY = "sim-key"


@pytest.fixture(scope="module")
def oai() -> Iterator[SimServer]:
    with SimServer(openai_sim.create_app(api_key=KEY)) as server:
        yield server


@pytest.fixture(scope="module")
def gem() -> Iterator[SimServer]:
    with SimServer(gemini_sim.create_app(api_key=KEY)) as server:
        yield server


@pytest.fixture(scope="module")
def sdk(oai: SimServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=oai.url + "/v1", api_key=KEY, max_retries=0)


def png_size(b64: str) -> tuple[int, int]:
    data = base64.b64decode(b64)
    assert sniff(data) == "image/png"
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im.size


# --------------------------------------------------------------------------- OpenAI images

@pytest.mark.parametrize("size, expected", [("1024x1024", (1024, 1024)), ("1536x1024", (1536, 1024)),
                                            ("1024x1536", (1024, 1536)), (None, (1024, 1024))])
def test_gpt_image_generates_real_pngs_of_the_requested_size(sdk, size, expected):
    kwargs = {"size": size} if size else {}
    resp = sdk.images.generate(model="gpt-image-1", prompt="a red lighthouse", n=2, **kwargs)
    assert len(resp.data) == 2
    assert all(png_size(d.b64_json) == expected for d in resp.data)
    assert resp.data[0].b64_json != resp.data[1].b64_json  # n distinct images
    assert resp.data[0].url is None and resp.data[0].revised_prompt is None
    u = resp.usage
    assert u.input_tokens_details.text_tokens == u.input_tokens > 0 and u.input_tokens_details.image_tokens == 0
    assert u.output_tokens == 2 * {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568}[f"{expected[0]}x{expected[1]}"]
    assert u.total_tokens == u.input_tokens + u.output_tokens
    assert resp.output_format == "png" and resp.size == f"{expected[0]}x{expected[1]}"


def test_gpt_image_output_format_and_quality(sdk):
    resp = sdk.images.generate(model="gpt-image-1", prompt="x", output_format="jpeg", quality="low", size="1024x1024")
    assert sniff(base64.b64decode(resp.data[0].b64_json)) == "image/jpeg"
    assert resp.usage.output_tokens == 272 and resp.quality == "low"


def test_dalle3_revised_prompt_and_url_format(sdk, oai):
    resp = sdk.images.generate(model="dall-e-3", prompt="a cat", response_format="url", size="1792x1024")
    item = resp.data[0]
    assert item.b64_json is None and item.revised_prompt and resp.usage is None
    got = httpx.get(item.url)
    assert got.status_code == 200
    assert png_size(base64.b64encode(got.content).decode()) == (1792, 1024)


@pytest.mark.parametrize("kwargs, param, status", [
    ({"model": "gpt-image-1", "prompt": ""}, "prompt", 400),
    ({"model": "gpt-image-1", "prompt": "x", "size": "512x512"}, "size", 400),
    ({"model": "gpt-image-1", "prompt": "x", "response_format": "url"}, "response_format", 400),
    ({"model": "gpt-image-1", "prompt": "x", "n": 11}, "n", 400),
    ({"model": "dall-e-3", "prompt": "x", "n": 2}, "n", 400),
    ({"model": "gpt-image-1", "prompt": "x", "quality": "hd"}, "quality", 400),
    ({"model": "gpt-image-1", "prompt": "x", "background": "transparent", "output_format": "jpeg"}, "background", 400),
    ({"model": "gpt-4o", "prompt": "x"}, "model", 404),
])
def test_images_api_rejects_what_openai_rejects(oai, kwargs, param, status):
    resp = httpx.post(oai.url + "/v1/images/generations", json=kwargs, headers={"Authorization": f"Bearer {KEY}"})
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["param"] == param


def test_images_api_needs_the_key(oai):
    resp = httpx.post(oai.url + "/v1/images/generations", json={"model": "gpt-image-1", "prompt": "x"})
    assert resp.status_code == 401


# --------------------------------------------------------------------------- OpenAI audio chat

@pytest.mark.parametrize("fmt, magic", [("wav", "audio/wav"), ("mp3", "audio/mp3"), ("flac", "audio/flac"),
                                        ("opus", "audio/ogg"), ("aac", "audio/aac"), ("pcm16", None)])
def test_audio_chat_answers_real_audio(sdk, fmt, magic):
    resp = sdk.chat.completions.create(model="gpt-4o-audio-preview", modalities=["text", "audio"],
                                       audio={"voice": "alloy", "format": fmt},
                                       messages=[{"role": "user", "content": "Say hello"}])
    msg = resp.choices[0].message
    assert msg.content is None and msg.audio.transcript.startswith("sim:openai")
    assert msg.audio.id.startswith("audio_") and msg.audio.expires_at > 0
    data = base64.b64decode(msg.audio.data)
    assert sniff(data) == magic if magic else len(data) == 2 * 12_000  # 0.5 s of 24 kHz 16-bit mono
    if fmt == "wav":
        with wave.open(io.BytesIO(data)) as w:
            assert (w.getframerate(), w.getnchannels(), w.getnframes()) == (24_000, 1, 12_000)
    details = resp.usage.completion_tokens_details
    assert details.audio_tokens > 0 and details.text_tokens > 0
    assert resp.usage.completion_tokens == details.audio_tokens + details.text_tokens


@pytest.mark.parametrize("body, param", [
    ({"model": "gpt-4o", "modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "wav"}}, "modalities"),
    ({"model": "gpt-4o-audio-preview", "modalities": ["text", "audio"]}, "audio"),
    ({"model": "gpt-4o-audio-preview", "modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "ogg"}},
     "audio.format"),
    ({"model": "gpt-4o-audio-preview", "modalities": ["text", "audio"], "audio": {"format": "wav"}}, "audio.voice"),
    ({"model": "gpt-4o-audio-preview", "modalities": ["image"]}, "modalities"),
])
def test_audio_chat_rejects_what_openai_rejects(oai, body, param):
    body = {**body, "messages": [{"role": "user", "content": "hi"}]}
    resp = httpx.post(oai.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["param"] == param


def test_text_chat_is_unchanged(sdk):
    resp = sdk.chat.completions.create(model="gpt-4o-audio-preview", messages=[{"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content.startswith("sim:openai") and resp.choices[0].message.audio is None


# --------------------------------------------------------------------------- Gemini image output

def generate(gem: SimServer, model: str, config: dict | None = None) -> httpx.Response:
    body: dict = {"contents": [{"role": "user", "parts": [{"text": "draw a boat"}]}]}
    if config is not None:
        body["generationConfig"] = config
    return httpx.post(f"{gem.url}/v1beta/models/{model}:generateContent", json=body,
                      headers={"x-goog-api-key": KEY})


@pytest.mark.parametrize("config, size", [
    ({"responseModalities": ["TEXT", "IMAGE"]}, (1024, 1024)),
    ({"response_modalities": ["Text", "Image"], "image_config": {"aspect_ratio": "16:9"}}, (1344, 768)),
    ({"responseModalities": ["IMAGE"], "imageConfig": {"aspectRatio": "2:3"}}, (832, 1248)),
    (None, (1024, 1024)),  # image models answer text and an image by default
])
def test_gemini_image_model_answers_inline_png(gem, config, size):
    resp = generate(gem, "gemini-2.5-flash-image", config)
    assert resp.status_code == 200, resp.text
    parts = resp.json()["candidates"][0]["content"]["parts"]
    assert parts[0]["text"].startswith("sim:gemini")
    inline = parts[1]["inlineData"]
    assert inline["mimeType"] == "image/png" and png_size(inline["data"]) == size
    usage = resp.json()["usageMetadata"]
    details = {d["modality"]: d["tokenCount"] for d in usage["candidatesTokensDetails"]}
    assert details["IMAGE"] == 1290 and usage["candidatesTokenCount"] == sum(details.values())
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert {d["modality"] for d in usage["promptTokensDetails"]} == {"TEXT"}


def test_gemini_text_model_refuses_image_output_and_stays_text_by_default(gem):
    resp = generate(gem, "gemini-2.5-flash", {"responseModalities": ["TEXT", "IMAGE"]})
    assert resp.status_code == 400 and resp.json()["error"]["status"] == "INVALID_ARGUMENT"
    plain = generate(gem, "gemini-2.5-flash")
    assert [list(p) for p in plain.json()["candidates"][0]["content"]["parts"]] == [["text"]]


@pytest.mark.parametrize("config", [{"responseModalities": ["PICTURE"]},
                                    {"responseModalities": ["IMAGE"], "imageConfig": {"aspectRatio": "7:3"}}])
def test_gemini_rejects_bad_output_config(gem, config):
    assert generate(gem, "gemini-2.5-flash-image", config).status_code == 400
