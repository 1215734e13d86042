"""Bearer keys -> tenants (FERRY_API_KEYS; a documented local key when unset)."""
from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from flask import current_app, g, request

from workers.context import Context
from workers.core.errors import Unauthorized
from workers.core.settings import Settings


def context() -> Context:
    return current_app.config["FERRY_CONTEXT"]


def require_tenant() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("missing bearer key: send 'Authorization: Bearer <key>'")
    return tenant_for_key(key)


def tenant_for_key(key: str) -> str:
    """The tenant of an API key however it was sent (a bearer key, or a dialect's own header such as
    Anthropic's ``x-api-key`` or Gemini's ``x-goog-api-key``: app/dialects/)."""
    presented = hashlib.sha256(key.strip().encode()).digest()
    for known, tenant in _key_digests(context().settings.api_keys):
        if hmac.compare_digest(known, presented):
            g.tenant = tenant
            return tenant
    raise Unauthorized("invalid API key")


@lru_cache(maxsize=8)
def _key_digests(api_keys: str | None) -> tuple[tuple[bytes, str], ...]:
    """sha256 digest of each configured key -> tenant: keys are compared (and kept) hashed, never
    written to Redis or logs."""
    return tuple((hashlib.sha256(k.encode()).digest(), t) for k, t in Settings(FERRY_API_KEYS=api_keys).tenant_keys().items())
