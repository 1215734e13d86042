"""Content-addressed blobs: a resource is known by the sha256 of its bytes."""
from __future__ import annotations

import hashlib
from pathlib import Path

from workers.storage.base import Storage


def blob_key(sha256: str) -> str:
    return f"blobs/{sha256[:2]}/{sha256}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def put_blob(storage: Storage, path: Path, sha256: str | None = None, content_type: str | None = None) -> str:
    """Store a file under its hash (once: the same bytes are stored a single time)."""
    sha256 = sha256 or file_sha256(path)
    key = blob_key(sha256)
    if not storage.exists(key):
        storage.put_file(key, path, content_type)
    return sha256


def put_bytes(storage: Storage, data: bytes, tmpdir: Path) -> str:
    sha256 = hashlib.sha256(data).hexdigest()
    key = blob_key(sha256)
    if not storage.exists(key):
        tmp = tmpdir / sha256
        tmp.write_bytes(data)
        try:
            storage.put_file(key, tmp)
        finally:
            tmp.unlink(missing_ok=True)
    return sha256


def get_blob(storage: Storage, sha256: str, dest: Path) -> Path:
    storage.get_to_file(blob_key(sha256), dest)
    return dest
