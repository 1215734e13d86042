"""Delivery: the planner (pure), the file-id cache, per-hash claims, and provider Files APIs end to end."""
from __future__ import annotations

import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import AUTH, CORPUS, wait_job
from tests.delivery_fixtures import counting_server, fresh_png  # noqa: F401  (fixture)
from tests.helpers import data_uri, image_part, job_body
from workers.state.claims import once, produced_count
from workers.pipeline.delivery_plan import Available, b64_size, plan_delivery
from workers.core.errors import TooLarge, Unprocessable
from workers.state.filecache import FileCache, account_of
from workers.providers.catalog import get_catalog

PDF = CORPUS / "pdf" / "pdflatex-4-pages.pdf"
ANTHROPIC = "anthropic/claude-sonnet-4-5"
GEMINI = "gemini/gemini-2.5-flash"


def caps(model: str):  # type: ignore[no-untyped-def]
    return get_catalog().resolve(model)


def out(kind: str, size: int, mime: str = "image/png") -> dict:
    return {"kind": kind, "bytes": size, "mime": mime, "sha256": "ab" * 32}


# -- planner (pure) -----------------------------------------------------------------------------------

def test_small_item_goes_inline_with_reason():
    d = plan_delivery(out("image", 10_000), caps(ANTHROPIC), None, Available(files_api=True))
    assert d["method"] == "inline" and "13336 bytes after base64 <= 5242880" in d["reason"]


def test_anthropic_cap_is_counted_on_base64():
    # 4 MB raw is 5.33 MB of base64: over Anthropic's 5 MB, though under it raw.
    d = plan_delivery(out("image", 4_000_000), caps(ANTHROPIC), None, Available(files_api=True))
    assert d["method"] == "file" and "after base64 >" in d["reason"]


def test_gemini_over_inline_limit_prefers_gcs_then_files_api():
    video = out("video", 16_000_000, "video/mp4")  # 21.3 MB after base64 > 20 MB
    assert plan_delivery(video, caps(GEMINI), None, Available(files_api=True))["method"] == "file"
    staged = Available(files_api=True, staging=frozenset({"gs"}))
    assert plan_delivery(video, caps(GEMINI), None, staged)["method"] == "storage"
    s3_only = Available(files_api=True, staging=frozenset({"s3"}))  # Gemini cannot read s3://
    assert plan_delivery(video, caps(GEMINI), None, s3_only)["method"] == "file"


def test_bedrock_takes_s3_only_when_staged_to_s3():
    bedrock = caps("bedrock/amazon.nova-pro-v1:0")
    big = out("video", 30_000_000, "video/mp4")
    assert plan_delivery(big, bedrock, None, Available(staging=frozenset({"s3"})))["method"] == "storage"
    with pytest.raises(TooLarge, match="s3:// bucket"):
        plan_delivery(big, bedrock, None, Available(staging=frozenset({"gs"})))


def test_prefer_is_honoured_when_possible_and_explained_when_not():
    small = out("image", 1000)
    avail = Available(files_api=True, staging=frozenset({"gs"}), presign=True)
    for prefer in ("file", "storage", "url"):
        assert plan_delivery(small, caps(GEMINI), prefer, avail)["method"] == prefer
    d = plan_delivery(small, caps("xai/grok-4"), "file", avail)
    assert d["method"] == "inline" and "does not take file delivery" in d["reason"]
    d = plan_delivery(small, caps(GEMINI), "storage", Available())
    assert d["method"] == "inline" and "gs:// bucket" in d["reason"]


def test_reused_bytes_are_uploaded_once_when_a_files_api_exists():
    d = plan_delivery(out("image", 1000), caps(ANTHROPIC), None, Available(files_api=True), uses=3)
    assert d["method"] == "file" and "used 3 times" in d["reason"]
    assert plan_delivery(out("image", 1000), caps("mistral/pixtral-large-latest"), None, Available(), uses=3)[
        "method"] == "inline"


def test_too_large_with_nothing_configured_names_the_fix():
    with pytest.raises(TooLarge, match="GEMINI_API_KEY"):
        plan_delivery(out("document", 30_000_000, "application/pdf"), caps(GEMINI), None, Available())


def test_youtube_only_for_gemini():
    yt = {"kind": "video", "bytes": 0, "youtube": True, "url": "https://youtu.be/x"}
    assert plan_delivery(yt, caps(GEMINI), None, Available())["method"] == "youtube"
    with pytest.raises(Unprocessable):
        plan_delivery(yt, caps("bedrock/amazon.nova-pro-v1:0"), None, Available())


