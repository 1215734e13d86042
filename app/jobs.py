"""POST/GET/DELETE /v1/jobs: the submit-and-poll API."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from app.auth import context, require_tenant
from workers import jobs
from workers.errors import BadRequest

bp = Blueprint("jobs", __name__, url_prefix="/v1/jobs")


def json_body() -> object:
    body = request.get_json(silent=True, force=True)
    if body is None:
        raise BadRequest("body is not valid JSON", param="body")
    return body


@bp.post("")
def create():  # type: ignore[no-untyped-def]
    tenant = require_tenant()
    job = jobs.submit(context(), tenant, json_body())
    resp = jsonify(job)
    resp.status_code = 202
    resp.headers["Location"] = f"/v1/jobs/{job['id']}"
    return resp


@bp.get("/<job_id>")
def read(job_id: str):  # type: ignore[no-untyped-def]
    return jsonify(jobs.get(context(), require_tenant(), job_id))


@bp.delete("/<job_id>")
def cancel(job_id: str):  # type: ignore[no-untyped-def]
    return jsonify(jobs.cancel(context(), require_tenant(), job_id))
