"""The media kinds, one module each with ``NAME``, ``inspect``, ``plan`` and ``transform``.

Adding a kind is one module here, one line in :data:`KINDS`, its MIME types in
workers/media/sniff.py and its limits in workers/providers/catalog.toml.

- ``inspect(path, mime) -> facts``: facts from the bytes, under the decode limits (413/415/422 otherwise);
- ``plan(facts, caps, options) -> steps``: pure; each step carries its ``reason``;
- ``transform(src, facts, steps, workdir) -> outputs``: pure functions of files.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, cast

from workers.core.errors import UnsupportedMedia
from workers.media.kinds import audio, document, image, video
from workers.providers.catalog import ModelCaps


class MediaKind(Protocol):
    NAME: str

    def inspect(self, path: Path, mime: str) -> dict[str, Any]: ...

    def plan(self, facts: dict[str, Any], caps: ModelCaps, options: dict[str, Any]) -> list[dict[str, Any]]: ...

    def transform(self, src: Path, facts: dict[str, Any], steps: list[dict[str, Any]],
                  workdir: Path) -> list[dict[str, Any]]: ...


KINDS: dict[str, MediaKind] = {m.NAME: cast(MediaKind, m) for m in (image, document, audio, video)}


def kind(name: str | None, mime: str | None = None) -> MediaKind:
    found = KINDS.get(name or "")
    if found is None:
        raise UnsupportedMedia(f"{mime or name} is not a media kind Ferry can send")
    return found


__all__ = ["KINDS", "MediaKind", "kind"]