def test_ferry_inline_cap_bounds_memory():
    d = plan_delivery(out("document", 3_000_000, "application/pdf"), caps(ANTHROPIC), None,
                      Available(files_api=True, max_inline_bytes=1_000_000))
    assert d["method"] == "file" and "FERRY_MAX_INLINE_BYTES" in d["reason"]
    assert b64_size(3) == 4 and b64_size(4) == 8


# -- file-id cache and claims (real Redis) -------------------------------------------------------------

@pytest.fixture
def redis_client(sims):  # type: ignore[no-untyped-def]
    from workers.context import get_context

    return get_context().redis


def test_file_cache_never_returns_expired_ids(redis_client):
    cache = FileCache(redis_client, margin=60)
    acct = account_of("sk-secret")
    assert acct != "sk-secret" and len(acct) == 64
    sha = hashlib.sha256(b"x" + str(time.time()).encode()).hexdigest()
    assert cache.put("gemini", acct, sha, "files/a", time.time() + 30) is None  # inside the margin: not kept
    assert cache.get("gemini", acct, sha) is None
    cache.put("gemini", acct, sha, "files/b", time.time() + 3600)
    assert cache.get("gemini", acct, sha).id == "files/b"
    assert cache.get("gemini", account_of("other-key"), sha) is None  # accounts never share
    # an entry Redis still holds but whose provider expiry has come is dropped on read
    redis_client.set(FileCache.key("gemini", acct, sha), json.dumps(
        {"id": "files/c", "expires_at": time.time() + 10, "uploaded_at": time.time()}))
    assert cache.get("gemini", acct, sha) is None
    assert redis_client.get(FileCache.key("gemini", acct, sha)) is None


def test_claim_runs_the_work_once_for_concurrent_callers(redis_client):
    key = f"unittest:{time.time_ns()}"
    calls = []
    lock = threading.Lock()

    def produce() -> dict:
        with lock:
            calls.append(1)
        time.sleep(0.3)
        return {"v": 42}

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: once(redis_client, key, produce, ttl=60), range(8)))
    assert len(calls) == 1
    assert [r[0] for r in results] == [{"v": 42}] * 8
    assert sum(1 for r in results if r[1]) == 1


def test_failed_winner_lets_a_waiter_take_over(redis_client):
    key = f"unittest:{time.time_ns()}"
    attempts = []

    def produce() -> dict:
        attempts.append(1)
        if len(attempts) == 1:
            time.sleep(0.2)
            raise RuntimeError("first producer dies")
        return {"ok": True}

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(once, redis_client, key, produce, ttl=60)
        time.sleep(0.05)
        second = pool.submit(once, redis_client, key, produce, ttl=60)
        with pytest.raises(RuntimeError):
            first.result()
        assert second.result() == ({"ok": True}, True)


# -- provider Files APIs end to end (real worker, simulators) ------------------------------------------

def uploads(sim) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e for e in sim.state.log() if e["status"] == 200 and any(p["kind"] == "file" for p in e["parts"])]


def submit(client, body) -> dict:  # type: ignore[no-untyped-def]
    resp = client.post("/v1/jobs", json=body, headers=AUTH)
    assert resp.status_code == 202, resp.json
    return wait_job(client, resp.json["id"])


def test_anthropic_file_upload_then_cache_hit(client, sims):
    png = data_uri_bytes(fresh_png())
    before = len(uploads(sims["anthropic"]))
    first = submit(client, job_body(ANTHROPIC, image_part(png), delivery={"prefer": "file"}))
    assert first["status"] == "succeeded", first.get("error")
    d = first["resources"][0]["delivery"]
    assert d["method"] == "file" and d["ref"].startswith("file_") and d["cached"] is False
    assert len(uploads(sims["anthropic"])) == before + 1
    call = [e for e in sims["anthropic"].state.log() if e["path"] == "/v1/messages"][-1]
    assert call["headers"]["anthropic-beta"] == "files-api-2025-04-14"
    assert [p["source"] for p in call["parts"] if p["kind"] == "image"] == ["file"]

    second = submit(client, job_body(ANTHROPIC, image_part(png), delivery={"prefer": "file"}))
    assert second["status"] == "succeeded", second.get("error")
    assert second["resources"][0]["delivery"]["cached"] is True
    assert second["resources"][0]["delivery"]["ref"] == d["ref"]
    assert len(uploads(sims["anthropic"])) == before + 1  # a hit uploads nothing


