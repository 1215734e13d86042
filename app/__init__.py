"""Ferry's HTTP front end. ``flask --app app run`` finds :func:`create_app`."""
from __future__ import annotations

from flask import Flask

from workers.context import Context, get_context


def create_app(context: Context | None = None) -> Flask:
    """The Flask app with every blueprint; importing the Celery app installs the task sender."""
    import workers.tasks.celery  # noqa: F401  (enqueue by task name: workers/core/queue.py)
    from app import batches, chat, errors, files, health, images, jobs, metrics, models, openapi
    from app import ui  # the browser UI at /ui/ (issue 16)
    from app.dialects import anthropic_api, gemini_api, responses_api  # other clients' dialects

    app = Flask("ferry")
    app.config["FERRY_CONTEXT"] = context or get_context()
    app.json.sort_keys = False  # type: ignore[attr-defined]
    errors.register(app)
    for module in (health, jobs, chat, files, batches, models, metrics, openapi, images, ui,
                   anthropic_api, gemini_api, responses_api):
        app.register_blueprint(module.bp)
    return app
