"""The stage functions (fetch, inspect, plan, transform, deliver, complete), no Celery."""
