"""Model names the catalog does not list: which listed model, family or provider default they fall under.

New model names ship every week, so Ferry never refuses a name only because ``catalog.toml`` does not
list it (LiteLLM and Portkey forward unknown names the same way). A name is matched, in order, to

1. a listed model whose *stem* is the same: dated snapshots and aliases (``gpt-4o-2024-11-20``,
   ``claude-sonnet-4-5-20250929``, ``pixtral-large`` for ``pixtral-large-latest``,
   ``amazon.nova-pro-v1:0``) share a stem with the model they are a version of;
2. the first family whose ``match`` glob (``fnmatch``) fits the name (``gpt-5*``, ``gemini-3-*``);
3. the provider's ``default`` entry (the most conservative limits where models differ).
"""
from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any

#: Version suffixes stripped (repeatedly) to find a name's stem: ``-20250929``, ``-2024-11-20``, ``-07-2025``,
#: ``-2508``/``-1212`` (YYMM, MMDD), ``-latest``, ``-preview``, ``-exp``, ``-001``, ``-v1:0``/``-v2``, ``@20250929``.
_SUFFIX = re.compile(r"(?:[-@](?:\d{8}|\d{4}-\d{2}-\d{2}|\d{2}-\d{4}|\d{4}|\d{3}|latest|preview|exp)"
                     r"|-v\d+(?::\d+)?)$")


def stem(name: str) -> str:
    """``claude-sonnet-4-5-20250929`` -> ``claude-sonnet-4-5``; ``anthropic.claude-3-5-haiku-20241022-v1:0``
    -> ``anthropic.claude-3-5-haiku``; a name without version suffixes is its own stem."""
    while True:
        shorter = _SUFFIX.sub("", name)
        if shorter == name or not shorter:
            return name
        name = shorter


def listed_match(name: str, listed: dict[str, Any]) -> str | None:
    """The listed model ``name`` is, or is a snapshot/alias of (same stem); None if there is none."""
    if name in listed:
        return name
    want = stem(name)
    return next((m for m in listed if stem(m) == want), None)


def family_match(name: str, families: list[Any]) -> Any | None:
    """The first family (an object with a ``match`` list of globs) whose pattern fits ``name``."""
    return next((f for f in families if any(fnmatchcase(name, pat) for pat in f.match)), None)
