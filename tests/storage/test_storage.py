"""One behaviour suite for every storage backend, against real servers (moto, GCS emulator)."""
from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from google.api_core.retry import Retry
from google.cloud import storage as gcs

from tests.services import Service, free_port
from tests.storage.helpers import isolate_aws, unique_bucket
from workers.core.errors import StorageError
from workers.core.settings import Settings
from workers.storage import Storage, open_storage
from workers.storage.gcs import GCSStorage
from workers.storage.s3 import S3Storage

MiB = 1024 * 1024


class Pipe(io.RawIOBase):
    """A non-seekable stream, like a socket or subprocess stdout."""

    def __init__(self, data: bytes, piece: int = 64 * 1024) -> None:
        self._src = io.BytesIO(data)
        self._piece = piece

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._src.read(min(len(buffer), self._piece))
        buffer[: len(data)] = data
        return len(data)


def random_file(path: Path, size: int) -> str:
    """Write ``size`` random bytes; return their sha256."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        left = size
        while left:
            block = os.urandom(min(left, MiB))
            digest.update(block)
            out.write(block)
            left -= len(block)
    return digest.hexdigest()


def sha256_of(store: Storage, key: str) -> str:
    digest = hashlib.sha256()
    with store.open(key) as src:
        while block := src.read(MiB):
            digest.update(block)
    return digest.hexdigest()


# -- behaviour common to every backend ------------------------------------------------------


def test_put_file_open_exists_delete(store: Storage, tmp_path: Path) -> None:
    src = tmp_path / "in.bin"
    src.write_bytes(b"hello ferry")
    assert not store.exists("blobs/abc")
    store.put_file("blobs/abc", src, "application/octet-stream")
    assert store.exists("blobs/abc")
    with store.open("blobs/abc") as fh:
        assert fh.read(5) == b"hello"
        assert fh.read() == b" ferry"
    assert store.read_bytes("blobs/abc") == b"hello ferry"
    store.delete("blobs/abc")
    assert not store.exists("blobs/abc")
    store.delete("blobs/abc")  # missing is not an error


def test_put_stream_from_pipe(store: Storage) -> None:
    data = os.urandom(300 * 1024)
    store.put_stream("blobs/piped", Pipe(data), "image/png")
    assert store.read_bytes("blobs/piped") == data


def test_get_to_file(store: Storage, tmp_path: Path) -> None:
    store.put_stream("variants/x/y", io.BytesIO(b"abc" * 1000))
    store.get_to_file("variants/x/y", tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == b"abc" * 1000


@pytest.mark.parametrize("via", ["file", "stream"])
def test_20mb_round_trip(store: Storage, tmp_path: Path, via: str) -> None:
    src = tmp_path / "big.bin"
    expected = random_file(src, 20 * MiB)  # > 8 MiB: multipart (S3) / resumable chunks (GCS)
    if via == "file":
        store.put_file("blobs/big", src)
    else:
        with src.open("rb") as fh:
            store.put_stream("blobs/big", Pipe(fh.read(), piece=MiB))
    assert sha256_of(store, "blobs/big") == expected


def test_missing_object_is_a_clear_error(store: Storage) -> None:
    with pytest.raises(StorageError, match="missing"):
        with store.open("blobs/nope"):
            pass


@pytest.mark.parametrize("key", ["../escape", "/abs", ""])
def test_keys_are_plain_relative_paths(store: Storage, key: str) -> None:
    with pytest.raises(StorageError):
        store.put_stream(key, io.BytesIO(b"x"))


def test_uri(backend: str, store: Storage) -> None:
    uri = store.uri("blobs/abc")
    if backend == "local":
        assert uri.startswith("file:///") and uri.endswith("/storage/blobs/abc")
    else:
        bucket = store.bucket  # type: ignore[attr-defined]
        assert uri == f"{'s3' if backend == 's3' else 'gs'}://{bucket}/pre/blobs/abc"


def test_presigned_url(backend: str, store: Storage) -> None:
    store.put_stream("blobs/shared", io.BytesIO(b"fetch me"))
    url = store.presigned_url("blobs/shared", expires_in=60)
    if backend == "s3":
        assert url is not None and "X-Amz-Signature" in url
        assert httpx.get(url).content == b"fetch me"  # a third party needs no credentials
    else:
        assert url is None  # local: no URL; GCS emulator: anonymous credentials cannot sign


# -- S3 specifics ---------------------------------------------------------------------------


def test_s3_content_type_and_layout(s3_env: Service, tmp_path: Path) -> None:
    bucket = unique_bucket()
    client = boto3.client("s3")
    client.create_bucket(Bucket=bucket)
    store = open_storage(Settings(FERRY_STORAGE=f"s3://{bucket}/a/b/"))
    assert isinstance(store, S3Storage)
    store.put_stream("k.png", io.BytesIO(b"png"), "image/png")
    head = client.head_object(Bucket=bucket, Key="a/b/k.png")
    assert head["ContentType"] == "image/png"


@pytest.mark.parametrize("scheme", ["s3", "gs"])
def test_missing_bucket(scheme: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    request.getfixturevalue("s3_env" if scheme == "s3" else "gcs_env")
    store = open_storage(Settings(FERRY_STORAGE=f"{scheme}://no-such-bucket-ferry/pre"))
    src = tmp_path / "f"
    src.write_bytes(b"x")
    for action in (
        lambda: store.put_file("k", src),
        lambda: store.put_stream("k", io.BytesIO(b"x")),
        lambda: store.exists("k"),
        lambda: store.read_bytes("k"),
        lambda: store.delete("k"),
    ):
        with pytest.raises(StorageError, match="bucket 'no-such-bucket-ferry' does not exist"):
            action()


def test_s3_credentials_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, moto_s3_auth: Service
) -> None:
    # moto with auth on knows no access keys, so "testing" is an invalid key, as on real S3.
    isolate_aws(monkeypatch, tmp_path, moto_s3_auth)
    store = open_storage(Settings(FERRY_STORAGE="s3://any-bucket/pre"))
    with pytest.raises(StorageError, match="credentials refused by S3: InvalidAccessKeyId"):
        store.put_stream("k", io.BytesIO(b"x"))
    with pytest.raises(StorageError, match="credentials refused by S3"):
        store.exists("k")


def test_s3_unreachable_endpoint(s3_env: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", dead)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # boto3's own setting; keeps the test quick
    store = open_storage(Settings(FERRY_STORAGE="s3://bucket/pre"))
    with pytest.raises(StorageError, match=f"S3 endpoint {dead} is unreachable") as info:
        store.put_stream("k", io.BytesIO(b"x"))
    assert info.value.retryable


# -- GCS specifics --------------------------------------------------------------------------


def test_gcs_content_type_and_layout(gcs_env: Service) -> None:
    bucket = unique_bucket()
    client = gcs.Client()
    client.create_bucket(bucket)
    store = open_storage(Settings(FERRY_STORAGE=f"gs://{bucket}/a/b/"))
    assert isinstance(store, GCSStorage)
    store.put_stream("k.png", io.BytesIO(b"png"), "image/png")
    blob = client.bucket(bucket).get_blob("a/b/k.png")
    assert blob is not None and blob.content_type == "image/png"


@pytest.fixture
def gcs_forbidding_server() -> Iterator[str]:
    """An HTTP server that answers every request as GCS does for a principal without access."""
    body = json.dumps(
        {"error": {"code": 403, "message": "ferry@p.iam.gserviceaccount.com does not have "
                   "storage.objects.create access to the Google Cloud Storage object."}}
    ).encode()

    class Forbid(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Forbid)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_gcs_forbidden(monkeypatch: pytest.MonkeyPatch, gcs_forbidding_server: str) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_forbidding_server)
    store = open_storage(Settings(FERRY_STORAGE="gs://bucket/pre"))
    with pytest.raises(StorageError, match="credentials refused by GCS: .*does not have"):
        store.put_stream("k", io.BytesIO(b"x"))
    with pytest.raises(StorageError, match="credentials refused by GCS"):
        store.exists("k")


def test_gcs_unreachable_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", dead)
    # The library retries connection errors for up to 120 s by default; keep the test quick.
    store = GCSStorage("bucket", "pre", retry=Retry(timeout=0.5, initial=0.1))
    with pytest.raises(StorageError, match=f"GCS endpoint {dead} is unreachable") as info:
        store.exists("k")
    assert info.value.retryable
    with pytest.raises(StorageError, match="unreachable"):
        store.put_stream("k", io.BytesIO(b"x"))
