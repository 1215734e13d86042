"""What the OpenAI, Anthropic and Mistral batch simulators share: the store of batches with the test knobs
(how long a batch takes, whether it expires), reset with the simulator, and ``POST /_sim/batches``."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, request

from .controls import SimState


@dataclass
class BatchConfig:
    delay: float = 1.0
    """Seconds a batch runs before it ends."""
    expire: bool = False
    """End batches expired, answering no line."""
    batches: dict[str, Any] = field(default_factory=dict)  # id -> the simulator's batch (each has a ``cancel`` Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self.lock:
            for b in self.batches.values():
                b.cancel.set()
            self.batches.clear()
            self.delay, self.expire = 1.0, False


def install_batch_controls(app: Flask, state: SimState) -> BatchConfig:
    """A batch store for ``app``, cleared on the simulator's reset, set through ``POST /_sim/batches``."""
    config = BatchConfig()
    state.reset_hooks.append(config.clear)
    app.extensions["sim_batches"] = config

    @app.post("/_sim/batches")
    def _configure_batches() -> Response:
        body = request.get_json(force=True, silent=True) or {}
        config.delay = float(body.get("delay", config.delay))
        config.expire = bool(body.get("expire", config.expire))
        return jsonify({"delay": config.delay, "expire": config.expire})

    return config
