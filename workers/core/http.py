"""One pooled HTTP client per process, for calls to configured upstreams (providers, Files APIs).

``httpx.request`` builds a client, a TLS context and a connection for every call (about 18 ms of
CPU for the TLS context alone); a long-lived client keeps connections alive and builds all that
once. The client is thread-safe; a forked child (Celery prefork) gets a fresh one, since sockets
must not be shared across processes. User-supplied URLs never come here: they go through
``workers.net.guard``'s SSRF-checked client.
"""
from __future__ import annotations

import os
import threading

import httpx

_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=64, keepalive_expiry=30.0)
_lock = threading.Lock()
_client: httpx.Client | None = None


def shared_client() -> httpx.Client:
    """This process's client (created on first use)."""
    global _client
    client = _client
    if client is None:
        with _lock:
            if _client is None:
                _client = httpx.Client(limits=_LIMITS)
            client = _client
    return client


def _forget_after_fork() -> None:
    global _client, _lock
    _client = None
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)
