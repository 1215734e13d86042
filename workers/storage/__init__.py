"""Object storage behind one small interface; :func:`open` turns any storage URI into a backend.

``local`` (files under ``FERRY_DATA_DIR/storage``), ``file:///path`` or ``/path``, ``s3://bucket/prefix``
or ``gs://bucket/prefix``. Keys are relative paths such as ``blobs/<sha256>``. The same function opens
Ferry's own store (``FERRY_STORAGE``), staging targets (``FERRY_STAGING``) and cloud sources
(``s3://bucket/key`` parts of a request, with :func:`locate`).
"""
from __future__ import annotations

from pathlib import Path

from workers.core.errors import FetchError, StorageError
from workers.core.settings import Settings
from workers.storage.base import Storage
from workers.storage.objects import split_uri


def open(uri: str, local_root: Path | None = None) -> Storage:  # noqa: A001  (storage.open, like io.open)
    """The backend for ``uri``; ``local`` means ``local_root``. Credentials and endpoints are read now."""
    if uri == "local" or uri.startswith("file://") or uri.startswith("/"):
        from workers.storage.local import LocalStorage

        root = uri.removeprefix("file://") if uri != "local" else local_root
        if root is None:
            raise StorageError("storage 'local' needs a root folder (FERRY_DATA_DIR)")
        return LocalStorage(root)
    if uri.startswith("s3://"):
        from workers.storage.s3 import S3Storage

        return S3Storage(*split_uri(uri, "s3"))
    if uri.startswith("gs://"):
        from workers.storage.gcs import GCSStorage

        return GCSStorage(*split_uri(uri, "gs"))
    raise StorageError(f"storage {uri!r}: expected local, file:///path, s3://bucket/prefix or gs://bucket/prefix")


def open_storage(settings: Settings) -> Storage:
    """Ferry's own blob and file store, ``FERRY_STORAGE`` (errors name the variable)."""
    try:
        return open(settings.storage, settings.data_dir / "storage")
    except StorageError as exc:
        raise ValueError(f"FERRY_STORAGE={settings.storage!r}: {exc.message}") from exc


def locate(uri: str) -> tuple[Storage, str]:
    """``s3://bucket/key`` or ``gs://bucket/key`` -> (the bucket's storage, the key)."""
    scheme, _, rest = uri.partition("://")
    bucket, _, key = rest.partition("/")
    if scheme not in ("s3", "gs") or not bucket or not key:
        raise FetchError(f"{uri}: expected s3://bucket/key or gs://bucket/key")
    return open(f"{scheme}://{bucket}"), key


__all__ = ["Storage", "locate", "open", "open_storage"]
