"""Every document format x every provider, end to end: API -> Redis -> a real Celery worker -> the provider's
simulator (which enforces that provider's documented document rules). Each job either reaches the simulator
with the document's content in what it received (natively: the same bytes; converted: the text), or fails
first with a clear 413/415/422. The matrix (format x provider -> native / converted / refused) is printed
and written to the test log."""
from __future__ import annotations

import base64
import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import AUTH, wait_job
from tests.docgen import MARKERS, make
from workers.core.errors import STATUS_BY_TYPE

MODELS = {
    "openai": "openai/gpt-4o",
    "anthropic": "anthropic/claude-sonnet-4-5",
    "gemini": "gemini/gemini-2.5-flash",
    "bedrock": "bedrock/amazon.nova-pro-v1:0",
    "mistral": "mistral/pixtral-large-latest",
    "xai": "xai/grok-4",
    "cohere": "cohere/command-a-vision-07-2025",
}
FORMATS = ("docx", "xlsx", "pptx", "odt", "ods", "odp", "doc", "xls", "ppt", "csv", "tsv", "html", "md", "txt",
           "json", "xml")
MATRIX: dict[str, dict[str, str]] = {}


def _submit(client, path: Path, provider: str, token: str) -> str:  # type: ignore[no-untyped-def]
    part = {"type": "file", "file": {"filename": f"report {path.suffix[1:]}{path.suffix}",
                                     "file_data": "data:application/octet-stream;base64,"
                                                  + base64.b64encode(path.read_bytes()).decode()}}
    body = {"request": {"model": MODELS[provider], "messages": [{"role": "user", "content": [
        {"type": "text", "text": f"Summarise this. {token}"}, part]}]}}
    resp = client.post("/v1/jobs", json=body, headers=AUTH)
    assert resp.status_code == 202, resp.json
    return resp.json["id"]


def _received(sim, token: str) -> list[dict]:  # type: ignore[no-untyped-def]
    """The parts the simulator logged for the call carrying ``token``."""
    for entry in reversed(sim.state.log()):
        parts = entry.get("parts") or []
        if any(token in (p.get("text") or "") for p in parts):
            return parts
    raise AssertionError(f"the simulator logged no call carrying {token}")


def _outcome(job: dict) -> str:
    ops = [t["op"] for r in job["resources"] for t in r.get("transforms") or []]
    if ops and ops[0] in ("keep", "text_utf8"):
        return "native"
    kinds = {o["kind"] for r in job["resources"] for o in r.get("outputs") or []}
    return "converted (text document)" if "document" in kinds else "converted (text part)"


@pytest.mark.parametrize("fmt", FORMATS)
def test_format_reaches_every_provider_or_is_refused_clearly(client, sims, tmp_path, fmt):
    path = make(fmt, tmp_path)
    source_sha = hashlib.sha256(path.read_bytes()).hexdigest()
    marker = MARKERS[fmt]
    jobs = {p: _submit(client, path, p, f"job-{fmt}-{p}") for p in MODELS}
    with ThreadPoolExecutor(len(jobs)) as pool:
        done = dict(zip(jobs, pool.map(lambda j: wait_job(client, j, timeout=120), jobs.values())))
    row = MATRIX.setdefault(fmt, {})
    for provider, job in done.items():
        if job["status"] == "failed":
            error = job["error"]
            status = STATUS_BY_TYPE[error["type"]]
            assert status in (413, 415, 422), (provider, error)
            assert error["stage"] in ("inspect", "plan"), (provider, error)  # refused before any provider call
            assert len(error["message"]) > 20 and "Traceback" not in error["message"]
            row[provider] = f"refused {status}"
            continue
        assert job["status"] == "succeeded", (provider, job.get("error"))
        parts = _received(sims[provider], f"job-{fmt}-{provider}")
        media = [p for p in parts if p["kind"] != "text" or f"job-{fmt}-{provider}" not in (p.get("text") or "")]
        outcome = _outcome(job)
        if outcome == "native" and job["resources"][0]["transforms"][0]["op"] == "keep":
            assert any(p.get("sha256") == source_sha for p in media), (provider, media)  # the very bytes
        else:
            text = "\n".join(p.get("text") or "" for p in media)
            assert marker is None or marker in text, (provider, text[:500])
            if fmt in ("docx", "pptx", "odt"):  # the document's picture arrives as an image the model sees
                assert any(p["kind"] == "image" and p.get("width") for p in media), (provider, media)
        row[provider] = outcome
    print(f"\n{fmt}: " + ", ".join(f"{p}={row[p]}" for p in MODELS))


def test_matrix_summary():
    """Runs last in this module: the whole matrix as a table (format x provider)."""
    if len(MATRIX) < len(FORMATS):
        pytest.skip("the per-format tests did not all run")
    lines = ["| format | " + " | ".join(MODELS) + " |", "|---|" + "---|" * len(MODELS)]
    lines += [f"| {fmt} | " + " | ".join(MATRIX[fmt][p] for p in MODELS) + " |" for fmt in FORMATS]
    print("\n" + "\n".join(lines))
    assert MATRIX["docx"]["bedrock"] == "native" and MATRIX["doc"]["bedrock"] == "native"
    assert MATRIX["ppt"]["bedrock"].startswith("refused 415")
    assert all(not MATRIX["docx"][p].startswith("refused") for p in MODELS)  # docx reaches everyone
