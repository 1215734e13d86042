"""Object storage behind one small interface, chosen by ``FERRY_STORAGE``.

``local`` (default: files under ``FERRY_DATA_DIR/storage``), ``s3://bucket/prefix``
or ``gs://bucket/prefix``. Keys are relative paths such as ``blobs/<sha256>``.
"""
from __future__ import annotations

from workers.core.settings import Settings
from workers.storage.base import Storage


def open_storage(settings: Settings) -> Storage:
    spec = settings.storage
    if spec == "local" or spec.startswith("file://") or spec.startswith("/"):
        from workers.storage.local import LocalStorage

        root = spec.removeprefix("file://") if spec != "local" else settings.data_dir / "storage"
        return LocalStorage(root)
    if spec.startswith("s3://"):
        from workers.storage.s3 import S3Storage  # type: ignore[import-not-found]

        return S3Storage.from_uri(spec, settings)
    if spec.startswith("gs://"):
        from workers.storage.gcs import GCSStorage  # type: ignore[import-not-found]

        return GCSStorage.from_uri(spec, settings)
    raise ValueError(f"FERRY_STORAGE={spec!r}: expected local, s3://bucket/prefix or gs://bucket/prefix")


__all__ = ["Storage", "open_storage"]
