"""Apply a plan: pure functions from a source file to output files (and text parts). No network, no Celery.

Outputs are in the order the model should see them. Each is ``{"path", "kind", "mime", ...}`` or a text
output ``{"kind": "text", "mime": "text/plain", "text"}``; image outputs carry ``est_tokens``. Each kind
transforms in its own module (workers/media/kinds/); ``keep`` is the same for all.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from workers.media.kinds import kind


def apply_plan(src: Path, facts: dict[str, Any], steps: list[dict[str, Any]], workdir: Path) -> list[dict[str, Any]]:
    """Run ``steps`` on ``src``; returns the outputs (one or more)."""
    if not steps or [s["op"] for s in steps] == ["keep"]:
        out: dict[str, Any] = {"path": src, "kind": facts["kind"], "mime": facts["mime"]}
        if facts["kind"] == "image":
            out.update(width=facts.get("display_width", facts.get("width")),
                       height=facts.get("display_height", facts.get("height")))
            if steps and "est_tokens" in steps[0]:
                out["est_tokens"] = steps[0]["est_tokens"]
        return [out]
    return kind(facts["kind"], facts.get("mime")).transform(src, facts, steps, workdir)
