"""``/ui/login`` (a form posting ``key``), ``/ui/logout``, and ``/ui/`` itself."""
from __future__ import annotations

from flask import redirect, request

import app.ui.session as session
from app.ui.blueprint import bp, page
from workers.core.errors import BadRequest


def _safe_next(raw: str | None) -> str:
    """Only a path inside the UI (never another site: no scheme, no ``//host``)."""
    if raw and raw.startswith("/ui/") and not raw.startswith("//") and "\\" not in raw and "/ui/login" not in raw:
        return raw
    return "/ui/jobs"


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    return redirect("/ui/jobs" if session.current() else "/ui/login", code=303)


@bp.get("/login")
def login_form():  # type: ignore[no-untyped-def]
    return page("login.html", next=_safe_next(request.args.get("next")))


@bp.post("/login")
def login():  # type: ignore[no-untyped-def]
    target = _safe_next(request.form.get("next"))
    resp = redirect(target, code=303)
    if session.sign_in(resp, request.form.get("key", "")) is None:
        return page("login.html", 401, next=target, error="That API key is not valid (see FERRY_API_KEYS).")
    return resp


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    current = session.current()
    if current is not None and not current.csrf:
        raise BadRequest("sign-out ends a browser session; this request has none (it sent a bearer key)",
                         param="Authorization")
    if current is not None:
        session.check_csrf()
    resp = redirect("/ui/login", code=303)
    session.sign_out(resp)
    return resp
