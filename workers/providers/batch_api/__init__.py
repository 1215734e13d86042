"""Clients of provider batch APIs (issue 13): one module per provider, named by ``client`` in
``workers/providers/batch_catalog.toml``. Each has the same functions, so the batch driver
(workers/services/batch_native.py) is provider-neutral:

- ``line(custom_id, native) -> dict``: one request in the provider's batch input shape;
- ``submit(lines_path, tag, model, *, base_url, api_key, timeout, since, exclude) -> State``: create the provider batch,
  idempotently: a batch already made for ``tag`` (a crash after creating, before recording) is found and
  returned instead of a second one; an uploaded input file of the same name and size is reused;
- ``retrieve(id, ...) -> State``; ``cancel(id, ...)``;
- ``results(state, ...) -> iterator of Result``: each request's outcome, by the ``custom_id`` sent;
- optionally ``unavailable(settings) -> str | None``: why no provider batch can be made with these settings
  (Bedrock without its service role): such lines run as jobs in mode auto and are refused in mode native.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from workers.providers.files_api import request


@dataclass
class State:
    """A provider batch as Ferry tracks it: the provider's own status word, and whether it ended."""

    id: str
    status: str
    ended: bool
    counts: dict[str, int] = field(default_factory=dict)
    reason: str | None = None
    """Why it failed or expired, in the provider's words."""
    refs: dict[str, Any] = field(default_factory=dict)
    """Where its results are (output / error file ids, a results URL)."""


@dataclass
class Result:
    custom_id: str
    status_code: int
    body: dict[str, Any] | None
    """The provider's answer (a success, or its error body)."""
    error: dict[str, Any] | None = None
    """Set when the request did not run: ``{"code", "message"}`` (expired, cancelled)."""


def client(name: str) -> ModuleType:
    return importlib.import_module(f"workers.providers.batch_api.{name}")


def adopt_or_create(lines_path: Path, tag: str, *, find_batch: Callable[[], dict[str, Any] | None],
                    find_file: Callable[[str, int], str | None], upload: Callable[[str], str],
                    create: Callable[[str], dict[str, Any]], state: Callable[[dict[str, Any]], State]) -> State:
    """Idempotent creation, as every file-based batch API needs it: a batch already made for ``tag`` (the
    worker died after creating it, before Ferry recorded it) is adopted; otherwise the input file named
    ``<tag>.jsonl`` is reused when one of that size is uploaded already, else uploaded, and the batch created
    from it. ``find_file(name, size)`` and ``upload(name)`` give the file's id, ``create(file_id)`` the batch."""
    found = find_batch()
    if found is not None:
        return state(found)
    name = f"{tag}.jsonl"
    file_id = find_file(name, lines_path.stat().st_size) or upload(name)
    return state(create(file_id))


def upload_jsonl(provider: str, url: str, lines_path: Path, name: str, headers: dict[str, str],
                 timeout: float) -> str:
    """Upload a batch input file to an OpenAI-style Files API (multipart, ``purpose=batch``); its id."""
    with lines_path.open("rb") as fh:
        up = request(provider, "POST", url, timeout, headers=headers, data={"purpose": "batch"},
                     files={"file": (name, fh, "application/jsonl")})
    return str(up.json()["id"])