def test_file_cache_is_per_tenant(worker, sims):
    """Tenant B sending A's exact bytes uploads its own copy: a cache hit never reveals A's content."""
    from app import create_app
    from workers.context import Context
    from workers.core.settings import Settings

    c = create_app(Context(Settings(FERRY_API_KEYS="key-a=alpha,key-b=beta"))).test_client()
    png = data_uri_bytes(fresh_png())
    before = len(uploads(sims["anthropic"]))
    jobs = []
    for key in ("key-a", "key-b", "key-b"):
        headers = {"Authorization": f"Bearer {key}"}
        job_id = c.post("/v1/jobs", json=job_body(ANTHROPIC, image_part(png), delivery={"prefer": "file"}),
                        headers=headers).json["id"]
        jobs.append(wait_job(c, job_id, headers=headers))
    assert all(j["status"] == "succeeded" for j in jobs), [j.get("error") for j in jobs]
    cached = [j["resources"][0]["delivery"]["cached"] for j in jobs]
    assert cached == [False, False, True]
    assert len(uploads(sims["anthropic"])) == before + 2


def test_stale_file_id_is_reuploaded_once_and_the_call_retried(client, sims):
    png = data_uri_bytes(fresh_png())
    first = submit(client, job_body(ANTHROPIC, image_part(png), delivery={"prefer": "file"}))
    old = first["resources"][0]["delivery"]["ref"]
    sim = sims["anthropic"]
    resp = httpx.delete(f"{sim.url}/v1/files/{old}", headers={"x-api-key": "sim-key", "anthropic-version": "2023-06-01",
                                                             "anthropic-beta": "files-api-2025-04-14"})
    assert resp.status_code == 200
    before = len(uploads(sim))
    job = submit(client, job_body(ANTHROPIC, image_part(png), delivery={"prefer": "file"}))
    assert job["status"] == "succeeded", job.get("error")
    d = job["resources"][0]["delivery"]
    assert d["ref"] != old and d["cached"] is False and "re-uploaded" in d["reason"]
    assert len(uploads(sim)) == before + 1
    statuses = [e["status"] for e in sim.state.log() if e["path"] == "/v1/messages"][-2:]
    assert statuses == [404, 200]


def test_files_api_5xx_is_retried(client, sims):
    sims["anthropic"].state.add_fault(status=503, count=1, path_contains="/v1/files")
    job = submit(client, job_body(ANTHROPIC, image_part(data_uri_bytes(fresh_png())), delivery={"prefer": "file"}))
    assert job["status"] == "succeeded", job.get("error")
    assert job["resources"][0]["delivery"]["method"] == "file"


def test_files_api_4xx_fails_at_deliver_and_caches_nothing(client, sims):
    from workers.context import get_context

    data = fresh_png()
    sims["anthropic"].state.add_fault(status=400, count=1, path_contains="/v1/files", message="simulated: bad file")
    job = submit(client, job_body(ANTHROPIC, image_part(data_uri_bytes(data)), delivery={"prefer": "file"}))
    assert job["status"] == "failed"
    err = job["error"]
    assert err["stage"] == "deliver" and err["upstream_status"] == 400
    assert "anthropic Files API answered 400" in err["message"] and "bad file" in err["message"]
    sha = hashlib.sha256(data).hexdigest()
    assert FileCache(get_context().redis).get("anthropic", account_of("local\nsim-key"), sha) is None


def test_gemini_resumable_upload_for_a_pdf(client, sims):
    sim = sims["gemini"]
    sim.state.clear_log()
    job = submit(client, job_body(GEMINI, {"type": "file", "file": {"filename": "paper.pdf", "file_data": data_uri(
        CORPUS / "pdf" / "multicolumn.pdf", "application/pdf")}}, delivery={"prefer": "file"}))
    assert job["status"] == "succeeded", job.get("error")
    d = job["resources"][0]["delivery"]
    assert d["method"] == "file" and "/v1beta/files/" in d["ref"]
    log = sim.state.log()
    if d["cached"] is False:
        start = next(e for e in log if e["path"] == "/upload/v1beta/files" and "upload_id" not in e["query"])
        assert start["headers"]["x-goog-upload-protocol"] == "resumable"
        assert start["headers"]["x-goog-upload-header-content-type"] == "application/pdf"
    call = [e for e in log if ":generateContent" in e["path"]][-1]
    assert [p["source"] for p in call["parts"] if p["kind"] != "text"] == ["file"]


