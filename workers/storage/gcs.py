"""Google Cloud Storage via google-cloud-storage.

The library reads ``STORAGE_EMULATOR_HOST`` itself and then uses anonymous
credentials and a placeholder project, so with the emulator no Google auth is
attempted; otherwise it uses Application Default Credentials.

Memory stays bounded: uploads of more than 8 MiB are resumable in ``CHUNK_SIZE``
pieces (the library's 100 MiB default chunk costs ~200 MB RSS), and ``open``
yields a reader that fetches ranges of ``CHUNK_SIZE``.
Library errors are translated here, at the edge, into :class:`StorageError`.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

import requests
from google.api_core import exceptions as gexc
from google.api_core.retry import Retry
from google.auth import exceptions as auth_exc
from google.auth.credentials import Signing
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY

from workers.core.errors import StorageError
from workers.storage.base import Storage

from workers.storage.objects import FullReads, object_name, split_uri

if TYPE_CHECKING:
    from workers.core.settings import Settings

#: Resumable upload / ranged download piece size: memory per transfer is about this.
CHUNK_SIZE = 8 * 1024 * 1024  # must be a multiple of 256 KiB


class GCSStorage(Storage):
    #: V4 signed URLs live at most 604800 s, 7 days (https://cloud.google.com/storage/docs/access-control/signed-urls;
    #: google-cloud-storage ``generate_signed_url(version="v4")`` refuses a longer ``expiration``).
    presign_max_seconds = 7 * 24 * 3600
    scheme = "gs"

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: storage.Client | None = None,
        retry: Retry = DEFAULT_RETRY,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.prefix = prefix.strip("/")
        self._client = client if client is not None else _default_client()
        self._bucket = self._client.bucket(bucket)
        self._retry = retry
        self._chunk_size = chunk_size
        self._bucket_seen = False

    @property
    def bucket(self) -> str:
        return str(self._bucket.name)

    @classmethod
    def from_uri(cls, spec: str, settings: Settings) -> GCSStorage:
        bucket, prefix = split_uri(spec, "gs")
        return cls(bucket, prefix)

    # -- interface -------------------------------------------------------------------------

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        blob = self._blob(key)
        with self._errors("upload", blob.name):
            blob.upload_from_filename(str(path), content_type=content_type, retry=self._retry)
        self._bucket_seen = True

    def put_stream(self, key: str, stream: BinaryIO, content_type: str | None = None) -> None:
        blob = self._blob(key)
        # A resumable upload recovers by seeking back; a pipe cannot, so it is not retried.
        seekable = stream.seekable()
        source = stream if seekable else cast(BinaryIO, FullReads(stream))
        with self._errors("upload", blob.name):
            blob.upload_from_file(
                source, content_type=content_type, retry=self._retry if seekable else None
            )
        self._bucket_seen = True

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        blob = self._blob(key)
        with self._errors("download", blob.name):
            # reload() fails fast on a missing object and pins the generation, so a
            # concurrent overwrite cannot splice two versions into one read.
            blob.reload(retry=self._retry)
            with blob.open("rb", chunk_size=self._chunk_size, retry=self._retry) as reader:
                yield cast(BinaryIO, reader)

    def exists(self, key: str) -> bool:
        blob = self._blob(key)
        with self._errors("head", blob.name):
            if blob.exists(retry=self._retry):
                self._bucket_seen = True
                return True
            self._check_bucket()  # a missing bucket also reads as "no such object"
        return False

    def delete(self, key: str) -> None:
        blob = self._blob(key)
        with self._errors("delete", blob.name):
            try:
                blob.delete(retry=self._retry)
            except gexc.NotFound:
                self._check_bucket()

    def stat(self, key: str) -> tuple[int, str | None]:
        """(size, content type) from the object's metadata, without reading it (a source Vertex reads itself)."""
        blob = self._blob(key)
        with self._errors("download", blob.name):
            blob.reload(retry=self._retry)
        return int(blob.size or 0), blob.content_type

    def presigned_url(self, key: str, expires_in: int = 3600) -> str | None:
        """A V4 signed URL when the credentials hold a private key (a service-account key file).

        Returns None otherwise: anonymous emulator credentials, user credentials and
        metadata-server tokens cannot sign locally (the last could via the IAM signBlob
        API, which Ferry does not call), and the deliverer then picks another method.
        """
        credentials = getattr(self._client, "_credentials", None)
        if not isinstance(credentials, Signing):
            return None
        blob = self._blob(key)
        with self._errors("presign", blob.name):
            url: str = blob.generate_signed_url(version="v4", expiration=expires_in, method="GET")
        return url

    def uri(self, key: str) -> str:
        return f"gs://{self.bucket}/{object_name(self.prefix, key)}"

    # -- errors ----------------------------------------------------------------------------

    def _blob(self, key: str) -> storage.Blob:
        return self._bucket.blob(object_name(self.prefix, key), chunk_size=self._chunk_size)

    def _check_bucket(self) -> None:
        """Raise if the bucket is missing; checked once, after a 404 that could mean either."""
        if self._bucket_seen:
            return
        try:
            found = self._bucket.exists(retry=self._retry)
        except gexc.Forbidden:
            found = True  # object-only roles may not read bucket metadata: cannot tell, assume it is there
        if not found:
            raise self._bucket_missing()
        self._bucket_seen = True

    def _bucket_missing(self) -> StorageError:
        return StorageError(f"bucket {self.bucket!r} does not exist (at {self._endpoint()})")

    def _endpoint(self) -> str:
        return str(self._client.api_endpoint)

    @contextmanager
    def _errors(self, action: str, name: str) -> Iterator[None]:
        """Turn google-cloud/auth/requests failures into StorageError an operator can act on."""
        where = f"gs://{self.bucket}/{name}"
        try:
            yield
        except gexc.NotFound as exc:
            with self._errors("head bucket", ""):
                self._check_bucket()
            if action == "download":
                raise StorageError(f"stored object {where} is missing") from exc
            raise StorageError(f"GCS {action} of {where} failed: {_message(exc)}") from exc
        except (gexc.Forbidden, gexc.Unauthorized, auth_exc.RefreshError) as exc:
            raise StorageError(f"credentials refused by GCS: {_message(exc)} ({action} {where})") from exc
        except (requests.ConnectionError, requests.Timeout, gexc.RetryError) as exc:
            raise StorageError(
                f"GCS endpoint {self._endpoint()} is unreachable: {_message(exc)}", retryable=True
            ) from exc
        except gexc.GoogleAPICallError as exc:
            code = exc.code or 0
            raise StorageError(
                f"GCS {action} of {where} failed: {_message(exc)}",
                retryable=code >= 500 or code == 429,
            ) from exc


def _default_client() -> storage.Client:
    """Application Default Credentials, or anonymous ones when STORAGE_EMULATOR_HOST is set."""
    try:
        return storage.Client()
    except auth_exc.DefaultCredentialsError as exc:
        raise StorageError(
            f"no usable Google credentials: {exc} "
            "(set GOOGLE_APPLICATION_CREDENTIALS, or STORAGE_EMULATOR_HOST for the emulator)"
        ) from exc


def _message(exc: BaseException) -> str:
    """The root cause of a retry wrapper, else the error itself."""
    if isinstance(exc, gexc.RetryError) and exc.cause is not None:
        return f"{exc.message}; last error: {exc.cause}"
    return str(getattr(exc, "message", None) or exc)
