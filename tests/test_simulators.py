"""The provider simulators accept what each provider accepts and reject what it rejects.

Real corpus files go over real sockets (httpx, the openai SDK, boto3) to simulators started
in-process; each enforced rule has a test showing the status and the provider's error shape.
"""
from __future__ import annotations

import base64
import io
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from PIL import Image

from app.simulators import gemini_sim
from app.simulators.server import SimServer, env_for, run_all, stop_all

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
KEY = "sim-key"


# --------------------------------------------------------------------------- helpers

def corpus(rel: str) -> bytes:
    return (CORPUS / rel).read_bytes()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{b64(data)}"


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    """A small synthetic PNG (for pixel-limit rules the corpus has no example of)."""
    buf = io.BytesIO()
    Image.new(mode, (width, height)).save(buf, "PNG")
    return buf.getvalue()


def padded(data: bytes, total: int) -> bytes:
    """Valid image bytes followed by padding up to ``total`` bytes (for byte-size limits)."""
    return data + b"\x00" * (total - len(data))


MP4_HEADER = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00\x00\x00\x08free"


@pytest.fixture(scope="module")
def sims():
    servers = run_all()
    yield servers
    stop_all(servers)


@pytest.fixture(autouse=True)
def _clean(request):
    if "sims" in request.fixturenames:
        for server in request.getfixturevalue("sims").values():
            server.state.reset()


# --------------------------------------------------------------------------- server plumbing

def test_simserver_url_port_and_stop():
    from app.simulators import cohere_sim

    server = SimServer(cohere_sim.create_app())
    assert server.url == f"http://127.0.0.1:{server.port}" and server.port > 0
    assert httpx.get(server.url + "/_sim/log").json() == []
    server.stop()
    with pytest.raises(httpx.TransportError):
        httpx.get(server.url + "/_sim/log", timeout=1)


def test_env_follows_design_base_url_conventions(sims):
    env = env_for(sims)
    assert env["OPENAI_BASE_URL"].endswith("/v1") and env["XAI_BASE_URL"].endswith("/v1")
    for p in ("ANTHROPIC", "GEMINI", "MISTRAL", "COHERE"):
        assert env[f"{p}_BASE_URL"] == sims[p.lower()].url
    assert env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == sims["bedrock"].url


def test_main_prints_env_lines():
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-m", "app.simulators"], cwd=root, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        lines = [proc.stdout.readline().strip() for _ in range(4)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert lines[0].startswith("OPENAI_BASE_URL=http://127.0.0.1:") and lines[0].endswith("/v1")
    assert lines[1] == "OPENAI_API_KEY=sim-key"
    assert lines[2].startswith("ANTHROPIC_BASE_URL=http://127.0.0.1:")


# --------------------------------------------------------------------------- OpenAI

def oa_post(sims, body: dict[str, Any], key: str = KEY) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(sims["openai"].url + "/v1/chat/completions", json=body, headers=headers, timeout=30)


def oa_body(*parts: dict[str, Any], model: str = "gpt-4o") -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": list(parts)}]}


def oa_image(mime: str, data: bytes) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": data_uri(mime, data)}}


def assert_openai_error(resp: httpx.Response, status: int, fragment: str = "") -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert fragment in err["message"]
    return err


def test_openai_sdk_roundtrip_describes_parts_in_order(sims):
    from openai import OpenAI

    client = OpenAI(base_url=sims["openai"].url + "/v1", api_key=KEY, max_retries=0)
    pdf = corpus("pdf/pdflatex-4-pages.pdf")
    result = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": [
        {"type": "text", "text": "Compare these"},
        oa_image("image/png", corpus("images/hopper.png")),
        oa_image("image/jpeg", corpus("images/hopper.jpg")),
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.webp"}},
        {"type": "file", "file": {"filename": "doc.pdf", "file_data": data_uri("application/pdf", pdf)}},
        {"type": "input_audio", "input_audio": {"data": b64(corpus("audio/speech-question.wav")), "format": "wav"}},
    ]}])
    text = result.choices[0].message.content
    assert text.startswith('sim:openai model=gpt-4o parts=[text "Compare these", image/png 128x128 sha=dbdcb9a9')
    assert "image/jpeg 128x128" in text and "url=https://example.com/cat.webp" in text
    assert "application/pdf 4p" in text and "audio/wav 3.59s" in text
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens
    [entry] = httpx.get(sims["openai"].url + "/_sim/log").json()
    assert [p["kind"] for p in entry["parts"]] == ["text", "image", "image", "image", "document", "audio"]
    assert len(str(entry)) < 4000  # summaries only, never the base64 payloads
    assert entry["parts"][1]["sha256"].startswith("dbdcb9a9")


@pytest.mark.parametrize("key,fragment", [("", "didn't provide an API key"), ("wrong-key", "Incorrect API key")])
def test_openai_auth(sims, key, fragment):
    err = assert_openai_error(oa_post(sims, oa_body({"type": "text", "text": "hi"}), key=key), 401, fragment)
    assert err["type"] == "invalid_request_error"


