"""Amazon S3 (and S3-compatible) storage via boto3.

Endpoint, region and credentials come from boto3's own resolution
(``AWS_ENDPOINT_URL_S3``, ``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``, ``AWS_MAX_ATTEMPTS``,
instance roles, ...), so Ferry reads none of them itself and anything boto3 supports works.

Memory stays bounded: ``put_file`` hands the path to ``upload_file`` (parts are read
from disk as they are sent), ``put_stream`` caps the parts buffered from a
non-seekable stream, and ``open`` yields the response body unread.
botocore errors are translated here, at the edge, into :class:`StorageError`.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError as BotoConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from workers.core.errors import StorageError
from workers.storage.base import Storage
from workers.storage.objects import FullReads, object_name, split_uri

if TYPE_CHECKING:
    from workers.core.settings import Settings

MiB = 1024 * 1024

#: 8 MiB parts, 4 in flight, at most 4 buffered from a stream: ~30-70 MB whatever the size.
#: "classic" keeps behaviour identical whether or not awscrt happens to be installed.
DEFAULT_TRANSFER = TransferConfig(
    multipart_threshold=8 * MiB,
    multipart_chunksize=8 * MiB,
    max_concurrency=4,
    preferred_transfer_client="classic",
)
# Not a boto3 constructor argument, but an s3transfer setting boto3 passes through:
# without it upload_fileobj may buffer 10 parts of a non-seekable stream.
DEFAULT_TRANSFER.max_in_memory_upload_chunks = 4

_CREDENTIAL_CODES = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidToken",
        "SignatureDoesNotMatch",
        "TokenRefreshRequired",
        "403",
    }
)
_MISSING_KEY_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


class S3Storage(Storage):
    #: SigV4 query auth: "X-Amz-Expires ... minimum 1 second, maximum 604800 seconds (seven days)"
    #: (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html).
    presign_max_seconds = 7 * 24 * 3600
    scheme = "s3"

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: Any | None = None,
        transfer: TransferConfig = DEFAULT_TRANSFER,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        # One client per storage: boto3 clients are thread-safe, sessions are not.
        self._client = client if client is not None else _default_client()
        self._transfer = transfer
        self._bucket_seen = False

    @classmethod
    def from_uri(cls, spec: str, settings: Settings) -> S3Storage:
        bucket, prefix = split_uri(spec, "s3")
        return cls(bucket, prefix)

    # -- interface -------------------------------------------------------------------------

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        name = object_name(self.prefix, key)
        with self._errors("upload", name):
            self._client.upload_file(
                str(path), self.bucket, name, ExtraArgs=_extra(content_type), Config=self._transfer
            )

    def put_stream(self, key: str, stream: BinaryIO, content_type: str | None = None) -> None:
        name = object_name(self.prefix, key)
        source = stream if stream.seekable() else FullReads(stream)
        with self._errors("upload", name):
            self._client.upload_fileobj(
                source, self.bucket, name, ExtraArgs=_extra(content_type), Config=self._transfer
            )

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        name = object_name(self.prefix, key)
        with self._errors("download", name):
            body = self._client.get_object(Bucket=self.bucket, Key=name)["Body"]
            try:
                yield body
            finally:
                body.close()

    def exists(self, key: str) -> bool:
        name = object_name(self.prefix, key)
        with self._errors("head", name):
            try:
                self._client.head_object(Bucket=self.bucket, Key=name)
            except ClientError as exc:
                if _code(exc) not in _MISSING_KEY_CODES:
                    raise
                # HEAD answers a bare 404 for a missing bucket too; tell them apart once.
                self._check_bucket()
                return False
        self._bucket_seen = True
        return True

    def delete(self, key: str) -> None:
        name = object_name(self.prefix, key)
        with self._errors("delete", name):
            self._client.delete_object(Bucket=self.bucket, Key=name)

    def presigned_url(self, key: str, expires_in: int = 3600) -> str | None:
        name = object_name(self.prefix, key)
        with self._errors("presign", name):
            url: str = self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": name}, ExpiresIn=expires_in
            )
        return url

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{object_name(self.prefix, key)}"

    # -- errors ----------------------------------------------------------------------------

    def _check_bucket(self) -> None:
        """Raise if the bucket is missing; checked once, after a 404 that could mean either."""
        if self._bucket_seen:
            return
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = _code(exc)
            if code in _MISSING_KEY_CODES | {"NoSuchBucket"}:
                raise self._bucket_missing() from exc
            if code not in _CREDENTIAL_CODES:
                raise
            # Allowed objects but not the bucket itself: cannot tell, assume it is there.
        self._bucket_seen = True

    def _bucket_missing(self) -> StorageError:
        return StorageError(f"bucket {self.bucket!r} does not exist (at {self._endpoint()})")

    def _endpoint(self) -> str:
        return str(self._client.meta.endpoint_url)

    @contextmanager
    def _errors(self, action: str, name: str) -> Iterator[None]:
        """Turn botocore/boto3 failures into StorageError with a message an operator can act on."""
        where = f"s3://{self.bucket}/{name}"
        try:
            yield
        except S3UploadFailedError as exc:
            # upload_file wraps the ClientError it caught (as __context__) in a string.
            cause = exc.__context__
            if isinstance(cause, ClientError):
                raise self._from_client_error(cause, action, where) from exc
            raise StorageError(f"S3 {action} of {where} failed: {exc}") from exc
        except ClientError as exc:
            raise self._from_client_error(exc, action, where) from exc
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise StorageError(
                f"no usable AWS credentials for {where}: {exc} "
                "(set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or an instance role)"
            ) from exc
        except BotoConnectionError as exc:
            raise StorageError(
                f"S3 endpoint {self._endpoint()} is unreachable: {exc}", retryable=True
            ) from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 {action} of {where} failed: {exc}") from exc

    def _from_client_error(self, exc: ClientError, action: str, where: str) -> StorageError:
        code = _code(exc)
        message = exc.response.get("Error", {}).get("Message") or code
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if code == "NoSuchBucket":
            return self._bucket_missing()
        if code in _CREDENTIAL_CODES:
            return StorageError(f"credentials refused by S3: {code}: {message} ({action} {where})")
        if code in _MISSING_KEY_CODES:
            return StorageError(f"stored object {where} is missing")
        return StorageError(
            f"S3 {action} of {where} failed: {code}: {message}",
            retryable=status >= 500 or code in {"SlowDown", "RequestTimeout", "Throttling"},
        )


def _default_client() -> Any:
    """boto3's own configuration, except presigned URLs are always SigV4.

    (For us-east-1 botocore still presigns with SigV2, which newer regions and
    many S3-compatible stores refuse.)
    """
    return boto3.session.Session().client("s3", config=Config(signature_version="s3v4"))


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _extra(content_type: str | None) -> dict[str, str]:
    return {"ContentType": content_type} if content_type else {}
