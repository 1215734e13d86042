"""Local file storage: the default, for one machine or a shared volume."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from workers.core.errors import StorageError
from workers.storage.base import Storage


class LocalStorage(Storage):
    scheme = "file"

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        """The key's file under the root. Checked lexically (no ``..``, not absolute): resolving every
        component on every read cost more than reading a small blob, and only Ferry writes under the root."""
        norm = os.path.normpath(key)
        if not key or os.path.isabs(norm) or norm == ".." or norm.startswith("../") or "\0" in key:
            raise StorageError(f"storage key {key!r} escapes the storage root")
        return self.root / norm

    def _atomic_write(self, key: str, writer) -> None:  # type: ignore[no-untyped-def]
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                writer(out)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        def copy(out: BinaryIO) -> None:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, out, 1024 * 1024)

        self._atomic_write(key, copy)

    def put_stream(self, key: str, stream: BinaryIO, content_type: str | None = None) -> None:
        self._atomic_write(key, lambda out: shutil.copyfileobj(stream, out, 1024 * 1024))

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        try:
            fh = self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise StorageError(f"stored object {key!r} is missing") from exc
        with fh:
            yield fh

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def presigned_url(self, key: str, expires_in: int = 3600) -> str | None:
        return None

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()