@pytest.mark.parametrize("mime,rel,fragment", [
    ("image/bmp", "images/hopper.bmp", "Invalid MIME type"),          # declared type not allowed
    ("image/png", "images/hopper.tif", "unsupported image"),          # bytes are TIFF
    ("image/png", "bad/text-named.png", "unsupported image"),         # bytes are text
    ("image/png", "bad/broken.png", "unsupported image"),             # corrupt PNG
    ("image/png", "images/hopper.avif", "unsupported image"),         # AVIF not accepted
    ("application/pdf", "pdf/minimal-document.pdf", "Invalid MIME type"),  # PDF only as a file part
    ("image/gif", "bad/decompression_bomb.gif", "unsupported image"),  # claims huge dimensions
])
def test_openai_rejects_bad_images(sims, mime, rel, fragment):
    err = assert_openai_error(oa_post(sims, oa_body(oa_image(mime, corpus(rel)))), 400, fragment)
    assert err["code"] == "invalid_image_format" and err["param"] == "messages[0].content[0].image_url.url"


def test_openai_accepts_gif_webp_and_cmyk_jpeg(sims):
    resp = oa_post(sims, oa_body(oa_image("image/gif", corpus("images/iss634.gif")),
                                 oa_image("image/webp", corpus("images/hopper.webp")),
                                 oa_image("image/jpeg", corpus("images/pil_sample_cmyk.jpg"))))
    assert resp.status_code == 200, resp.text
    assert "image/gif 245x245 42f" in resp.json()["choices"][0]["message"]["content"]


def test_openai_image_size_count_and_payload_limits(sims):
    big = padded(corpus("images/hopper.png"), 20 * 1024 * 1024 + 1)
    assert_openai_error(oa_post(sims, oa_body(oa_image("image/png", big))), 400, "Image too large")
    tiny = oa_image("image/png", png(2, 2))
    assert oa_post(sims, oa_body(*[tiny] * 500)).status_code == 200
    assert_openai_error(oa_post(sims, oa_body(*[tiny] * 501)), 400, "Too many images")
    huge = {"type": "text", "text": "x" * (50 * 1024 * 1024)}
    assert_openai_error(oa_post(sims, oa_body(huge)), 413, "50 MB")


@pytest.mark.parametrize("audio,fmt,fragment", [
    ("audio/complete.oga", "wav", "not valid wav"),
    ("audio/complete.oga", "ogg", "Supported values are: 'wav' and 'mp3'"),
    ("audio/speech-question.wav", "mp3", "not valid mp3"),
])
def test_openai_audio_rules(sims, audio, fmt, fragment):
    part = {"type": "input_audio", "input_audio": {"data": b64(corpus(audio)), "format": fmt}}
    assert_openai_error(oa_post(sims, oa_body(part)), 400, fragment)


def test_openai_file_part_rules(sims):
    png_part = {"type": "file", "file": {"filename": "x.png", "file_data": data_uri("application/pdf",
                                                                                    corpus("images/hopper.png"))}}
    assert_openai_error(oa_post(sims, oa_body(png_part)), 400, "only PDF")
    no_name = {"type": "file", "file": {"file_data": data_uri("application/pdf", corpus("pdf/habibi.pdf"))}}
    assert_openai_error(oa_post(sims, oa_body(no_name)), 400, "filename")
    assert_openai_error(oa_post(sims, oa_body({"type": "file", "file": {"file_id": "file-nope"}})), 400,
                        "No such File object")


def test_openai_files_api(sims):
    from openai import NotFoundError, OpenAI

    client = OpenAI(base_url=sims["openai"].url + "/v1", api_key=KEY, max_retries=0)
    pdf = corpus("pdf/multicolumn.pdf")
    uploaded = client.files.create(file=("multicolumn.pdf", pdf, "application/pdf"), purpose="user_data")
    assert uploaded.id.startswith("file-") and uploaded.bytes == len(pdf) and uploaded.purpose == "user_data"
    assert client.files.retrieve(uploaded.id).filename == "multicolumn.pdf"
    resp = oa_post(sims, oa_body({"type": "text", "text": "read"}, {"type": "file", "file": {"file_id": uploaded.id}}))
    assert f"application/pdf 3p file={uploaded.id}" in resp.json()["choices"][0]["message"]["content"]
    assert client.files.delete(uploaded.id).deleted is True
    with pytest.raises(NotFoundError):
        client.files.retrieve(uploaded.id)
    bad = httpx.post(sims["openai"].url + "/v1/files", headers={"Authorization": f"Bearer {KEY}"},
                     files={"file": ("a.pdf", pdf)}, data={})
    assert_openai_error(bad, 400, "purpose")


