"""The browser UI at ``/ui/``: sign in with an API key, then see jobs and batches as Ferry ran them.

Server-rendered pages (Jinja templates in ``templates/``) that work without JavaScript; ``static/live.js``
refreshes the parts of a page marked ``data-live`` while jobs run. Every read goes through the same
services as the API, so a tenant sees exactly what its key sees there.
"""
from __future__ import annotations

from app.ui import views_auth, views_batches, views_jobs, views_try  # noqa: F401  (they add routes to bp)
from app.ui.blueprint import bp

__all__ = ["bp"]
