"""Helpers shared by the object-store backends (S3, GCS)."""
from __future__ import annotations

import io
from typing import BinaryIO

from workers.core.errors import StorageError


def split_uri(spec: str, scheme: str) -> tuple[str, str]:
    """``scheme://bucket/some/prefix`` -> ("bucket", "some/prefix")."""
    rest = spec.removeprefix(f"{scheme}://")
    bucket, _, prefix = rest.partition("/")
    if not bucket or rest == spec:
        raise ValueError(f"FERRY_STORAGE={spec!r}: expected {scheme}://bucket[/prefix]")
    return bucket, prefix.strip("/")


def object_name(prefix: str, key: str) -> str:
    """Join prefix and key, refusing keys LocalStorage would refuse too (same keys work everywhere)."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise StorageError(f"storage key {key!r} is not a plain relative path")
    return f"{prefix}/{key}" if prefix else key


class FullReads(io.RawIOBase):
    """Adapt a non-seekable stream to what chunked uploaders assume of one.

    boto3 and google-resumable-media both take a short read as the last part (S3 then
    refuses parts under 5 MiB; GCS ends the upload early), but a pipe or socket returns
    whatever has arrived; so reads are filled to the size asked for. GCS also asks tell().
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._pos = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            data = self._stream.read()
        else:
            pieces: list[bytes] = []
            left = size
            while left > 0 and (piece := self._stream.read(left)):
                pieces.append(piece)
                left -= len(piece)
            data = b"".join(pieces)
        self._pos += len(data)
        return data

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def tell(self) -> int:
        return self._pos