def test_openai_files_expire_after(sims):
    """``expires_after`` (openai-python file_create_params.py): the file object's ``expires_at``; out of range is
    a 400; without it a file is kept (``expires_at`` null)."""
    from openai import BadRequestError, OpenAI

    client = OpenAI(base_url=sims["openai"].url + "/v1", api_key=KEY, max_retries=0)
    before = time.time()
    f = client.files.create(file=("a.txt", b"hello"), purpose="user_data",
                            expires_after={"anchor": "created_at", "seconds": 3600})
    assert f.expires_at is not None and before + 3599 <= f.expires_at <= time.time() + 3600
    assert client.files.retrieve(f.id).expires_at == f.expires_at
    with pytest.raises(BadRequestError) as short:
        client.files.create(file=("a.txt", b"hello"), purpose="user_data",
                            expires_after={"anchor": "created_at", "seconds": 60})
    assert "expires_after.seconds" in str(short.value)
    assert client.files.create(file=("b.txt", b"hello"), purpose="user_data").expires_at is None


# --------------------------------------------------------------------------- Anthropic

AN_HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
FILES_BETA = {"anthropic-beta": "files-api-2025-04-14"}


def an_post(sims, blocks: list[dict[str, Any]], headers: dict[str, str] | None = None,
            content: bytes | None = None) -> httpx.Response:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": blocks}]}
    kwargs: dict[str, Any] = {"content": content} if content is not None else {"json": body}
    return httpx.post(sims["anthropic"].url + "/v1/messages", headers=headers or AN_HEADERS, timeout=30, **kwargs)


def an_image(mime: str, data: bytes) -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": mime, "data": b64(data)}}


