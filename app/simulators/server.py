"""Run simulator apps on real loopback sockets (tests double at the wire, not in the code).

    with SimServer(openai_sim.create_app()) as sim:
        client = OpenAI(base_url=sim.url + "/v1", api_key="sim-key")

:func:`run_all` starts every provider and :func:`env_for` gives the environment variables
Ferry reads (``<P>_BASE_URL`` with the base-URL conventions of DESIGN.md, ``<P>_API_KEY``,
and boto3's variables for Bedrock).
"""
from __future__ import annotations

import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .controls import SimState

DEFAULT_API_KEY = "sim-key"

#: provider name → (env prefix, path suffix of the SDK-style base URL)
BASE_URLS: dict[str, tuple[str, str]] = {
    "openai": ("OPENAI", "/v1"),
    "anthropic": ("ANTHROPIC", ""),
    "gemini": ("GEMINI", ""),
    "bedrock": ("BEDROCK", ""),
    "mistral": ("MISTRAL", ""),
    "xai": ("XAI", "/v1"),
    "cohere": ("COHERE", ""),
    "azure": ("AZURE_OPENAI", ""),
    "vertex": ("VERTEX", ""),
    "compat": ("COMPAT", "/v1"),
}
#: The project the Vertex simulator serves (GOOGLE_CLOUD_PROJECT in env_for).
VERTEX_PROJECT = "ferry-sim"


class _QuietHandler(WSGIRequestHandler):
    """No per-request access log lines (the simulators keep their own log at /_sim/log)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class SimServer:
    """One WSGI app served by werkzeug in a daemon thread; starts on construction."""

    def __init__(self, app: Flask, port: int = 0, host: str = "127.0.0.1") -> None:
        self.app = app
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True,
                                                   request_handler=_QuietHandler)
        self.host = host
        self.port: int = int(self._server.server_port)
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"sim:{self.port}", daemon=True)
        self._thread.start()

    @property
    def state(self) -> SimState:
        """Log, faults and reset for in-process tests (same data as the /_sim/ endpoints)."""
        return self.app.extensions["sim"]

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> SimServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def create_apps(api_key: str = DEFAULT_API_KEY, **options: Any) -> dict[str, Flask]:
    """One app per provider (imported lazily so a broken simulator does not hide the others)."""
    from . import (anthropic_sim, azure_sim, bedrock_sim, cohere_sim, compat_sim, gemini_sim, mistral_sim, openai_sim,
                   vertex_sim, xai_sim)

    modules = {"openai": openai_sim, "anthropic": anthropic_sim, "gemini": gemini_sim,
               "bedrock": bedrock_sim, "mistral": mistral_sim, "xai": xai_sim, "cohere": cohere_sim,
               "azure": azure_sim, "vertex": vertex_sim, "compat": compat_sim}
    return {name: mod.create_app(api_key=api_key, **options.get(name, {}))
            for name, mod in modules.items()}


def run_all(ports: Mapping[str, int] | None = None, api_key: str = DEFAULT_API_KEY,
            host: str = "127.0.0.1") -> dict[str, SimServer]:
    """Start every simulator (port 0 = any free port); stop them with ``stop_all``."""
    ports = ports or {}
    servers: dict[str, SimServer] = {}
    try:
        for name, app in create_apps(api_key).items():
            servers[name] = SimServer(app, port=ports.get(name, 0), host=host)
    except Exception:
        stop_all(servers)
        raise
    return servers


def stop_all(servers: Mapping[str, SimServer]) -> None:
    for server in servers.values():
        server.stop()


def env_for(servers: Mapping[str, SimServer], api_key: str = DEFAULT_API_KEY) -> dict[str, str]:
    """Environment for a Ferry process pointed at these simulators."""
    env: dict[str, str] = {}
    for name, server in servers.items():
        prefix, suffix = BASE_URLS[name]
        if name == "bedrock":
            env.update({
                "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": server.url,
                "AWS_ENDPOINT_URL_BEDROCK": server.url,  # the control plane: batch inference jobs
                "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "sim-access-key",
                "AWS_SECRET_ACCESS_KEY": "sim-secret-key",
            })
            continue
        if name == "azure":  # openai-python AzureOpenAI's variables (OPENAI_API_VERSION: Ferry's default)
            env.update({"AZURE_OPENAI_ENDPOINT": server.url, "AZURE_OPENAI_API_KEY": api_key})
            continue
        if name == "vertex":  # a static bearer token instead of Application Default Credentials
            env.update({"VERTEX_BASE_URL": server.url, "GOOGLE_CLOUD_PROJECT": VERTEX_PROJECT,
                        "VERTEX_LOCATION": "us-central1", "VERTEX_ACCESS_TOKEN": api_key})
            continue
        if name == "compat":  # a generic OpenAI-compatible server as the FERRY_ENDPOINTS provider "compat"
            env.update({"FERRY_ENDPOINTS": f"compat={server.url}{suffix}", "COMPAT_API_KEY": api_key})
            continue
        env[f"{prefix}_BASE_URL"] = server.url + suffix
        env[f"{prefix}_API_KEY"] = api_key
    return env
