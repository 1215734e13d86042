"""Test controls every simulator shares: request log, fault switch, and the rejection exception.

Ferry's Celery workers run in other processes, so the controls are HTTP endpoints beside the
provider's API (``/_sim/...``, never authenticated) as well as methods on :class:`SimState`
(``app.extensions["sim"]``) for in-process tests:

- ``GET /_sim/log`` → JSON list of recorded calls (method, path, selected headers, status,
  error message, model, part summaries with mime/size/sha256 — never raw base64);
  ``DELETE /_sim/log`` clears it.
- ``POST /_sim/faults`` with ``{"status": 429|500|503|..., "count": N, "retry_after": s?,
  "path_contains": "..."?, "message": "..."?, "delay": s?}`` makes the next N matching calls
  fail with that status in the provider's own error shape (plus ``Retry-After``). With no
  ``status`` but a ``delay`` the calls are only slowed down. ``GET`` lists pending faults,
  ``DELETE`` clears them.
- ``POST /_sim/reset`` clears log, faults and any uploaded files.
"""
from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, g, jsonify, request

from .common import Part

#: Headers worth seeing in the log; credentials are redacted to their first characters.
LOGGED_HEADERS = (
    "content-type", "content-length", "user-agent", "anthropic-version", "anthropic-beta",
    "x-goog-upload-protocol", "x-goog-upload-command", "x-goog-upload-offset",
    "x-goog-upload-header-content-length", "x-goog-upload-header-content-type",
    "x-amz-date", "x-amz-content-sha256", "idempotency-key", "openai-beta",
)
SECRET_HEADERS = ("authorization", "x-api-key", "x-goog-api-key", "api-key")


class SimReject(Exception):
    """Raised by a handler to answer with the provider's error shape."""

    def __init__(self, status: int, message: str, kind: str | None = None, *,
                 param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.param = param
        self.code = code
        self.headers = headers or {}


#: Provider hook: turn a rejection into that provider's error response.
ErrorRenderer = Callable[[SimReject], Response]


@dataclass
class Fault:
    status: int | None
    count: int
    retry_after: float | None = None
    path_contains: str | None = None
    message: str | None = None
    delay: float = 0.0
    body_contains: str | None = None
    """Only requests whose body holds this text (one job's marker): others sharing the simulator pass."""

    def matches(self, path: str, body: Callable[[], bytes]) -> bool:
        return self.count > 0 and (not self.path_contains or self.path_contains in path) \
            and (not self.body_contains or self.body_contains.encode() in body())

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "count": self.count, "retry_after": self.retry_after,
                "path_contains": self.path_contains, "message": self.message, "delay": self.delay,
                "body_contains": self.body_contains}


@dataclass
class SimState:
    """Per-app mutable state, guarded by one lock (the server is threaded)."""

    provider: str
    lock: threading.RLock = field(default_factory=threading.RLock)
    entries: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    reset_hooks: list[Callable[[], None]] = field(default_factory=list)
    _seq: itertools.count = field(default_factory=itertools.count)

    # -- in-process API (the HTTP endpoints call these too)
    def log(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(e) for e in self.entries]

    def clear_log(self) -> None:
        with self.lock:
            self.entries.clear()

    def add_fault(self, status: int | None = None, count: int = 1, retry_after: float | None = None,
                  path_contains: str | None = None, message: str | None = None,
                  delay: float = 0.0, body_contains: str | None = None) -> Fault:
        fault = Fault(status, int(count), retry_after, path_contains, message, float(delay or 0), body_contains)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def reset(self) -> None:
        with self.lock:
            self.entries.clear()
            self.faults.clear()
            for hook in self.reset_hooks:
                hook()

    def take_fault(self, path: str, body: Callable[[], bytes] = lambda: b"") -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(path, body):
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                    return fault
        return None


