"""Content-addressed blobs: a resource is known by the sha256 of its bytes.

Many writers may store the same bytes at the same moment (twelve jobs with one image), so a blob is
written through a temp file of its own (a unique name, never a path derived from the hash) and each
backend publishes it atomically (local: rename; S3 and GCS: a single PUT or a completed upload is
all-or-nothing). Readers check what they read: a blob whose bytes do not hash to its name is never
served: it is deleted (so the next writer stores it again) and the read fails with a clear error.
"""
from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

from workers.core.errors import StorageError
from workers.storage.base import Storage

CHUNK = 1024 * 1024


def blob_key(sha256: str) -> str:
    return f"blobs/{sha256[:2]}/{sha256}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def put_blob(storage: Storage, path: Path, sha256: str | None = None, content_type: str | None = None) -> str:
    """Store a file under its hash (once: the same bytes are stored a single time).

    ``sha256``, when given, must have been computed from the very bytes at ``path`` (e.g. while
    downloading them); otherwise the file is hashed here."""
    sha256 = sha256 or file_sha256(path)
    key = blob_key(sha256)
    if not storage.exists(key):
        storage.put_file(key, path, content_type)
    return sha256


def put_bytes(storage: Storage, data: bytes) -> str:
    """Store bytes under their hash (the backend writes atomically: a unique temp name, then a rename)."""
    sha256 = hashlib.sha256(data).hexdigest()
    key = blob_key(sha256)
    if not storage.exists(key):
        storage.put_stream(key, io.BytesIO(data))
    return sha256


def _corrupt(storage: Storage, sha256: str, got: str) -> StorageError:
    """Drop a blob whose bytes are not its name, so the next writer stores it afresh."""
    storage.delete(blob_key(sha256))
    return StorageError(f"stored blob {sha256} is corrupt (its bytes hash to {got}); it was deleted, "
                        "submit the media again")


def get_blob(storage: Storage, sha256: str, dest: Path) -> Path:
    """Copy a blob to ``dest``, checking its hash on the way."""
    digest = hashlib.sha256()
    with storage.open(blob_key(sha256)) as src, dest.open("wb") as out:
        while block := src.read(CHUNK):
            digest.update(block)
            out.write(block)
    if digest.hexdigest() != sha256:
        dest.unlink(missing_ok=True)
        raise _corrupt(storage, sha256, digest.hexdigest())
    return dest


def read_blob_b64(storage: Storage, sha256: str) -> str:
    """A blob as base64 text (inline delivery), checked against its hash."""
    with storage.open(blob_key(sha256)) as src:
        data = src.read()
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise _corrupt(storage, sha256, got)
    return base64.b64encode(data).decode("ascii")
