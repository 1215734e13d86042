"""Bearer keys -> tenants (FERRY_API_KEYS; a documented local key when unset)."""
from __future__ import annotations

import hmac

from flask import current_app, g, request

from workers.context import Context
from workers.errors import Unauthorized


def context() -> Context:
    return current_app.config["FERRY_CONTEXT"]


def require_tenant() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("missing bearer key: send 'Authorization: Bearer <key>'")
    key = key.strip()
    for known, tenant in context().settings.tenant_keys().items():
        if hmac.compare_digest(known.encode(), key.encode()):
            g.tenant = tenant
            return tenant
    raise Unauthorized("invalid API key")