def test_concurrent_jobs_download_transform_and_upload_once(client, sims, counting_server):
    """N jobs with the same image URL, at once: 1 download, 1 transform, 1 upload."""
    from workers.context import get_context

    n = 6
    url = counting_server.add(fresh_png())
    r = get_context().redis
    before = {k: produced_count(r, k) for k in ("download", "transform", "upload")}
    uploads_before = len(uploads(sims["anthropic"]))
    body = job_body(ANTHROPIC, image_part(url), delivery={"prefer": "file"})
    ids = [client.post("/v1/jobs", json=body, headers=AUTH).json["id"] for _ in range(n)]
    jobs = [wait_job(client, i) for i in ids]
    assert all(j["status"] == "succeeded" for j in jobs), [j.get("error") for j in jobs]
    assert counting_server.count(url) == 1
    assert len(uploads(sims["anthropic"])) == uploads_before + 1
    after = {k: produced_count(r, k) - before[k] for k in before}
    ops = [t["op"] for t in jobs[0]["resources"][0].get("transforms", [])]
    transforms = 0 if ops in ([], ["keep"]) else 1  # a kept source is sent as it is: nothing to produce
    assert after == {"download": 1, "transform": transforms, "upload": 1}
    assert len({j["resources"][0]["delivery"]["ref"] for j in jobs}) == 1


def data_uri_bytes(data: bytes, mime: str = "image/png") -> str:
    import base64

    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def noise_wav(seconds: float) -> bytes:
    import io
    import os
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(os.urandom(int(44100 * seconds) * 2))
    return buf.getvalue()


def test_request_total_over_the_cap_moves_the_largest_inline_part_out(client, sims):
    """Two 8 MB WAVs each fit Gemini's 20 MB inline cap, but not together: the larger goes to the Files API."""
    small, large = noise_wav(80), noise_wav(95)  # ~7 MB and ~8.4 MB raw, ~9.4 + ~11.2 MB as base64
    parts = [{"type": "input_audio", "input_audio": {"data": data_uri_bytes(w, "audio/wav"), "format": "wav"}}
             for w in (small, large)]
    job = submit(client, job_body(GEMINI, *parts))
    assert job["status"] == "succeeded", job.get("error")
    methods = [r["delivery"]["method"] for r in job["resources"]]
    assert methods == ["inline", "file"]
    assert "request total" in job["resources"][1]["delivery"]["reason"]
    call = [e for e in sims["gemini"].state.log() if ":generateContent" in e["path"]][-1]
    assert [p["source"] for p in call["parts"] if p["kind"] != "text"] == ["inline", "file"]


def test_youtube_url_passes_through_to_gemini_only(client, sims):
    yt = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    part = {"type": "video_url", "video_url": {"url": yt}}
    job = submit(client, job_body(GEMINI, part))
    assert job["status"] == "succeeded", job.get("error")
    assert job["resources"][0]["delivery"]["method"] == "youtube"
    call = [e for e in sims["gemini"].state.log() if ":generateContent" in e["path"]][-1]
    assert [(p["kind"], p.get("ref")) for p in call["parts"] if p["kind"] != "text"] == [("video", yt)]
    other = submit(client, job_body("bedrock/amazon.nova-pro-v1:0", part))  # takes video, not YouTube links
    assert other["status"] == "failed" and "YouTube" in other["error"]["message"]
    assert other["error"]["stage"] == "deliver"


def tiny_mp4(path) -> None:  # type: ignore[no-untyped-def]
    import av
    from PIL import Image

    with av.open(str(path), "w", format="mp4") as box:
        stream = box.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(10):
            frame = av.VideoFrame.from_image(Image.new("RGB", (64, 64), (i * 20, 0, 0)))
            box.mux(stream.encode(frame))
        box.mux(stream.encode(None))


def test_gemini_video_upload_waits_until_active(sims, tmp_path):
    """The simulator keeps a video PROCESSING for a second; the client polls until ACTIVE."""
    from workers.providers.files_api import gemini as gemini_files

    path = tmp_path / "clip.mp4"
    tiny_mp4(path)
    sim = sims["gemini"]
    since = len(sim.state.log())
    up = gemini_files.upload(path, "video/mp4", "clip.mp4", base_url=sim.url, api_key="sim-key", timeout=30)
    assert "/v1beta/files/" in up.id and 47 * 3600 < up.expires_at - time.time() <= 48 * 3600
    name = "files/" + up.id.rsplit("/v1beta/files/", 1)[1]
    polls = [e for e in sim.state.log()[since:] if e["method"] == "GET" and e["path"] == f"/v1beta/{name}"]
    assert polls and all(p["status"] == 200 for p in polls)
    # what the client handed back is usable now: the file is ACTIVE, not still PROCESSING
    got = httpx.get(up.id, headers={"x-goog-api-key": "sim-key"}, timeout=30).json()
    assert got["name"] == name and got["state"] == "ACTIVE", got
