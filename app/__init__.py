"""Ferry's HTTP front end. ``flask --app app run`` finds :func:`create_app`."""
from __future__ import annotations

from flask import Flask

from workers.context import Context, get_context


def create_app(context: Context | None = None) -> Flask:
    from app import errors, health, jobs

    app = Flask("ferry")
    app.config["FERRY_CONTEXT"] = context or get_context()
    app.json.sort_keys = False  # type: ignore[attr-defined]
    errors.register(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(jobs.bp)
    from app import batches, chat, files, images, metrics, models, openapi  # OpenAI-compatible API, ops (issue 6)

    for module in (chat, files, batches, models, metrics, openapi, images):
        app.register_blueprint(module.bp)
    return app
