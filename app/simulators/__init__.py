"""Local provider simulators: real HTTP servers speaking each provider's API and rejecting what
the real provider rejects. See ``server.py`` (SimServer, run_all, env_for) and ``controls.py``
(request log and fault switch under ``/_sim/``)."""