def record_parts(parts: list[Part], model: str | None = None) -> None:
    """Handlers call this so the log shows what was received even if a rule then rejects it."""
    g.sim_parts = parts
    if model is not None:
        g.sim_model = model


def install_controls(app: Flask, provider: str, render: ErrorRenderer) -> SimState:
    """Add the log, fault switch and SimReject handling to a provider app."""
    state = SimState(provider)
    app.extensions["sim"] = state

    @app.errorhandler(SimReject)
    def _on_reject(exc: SimReject) -> Response:
        g.sim_error = exc.message
        discard_body()
        resp = render(exc)
        resp.status_code = exc.status
        for key, value in exc.headers.items():
            resp.headers[key] = value
        return resp

    @app.before_request
    def _start_entry() -> Response | None:
        if request.path.startswith("/_sim/") or request.headers.get("X-Sim-Batch-Line"):
            return None  # (a batch simulator runs its lines through the endpoint in-process: not logged)
        g.sim_started = time.monotonic()
        fault = state.take_fault(request.path, lambda: request.get_data(cache=True))
        if fault is None:
            return None
        if fault.delay:
            time.sleep(fault.delay)
        if not fault.status:
            return None
        g.sim_fault = True
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(int(fault.retry_after)) if float(fault.retry_after).is_integer() \
                else str(fault.retry_after)
        exc = SimReject(fault.status, fault.message or f"simulated fault: HTTP {fault.status}", headers=headers)
        return _on_reject(exc)

    @app.after_request
    def _finish_entry(resp: Response) -> Response:
        if request.path.startswith("/_sim/") or request.headers.get("X-Sim-Batch-Line"):
            return resp
        headers: dict[str, str] = {}
        for name in LOGGED_HEADERS:
            if name in request.headers:
                headers[name] = request.headers[name]
        for name in SECRET_HEADERS:
            if name in request.headers:
                headers[name] = request.headers[name][:10] + "…"
        entry: dict[str, Any] = {
            "seq": next(state._seq),
            "time": time.time(),
            "method": request.method,
            "path": request.path,
            "query": request.query_string.decode("latin-1"),
            "headers": headers,
            "status": resp.status_code,
            "model": getattr(g, "sim_model", None),
            "parts": [p.to_log() for p in getattr(g, "sim_parts", [])],
        }
        if getattr(g, "sim_error", None):
            entry["error"] = g.sim_error
        if getattr(g, "sim_fault", False):
            entry["fault"] = True
        with state.lock:
            state.entries.append(entry)
        return resp

    @app.get("/_sim/log")
    def _get_log() -> Response:
        return jsonify(state.log())

    @app.delete("/_sim/log")
    def _clear_log() -> Response:
        state.clear_log()
        return jsonify({"cleared": True})

    @app.get("/_sim/faults")
    def _get_faults() -> Response:
        with state.lock:
            return jsonify([f.to_json() for f in state.faults])

    @app.post("/_sim/faults")
    def _post_fault() -> Response:
        body = request.get_json(force=True, silent=True) or {}
        allowed = {"status", "count", "retry_after", "path_contains", "message", "delay", "body_contains"}
        unknown = set(body) - allowed
        if unknown or ("status" not in body and not body.get("delay")):
            return jsonify({"error": f"expected keys {sorted(allowed)} with status or delay"}), 400
        fault = state.add_fault(**{k: body[k] for k in allowed if k in body})
        return jsonify(fault.to_json()), 201

    @app.delete("/_sim/faults")
    def _clear_faults() -> Response:
        state.clear_faults()
        return jsonify({"cleared": True})

    @app.post("/_sim/reset")
    def _reset() -> Response:
        state.reset()
        return jsonify({"reset": True})

    return state


def discard_body(chunk: int = 1 << 20) -> None:
    """Read and drop the request body before rejecting it for size, so the client (still sending)
    sees our response instead of a connection reset."""
    stream = request.stream
    while stream.read(chunk):
        pass
