"""The layout (issue 10): layers import only downward, no import cycles, small modules, a light web tier.

Imports inside functions and under ``TYPE_CHECKING`` count: they hide a cycle from Python, not from the
reader. Read from the source with ``ast``; nothing is imported to check it.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from tests.conftest import ROOT

#: Each package's layer; a module may import its own package and lower layers only.
LAYERS = {
    "workers": 0,  # the empty top package
    "workers.core": 0,
    "workers.storage": 1,
    "workers.state": 2,
    "workers.net": 3,
    "workers.providers": 3,
    "workers.media": 4,  # the planner reads the provider catalog
    "workers.context": 5,
    "workers.pipeline": 6,
    "workers.services": 7,
    "workers.tasks": 8,
    "app.simulators": 0,  # stand-alone provider simulators: import nothing of Ferry's
    "app": 9,
}
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    mods = {}
    for top in ("app", "workers"):
        for path in (ROOT / top).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            mods[".".join(parts)] = path
    return mods


def _imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the Ferry modules it imports, anywhere in its body."""
    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(package[:len(package) - node.level + 1] + [node.module or ""]).strip(".") \
                    if node.level else (node.module or "")
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            for target in targets:
                found = resolve(target)
                if found and found != name:
                    graph[name].add(found)
    return graph


def _layer(module: str) -> tuple[str, int]:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return best, LAYERS[best]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_there_are_modules_and_imports_to_check() -> None:
    mods = _modules()
    graph = _imports(mods)
    assert len(mods) > 80 and sum(map(len, graph.values())) > 200
    assert "workers.state.leases" in graph["workers.pipeline.steps"]  # the reader sees real edges


def test_no_import_cycles() -> None:
    assert _cycles(_imports(_modules())) == []


def test_a_cycle_would_be_found() -> None:
    graph: dict[str, set[str]] = defaultdict(set, {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert _cycles(graph) == [["a", "b", "c"]]


def test_layers_import_only_downward() -> None:
    wrong = []
    for module, targets in _imports(_modules()).items():
        package, rank = _layer(module)
        for target in targets:
            other, other_rank = _layer(target)
            if other != package and other_rank >= rank:
                wrong.append(f"{module} ({package}, layer {rank}) imports {target} ({other}, layer {other_rank})")
    assert wrong == []


def test_only_the_task_layer_imports_celery() -> None:
    celery_users = []
    for module, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            if any(n == "celery" or n.startswith(("celery.", "kombu")) for n in names):
                celery_users.append(module)
    assert celery_users and all(m.startswith("workers.tasks.") for m in celery_users), celery_users


def test_no_module_over_400_lines() -> None:
    long = {m: n for m, p in _modules().items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_the_web_tier_loads_no_decoder() -> None:
    """Accepting and answering a job (submit, poll, cancel) loads no image, PDF or AV decoder. The child joins
    the session's data dir and embedded Redis (FERRY_DATA_DIR from the environment), so it leaves no server."""
    script = """
import sys
from app import create_app
AUTH = {"Authorization": "Bearer ferry-local-key"}  # not from tests.conftest: importing it makes a new data dir
client = create_app().test_client()
body = {"request": {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": [
    {"type": "text", "text": "hi"},
    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="}}]}]},
    "dry_run": True}
job = client.post("/v1/jobs", json=body, headers=AUTH)
assert job.status_code == 202, job.json
assert client.get(f"/v1/jobs/{job.json['id']}", headers=AUTH).status_code == 200
assert client.delete(f"/v1/jobs/{job.json['id']}", headers=AUTH).status_code == 200
assert client.get("/v1/models", headers=AUTH).status_code == 200
print(",".join(sorted(m for m in ("PIL", "av", "pypdfium2", "pypdf", "pyvips", "pillow_heif") if m in sys.modules)))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == ""
