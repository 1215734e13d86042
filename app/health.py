"""Liveness and readiness: GET /healthz checks Redis and storage."""
from __future__ import annotations

from flask import Blueprint, jsonify

from app.auth import context

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    ctx = context()
    checks: dict[str, str] = {}
    try:
        ctx.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # report, never crash the probe
        checks["redis"] = f"error: {exc}"
    try:
        ctx.storage.exists("healthz")
        checks["storage"] = "ok"
    except Exception as exc:
        checks["storage"] = f"error: {exc}"
    ok = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if ok else "degraded", checks=checks), 200 if ok else 503
