"""``/v1/batches``: OpenAI's Batch API; each JSONL line runs as a Ferry job on any provider.

The logic (line parsing, atomic counting, output files) is in workers/services/batches.py; this
module is the HTTP edge: auth, tenancy, OpenAI's list and error shapes.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from app.auth import context, require_tenant
from app.compat import openai_errors, query_int
from workers.services import batches
from workers.core.errors import BadRequest

bp = openai_errors(Blueprint("batches", __name__, url_prefix="/v1/batches"))


@bp.post("")
def create():  # type: ignore[no-untyped-def]
    tenant = require_tenant()
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object", param="body")
    return jsonify(batches.create(context(), tenant, body))


@bp.get("")
def list_():  # type: ignore[no-untyped-def]
    tenant = require_tenant()
    return jsonify(batches.list_batches(context(), tenant, limit=query_int("limit", 20, 1, 100),
                                        after=request.args.get("after") or None))


@bp.get("/<batch_id>")
def read(batch_id: str):  # type: ignore[no-untyped-def]
    return jsonify(batches.get(context(), require_tenant(), batch_id))


@bp.post("/<batch_id>/cancel")
def cancel(batch_id: str):  # type: ignore[no-untyped-def]
    return jsonify(batches.cancel(context(), require_tenant(), batch_id))
