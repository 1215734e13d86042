"""The ``/ui`` blueprint: HTML error pages, security headers and the helpers every page template uses."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, redirect, render_template, request
from werkzeug.exceptions import HTTPException

import app.ui.format as fmt
import app.ui.session as session
from workers.core.errors import FerryError

bp = Blueprint("ui", __name__, url_prefix="/ui", template_folder="templates", static_folder="static",
               static_url_path="/static")

#: No inline script or style anywhere (bars are SVG attributes); media only from Ferry itself or
#: presigned storage URLs (https) for generated images and audio.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
       "media-src 'self' https: data:; object-src 'none'; frame-ancestors 'none'; form-action 'self'; "
       "base-uri 'none'")


@bp.app_template_global("ui_session")
def _ui_session() -> session.Session | None:
    return session.current()


for _name in ("when", "ago", "seconds", "size", "pretty_json", "pct", "usd"):
    bp.add_app_template_filter(getattr(fmt, _name), f"ui_{_name}")


def fragment_wanted() -> bool:
    """The live-update script asks for the page again with this header and swaps the marked parts."""
    return request.headers.get("X-Ferry-Live") == "1"


def page(template: str, status: int = 200, **values: Any) -> Response:
    values.setdefault("nav", request.path.split("/")[2] if request.path.count("/") >= 2 else "")
    resp = Response(render_template(template, **values), status=status, mimetype="text/html")
    return resp


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    if resp.mimetype == "text/html":
        resp.headers.setdefault("Cache-Control", "no-store")
    return resp


@bp.errorhandler(session.SignInRequired)
def _sign_in(exc: session.SignInRequired):  # type: ignore[no-untyped-def]
    if fragment_wanted():
        return Response("signed out", status=401, mimetype="text/plain")
    target = request.full_path.rstrip("?") if request.method == "GET" else "/ui/jobs"
    return redirect(f"/ui/login?next={quote(target)}", code=303)


@bp.errorhandler(session.BadCsrf)
def _bad_csrf(exc: session.BadCsrf):  # type: ignore[no-untyped-def]
    return page("error.html", 403, title="Form expired",
                message="This form did not come from this session (or the page is stale). Go back, reload and try again.")


@bp.errorhandler(FerryError)
def _ferry_error(exc: FerryError):  # type: ignore[no-untyped-def]
    title = "Not found" if exc.status == 404 else "Error"
    return page("error.html", exc.status, title=title, message=exc.message, error=exc.to_dict())


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
    return page("error.html", exc.code or 500, title=exc.name, message=exc.description or exc.name)
