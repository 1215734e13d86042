"""Tool calling in the simulators: when to answer with a call, and what to say after a tool's result.

The scripted behaviour (every simulator the same, so a test can steer any provider with one prompt):

- A request that declares tools answers with **one tool call** when its last user text says
  ``call <name>`` (optionally followed by a JSON object: the call's arguments, e.g.
  ``call get_weather {"city": "Paris"}``) and ``<name>`` is declared, or when the tool choice forces a call
  (OpenAI ``required`` / a named function, Anthropic ``any`` / ``tool``, Gemini ``ANY``, Bedrock ``any`` /
  ``tool``, Cohere ``REQUIRED``): the named or first declared tool, arguments from the text or ``{}``.
  A ``none`` choice never calls.
- A request whose last turn carries tool results answers text: the usual description of what arrived,
  then `` tool_results=[<name>(<id>)=<result>, …]`` with each result in full.

The shape checks of each provider's tool fields live in its simulator (or in :mod:`.openai_tools` for the
OpenAI-shaped APIs); this module is provider-neutral.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

_DIRECTIVE = re.compile(r"\bcall\s+([A-Za-z0-9_.:-]+)")


@dataclass(frozen=True)
class Result:
    call_id: str
    name: str
    content: str


@dataclass
class Plan:
    """What a request's tool fields ask of a simulator: the declared names, a forced call, the results sent."""

    names: list[str] = field(default_factory=list)
    forced: str | None = None
    results: list[Result] = field(default_factory=list)
    last_user_text: str = ""


def wanted_call(names: list[str], forced: str | None, last_user_text: str) -> tuple[str, dict[str, Any]] | None:
    """(name, arguments) of the call to answer with, or None. ``forced`` is ``"none"``, ``"any"`` (a call is
    required), a function name, or None (the model decides)."""
    if not names or forced == "none":
        return None
    for m in _DIRECTIVE.finditer(last_user_text or ""):
        name = m.group(1)
        if name in names and forced in (None, "any", name):
            return name, _json_after(last_user_text, m.end())
    if forced == "any":
        return names[0], {}
    if forced in names:
        return forced, {}
    return None


def _json_after(text: str, start: int) -> dict[str, Any]:
    rest = text[start:].lstrip()
    if not rest.startswith("{"):
        return {}
    try:
        value, _ = json.JSONDecoder().raw_decode(rest)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def results_text(described: str, results: list[Result]) -> str:
    """The reply after tool results: what arrived, then each result in full."""
    shown = ", ".join(f"{r.name}({r.call_id})={r.content}" for r in results)
    return f"{described} tool_results=[{shown}]"


def sim_id(prefix: str, raw: bytes, alphabet: str = "0123456789abcdef", size: int = 24) -> str:
    """A call id the same for the same request (how the simulators make every id)."""
    n = int.from_bytes(hashlib.sha256(raw).digest(), "big")
    out = []
    for _ in range(size):
        n, r = divmod(n, len(alphabet))
        out.append(alphabet[r])
    return prefix + "".join(out)


def text_of(content: Any) -> str:
    """A content field's text: a string, or the ``text`` of a list of parts/blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text")) for p in content if isinstance(p, dict) and "text" in p)
    return ""
