"""The storage interface every backend implements."""
from __future__ import annotations

import abc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


class Storage(abc.ABC):
    """Put/get streams by key; never hold a whole object in memory.

    Every put is atomic: a reader sees the previous object or the new one whole, never a part, however
    many writers put the same key at once (local: unique temp file + rename; S3: a PUT or a completed
    multipart upload; GCS: a finished upload is one generation)."""

    scheme: str = ""

    @abc.abstractmethod
    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        """Upload a local file (multipart/resumable for big ones)."""

    @abc.abstractmethod
    def put_stream(self, key: str, stream: BinaryIO, content_type: str | None = None) -> None:
        """Upload from a readable binary stream."""

    @abc.abstractmethod
    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        """A readable binary stream of the object."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool: ...

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; a missing object is not an error."""

    #: The longest a presigned URL of this backend can live (seconds), or None: no such limit known.
    presign_max_seconds: int | None = None

    @abc.abstractmethod
    def presigned_url(self, key: str, expires_in: int = 3600) -> str | None:
        """A time-limited URL a third party can GET, or None where the backend has none."""

    @abc.abstractmethod
    def uri(self, key: str) -> str:
        """The backend-native address (``s3://…``, ``gs://…``, ``file://…``)."""

    def get_to_file(self, key: str, path: Path, chunk: int = 1024 * 1024) -> None:
        with self.open(key) as src, path.open("wb") as dst:
            while block := src.read(chunk):
                dst.write(block)

    def read_bytes(self, key: str) -> bytes:
        with self.open(key) as src:
            return src.read()
