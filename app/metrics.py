"""``GET /metrics``: Prometheus text, built from Redis at scrape time (workers/state/metrics.py).

Unauthenticated like ``/healthz`` (scrapers rarely carry bearer keys); it reveals counts,
never tenants, ids or content. Put it behind your network policy if that matters.
"""
from __future__ import annotations

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.auth import context
from workers.state.metrics import render

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    return Response(render(context().redis), mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    headers={"Content-Type": CONTENT_TYPE_LATEST})