def an_pdf(data: bytes) -> dict[str, Any]:
    return {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": b64(data)}}


def assert_anthropic_error(resp: httpx.Response, status: int, kind: str, fragment: str = "") -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["type"] == "error" and body["error"]["type"] == kind
    assert fragment in body["error"]["message"], body["error"]["message"]
    return body["error"]["message"]


def test_anthropic_accepts_mixed_blocks(sims):
    resp = an_post(sims, [
        {"type": "text", "text": "Look:"},
        an_image("image/png", corpus("images/hopper.png")),
        an_image("image/gif", corpus("images/hopper.gif")),
        an_image("image/webp", corpus("images/hopper.webp")),
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
        an_pdf(corpus("pdf/pdflatex-4-pages.pdf")),
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain words"}},
    ])
    assert resp.status_code == 200, resp.text
    msg = resp.json()
    assert msg["type"] == "message" and msg["role"] == "assistant" and msg["stop_reason"] == "end_turn"
    text = msg["content"][0]["text"]
    assert text.startswith('sim:anthropic model=claude-sonnet-4-5 parts=[text "Look:", image/png 128x128')
    assert text.index("image/gif") < text.index("image/webp") < text.index("application/pdf 4p")
    assert msg["usage"]["input_tokens"] > 0 and msg["usage"]["output_tokens"] > 0


def test_anthropic_headers(sims):
    blocks = [{"type": "text", "text": "hi"}]
    assert_anthropic_error(an_post(sims, blocks, headers={"anthropic-version": "2023-06-01"}), 401,
                           "authentication_error", "x-api-key")
    assert_anthropic_error(an_post(sims, blocks, headers={"x-api-key": "nope", "anthropic-version": "x"}), 401,
                           "authentication_error", "invalid x-api-key")
    assert_anthropic_error(an_post(sims, blocks, headers={"x-api-key": KEY}), 400, "invalid_request_error",
                           "anthropic-version")
    # anthropic-sdk-python 2.x sends the API key as a Bearer token
    bearer = {"Authorization": f"Bearer {KEY}", "anthropic-version": "2023-06-01"}
    assert an_post(sims, blocks, headers=bearer).status_code == 200


@pytest.mark.parametrize("mime,rel,fragment", [
    ("image/png", "images/hopper.jpg", "appears to be a image/jpeg image"),
    ("image/jpeg", "images/hopper.webp", "appears to be a image/webp image"),
    ("image/png", "images/hopper.bmp", "appears to be a image/bmp image"),
    ("image/bmp", "images/hopper.bmp", "Input should be 'image/jpeg'"),
    ("image/png", "bad/truncated_end_chunk.png", "Could not process image"),
])
def test_anthropic_media_type_must_match_bytes(sims, mime, rel, fragment):
    assert_anthropic_error(an_post(sims, [an_image(mime, corpus(rel))]), 400, "invalid_request_error", fragment)


def test_anthropic_image_size_limits(sims):
    # volna is 4.6 MB raw, 6.2 MB as base64: the 5 MB cap counts the base64 string.
    message = assert_anthropic_error(an_post(sims, [an_image("image/jpeg", corpus("images/volna-5120x2880.jpg"))]),
                                     400, "invalid_request_error", "image exceeds 5 MB maximum")
    assert message.startswith("messages.0.content.0.image.source.base64:")
    assert_anthropic_error(an_post(sims, [an_image("image/png", png(8001, 8))]), 400, "invalid_request_error",
                           "exceed max allowed size: 8000 pixels")
    assert an_post(sims, [an_image("image/png", png(8000, 8))]).status_code == 200


def test_anthropic_many_image_rules(sims):
    small = an_image("image/jpeg", corpus("images/hopper.jpg"))
    wide = an_image("image/png", png(2001, 8))
    assert an_post(sims, [wide] + [small] * 19).status_code == 200  # 20 images: 8000 px rule only
    assert_anthropic_error(an_post(sims, [wide] + [small] * 20), 400, "invalid_request_error",
                           "many-image requests: 2000 pixels")
    assert an_post(sims, [small] * 100).status_code == 200
    assert_anthropic_error(an_post(sims, [small] * 101), 400, "invalid_request_error", "Too many images")


def test_anthropic_pdf_rules(sims):
    assert_anthropic_error(an_post(sims, [an_pdf(corpus("pdf/GeoTopo-komprimiert.pdf"))]), 400,
                           "invalid_request_error", "A maximum of 100 PDF pages may be provided.")
    # pages add up across documents: 4 + 117 is over as well, 4 + 3 is fine
    assert an_post(sims, [an_pdf(corpus("pdf/pdflatex-4-pages.pdf")), an_pdf(corpus("pdf/multicolumn.pdf"))]
                   ).status_code == 200
    assert_anthropic_error(an_post(sims, [an_pdf(corpus("images/hopper.png"))]), 400, "invalid_request_error",
                           "PDF specified was not valid")
    assert_anthropic_error(an_post(sims, [an_pdf(corpus("pdf/libreoffice-writer-password.pdf"))]), 400,
                           "invalid_request_error", "password")


def test_anthropic_request_too_large(sims):
    resp = an_post(sims, [], content=b'{"pad": "' + b"x" * (32 * 1024 * 1024 + 10) + b'"}')
    assert_anthropic_error(resp, 413, "request_too_large", "maximum size")


def test_anthropic_files_api(sims):
    url = sims["anthropic"].url
    pdf = corpus("pdf/google-doc-document.pdf")
    no_beta = httpx.post(url + "/v1/files", headers=AN_HEADERS, files={"file": ("doc.pdf", pdf, "application/pdf")})
    assert_anthropic_error(no_beta, 400, "invalid_request_error", "files-api-2025-04-14")
    headers = {**AN_HEADERS, **FILES_BETA}
    meta = httpx.post(url + "/v1/files?beta=true", headers=headers,
                      files={"file": ("doc.pdf", pdf, "application/pdf")}).json()
    assert meta["type"] == "file" and meta["mime_type"] == "application/pdf" and meta["size_bytes"] == len(pdf)
    block = {"type": "document", "source": {"type": "file", "file_id": meta["id"]}}
    ok = an_post(sims, [{"type": "text", "text": "summarise"}, block], headers=headers)
    assert f"application/pdf 1p file={meta['id']}" in ok.json()["content"][0]["text"]
    assert_anthropic_error(an_post(sims, [block]), 400, "invalid_request_error", "Input tag 'file'")
    ga = {**AN_HEADERS, "anthropic-version": "2026-10-21"}  # Files API without the beta header
    assert an_post(sims, [{"type": "text", "text": "x"}, block], headers=ga).status_code == 200
    assert httpx.get(f"{url}/v1/files/{meta['id']}", headers=headers).json()["id"] == meta["id"]
    assert httpx.delete(f"{url}/v1/files/{meta['id']}", headers=headers).json() == {
        "id": meta["id"], "type": "file_deleted"}
    assert_anthropic_error(httpx.get(f"{url}/v1/files/{meta['id']}", headers=headers), 404, "not_found_error")


# --------------------------------------------------------------------------- Gemini

def gm_post(sims, parts: list[dict[str, Any]], key: str | None = KEY, model: str = "gemini-2.5-flash",
            query: str = "", server: SimServer | None = None) -> httpx.Response:
    headers = {"x-goog-api-key": key} if key else {}
    url = (server or sims["gemini"]).url + f"/v1beta/models/{model}:generateContent{query}"
    return httpx.post(url, json={"contents": [{"role": "user", "parts": parts}]}, headers=headers, timeout=30)


def gm_inline(mime: str, data: bytes) -> dict[str, Any]:
    return {"inline_data": {"mime_type": mime, "data": b64(data)}}


def assert_gemini_error(resp: httpx.Response, status: int, rpc: str, fragment: str = "") -> None:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == status and err["status"] == rpc and fragment in err["message"], err


def test_gemini_accepts_images_pdf_audio(sims):
    resp = gm_post(sims, [
        {"text": "Describe"},
        gm_inline("image/png", corpus("images/hopper.png")),
        {"inlineData": {"mimeType": "image/heic", "data": b64(corpus("images/hopper.heif"))}},
        gm_inline("application/pdf", corpus("pdf/habibi.pdf")),
        gm_inline("audio/wav", corpus("audio/speech-question.wav")),
        gm_inline("audio/ogg", corpus("audio/complete.oga")),
        {"file_data": {"mime_type": "video/mp4", "file_uri": "https://www.youtube.com/watch?v=abc"}},
    ])
    assert resp.status_code == 200, resp.text
    body = resp.json()
    cand = body["candidates"][0]
    assert cand["finishReason"] == "STOP" and cand["content"]["role"] == "model"
    text = cand["content"]["parts"][0]["text"]
    assert text.startswith('sim:gemini model=gemini-2.5-flash parts=[text "Describe", image/png 128x128')
    assert "image/heic 128x128" in text and "application/pdf 1p" in text and "audio/ogg" in text
    usage = body["usageMetadata"]
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert body["modelVersion"] == "gemini-2.5-flash"


def test_gemini_accepts_urlsafe_base64_and_v1_path(sims):
    # google-genai encodes inline bytes URL-safe; proto JSON accepts both alphabets
    data = corpus("images/hopper.jpg")
    part = {"inline_data": {"mime_type": "image/jpeg", "data": base64.urlsafe_b64encode(data).decode()}}
    assert gm_post(sims, [part]).status_code == 200
    url = sims["gemini"].url + "/v1/models/gemini-2.5-flash:generateContent"
    resp = httpx.post(url, json={"contents": [{"parts": [{"text": "hi"}]}]}, headers={"x-goog-api-key": KEY})
    assert resp.status_code == 200


def test_gemini_auth(sims):
    parts = [{"text": "hi"}]
    assert gm_post(sims, parts, key=None, query=f"?key={KEY}").status_code == 200
    assert_gemini_error(gm_post(sims, parts, key=None), 403, "PERMISSION_DENIED", "unregistered callers")
    assert_gemini_error(gm_post(sims, parts, key="bad"), 400, "INVALID_ARGUMENT", "API key not valid")


@pytest.mark.parametrize("mime,rel,fragment", [
    ("image/bmp", "images/hopper.bmp", "Unsupported MIME type: image/bmp"),
    ("image/gif", "images/hopper.gif", "Unsupported MIME type: image/gif"),
    ("image/png", "images/hopper.jpg", "but the data is image/jpeg"),
    ("audio/wav", "audio/complete.oga", "but the data is audio/ogg"),
    ("image/png", "bad/broken.png", "Provided image is not valid"),
])
def test_gemini_mime_rules(sims, mime, rel, fragment):
    assert_gemini_error(gm_post(sims, [gm_inline(mime, corpus(rel))]), 400, "INVALID_ARGUMENT", fragment)


def test_gemini_inline_request_limit(sims):
    # patak (13 MB) + volna (4.6 MB) ≈ 24 MB once base64-encoded: over the 20 MB request cap.
    parts = [gm_inline("image/png", corpus("images/patak-5120x2880.png")),
             gm_inline("image/jpeg", corpus("images/volna-5120x2880.jpg"))]
    assert_gemini_error(gm_post(sims, parts), 400, "INVALID_ARGUMENT", "Request payload size exceeds the limit")


def gm_upload(server: SimServer, data: bytes, mime: str, chunk: int | None = None) -> dict[str, Any]:
    """The resumable protocol exactly as google-genai's upload_file drives it."""
    start = httpx.post(server.url + "/upload/v1beta/files", json={"file": {"display_name": "t"}}, headers={
        "x-goog-api-key": KEY, "X-Goog-Upload-Protocol": "resumable", "X-Goog-Upload-Command": "start",
        "X-Goog-Upload-Header-Content-Length": str(len(data)), "X-Goog-Upload-Header-Content-Type": mime})
    assert start.status_code == 200 and start.headers["x-goog-upload-status"] == "active"
    upload_url = start.headers["x-goog-upload-url"]
    chunk = chunk or len(data)
    offset = 0
    while True:
        piece = data[offset:offset + chunk]
        last = offset + len(piece) >= len(data)
        resp = httpx.post(upload_url, content=piece, headers={
            "X-Goog-Upload-Command": "upload, finalize" if last else "upload", "X-Goog-Upload-Offset": str(offset)})
        offset += len(piece)
        if last:
            assert resp.headers["x-goog-upload-status"] == "final", resp.text
            return resp.json()["file"]
        assert resp.headers["x-goog-upload-status"] == "active"


def test_gemini_files_api_resumable_upload_and_use(sims):
    server = sims["gemini"]
    pdf = corpus("pdf/pdflatex-image.pdf")
    f = gm_upload(server, pdf, "application/pdf", chunk=20_000)
    assert f["name"].startswith("files/") and f["state"] == "ACTIVE" and f["sizeBytes"] == str(len(pdf))
    got = httpx.get(f"{server.url}/v1beta/{f['name']}", headers={"x-goog-api-key": KEY}).json()
    assert got["uri"] == f["uri"] and got["mimeType"] == "application/pdf"
    ok = gm_post(sims, [{"text": "read"}, {"file_data": {"mime_type": "application/pdf", "file_uri": f["uri"]}}])
    assert f"application/pdf 1p file={f['name']}" in ok.json()["candidates"][0]["content"]["parts"][0]["text"]
    wrong = gm_post(sims, [{"file_data": {"mime_type": "image/png", "file_uri": f["uri"]}}])
    assert_gemini_error(wrong, 400, "INVALID_ARGUMENT", "is application/pdf")
    assert httpx.delete(f"{server.url}/v1beta/{f['name']}", headers={"x-goog-api-key": KEY}).json() == {}
    gone = gm_post(sims, [{"file_data": {"mime_type": "application/pdf", "file_uri": f["uri"]}}])
    assert_gemini_error(gone, 403, "PERMISSION_DENIED", "or it may not exist")


def test_gemini_upload_offset_must_match(sims):
    server = sims["gemini"]
    start = httpx.post(server.url + "/upload/v1beta/files", headers={
        "x-goog-api-key": KEY, "X-Goog-Upload-Protocol": "resumable", "X-Goog-Upload-Command": "start"})
    resp = httpx.post(start.headers["x-goog-upload-url"], content=b"abc",
                      headers={"X-Goog-Upload-Command": "upload, finalize", "X-Goog-Upload-Offset": "5"})
    assert_gemini_error(resp, 400, "INVALID_ARGUMENT", "Offset")


def test_gemini_video_processing_then_active():
    with SimServer(gemini_sim.create_app(video_processing_seconds=0.4)) as server:
        f = gm_upload(server, padded(MP4_HEADER, 4096), "video/mp4")
        assert f["state"] == "PROCESSING"
        use = [{"file_data": {"mime_type": "video/mp4", "file_uri": f["uri"]}}]
        assert_gemini_error(gm_post(None, use, server=server), 400, "FAILED_PRECONDITION", "not in an ACTIVE state")
        time.sleep(0.45)
        got = httpx.get(f"{server.url}/v1beta/{f['name']}", headers={"x-goog-api-key": KEY}).json()
        assert got["state"] == "ACTIVE"
        assert gm_post(None, use, server=server).status_code == 200


# --------------------------------------------------------------------------- Bedrock (boto3)

@pytest.fixture()
def bedrock(sims):
    return boto3.client("bedrock-runtime", endpoint_url=sims["bedrock"].url, region_name="us-east-1",
                        aws_access_key_id="sim", aws_secret_access_key="sim",
                        config=Config(retries={"total_max_attempts": 1}))


MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"


def br_converse(client, *blocks: dict[str, Any], role: str = "user"):
    return client.converse(modelId=MODEL, messages=[{"role": role, "content": list(blocks)}])


def br_image(fmt: str, data: bytes) -> dict[str, Any]:
    return {"image": {"format": fmt, "source": {"bytes": data}}}


def br_doc(name: str, data: bytes, fmt: str = "pdf") -> dict[str, Any]:
    return {"document": {"format": fmt, "name": name, "source": {"bytes": data}}}


def br_error(excinfo, fragment: str = "", code: str = "ValidationException") -> None:
    err = excinfo.value.response["Error"]
    assert err["Code"] == code and fragment in err["Message"], err
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_bedrock_converse_accepts_image_and_document(bedrock):
    out = br_converse(bedrock, {"text": "What is this?"}, br_image("png", corpus("images/hopper.png")),
                      br_image("webp", corpus("images/hopper.webp")),
                      {"image": {"format": "jpeg", "source": {"s3Location": {"uri": "s3://bucket/a.jpg"}}}},
                      br_doc("Report (v2) [draft]", corpus("pdf/minimal-document.pdf")))
    text = out["output"]["message"]["content"][0]["text"]
    assert text.startswith(f'sim:bedrock model={MODEL} parts=[text "What is this?", image/png 128x128')
    assert "url=s3://bucket/a.jpg" in text and "application/pdf 1p" in text
    assert out["stopReason"] == "end_turn" and out["usage"]["totalTokens"] > 0


@pytest.mark.parametrize("block,fragment", [
    (br_image("PNG", corpus("images/hopper.png")), "Member must satisfy enum value set: [png, jpeg, gif, webp]"),
    (br_image("png", corpus("images/hopper.jpg")), "bytes appear to be image/jpeg"),
    (br_image("jpeg", corpus("images/volna-5120x2880.jpg")), "exceeds 3.75 MB"),
    (br_image("png", png(8001, 4)), "exceed the maximum of 8000x8000"),
    (br_doc("report.pdf", corpus("pdf/minimal-document.pdf")), "document file name can only contain"),
    (br_doc("my_report", corpus("pdf/minimal-document.pdf")), "document file name can only contain"),
    (br_doc("two  spaces", corpus("pdf/minimal-document.pdf")), "document file name can only contain"),
    (br_doc("report", corpus("pdf/minimal-document.pdf"), fmt="PDF"), "enum value set"),
    (br_doc("report", corpus("images/hopper.png")), "bytes appear to be image/png"),
    (br_doc("big", corpus("pdf/base64image.pdf") * 3), "exceeds 4.5 MB"),
])
def test_bedrock_validation(bedrock, block, fragment):
    with pytest.raises(ClientError) as excinfo:
        br_converse(bedrock, {"text": "Look"}, block)
    br_error(excinfo, fragment)


def test_bedrock_counts_and_text_beside_document(bedrock):
    doc = br_doc("Doc", corpus("pdf/minimal-document.pdf"))
    with pytest.raises(ClientError) as excinfo:
        br_converse(bedrock, doc)
    br_error(excinfo, "accompanied by a text block")
    assert br_converse(bedrock, {"text": "five"}, *[doc] * 5)["output"]
    with pytest.raises(ClientError) as excinfo:
        br_converse(bedrock, {"text": "six"}, *[doc] * 6)
    br_error(excinfo, "maximum is 5 documents")
    img = br_image("jpeg", corpus("images/hopper.jpg"))
    assert br_converse(bedrock, *[img] * 20)["output"]
    with pytest.raises(ClientError) as excinfo:
        br_converse(bedrock, *[img] * 21)
    br_error(excinfo, "maximum is 20 images")


def test_bedrock_requires_sigv4(sims):
    url = sims["bedrock"].url + f"/model/{MODEL}/converse"
    body = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    resp = httpx.post(url, json=body)
    assert resp.status_code == 403 and resp.headers["x-amzn-ErrorType"].startswith("MissingAuthenticationToken")
    resp = httpx.post(url, json=body, headers={"Authorization": "AWS4-HMAC-SHA256 nonsense"})
    assert resp.status_code == 403 and resp.json() == {"message": resp.json()["message"]}


# --------------------------------------------------------------------------- Mistral, xAI, Cohere

def chat_post(server: SimServer, path: str, content: list[dict[str, Any]], model: str,
              key: str = KEY) -> httpx.Response:
    return httpx.post(server.url + path, headers={"Authorization": f"Bearer {key}"}, timeout=30,
                      json={"model": model, "messages": [{"role": "user", "content": content}]})


def img_part(mime: str, data: bytes, as_string: bool = False) -> dict[str, Any]:
    url = data_uri(mime, data)
    return {"type": "image_url", "image_url": url if as_string else {"url": url}}


def mistral(sims, *content: dict[str, Any], key: str = KEY) -> httpx.Response:
    return chat_post(sims["mistral"], "/v1/chat/completions", list(content), "pixtral-large-latest", key)


def test_mistral_accepts_rgb_images_and_string_image_url(sims):
    resp = mistral(sims, {"type": "text", "text": "hi"}, img_part("image/jpeg", corpus("images/hopper.jpg"), True),
                   img_part("image/png", corpus("images/hopper.png")),
                   img_part("image/gif", corpus("images/hopper.gif")))
    assert resp.status_code == 200, resp.text
    text = resp.json()["choices"][0]["message"]["content"]
    assert text.startswith("sim:mistral model=pixtral-large-latest parts=[") and "image/gif 128x128" in text


@pytest.mark.parametrize("mime,data,fragment", [
    ("image/png", corpus("images/pil123rgba.png"), "alpha channel"),
    ("image/png", corpus("images/p_trns_single.png"), "alpha channel"),
    ("image/gif", corpus("images/iss634.gif"), "animated GIFs"),
    ("image/png", corpus("images/patak-5120x2880.png"), "image is too large"),
    ("image/png", png(10001, 4), "exceed 10000x10000"),
    ("image/bmp", corpus("images/hopper.bmp"), "unsupported image format"),
])
def test_mistral_rejections(sims, mime, data, fragment):
    resp = mistral(sims, img_part(mime, data))
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["object"] == "error" and fragment in body["message"]


def test_mistral_image_count_and_auth(sims):
    part = img_part("image/jpeg", corpus("images/hopper.jpg"))
    assert mistral(sims, *[part] * 8).status_code == 200
    assert "Too many images" in mistral(sims, *[part] * 9).json()["message"]
    resp = mistral(sims, part, key="bad")
    assert resp.status_code == 401 and resp.json()["message"] == "Unauthorized"


def xai(sims, *content: dict[str, Any], key: str = KEY) -> httpx.Response:
    return chat_post(sims["xai"], "/v1/chat/completions", list(content), "grok-4", key)


def test_xai_rules(sims):
    ok = xai(sims, {"type": "text", "text": "hi"}, img_part("image/jpeg", corpus("images/hopper.jpg")),
             img_part("image/png", corpus("images/hopper.png")))
    assert ok.status_code == 200 and "image/png 128x128" in ok.json()["choices"][0]["message"]["content"]
    for mime, rel in (("image/webp", "images/hopper.webp"), ("image/gif", "images/hopper.gif"),
                      ("image/png", "images/hopper.webp")):
        resp = xai(sims, img_part(mime, corpus(rel)))
        assert resp.status_code == 400 and "Unsupported image format" in resp.json()["error"]
        assert resp.json()["code"] == "Client specified an invalid argument"
    big = padded(corpus("images/hopper.png"), 20 * 1024 * 1024 + 1)
    assert "20 MiB" in xai(sims, img_part("image/png", big)).json()["error"]
    resp = xai(sims, {"type": "text", "text": "hi"}, key="wrong-key")
    assert resp.status_code == 400 and "Incorrect API key provided" in resp.json()["error"]


def cohere(sims, *content: dict[str, Any], model: str = "command-a-vision-07-2025", key: str = KEY):
    return chat_post(sims["cohere"], "/v2/chat", list(content), model, key)


def test_cohere_v2_response_shape(sims):
    resp = cohere(sims, {"type": "text", "text": "hi"}, img_part("image/webp", corpus("images/hopper.webp")),
                  img_part("image/gif", corpus("images/hopper.gif")))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["finish_reason"] == "COMPLETE" and body["message"]["role"] == "assistant"
    assert body["message"]["content"][0]["text"].startswith("sim:cohere model=command-a-vision-07-2025 parts=[")
    assert body["usage"]["billed_units"]["input_tokens"] == body["usage"]["tokens"]["input_tokens"] > 0


def test_cohere_rules(sims):
    jpg = img_part("image/jpeg", corpus("images/hopper.jpg"))
    assert "does not support image inputs" in cohere(sims, jpg, model="command-r-plus").json()["message"]
    assert cohere(sims, {"type": "text", "text": "hi"}, model="command-r-plus").status_code == 200
    assert "animated GIFs" in cohere(sims, img_part("image/gif", corpus("images/iss634.gif"))).json()["message"]
    bmp = img_part("image/bmp", corpus("images/hopper.bmp"))
    assert "unsupported image type" in cohere(sims, bmp).json()["message"]
    assert cohere(sims, *[jpg] * 20).status_code == 200
    assert "too many images" in cohere(sims, *[jpg] * 21).json()["message"]
    big = cohere(sims, img_part("image/png", corpus("images/patak-5120x2880.png")),
                 img_part("image/webp", corpus("images/gnome-pixels-4096.webp")))
    assert big.status_code == 400 and big.json()["message"].startswith("invalid request:") and "20 MB" in big.text
    resp = cohere(sims, jpg, key="bad")
    assert resp.status_code == 401 and resp.json() == {"message": "invalid api token"}


# --------------------------------------------------------------------------- log and fault switch

def minimal_call(name: str, sims) -> httpx.Response:
    """One valid request per provider (the same call each time)."""
    text = {"type": "text", "text": "hi"}
    if name == "openai":
        return oa_post(sims, oa_body(text))
    if name == "anthropic":
        return an_post(sims, [text])
    if name == "gemini":
        return gm_post(sims, [{"text": "hi"}])
    if name == "mistral":
        return mistral(sims, text)
    if name == "xai":
        return xai(sims, text)
    if name == "cohere":
        return cohere(sims, text)
    raise AssertionError(name)


ERROR_MESSAGE = {  # where each provider's error shape keeps the message
    "openai": lambda b: b["error"]["message"], "anthropic": lambda b: b["error"]["message"],
    "gemini": lambda b: b["error"]["message"], "mistral": lambda b: b["message"],
    "xai": lambda b: b["error"], "cohere": lambda b: b["message"], "bedrock": lambda b: b["message"],
}


@pytest.mark.parametrize("name", ["openai", "anthropic", "gemini", "mistral", "xai", "cohere"])
def test_fault_switch_over_http(sims, name):
    base = sims[name].url
    resp = httpx.post(base + "/_sim/faults", json={"status": 429, "count": 2, "retry_after": 3})
    assert resp.status_code == 201
    for _ in range(2):
        failed = minimal_call(name, sims)
        assert failed.status_code == 429 and failed.headers["Retry-After"] == "3"
        assert "simulated fault" in ERROR_MESSAGE[name](failed.json())
    assert minimal_call(name, sims).status_code == 200
    log = httpx.get(base + "/_sim/log").json()
    assert [e["status"] for e in log] == [429, 429, 200] and log[0]["fault"] is True
    assert httpx.delete(base + "/_sim/log").json() == {"cleared": True}
    assert httpx.get(base + "/_sim/log").json() == []


def test_fault_shapes_per_provider(sims):
    anth = sims["anthropic"]
    anth.state.add_fault(status=529)
    assert an_post(sims, [{"type": "text", "text": "hi"}]).json()["error"]["type"] == "overloaded_error"
    sims["gemini"].state.add_fault(status=503)
    assert gm_post(sims, [{"text": "hi"}]).json()["error"]["status"] == "UNAVAILABLE"
    sims["openai"].state.add_fault(status=500)
    assert oa_post(sims, oa_body({"type": "text", "text": "hi"})).json()["error"]["type"] == "server_error"


def test_fault_path_filter_and_bedrock_throttling(sims, bedrock):
    httpx.post(sims["bedrock"].url + "/_sim/faults", json={"status": 429, "count": 1, "path_contains": "/converse"})
    with pytest.raises(ClientError) as excinfo:
        br_converse(bedrock, {"text": "hi"})
    assert excinfo.value.response["Error"]["Code"] == "ThrottlingException"
    assert br_converse(bedrock, {"text": "hi"})["output"]
    # a fault for another path leaves chat alone
    httpx.post(sims["openai"].url + "/_sim/faults", json={"status": 503, "count": 1, "path_contains": "/files"})
    assert oa_post(sims, oa_body({"type": "text", "text": "hi"})).status_code == 200
    assert httpx.get(sims["openai"].url + "/_sim/faults").json()[0]["path_contains"] == "/files"


def test_log_records_rejections_with_reason(sims):
    an_post(sims, [an_image("image/png", corpus("images/hopper.jpg"))])
    [entry] = sims["anthropic"].state.log()
    assert entry["status"] == 400 and "appears to be a image/jpeg" in entry["error"]
    assert entry["headers"]["anthropic-version"] == "2023-06-01" and entry["headers"]["x-api-key"].endswith("…")
    assert entry["parts"] == []  # rejected before the part was accepted
