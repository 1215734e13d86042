"""``ferry up --demo`` from a built wheel: the simulators and samples ship in it, nothing needs the checkout.

The wheel is built from a copy of the source tree: building in place would write ``build/`` and
``ferry.egg-info`` into the working tree, and setuptools packs whatever an earlier build left in
``build/lib`` (a module deleted since would still ship). The demo then runs with the wheel's install
as the only Ferry on ``PYTHONPATH``, from an empty folder, with the embedded Redis.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader

from app.cli.main import DEMO_MODELS, SAMPLES
from tests.conftest import ROOT
from tests.services import free_port

#: What a build reads from the checkout: everything but VCS, virtualenv, caches and earlier builds.
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
                                    ".pytest_cache", ".ferry", ".bench")
#: ``ferry up`` then the demo, run by the venv's interpreter with only the wheel's install on the path.
DEMO = """
import os, sys
from pathlib import Path
import app, app.simulators
site = Path(os.environ["PYTHONPATH"]).resolve()
for mod in (app, app.simulators):
    assert Path(mod.__file__).resolve().is_relative_to(site), mod.__file__
print("loaded", app.__file__, app.simulators.__file__, flush=True)
sys.argv = ["ferry", "up", "--demo", "--exit", "--port", sys.argv[1]]
from app.cli.main import main
main()
"""
JOB_LINE = re.compile(r"^\s+(job_\w+)\s+(\w+)\s+stage=", re.M)


@pytest.fixture(scope="module")
def wheel_site() -> Iterator[tuple[Path, Path]]:
    """(wheel, its ``pip install --target`` folder)."""
    tmp = Path(tempfile.mkdtemp(prefix="ferry-wheel-"))
    try:
        src = tmp / "src"
        shutil.copytree(ROOT, src, ignore=NOT_SOURCE)
        build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                                "--disable-pip-version-check", "-q", "-w", str(tmp / "dist"), str(src)],
                               capture_output=True, text=True, timeout=300)
        assert build.returncode == 0, build.stdout + build.stderr
        (wheel,) = (tmp / "dist").glob("ferry-*.whl")
        install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check",
                                  "-q", "--target", str(tmp / "site"), str(wheel)],
                                 capture_output=True, text=True, timeout=300)
        assert install.returncode == 0, install.stdout + install.stderr
        yield wheel, tmp / "site"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_the_wheel_ships_the_simulators_catalog_and_samples(wheel_site):
    wheel, _ = wheel_site
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"app/simulators/server.py", "app/simulators/__main__.py", "app/simulators/README.md",
            "workers/providers/catalog.toml"} <= names
    samples = {p.name for p in (ROOT / "workers" / "samples").iterdir() if p.is_file()}
    assert samples and {n.removeprefix("workers/samples/") for n in names if n.startswith("workers/samples/")} \
        == samples
    assert not [n for n in names if n.startswith("tests/")]


def _demo_processes(marker: str) -> list[int]:
    """Live processes started for this demo (their environment holds its FERRY_DATA_DIR)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                if marker.encode() in (proc / "environ").read_bytes().split(b"\0"):
                    pids.append(int(proc.name))
            except OSError:
                pass  # gone, or not ours
    return pids


def test_ferry_up_demo_runs_from_the_wheel(wheel_site):
    _, site = wheel_site
    tmp = Path(tempfile.mkdtemp(prefix="fw-"))  # short: the embedded Redis listens on a unix socket in it
    cwd, data = tmp / "empty", tmp / "data"
    cwd.mkdir()
    marker = f"FERRY_DATA_DIR={data}"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FERRY_", "REDIS_", "PYTHON", "AWS_")) and not k.endswith(("_BASE_URL", "_API_KEY"))}
    env.update(PYTHONPATH=str(site), FERRY_DATA_DIR=str(data), COLUMNS="250")  # COLUMNS: rich wraps at 80
    proc = subprocess.Popen([sys.executable, "-c", DEMO, str(free_port())], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        try:
            out, _ = proc.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)  # ferry up stops its children and the embedded Redis
            out, _ = proc.communicate(timeout=60)
            pytest.fail(f"ferry up --demo --exit did not finish within 240 s:\n{out[-6000:]}")
        deadline = time.monotonic() + 20  # children were waited for; the embedded Redis exits on its own
        while _demo_processes(marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = _demo_processes(marker)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in _demo_processes(marker):  # only what this test started
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)

    assert proc.returncode == 0, out[-6000:]
    assert re.search(rf"^loaded {re.escape(str(site))}/app/__init__.py {re.escape(str(site))}/app/simulators/", out,
                     re.M), out[:2000]
    assert re.search(r"^redis unix://\S+ \(embedded\)$", out, re.M), out[:2000]
    statuses: dict[str, str] = {}
    for job, status in JOB_LINE.findall(out):
        statuses[job] = status  # the last update printed for each job
    assert len(statuses) == 2 * len(DEMO_MODELS), out[-6000:]  # a dry run and a completion per model
    assert set(statuses.values()) == {"succeeded"}, statuses
    pages = len(PdfReader(SAMPLES / "sample.pdf").pages)
    for model in DEMO_MODELS:  # the simulator's description of what arrived, from the decoded bytes
        provider, name = model.split("/", 1)
        assert re.search(rf'^  answer: sim:{provider} model={re.escape(name)} parts=\[text "Describe the image '
                         rf'and the PDF\.", image/jpeg \d+x\d+ sha=[0-9a-f]{{8}}, application/pdf {pages}p sha=',
                         out, re.M), (model, out[-6000:])
    assert "demo done" in out and "demo had failures" not in out
    assert not left, f"demo processes still running: {left}"
