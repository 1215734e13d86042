"""Pure media functions: sniff, inspect, plan and transform. No network, no Celery."""
