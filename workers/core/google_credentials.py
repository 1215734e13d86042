"""Application Default Credentials for Vertex AI, through google-auth (as python-genai and anthropic-sdk-python's
Vertex client use them): ``google.auth.default(scopes=[cloud-platform])``, a bearer token refreshed when it
nears expiry.

One credentials object per process, behind a lock (worker threads share it). Finding no credentials is
remembered for :data:`RETRY_SECONDS`, because ``google.auth.default`` probes the metadata server and the web
tier asks at every Vertex submit.
"""
from __future__ import annotations

import threading
import time
from typing import Any

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
RETRY_SECONDS = 60.0

_lock = threading.Lock()
_state: dict[str, Any] = {"creds": None, "project": None, "failed_at": None}


def _load() -> Any:
    """The credentials, or None; called under the lock."""
    if _state["creds"] is not None:
        return _state["creds"]
    failed = _state["failed_at"]
    if failed is not None and time.monotonic() - failed < RETRY_SECONDS:
        return None
    import google.auth
    from google.auth import exceptions

    try:
        creds, project = google.auth.default(scopes=[SCOPE])
    except exceptions.DefaultCredentialsError:
        _state["failed_at"] = time.monotonic()
        return None
    _state.update(creds=creds, project=project, failed_at=None)
    return creds


def project() -> str | None:
    """The project the Application Default Credentials belong to (None for plain user credentials)."""
    with _lock:
        _load()
        return _state["project"]


def access_token() -> str | None:
    """A valid bearer token, refreshed when expired or about to be; None without credentials or when the
    refresh fails (the caller then reports that Vertex has no credentials)."""
    from google.auth import exceptions
    from google.auth.transport.requests import Request

    with _lock:
        creds = _load()
        if creds is None:
            return None
        if not creds.valid:
            try:
                creds.refresh(Request())
            except exceptions.GoogleAuthError:
                return None
        return str(creds.token) if creds.token else None
