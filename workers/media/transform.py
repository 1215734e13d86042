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
    kept = kept_output(facts, steps)
    if kept is not None:
        return [{"path": src, **kept}]
    return kind(facts["kind"], facts.get("mime")).transform(src, facts, steps, workdir)


def kept_output(facts: dict[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The output of a plan that keeps the source as it is (no bytes change), else None: callers skip
    reading and rewriting the file then."""
    if steps and [s["op"] for s in steps] != ["keep"]:
        return None
    out: dict[str, Any] = {"kind": facts["kind"], "mime": facts["mime"]}
    if facts["kind"] == "image":
        out.update(width=facts.get("display_width", facts.get("width")),
                   height=facts.get("display_height", facts.get("height")))
    if steps and "est_tokens" in steps[0]:  # an image's formula, or a native text/office document's text
        out["est_tokens"] = steps[0]["est_tokens"]
    return out
