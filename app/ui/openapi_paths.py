"""The browser UI's routes for /openapi.json (HTML pages: a session cookie from /ui/login, or a bearer key)."""
from __future__ import annotations

from typing import Any

HTML = {"description": "An HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}
SEE_OTHER = {"description": "Redirect (to the page the form leads to, or to /ui/login without a session)"}


def _param(name: str, where: str = "path", description: str = "") -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": {"type": "string"},
            "description": description}


def _page(summary: str, *params: dict[str, Any], security: list[Any] | None = None,
          ok: dict[str, Any] = HTML) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": ["browser UI"], "parameters": list(params),
                          "responses": {"200": ok, "303": SEE_OTHER, "404": HTML}}
    if security is not None:
        op["security"] = security
    return op


def _form(summary: str, *params: dict[str, Any], security: list[Any] | None = None) -> dict[str, Any]:
    op = _page(summary, *params, security=security)
    op["requestBody"] = {"required": False, "content": {
        "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
        "multipart/form-data": {"schema": {"type": "object"}}}}
    op["responses"] = {"303": SEE_OTHER, "400": HTML, "401": HTML, "403": HTML, "404": HTML, "422": HTML}
    return op


def ui_paths() -> dict[str, Any]:
    job, batch = _param("job_id"), _param("batch_id")
    binary = {"description": "The bytes", "content": {"application/octet-stream": {"schema": {
        "type": "string", "format": "binary"}}}}
    return {
        "/ui/": {"get": _page("The UI: to the jobs list, or to sign-in", security=[])},
        "/ui/login": {"get": _page("Sign-in form", _param("next", "query"), security=[]),
                      "post": _form("Sign in with an API key (form field key): sets the session cookie", security=[])},
        "/ui/logout": {"post": _form("Sign out (clears the session cookie)")},
        "/ui/jobs": {"get": _page("Jobs list, newest first", _param("status", "query"), _param("model", "query"),
                                  _param("window", "query"), _param("limit", "query"), _param("cursor", "query"))},
        "/ui/jobs/{job_id}": {"get": _page("A job's page", job)},
        "/ui/jobs/{job_id}/cancel": {"post": _form("Cancel the job", job)},
        "/ui/jobs/{job_id}/result.json": {"get": _page("The job as GET /v1/jobs/{id} answers it, as a download", job,
                                                       ok={"description": "The job", "content": {
                                                           "application/json": {"schema": {"type": "object"}}}})},
        "/ui/jobs/{job_id}/media/{sha256}": {"get": _page("An original or sent blob of the job", job, _param("sha256"),
                                                          ok=binary)},
        "/ui/files/{file_id}/content": {"get": _page("A Ferry file of the tenant", _param("file_id"), ok=binary)},
        "/ui/batches": {"get": _page("Batches list", _param("after", "query"), _param("limit", "query"))},
        "/ui/batches/{batch_id}": {"get": _page("A batch's page", batch, _param("offset", "query"))},
        "/ui/batches/{batch_id}/cancel": {"post": _form("Cancel the batch", batch)},
        "/ui/try": {"get": _page("The Try-it form", _param("accepts", "query"), _param("model", "query")),
                    "post": _form("Submit a job from the form; lands on its page")},
        "/ui/static/{filename}": {"get": _page("The UI's stylesheet and script", _param("filename"), security=[],
                                               ok={"description": "CSS or JS"})},
    }
