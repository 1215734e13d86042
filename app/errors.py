"""Every error answers ``{"error": {"type", "message", "param"?, "stage"?}}``."""
from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from workers.core.errors import FerryError

log = logging.getLogger("ferry.app")


def register(app: Flask) -> None:
    @app.errorhandler(FerryError)
    def ferry_error(exc: FerryError):  # type: ignore[no-untyped-def]
        return jsonify(error=exc.to_dict()), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        kind = {400: "invalid_request_error", 404: "not_found_error", 405: "invalid_request_error",
                413: "too_large_error", 415: "unsupported_media_error"}.get(exc.code or 500, "http_error")
        return jsonify(error={"type": kind, "message": exc.description or exc.name}), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error")
        return jsonify(error={"type": "internal_error", "message": f"{type(exc).__name__}: {exc}"}), 500
