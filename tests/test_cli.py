"""``ferry batch`` and ``ferry models`` through click's CliRunner against Ferry over a real socket."""
from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli.main import main
from tests.conftest import CORPUS
from app.simulators.server import SimServer


@pytest.fixture(scope="module")
def ferry_url(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with SimServer(app) as server:
        yield server.url


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "inbox"
    d.mkdir()
    for name in ("hopper.jpg", "hopper.png", "hopper.webp"):
        shutil.copy(CORPUS / "images" / name, d / name)
    shutil.copy(CORPUS / "pdf" / "pdflatex-4-pages.pdf", d / "paper.pdf")
    (d / "notes.txt").write_text("not media: skipped")
    return d


def run(*args: str) -> object:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def results(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_batch_runs_each_file_as_a_job_and_resumes(ferry_url, folder, tmp_path):
    out = tmp_path / "results.jsonl"
    # as if an earlier run was stopped after one file (and left a torn line behind)
    out.write_text(json.dumps({"file": "hopper.jpg", "job_id": "job_earlier", "status": "succeeded"}) + "\n{\"fi")
    res = run("batch", str(folder), "--model", "anthropic/claude-sonnet-4-5", "--prompt", "Describe",
              "--out", str(out), "--url", ferry_url, "--concurrency", "2")
    assert res.exit_code == 0, res.output
    lines = out.read_text().splitlines()[1:]
    new = [json.loads(x) for x in lines]
    assert sorted(x["file"] for x in new) == ["hopper.png", "hopper.webp", "paper.pdf"]  # hopper.jpg was skipped
    assert all(x["status"] == "succeeded" and x["content"].startswith("sim:anthropic") for x in new)
    assert "3 run, 1 skipped, 0 failed" in res.output

    again = run("batch", str(folder), "--model", "anthropic/claude-sonnet-4-5", "--out", str(out), "--url", ferry_url)
    assert again.exit_code == 0 and "0 run, 4 skipped" in again.output
    assert len(out.read_text().splitlines()) == 1 + 3  # nothing appended


def test_batch_reports_failures_and_retries_them(ferry_url, folder, tmp_path):
    out = tmp_path / "r.jsonl"
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)  # PNG magic, no image
    res = run("batch", str(folder), "-m", "openai/gpt-4o", "-o", str(out), "--url", ferry_url)
    assert res.exit_code == 1  # one failure: the exit status says so
    by_file = {x["file"]: x for x in results(out)}
    assert len(by_file) == 5
    assert by_file["broken.png"]["status"] == "failed" and by_file["broken.png"]["error"]["type"]
    assert by_file["hopper.png"]["status"] == "succeeded"
    again = run("batch", str(folder), "-m", "openai/gpt-4o", "-o", str(out), "--url", ferry_url, "--retry-failed")
    assert "1 run, 4 skipped, 1 failed" in again.output


def test_models_lists_the_catalog(ferry_url):
    res = run("models", "--url", ferry_url, "--vision")
    assert res.exit_code == 0, res.output
    assert "openai/gpt-4o" in res.output and "vision" in res.output
    raw = json.loads(run("models", "--url", ferry_url, "--json", "--output", "audio").output)
    assert raw["object"] == "list" and all("audio" in m["architecture"]["output_modalities"] for m in raw["data"])


def test_cli_reports_a_bad_key(ferry_url, folder, tmp_path):
    res = CliRunner().invoke(main, ["models", "--url", ferry_url, "--key", "wrong"])
    assert res.exit_code != 0 and "authentication_error" in res.output


def test_the_demo_points_every_provider_at_a_simulator(monkeypatch):
    """``ferry up --demo`` gives its processes a route and credentials for every provider in the catalog
    (Bedrock's endpoint and AWS keys, Azure's endpoint, Vertex's project and token, the compatible endpoint)."""
    from app.cli.main import _start_simulators
    from workers.core.settings import Settings
    from workers.providers.catalog import get_catalog

    env: dict[str, str] = {}
    sims = _start_simulators(env)
    try:
        for name, value in env.items():  # as the processes `ferry up` starts see them
            monkeypatch.setenv(name, value)
        settings = Settings()
        providers = [*get_catalog().providers, *settings.endpoints()]
        missing = [p for p in providers if not settings.provider_key(p)]
        assert not missing, f"the demo leaves these providers without credentials: {missing}"
        assert env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == sims["bedrock"].url
        assert "compat" in settings.endpoints()
    finally:
        for server in sims.values():
            server.stop()


def test_batch_is_native_by_default_and_shows_the_provider_batches(ferry_url, folder, tmp_path, sims):
    import httpx

    anthropic = sims["anthropic"].url
    httpx.delete(f"{anthropic}/_sim/log")
    out = tmp_path / "native.jsonl"
    res = run("batch", str(folder), "-m", "anthropic/claude-haiku-4-5", "-o", str(out), "--url", ferry_url)
    assert res.exit_code == 0, res.output
    assert "anthropic/claude-haiku-4-5: ended (4)" in res.output  # the provider batch's state, in the bar
    lines = results(out)
    assert sorted(x["file"] for x in lines) == ["hopper.jpg", "hopper.png", "hopper.webp", "paper.pdf"]
    assert all(x["status"] == "succeeded" and x["cost"]["usd"] < x["cost"]["sync_usd"] for x in lines)
    log = httpx.get(f"{anthropic}/_sim/log").json()
    assert [e["path"] for e in log if e["method"] == "POST" and "batches" in e["path"]] == ["/v1/messages/batches"]
    assert not [e for e in log if e["path"] == "/v1/messages"]
    jobs = run("batch", str(folder), "-m", "anthropic/claude-haiku-4-5", "-o", str(tmp_path / "j.jsonl"),
               "--url", ferry_url, "--mode", "jobs")
    assert jobs.exit_code == 0 and len([e for e in httpx.get(f"{anthropic}/_sim/log").json()
                                        if e["path"] == "/v1/messages"]) == 4
