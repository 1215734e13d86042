"""Sign-in for the browser UI: an API key posted once becomes a signed session cookie.

The cookie (``ferry_ui``: HttpOnly, SameSite=Lax, path ``/ui``, Secure with FERRY_UI_SECURE_COOKIE) is
signed with itsdangerous and holds the key's sha256 digest (never the key), a CSRF token and when it was
issued. Every request maps the digest back to a tenant through the same FERRY_API_KEYS digests the API
uses (app/auth.py), so a key removed from the configuration ends its sessions too. A request that carries
``Authorization: Bearer`` is authenticated exactly as on the API instead (scripts, the tenancy test).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import Response, g, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.auth import _key_digests, context, require_tenant
from workers.context import Context

COOKIE = "ferry_ui"
SALT = "ferry-ui-session"


class SignInRequired(Exception):
    """No valid session: pages redirect to /ui/login, live fragments answer 401."""


class BadCsrf(Exception):
    """A form posted without this session's CSRF token (another site's form, or a stale page)."""


@dataclass(frozen=True)
class Session:
    tenant: str
    csrf: str  # "" when authenticated by a bearer header (no cookie, so no cross-site forgery)


def _secret(ctx: Context) -> bytes:
    """FERRY_UI_SECRET, else a random secret created once in the data dir (atomically: the first process
    to link its temp file wins, the others read it), so every web process on the machine agrees."""
    if ctx.settings.ui_secret:
        return ctx.settings.ui_secret.encode()
    path = Path(ctx.settings.data_dir) / "ui-secret"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".ui-secret-{os.getpid()}-{secrets.token_hex(4)}")
    tmp.write_text(secrets.token_hex(32))
    os.chmod(tmp, 0o600)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return bytes.fromhex(path.read_text().strip())


def _serializer(ctx: Context) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_secret(ctx), salt=SALT)


def _tenant_for_digest(ctx: Context, digest: bytes) -> str | None:
    for known, tenant in _key_digests(ctx.settings.api_keys):
        if hmac.compare_digest(known, digest):
            return tenant
    return None


def sign_in(resp: Response, key: str) -> str | None:
    """Set the session cookie on ``resp`` if ``key`` is a configured API key; its tenant, else None."""
    ctx = context()
    digest = hashlib.sha256(key.strip().encode()).digest()
    tenant = _tenant_for_digest(ctx, digest) if key.strip() else None
    if tenant is None:
        return None
    token = _serializer(ctx).dumps({"k": digest.hex(), "c": secrets.token_urlsafe(24)})
    resp.set_cookie(COOKIE, token, max_age=ctx.settings.ui_session_seconds, path="/ui", httponly=True,
                    samesite="Lax", secure=ctx.settings.ui_secure_cookie)
    return tenant


def sign_out(resp: Response) -> None:
    resp.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="Lax", secure=context().settings.ui_secure_cookie)


def current() -> Session | None:
    """This request's session (bearer header or cookie), or None; an invalid bearer key raises 401."""
    if "ui_session" in g:
        return g.ui_session
    found: Session | None = None
    if request.headers.get("Authorization"):
        found = Session(require_tenant(), "")
    elif raw := request.cookies.get(COOKIE):
        ctx = context()
        try:
            data = _serializer(ctx).loads(raw, max_age=ctx.settings.ui_session_seconds)
            tenant = _tenant_for_digest(ctx, bytes.fromhex(data["k"]))
            if tenant is not None:
                found = Session(tenant, str(data["c"]))
        except (BadSignature, KeyError, TypeError, ValueError):
            found = None
    g.ui_session = found
    return found


def tenant() -> str:
    """The signed-in tenant, or :class:`SignInRequired`."""
    session = current()
    if session is None:
        raise SignInRequired()
    return session.tenant


def check_csrf() -> None:
    """A cookie session's form must carry its CSRF token (bearer requests carry no cookie to forge)."""
    session = current()
    if session is None:
        raise SignInRequired()
    if session.csrf and not hmac.compare_digest(request.form.get("csrf", ""), session.csrf):
        raise BadCsrf()
