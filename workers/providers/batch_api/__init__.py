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
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any


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
