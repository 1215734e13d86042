"""The only modules that import Celery: the app, stage tasks, batch and webhook tasks, the reaper."""
