"""In-memory file store behind the simulated Files APIs (OpenAI, Anthropic, Gemini)."""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .media import Media, inspect_media


@dataclass
class StoredFile:
    id: str
    filename: str
    data: bytes
    mime: str
    created: float = field(default_factory=time.time)
    extra: dict[str, Any] = field(default_factory=dict)

    def media(self) -> Media:
        """Facts from the stored bytes (decoded lazily: most files are never referenced)."""
        return inspect_media(self.data)


class FileStore:
    """Thread-safe id → StoredFile map."""

    def __init__(self, id_prefix: str) -> None:
        self.id_prefix = id_prefix
        self._files: dict[str, StoredFile] = {}
        self._lock = threading.Lock()

    def new_id(self) -> str:
        return self.id_prefix + uuid.uuid4().hex[:24]

    def put(self, f: StoredFile) -> StoredFile:
        with self._lock:
            self._files[f.id] = f
        return f

    def get(self, file_id: str) -> StoredFile | None:
        with self._lock:
            return self._files.get(file_id)

    def delete(self, file_id: str) -> bool:
        with self._lock:
            return self._files.pop(file_id, None) is not None

    def all(self) -> list[StoredFile]:
        with self._lock:
            return list(self._files.values())

    def clear(self) -> None:
        with self._lock:
            self._files.clear()
